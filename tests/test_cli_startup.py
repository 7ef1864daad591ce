"""The CLI imports the run's stack with the garbage collector paused, and leaves it as it found it."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from mlestar import cli


@pytest.fixture
def collector() -> Iterator[None]:
    was = gc.isenabled()
    yield
    gc.unfreeze()  # the rest of the test session collects as usual
    if was:
        gc.enable()
    else:
        gc.disable()


@pytest.mark.parametrize("enabled", [True, False])
def test_importing_the_app_keeps_the_collector_state_and_freezes_the_imports(
    collector: None, enabled: bool
) -> None:
    gc.enable() if enabled else gc.disable()
    gc.unfreeze()
    app = cli._import_app()
    assert callable(app.start_run) and callable(app.resume_run)
    assert gc.isenabled() is enabled
    assert gc.get_freeze_count() > 0
