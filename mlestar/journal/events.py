"""Every event the journal records, one frozen dataclass each, in one registry.

An event is a decision or a boundary of the run (a stage started, a merge kept, the run finished).
It is written as {"kind": "event", "name": NAME, "time": ..., **its fields}: the JSON is what it was
when events were plain dicts, so old journals load. Readers ask the journal for a type
(`journal.last(RunFinished)`); a record from an older journal lacking a field gets its default.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from enum import Enum, StrEnum
from typing import Any, ClassVar, TypeVar, get_type_hints

from mlestar.journal.nodes import Stage

EXAMPLE_ROWS = 5
"""Rows of test.parquet a logged model shows as its input example."""
E = TypeVar("E", bound="Event")
REGISTRY: dict[str, type[Event]] = {}
"""Event name -> its class: every event a journal may hold."""
_ENUM_FIELDS: dict[type[Event], dict[str, type[Enum]]] = {}


def _omitted() -> Any:
    """A fact written only when it has a value (decisions of different shapes share one name)."""
    return field(default=None, metadata={"omit_none": True})


@dataclass(frozen=True, kw_only=True)
class Event:
    name: ClassVar[str] = ""
    durable: ClassVar[bool] = True
    """Fsynced as it is written. An event a killed run may lose without harm says False: the next
    durable record's fsync carries it to disk anyway."""
    time: float = field(default=0.0, compare=False)
    """When it was journaled (set by the journal)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.name in REGISTRY:
            raise TypeError(f"two event classes are named {cls.name!r}")
        REGISTRY[cls.name] = cls

    def facts(self) -> dict[str, Any]:
        """What is written beside "name" and "time"."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name != "time" and not (value is None and f.metadata.get("omit_none")):
                out[f.name] = value
        return out

    @classmethod
    def from_record(cls: type[E], record: dict[str, Any]) -> E:
        """The event of a journal record; facts it does not know are dropped, missing ones default."""
        known = {f.name: f for f in fields(cls)}
        values = {k: v for k, v in record.items() if k in known}
        for name, f in known.items():
            if name not in values and f.default is MISSING and f.default_factory is MISSING:
                values[name] = None  # an older journal that did not record it
        for name, kind in _enum_fields(cls).items():
            if isinstance(values.get(name), str):
                values[name] = kind(values[name])
        return cls(**values)


def _enum_fields(cls: type[Event]) -> dict[str, type[Enum]]:
    """Fields typed with an enum: a record holds their values as plain strings."""
    if cls not in _ENUM_FIELDS:
        hints = get_type_hints(cls)
        _ENUM_FIELDS[cls] = {
            f.name: hints[f.name]
            for f in fields(cls)
            if isinstance(hints[f.name], type) and issubclass(hints[f.name], Enum)
        }
    return _ENUM_FIELDS[cls]


def event_class(name: str) -> type[Event]:
    if name not in REGISTRY:
        raise ValueError(f"expected a registered journal event, found {name!r}")
    return REGISTRY[name]


class Decision(StrEnum):
    """What a `decision` event decided."""

    MERGE_KEPT = "merge_kept"
    MERGE_REJECTED = "merge_rejected"
    """MLE-STAR stops merging at the first merge that does not help."""
    DATA_USAGE_KEPT = "data_usage_kept"
    DATA_USAGE_REJECTED = "data_usage_rejected"
    LEAKAGE_FIXED = "leakage_fixed"
    """The leak-free script becomes the solution even when it scores lower."""
    BLOCK_CHOSEN = "block_chosen"
    REFINEMENT_KEPT = "refinement_kept"
    REFINEMENT_NONE = "refinement_none"


KEPT = frozenset(
    {Decision.MERGE_KEPT, Decision.DATA_USAGE_KEPT, Decision.LEAKAGE_FIXED, Decision.REFINEMENT_KEPT}
)
"""Decisions that made their node the current solution."""


# -- the run --------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class RunStarted(Event):
    name = "run_started"
    config: dict[str, Any]
    """The RunConfig as JSON."""
    task: dict[str, Any]
    """The TaskSpec as JSON."""
    engineer: str
    versions: dict[str, str] = field(default_factory=dict)
    """Package -> version, of the packages that decide results."""
    n_train: int | None = None
    n_test: int | None = None
    subsampled: bool = False
    validation: str = ""
    """How attempts are validated: one split, or several averaged, and why."""
    prepare_s: float = 0.0
    """Seconds from the command's start to the run folder laid out (reading, preparing and hashing
    the task): spent from the budget like the search's own time."""


