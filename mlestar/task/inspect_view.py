"""What `mlestar inspect` shows: a readable summary of a TaskSpec, or the same as JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlestar.metrics import get_metric
from mlestar.task.files import read_table
from mlestar.task.load import TaskTables
from mlestar.task.spec import ProblemType, TaskSpec

Shapes = dict[str, tuple[int, int] | None]


def table_shapes(spec: TaskSpec, tables: TaskTables | None = None) -> Shapes:
    """(rows, columns) of train, test and sample submission; read again when tables is None."""
    if tables is not None:
        frames = {"train": tables.train, "test": tables.test, "sample_submission": tables.sample_submission}
        return {k: (v.shape[0], v.shape[1]) if v is not None else None for k, v in frames.items()}
    paths = {
        "train": spec.train_path,
        "test": spec.test_path,
        "sample_submission": spec.sample_submission_path,
    }
    shapes: Shapes = {}
    for key, path in paths.items():
        shapes[key] = read_table(path).shape if path is not None else None
    return shapes


_JSON_FIRST = (
    "name", "train", "test", "sample_submission", "id_column", "target_columns", "train_target_columns",
    "label_column", "classes", "problem_type", "n_outputs", "metric", "lower_is_better", "group_column",
    "submission", "extra_paths", "inputs", "row_files", "train_only", "id_is_feature", "dropped_rows",
    "solver", "baseline", "shapes", "sources", "notes",
)  # fmt: skip
_DESCRIPTION_PREVIEW = 500


def inspect_json(spec: TaskSpec, tables: TaskTables | None = None) -> dict[str, Any]:
    """The inferred task as JSON: TaskSpec.to_json plus sample_submission, n_outputs and table
    shapes, the main keys first and the description shortened to a preview."""
    data = spec.to_json()
    data["sample_submission"] = data["sample_submission_path"]
    data["n_outputs"] = spec.n_outputs
    data["shapes"] = {k: list(v) if v else None for k, v in table_shapes(spec, tables).items()}
    data["description_chars"] = len(spec.description)
    if len(spec.description) > _DESCRIPTION_PREVIEW:
        data["description"] = spec.description[:_DESCRIPTION_PREVIEW] + "..."
    ordered = {key: data.pop(key) for key in _JSON_FIRST}
    return {**ordered, **data}


def render_inspect(spec: TaskSpec, tables: TaskTables | None = None) -> str:
    """A summary for people: files, columns, problem, metric, submission, and where each came from."""
    shapes = table_shapes(spec, tables)
    src = spec.sources
    metric = get_metric(spec.metric)
    direction = "lower is better" if spec.lower_is_better else "higher is better"
    sub = spec.submission
    lines = [
        f"task           {spec.name}   ({spec.task_dir})",
        "",
        _table_line("train", spec.train_path, spec.task_dir, shapes["train"], src.get("train_path")),
        _table_line("test", spec.test_path, spec.task_dir, shapes["test"], src.get("test_path")),
        _table_line(
            "sample",
            spec.sample_submission_path,
            spec.task_dir,
            shapes["sample_submission"],
            src.get("sample_submission_path"),
        ),
        _field(
            "extra paths",
            ", ".join(_extra(spec, p) for p in spec.extra_paths) or "none",
            src.get("extra_paths"),
        ),
        "",
        _field("id column", spec.id_column or "none", src.get("id_column")),
        _field("targets", ", ".join(spec.target_columns), src.get("target_columns")),
        _field("train target", ", ".join(spec.train_target_columns), src.get("train_target_columns")),
        _field("label column", spec.label_column or "none", src.get("label_column")),
        _field("classes", _classes(spec), src.get("classes")),
        _field(
            "problem type",
            f"{spec.problem_type} ({spec.n_outputs} output column(s))",
            src.get("problem_type"),
        ),
        _field("metric", f"{spec.metric} ({metric.title})", src.get("metric")),
        _field("direction", direction, src.get("lower_is_better")),
        _field("group column", spec.group_column or "none", src.get("group_column")),
        "",
        _field("submission", ", ".join(sub.columns), src.get("submission")),
        _field("  values", sub.value_kind, None),
        _field("  row order", _row_order(sub.row_order), None),
        _field("  dtypes", ", ".join(sub.dtypes) or "unknown", None),
    ]
    lines += ["", *_kind_lines(spec)]
    if spec.notes:
        lines += ["", *(f"note: {n}" for n in spec.notes)]
    return "\n".join(lines) + "\n"


def _kind_lines(spec: TaskSpec) -> list[str]:
    files = "; ".join(
        f"train {f['train'] or '-'}, test {f['test'] or '-'} ({f['kind']})" for f in spec.row_files
    )
    solver = "the search (engineers)" if spec.solver == "engineers" else f"baseline: {spec.baseline}"
    return [
        _field("inputs", spec.inputs, None),
        _field("row files", files or "none", None),
        _field("train only", ", ".join(spec.train_only) or "none", None),
        _field("id is feature", "yes (date-time)" if spec.id_is_feature else "no", None),
        _field("dropped rows", str(spec.dropped_rows), None),
        _field("answered by", solver, None),
    ]


def _field(label: str, value: str, source: str | None) -> str:
    text = f"{label:<15}{value}"
    return f"{text:<60}  [{source}]" if source else text


def _table_line(
    label: str, path: Path | None, task_dir: Path, shape: tuple[int, int] | None, source: str | None
) -> str:
    if path is None:
        return _field(label, "none", source)
    size = f"{shape[0]:,} rows x {shape[1]} columns" if shape else "size unknown"
    return _field(label, f"{_relative(path, task_dir)}  ({size})", source)


def _relative(path: Path, task_dir: Path) -> str:
    try:
        return str(path.relative_to(task_dir))
    except ValueError:
        return str(path)


def _extra(spec: TaskSpec, name: str) -> str:
    path = spec.task_dir / name
    if path.is_dir():
        return f"{name}/ ({sum(1 for _ in path.iterdir()):,} entries)"
    return name


def _classes(spec: TaskSpec) -> str:
    if not spec.classes:
        return "none"
    shown = ", ".join(spec.classes[:20])
    more = f" and {len(spec.classes) - 20} more" if len(spec.classes) > 20 else ""
    return (
        shown
        + more
        + (f"   (positive: {spec.classes[1]})" if spec.problem_type is ProblemType.BINARY else "")
    )


def _row_order(order: str) -> str:
    return "as the test table" if order == "test" else "as the sample submission (differs from test)"
