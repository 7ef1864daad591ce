"""`mlestar export RUN_DIR DEST`: a finished run as a project that `dvc repro` rebuilds.

    DEST/
      solution.py  solution_parts/      the code (git), seed wired to params.yaml
      input/  input.dvc                 the data the final fit read (DVC; folds.npy = folds_full.npy,
                                        folds_search.npy when a member runs on the search's rows)
      reference/  reference.dvc         the run's submission.csv, to compare with (DVC)
      params.yaml  dvc.yaml             the settings and the one-stage pipeline
      requirements.txt  README.md  .gitignore  .dvcignore  .dvc/  .git/ (one commit)

Everything is checked before anything is written; a failure half-way removes what was written.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from mlestar.contract import FILES_LINK
from mlestar.errors import ConfigError, RunFault, RunFolderError
from mlestar.versioning import project_files as pf
from mlestar.versioning.check import CheckReport, check_export
from mlestar.versioning.finished_run import FinishedRun, read_finished_run
from mlestar.versioning.requirements import installed_version, requirements_lines
from mlestar.versioning.seed import choose_seed, wire_seed
from mlestar.versioning.tools import SITE_CACHE, Tools, current_environment


@dataclass(frozen=True)
class ExportReport:
    dest: Path
    run_dir: Path
    committed: tuple[str, ...]
    """Files in the git commit, relative to dest."""
    data: tuple[str, ...]
    """Files tracked by DVC, relative to dest."""
    stages: tuple[str, ...]
    seed: int
    seed_wired: bool
    """True when changing `seed` in params.yaml changes the seed the scripts use."""
    threads: int
    requirements: tuple[str, ...]
    remote: str | None
    pushed: bool
    commit: str
    check: CheckReport | None = None
    """What `--check` found, when asked."""

    def __str__(self) -> str:
        """What `mlestar export` prints."""
        seed = "wired to params.yaml" if self.seed_wired else "fixed in the scripts"
        lines = [
            f"exported {self.run_dir} to {self.dest} (git commit {self.commit[:10]})",
            f"  code in git: {len(self.committed)} files; data in DVC: {len(self.data)} files",
            f"  pipeline stage: {', '.join(self.stages)}; seed {self.seed} ({seed}); threads {self.threads}",
            f"  requirements: {', '.join(self.requirements) or 'none found'}",
        ]
        if self.remote:
            lines.append(f"  data pushed to the DVC remote {self.remote}")
        lines.append(f"rebuild the submission with: cd {self.dest} && dvc repro")
        if self.check is not None:
            lines.append(str(self.check))
        return "\n".join(lines)


def export_run(
    run_dir: Path,
    dest: Path,
    remote: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    check: bool = False,
) -> ExportReport:
    """Write the project; with a remote, make it the default and push the data to it; with
    check, rebuild the submission in a temporary clone and compare it with the run's (check.py).

    env is the environment dvc and git run with (the process's own when None). A failure while
    writing removes what was written; a failed push leaves the finished project in place.
    """
    _check_dest(dest)
    run = read_finished_run(run_dir)
    env = env if env is not None else current_environment()
    tools = Tools.for_project(dest, env)
    url = _remote_url(remote) if remote else None
    created = not dest.exists()
    dest.mkdir(parents=True, exist_ok=True)
    try:
        report = _export(run, dest, url, tools)
    except BaseException:
        _undo(dest, created)
        raise
    if url:
        _push(tools, url)
    if check:
        report = replace(report, check=check_export(run, dest, env))
    return report


def _export(run: FinishedRun, dest: Path, url: str | None, tools: Tools) -> ExportReport:
    seed, wired, scripts = _write_code(run, dest)
    data = _copy_data(run, dest)
    facts = pf.ProjectFacts(
        task_name=run.task_name,
        run_name=run.root.name,
        metric=run.metric,
        score=run.score,
        status=run.status,
        seed=seed,
        seed_wired=wired,
        threads=run.threads,
        has_parts=run.parts is not None,
        searched_rows=run.searched_rows,
        remote=url,
    )
    requirements = requirements_lines(scripts, run.versions, local=[pf.PARTS])
    _write_project_files(dest, facts, requirements)
    _init_repositories(dest, tools)
    tools.run_dvc("add", "--quiet", pf.INPUT, pf.REFERENCE)
    if url:
        _add_remote(tools, url)
    tools.run_git("add", "--all")
    tools.run_git("commit", "--quiet", "-m", f"Export of mlestar run {run.root.name} ({run.task_name})")
    return ExportReport(
        dest=dest,
        run_dir=run.root,
        committed=tuple(tools.run_git("ls-files", "-z").split("\0")[:-1]),
        data=data,
        stages=(pf.STAGE,),
        seed=seed,
        seed_wired=wired,
        threads=run.threads,
        requirements=tuple(requirements),
        remote=url,
        pushed=bool(url),
        commit=tools.run_git("rev-parse", "HEAD").strip(),
    )


def _add_remote(tools: Tools, url: str) -> None:
    try:
        tools.run_dvc("remote", "add", "--default", pf.REMOTE_NAME, url)
    except RunFault as e:
        raise ConfigError(
            f"expected a DVC remote (a folder, or a URL dvc supports), found {url!r}: {e}"
        ) from e


def _push(tools: Tools, url: str) -> None:
    try:
        tools.run_dvc("push", "--quiet")
    except RunFault as e:
        raise RunFault(
            f"the project in {tools.project} is complete, but pushing its data to {url} failed; "
            f"run `dvc push` there once the remote is reachable. {e}"
        ) from e


def _check_dest(dest: Path) -> None:
    if dest.exists() and not dest.is_dir():
        raise RunFolderError(f"expected DEST to be a new or empty folder, found a file at {dest}")
    if dest.is_dir():
        entries = sorted(p.name for p in dest.iterdir())
        if entries:
            shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
            raise RunFolderError(
                f"expected DEST to be a new or empty folder, found {len(entries)} entries in {dest}: {shown}"
            )


def _remote_url(remote: str) -> str:
    """URLs as given; a local folder made absolute so the project finds it from anywhere."""
    if "://" in remote:
        return remote
    return str(Path(remote).expanduser().resolve())


def _write_code(run: FinishedRun, dest: Path) -> tuple[int, bool, list[str]]:
    """Copy solution.py and its parts with the seed wired; (seed, wired, every script's text)."""
    texts: dict[Path, str] = {dest / "solution.py": run.solution.read_text()}
    if run.parts is not None:
        shutil.copytree(run.parts, dest / pf.PARTS)
        texts.update({p: p.read_text() for p in sorted((dest / pf.PARTS).rglob("*.py"))})
    seed = choose_seed(list(texts.values()), run.seed)
    wired_any = False
    for path, text in texts.items():
        new, wired = wire_seed(text, seed)
        path.write_text(new)
        texts[path] = new
        wired_any = wired_any or wired
    return seed, wired_any, list(texts.values())


def _copy_data(run: FinishedRun, dest: Path) -> tuple[str, ...]:
    inputs = dest / pf.INPUT
    (inputs / FILES_LINK).mkdir(parents=True)
    for name, source in run.inputs:
        shutil.copyfile(source, inputs / name)
    for rel, source in run.task_files:
        target = inputs / FILES_LINK / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            shutil.copyfile(source, target)
    (dest / pf.REFERENCE).mkdir()
    shutil.copyfile(run.submission, dest / pf.REFERENCE / pf.SUBMISSION)
    tracked = [*(dest / pf.INPUT).rglob("*"), *(dest / pf.REFERENCE).rglob("*")]
    return tuple(sorted(str(p.relative_to(dest)) for p in tracked if p.is_file()))


def _write_project_files(dest: Path, facts: pf.ProjectFacts, requirements: list[str]) -> None:
    dvc_version = installed_version("dvc")
    (dest / "dvc.yaml").write_text(pf.dvc_yaml(facts))
    (dest / "params.yaml").write_text(pf.params_yaml(facts))
    (dest / "requirements.txt").write_text(
        pf.requirements_txt(requirements, f"dvc=={dvc_version}" if dvc_version else "dvc")
    )
    (dest / "README.md").write_text(pf.readme(facts))
    (dest / ".gitignore").write_text(pf.gitignore())


def _init_repositories(dest: Path, tools: Tools) -> None:
    tools.run_git("-c", "init.defaultBranch=main", "init", "--quiet")
    tools.run_dvc("init", "--quiet")
    (dest / ".dvc" / "config").write_text(pf.DVC_CONFIG)
    (dest / ".dvc" / "config.local").write_text(pf.dvc_local_config(str(dest.resolve() / SITE_CACHE)))
    with (dest / ".dvcignore").open("a") as f:
        f.write(pf.DVCIGNORE_EXTRA)


def _undo(dest: Path, created: bool) -> None:
    """Remove what the export wrote: the folder it made, or the contents of the empty one it found."""
    if created:
        shutil.rmtree(dest, ignore_errors=True)
        return
    for child in dest.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)