@dataclass(frozen=True, kw_only=True)
class InputsHashed(Event):
    name = "inputs_hashed"
    files: dict[str, str]
    """Path relative to the task folder -> sha256."""
    data: dict[str, str]
    """File in data/ -> sha256."""


@dataclass(frozen=True, kw_only=True)
class SessionStarted(Event):
    """Each start or resume of a run: time between sessions does not count against the budget."""

    name = "session_started"
    pid: int


@dataclass(frozen=True, kw_only=True)
class SandboxChosen(Event):
    """How this session's scripts are confined (a resumed run may be on another machine)."""

    name = "sandbox"
    mode: str
    level: str
    guarantees: list[str] = field(default_factory=list)
    available: list[str] = field(default_factory=list)
    warning: str | None = None
    """Set when the level is weaker than asked."""


@dataclass(frozen=True, kw_only=True)
class HardwareSeen(Event):
    """What this session's machine offers and the device scripts get (a resume may be elsewhere)."""

    name = "hardware"
    device: str
    """"cuda" or "cpu" (--device resolved against the hardware)."""
    cores: int
    memory_mb: int | None
    gpus: list[dict[str, Any]] = field(default_factory=list)
    """index, name and uuid of each GPU the run may use."""


# -- the search -----------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class StageStarted(Event):
    name = "stage_started"
    stage: Stage


@dataclass(frozen=True, kw_only=True)
class StageFinished(Event):
    name = "stage_finished"
    stage: Stage
    best: str | None
    """The best solution node so far, or None."""


@dataclass(frozen=True, kw_only=True)
class AttemptStarted(Event):
    """The harness starts an attempt's script (the progress panel lists what is running; the
    attempt's node follows when it ends). Not fsynced: a start lost in a kill loses nothing."""

    name = "attempt_started"
    durable = False
    node: str
    """The attempt's id, the node it becomes."""
    timeout_s: float
    """The seconds it may take."""


@dataclass(frozen=True, kw_only=True)
class FallbackDrafts(Event):
    """No draft worked: the engineer's fallback drafts the same candidates again."""

    name = "fallback_drafts"
    candidates: list[str]


@dataclass(frozen=True, kw_only=True)
class Screened(Event):
    name = "screening"
    split: str
    """How the screening split was made."""
    results: list[dict[str, Any]]
    """The table, best first: ScreenResult as JSON (name, family, score, seconds, status, prior, chosen)."""
    drafts: list[str]
    """The candidates drafted, in order."""


@dataclass(frozen=True, kw_only=True)
class Decided(Event):
    """A choice of the search. Kept/rejected/fixed decisions carry node, base and both scores;
    block_chosen carries round, block and plan; refinement_none carries round and node."""

    name = "decision"
    what: Decision
    node: str | None = _omitted()
    base: str | None = _omitted()
    score: float | None = _omitted()
    base_score: float | None = _omitted()
    round: int | None = _omitted()
    block: str | None = _omitted()
    plan: str | None = _omitted()


@dataclass(frozen=True, kw_only=True)
class LeakageFound(Event):
    name = "leakage_found"
    node: str
    leaks: list[str]


@dataclass(frozen=True, kw_only=True)
class EngineerFailed(Event):
    """An engineer role raised: the search goes on with the fallback answer (memoised too)."""

    name = "engineer_failed"
    key: str
    error: str


@dataclass(frozen=True, kw_only=True)
class Memoised(Event):
    """An engineer decision, read back on resume instead of asked again (see search/memo.py)."""

    name = "memo"
    key: str
    value: Any


@dataclass(frozen=True, kw_only=True)
class SettingsFrozen(Event):
    """A working script's searched settings written into it as its FROZEN literal (search/freeze.py):
    the final fit and solution.py reuse what the search found instead of searching again."""

    name = "settings_frozen"
    node: str
    settings: dict[str, Any] | None
    """What its search found, now its FROZEN literal; None when it could not be frozen."""
    problem: str | None = None
    """Why it could not be frozen."""


