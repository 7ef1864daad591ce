"""Serving the model a registry alias points to, and following the alias when it moves."""

from __future__ import annotations

import sys
import threading

from mlestar.errors import ConfigError
from mlestar.serving.loaded import ServedModel
from mlestar.serving.registry import alias_version, load_version
from mlestar.serving.server import ModelSlot


def load_alias(tracking_uri: str, name: str, alias: str) -> ServedModel:
    version = alias_version(tracking_uri, name, alias)
    if version is None:
        raise ConfigError(
            f"expected the alias {alias!r} on the registered model {name!r}, found none: "
            "`mlestar retrain` sets champion and challenger, or drop --follow-alias to serve the run's own model"
        )
    return load_version(tracking_uri, name, version)


class AliasFollower:
    """Polls the alias every poll_s seconds; a new version is loaded, then swapped in whole."""

    def __init__(self, slot: ModelSlot, tracking_uri: str, name: str, alias: str, poll_s: float) -> None:
        self.slot, self.uri, self.name, self.alias, self.poll_s = slot, tracking_uri, name, alias, poll_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mlestar-follow-alias", daemon=True)

    def start(self) -> AliasFollower:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def check(self) -> bool:
        """Swap in the alias's version if it moved; True when it did."""
        version = alias_version(self.uri, self.name, self.alias)
        if version is None or version == self.slot.current.version:
            return False
        self.slot.swap(load_version(self.uri, self.name, version))
        print(f"now serving {self.name} version {version} ({self.alias})", file=sys.stderr)
        return True

    def _run(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self.check()
            except Exception as exc:  # the registry is down or the version broken: keep serving
                print(f"could not follow {self.alias}: {type(exc).__name__}: {exc}", file=sys.stderr)