# -- the hand-over --------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class FinalChosen(Event):
    name = "final"
    node: str
    """The solution handed over."""
    solution_kind: str
    """"script" or "ensemble"."""
    score: float | None
    members: list[str] = field(default_factory=list)
    """The scripts handed over (the solution itself for a script). Empty in older journals."""
    dropped: list[str] = field(default_factory=list)
    """Ensemble members with zero weight, left out of the final fit and solution.py."""


@dataclass(frozen=True, kw_only=True)
class SubmissionWritten(Event):
    """submission.csv written: from the search's best so far while it runs, from its final best as
    soon as it ends (unless already written), again only where the final fit predicted something
    else."""

    name = "submission_written"
    durable = False
    answers: str
    """"search", "final", "prior" or "baseline": whose predictions the file holds."""
    rows: int
    seconds: float
    node: str | None = None
    """The attempt whose stored predictions the file holds (the search's answers)."""


@dataclass(frozen=True, kw_only=True)
class FinalMember(Event):
    """One handed-over script in the final fit: refit, or its stored predictions stand in
    (a resumed run repeats the event; the last one counts)."""

    name = "final_member"
    member: str
    refit: bool
    reason: str | None
    """Why its stored predictions stand in (no time left, the refit failed), or None."""
    reused: bool = False
    """Not refit because its search run fitted the final model (every row, one run, its settings
    frozen): its stored predictions and saved model are the final ones. False in older journals."""
    exact: bool
    """Its predictions in the submission are what solution.py computes."""
    repeated: bool | None
    """Its refit predicted what its search run did; None when not comparable (a subsample, no refit)."""
    clock: list[str] = field(default_factory=list)
    """Findings of checks.frozen: where its script depends on the clock outside the explore guard."""
    folds: str | None = None
    """Not refit, searched on a subsample: the file of the hand-over's ./input (folds_search.npy)
    that solution.py runs it on, so that it computes its stored predictions; None: folds.npy."""


@dataclass(frozen=True, kw_only=True)
class RunFinished(Event):
    name = "run_finished"
    status: str
    """"ok", or "fallback" when no script worked."""
    best: str | None
    score: float | None
    submission: str
    solution: str
    model: str | None = None
    """model/model.pkl relative to the run folder, or None."""
    threads: int | None = None
    """Each final script's threads: thread counts can change a model's results."""
    stored_members: list[str] = field(default_factory=list)
    """Members neither refit nor reused: the submission used their stored predictions, and the run
    has no final model of them."""
    exact: bool | None = None
    """Every member exact: solution.py rebuilds the submission (None in older journals)."""
    baseline: str | None = None
    """The documented baseline submitted, if any."""
    finished: float | None = None
    example_predictions: list[list[float]] | None = None
    """The final predictions of test.parquet's first EXAMPLE_ROWS rows, as scripts write test.npy,
    when there is a model: what the model answers them, so its logging shows an output example
    without loading a model of hundreds of MB (None in older journals)."""
    model_libraries: list[str] | None = None
    """The ML libraries the model's pickle names (handover/libraries.py), found while it was
    written: its pip requirements without searching it again (None in older journals)."""


@dataclass(frozen=True, kw_only=True)
class ReportWritten(Event):
    """report.html was drawn (logged to MLflow as an artifact)."""

    name = "report_written"
    path: str
    """Relative to the run folder."""


# -- retraining (in the challenger's journal) -----------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class RetrainStarted(Event):
    name = "retrain_started"
    champion: str
    """The champion's run folder."""
    data: str
    fit_rows: int
    holdout_rows: int
    warm_start: list[str]
    """The champion's nodes whose scripts the search tried first."""
    champion_ensemble: dict[str, Any] | None


@dataclass(frozen=True, kw_only=True)
class RetrainCompared(Event):
    """Champion and challenger on the held-out rows (retrain.compare.Comparison)."""

    name = "retrain_compared"
    metric: str
    champion: float
    challenger: float
    improvement: float
    p_value: float
    alpha: float
    n: int
    better: bool


@dataclass(frozen=True, kw_only=True)
class RetrainDecided(Event):
    name = "retrain_decided"
    promoted: bool
    reason: str
    aliases: dict[str, Any]
