"""From test predictions to a checked submission file, shaped exactly like the sample submission.

Predictions are the contract's arrays (n_test, n_outputs): numbers, or numpy unicode text for text
answers. The layout (TaskSpec.submission) says how they are written: labels, probabilities, numbers,
a distribution, label lists, the top k classes, or text; rows keyed by the id column or by order.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlestar.task.infer import same_ids
from mlestar.task.spec import ProblemType, TaskSpec

_EPS = 1e-15
_TEXTUAL = ("labels", "ranked", "text")


class SubmissionError(ValueError):
    """The submission does not match the sample submission; the message lists every problem."""


def to_submission_frame(
    spec: TaskSpec, pred: np.ndarray, test: pd.DataFrame, sample: pd.DataFrame | None
) -> pd.DataFrame:
    """Map the prediction array (n_test, n_outputs) to the submission's columns and row order."""
    pred = _as_array(spec, pred, len(test))
    if spec.submission.pairs:
        return _pair_rows(spec, np.asarray(_prediction_columns(spec, pred), dtype=np.float64), test, sample)
    frame = pd.DataFrame(_prediction_columns(spec, pred), columns=list(spec.target_columns))
    if spec.submission.value_kind == "text" and _empty_spelling(spec, sample) != "":
        frame = frame.replace("", _empty_spelling(spec, sample))  # an empty answer as the sample writes it
    layout = spec.submission
    if layout.key == "position" or spec.id_column is None:
        return _by_position(spec, frame, sample)
    frame.insert(0, spec.id_column, test[spec.id_column].array)
    if layout.aggregate:
        frame = _aggregate(frame, spec)
    if sample is not None and (layout.row_order == "sample" or layout.aggregate):
        key = frame[spec.id_column].astype(str)
        frame = frame.set_index(key).loc[_test_keys(sample[spec.id_column], key)].reset_index(drop=True)
        frame[spec.id_column] = sample[spec.id_column].array
    for col in layout.copy_columns:
        if sample is not None and col in sample.columns:
            frame[col] = sample[col].to_numpy()
    columns = list(sample.columns) if sample is not None else [spec.id_column, *spec.target_columns]
    return frame[columns]


def _pair_rows(
    spec: TaskSpec, values: np.ndarray, test: pd.DataFrame, sample: pd.DataFrame | None
) -> pd.DataFrame:
    """One row per (test row, class): its key made by the layout's pair rule from the row's id and
    the class, its value the row's prediction for that class; in the sample's order."""
    key, value = spec.submission.columns[0], spec.target_columns[0]
    rows = test[spec.id_column].astype(str).to_numpy()
    classes = list(spec.classes or ())
    keys = [_pair_key(spec.submission.pairs, row, label) for row in rows for label in classes]
    frame = pd.DataFrame({key: keys, value: values.reshape(len(rows), -1).ravel()})
    if sample is None:
        return frame
    frame = frame.set_index(key).loc[sample[key].astype(str)].reset_index(drop=True)
    frame.insert(0, key, sample[key].to_numpy())
    return frame[list(sample.columns)]


def _pair_key(rule: str, row: str, label: str) -> str:
    """The key of (row, class): "{id}*100+{class}" is a number, "{id}_{class}" a text join."""
    if "*" in rule:
        times = int(rule.split("*", 1)[1].split("+", 1)[0])
        return str(int(row) * times + int(label))
    return rule.replace("{id}", row).replace("{class}", label)


def _test_keys(sample_ids: pd.Series, test_ids: pd.Series) -> pd.Series:
    """The test row behind each submission row: its id, or for ids that name a test row and a part
    ("<id>_long", "<id>_short") the id before the last "_" (each part takes the row's prediction)."""
    ids = sample_ids.astype(str)
    known = set(test_ids)
    if ids.isin(known).all():
        return ids
    stems = ids.str.rsplit("_", n=1).str[0]
    return stems.where(~ids.isin(known) & stems.isin(known), ids)


def _as_array(spec: TaskSpec, pred: np.ndarray, n: int) -> np.ndarray:
    arr = np.asarray(pred)
    if spec.problem_type is ProblemType.TEXT or arr.dtype.kind in "UO":
        return arr.astype(str).reshape(n, -1)
    return arr.astype(np.float64).reshape(n, -1)


def _by_position(spec: TaskSpec, frame: pd.DataFrame, sample: pd.DataFrame | None) -> pd.DataFrame:
    if sample is None:
        return frame
    out = sample.copy()
    for col in spec.target_columns:
        out[col] = frame[col].to_numpy()
    return out


def _aggregate(frame: pd.DataFrame, spec: TaskSpec) -> pd.DataFrame:
    """Several test rows per submission row: their numeric predictions averaged, in first-seen order."""
    if spec.submission.value_kind in _TEXTUAL or spec.submission.value_kind == "label":
        return frame.drop_duplicates(subset=[spec.id_column]).reset_index(drop=True)
    return frame.groupby(spec.id_column, sort=False, as_index=False).mean()


def _prediction_columns(spec: TaskSpec, pred: np.ndarray) -> np.ndarray | list[str] | list[list[str]]:
    kind = spec.submission.value_kind
    classes = list(spec.classes or ())
    if kind == "text":
        return pred
    if kind == "label" and not classes:  # no classes known (no answers): the values as given
        return [str(int(v)) if float(v).is_integer() else str(v) for v in pred[:, 0]]
    if kind == "label":
        if spec.problem_type is ProblemType.BINARY:
            return [classes[1] if p >= 0.5 else classes[0] for p in pred[:, 0]]
        return [classes[i] for i in pred.argmax(axis=1)]
    if kind == "labels":
        sep = spec.label_separator or " "
        return [sep.join(c for c, p in zip(classes, row, strict=True) if p >= 0.5) for row in pred]
    if kind == "ranked":
        k = spec.submission.top_k or 5
        if pred.shape[1] == 1 and len(classes) == 2:
            pred = np.column_stack([1 - pred[:, 0], pred[:, 0]])
        top = np.argsort(-pred, axis=1, kind="stable")[:, :k]
        return [" ".join(classes[i] for i in row) for row in top]
    if kind in ("probability", "distribution"):
        p = np.clip(pred, _EPS if kind == "probability" else 0.0, 1 - _EPS if kind == "probability" else None)
        if spec.problem_type is ProblemType.MULTICLASS or kind == "distribution":
            total = p.sum(axis=1, keepdims=True)
            p = np.divide(p, total, out=np.full_like(p, 1 / p.shape[1]), where=total > 0)
        return p
    return pred


def check_submission(frame: pd.DataFrame, spec: TaskSpec, sample: pd.DataFrame | None) -> None:
    problems = list(_problems(frame, spec, sample))
    if problems:
        raise SubmissionError("the submission does not match the sample submission: " + "; ".join(problems))


def _problems(frame: pd.DataFrame, spec: TaskSpec, sample: pd.DataFrame | None):  # type: ignore[no-untyped-def]
    keyed = spec.id_column is not None and spec.submission.key == "id"
    id_column = spec.submission.columns[0] if spec.submission.pairs else spec.id_column
    as_sample = False
    """The sample's ids, row by row: nothing more to check of them (it is the grader's own list)."""
    if sample is not None:
        if list(frame.columns) != list(sample.columns):
            yield f"expected columns {list(sample.columns)}, found {list(frame.columns)}"
            return
        if len(frame) != len(sample):
            yield f"expected {len(sample)} rows, found {len(frame)}"
        elif keyed:
            # Row by row first: on millions of rows a set of the ids costs a minute, this milliseconds.
            as_sample = same_ids(frame[id_column], sample[id_column])
            if not as_sample:
                ids, want = (t[id_column].astype(str).to_numpy(dtype=object) for t in (frame, sample))
                if set(ids) != set(want):
                    yield "the ids differ from the sample submission's"
                elif spec.submission.row_order == "sample":
                    yield "the rows are not in the sample submission's order"
    if keyed and not as_sample and frame[id_column].duplicated().any():
        yield "duplicate ids"
    yield from _value_problems(frame[list(spec.target_columns)], spec)


def _value_problems(preds: pd.DataFrame, spec: TaskSpec):  # type: ignore[no-untyped-def]
    kind = spec.submission.value_kind
    if kind in _TEXTUAL:
        if preds.isna().any().any() and kind == "ranked":
            yield "empty predictions"
        return
    if preds.isna().any().any():
        yield "empty predictions"
        return
    if kind == "label" and spec.classes:
        allowed = set(spec.classes or ())
        bad = set(preds.iloc[:, 0].astype(str)) - allowed
        if bad:
            yield f"labels {sorted(bad)[:5]} are not among the classes {sorted(allowed)}"
        return
    if kind == "label":
        return
    values = preds.to_numpy(dtype=np.float64)
    if not np.isfinite(values).all():
        yield "non-finite predictions"
    if kind == "probability":
        if (values < 0).any() or (values > 1).any():
            yield "probabilities outside [0, 1]"
        if spec.problem_type is ProblemType.MULTICLASS and not np.allclose(values.sum(axis=1), 1, atol=1e-6):
            yield "class probabilities do not sum to one on every row"


def trivial_predictions(spec: TaskSpec, y: np.ndarray, n_test: int) -> np.ndarray:
    """A correctly shaped, sensible prediction that needs no model: priors, or the mean."""
    if spec.problem_type is ProblemType.BINARY:
        return np.full((n_test, 1), float(np.mean(y)))
    if spec.problem_type is ProblemType.MULTICLASS:
        prior = np.bincount(y.astype(int), minlength=spec.n_outputs) / len(y)
        return np.tile(prior, (n_test, 1))
    cols = y.reshape(len(y), -1)
    return np.tile(cols.mean(axis=0), (n_test, 1))


def baseline_predictions(
    spec: TaskSpec, y: np.ndarray, test: pd.DataFrame, sample: pd.DataFrame | None
) -> np.ndarray:
    """The documented baseline (spec.baseline; docs/conformance.md) as a prediction array."""
    n, base = len(test), spec.baseline
    if base.startswith("copy:") and base[5:] in test.columns:
        column = test[base[5:]].fillna("").astype(str).to_numpy()
        return np.tile(column.reshape(n, 1), (1, max(1, len(spec.target_columns)))).astype(np.str_)
    if base == "empty":
        return np.full((n, len(spec.target_columns)), _empty_spelling(spec, sample), dtype=np.str_)
    if base in ("sample", "popular") or y.size == 0:
        return _from_sample_or_popular(spec, y, test, sample)
    if spec.problem_type is ProblemType.TEXT:
        return _from_sample_or_popular(spec, y, test, sample)
    return trivial_predictions(spec, y, n)


def _empty_spelling(spec: TaskSpec, sample: pd.DataFrame | None) -> str:
    """How the sample writes an empty answer: "-" when it uses it, else an empty string."""
    if sample is not None:
        values = sample[spec.target_columns[0]].fillna("").astype(str)
        if (values == "-").any():
            return "-"
    return ""


def _from_sample_or_popular(
    spec: TaskSpec, y: np.ndarray, test: pd.DataFrame, sample: pd.DataFrame | None
) -> np.ndarray:
    """The most frequent training answer per column (text), else the sample's own answers."""
    n = len(test)
    if y.size and y.dtype.kind in "US" and spec.baseline != "sample":
        common = [
            pd.Series(y.reshape(len(y), -1)[:, j]).mode().iloc[0]
            for j in range(y.reshape(len(y), -1).shape[1])
        ]
        return np.tile(np.asarray(common, dtype=np.str_), (n, 1))
    if y.size and spec.submission.value_kind == "ranked":
        return trivial_predictions(spec, y, n)
    if sample is None:
        return trivial_predictions(spec, y, n) if y.size else np.zeros((n, spec.n_outputs))
    values = _sample_in_test_order(spec, test, sample)
    if spec.problem_type is ProblemType.TEXT or not all(
        pd.api.types.is_numeric_dtype(d) for d in values.dtypes
    ):
        return values.fillna("").astype(str).to_numpy().astype(np.str_)
    if spec.submission.value_kind == "label" and spec.classes:
        index = {c: i for i, c in enumerate(spec.classes)}
        onehot = np.zeros((n, len(spec.classes)))
        for row, v in enumerate(values.iloc[:, 0].astype(str)):
            onehot[row, index.get(v, 0)] = 1
        return onehot[:, 1:] if spec.problem_type is ProblemType.BINARY else onehot
    return values.to_numpy(dtype=np.float64)


def _sample_in_test_order(spec: TaskSpec, test: pd.DataFrame, sample: pd.DataFrame) -> pd.DataFrame:
    cols = list(spec.target_columns)
    if spec.id_column is None or spec.submission.key == "position" or spec.id_column not in test.columns:
        return sample[cols].reset_index(drop=True)
    by_id = sample.drop_duplicates(subset=[spec.id_column]).set_index(
        sample[spec.id_column].drop_duplicates().astype(str)
    )
    keys = test[spec.id_column].astype(str)
    return by_id.reindex(keys)[cols].reset_index(drop=True)


def write_submission(frame: pd.DataFrame, path: Path) -> None:
    """Write atomically: a reader never sees half a file."""
    tmp = path.with_suffix(".csv.tmp")
    write_csv(frame, tmp)
    os.replace(tmp, path)


def write_csv(frame: pd.DataFrame, path: str | Path) -> None:
    """The frame as csv, as DataFrame.to_csv(index=False) writes it, byte for byte as the csv module
    writes it: minimal quoting, missing values empty, floats as Python's repr. Columns of text,
    integers, booleans and floats are spelled in Arrow's kernels, blocks of rows on two threads
    (a submission of millions of rows in seconds, where a csv row at a time took ten); a frame of
    one column, or with cells of other objects, is written a row at a time by the csv module."""
    head = io.StringIO()
    csv.writer(head, lineterminator="\n").writerow([str(c) for c in frame.columns])
    cells = [_csv_cells(frame[name]) for name in frame.columns] if len(frame.columns) > 1 else [None]
    if any(c is None for c in cells):  # one column (an empty cell is written ""), or other objects
        with open(path, "w", newline="", encoding="utf-8") as handle:
            handle.write(head.getvalue())
            csv.writer(handle, lineterminator="\n").writerows(zip(*_csv_values(frame), strict=True))
        return
    from concurrent.futures import ThreadPoolExecutor

    import pyarrow.compute as pc

    def block(start: int) -> Any:
        comma, end = _large(","), _large("\n")
        pieces = []
        for i, spell in enumerate(cells):
            pieces += [comma] if i else []
            pieces += spell(start, start + _CSV_BLOCK)  # type: ignore[misc]
        return pc.binary_join_element_wise(*pieces, end, _large(""))  # one pass: each row's line

    with ThreadPoolExecutor(2) as pool, open(path, "wb") as out:
        out.write(head.getvalue().encode("utf-8"))
        for lines in pool.map(block, range(0, len(frame), _CSV_BLOCK)):
            out.write(_text_bytes(lines))


_CSV_BLOCK = 1 << 18
"""Rows spelled at a time (one thread each): small enough that a block's text stays far under 2 GB."""


def _csv_values(frame: pd.DataFrame) -> list[np.ndarray]:
    """Each column's cells as Python objects, missing values empty, for the csv module."""
    columns = []
    for name in frame.columns:
        values = frame[name].to_numpy(dtype=object)
        missing = frame[name].isna().to_numpy()
        if missing.any():
            values = values.copy()  # an object column's values are the frame's own, read-only
            values[missing] = ""
        columns.append(values)
    return columns


def _csv_cells(column: pd.Series) -> Any:
    """A function of (start, stop) giving the column's cells in those rows as the csv module spells
    them, as Arrow arrays of text whose pieces joined make each cell (missing values empty); None for
    a column of other objects."""
    import pyarrow as pa
    import pyarrow.compute as pc

    dtype, text = column.dtype, pa.large_string()
    if isinstance(dtype, np.dtype) and dtype.kind == "f" and dtype.itemsize == 8:
        floats = column.to_numpy()
        return lambda start, stop: _float_pieces(floats[start:stop])
    if dtype.kind in "iub":
        values = _one_chunk(pa.array(column, from_pandas=True))
        if dtype.kind == "b":
            return lambda start, stop: [
                pc.fill_null(pc.if_else(values[start:stop], _large("True"), _large("False")), "")
            ]
        return lambda start, stop: [pc.fill_null(pc.cast(values[start:stop], text), "")]
    if isinstance(dtype, pd.StringDtype) or (
        dtype.kind in "OU" and pd.api.types.infer_dtype(column) == "string"
    ):
        strings = _one_chunk(pa.array(column, type=text, from_pandas=True))
        return lambda start, stop: [pc.fill_null(_quoted(strings[start:stop]), "")]
    return None


def _one_chunk(values: Any) -> Any:
    """An Arrow array (a column read from parquet comes as chunks)."""
    return values.combine_chunks() if hasattr(values, "combine_chunks") else values


def _float_pieces(values: np.ndarray) -> list[Any]:
    """Floats as Python's repr spells them (the csv module writes repr), nan empty: the digits, and
    ".0" beside each whole number. Between 1e-4 and 1e16 repr writes the shortest digits that read
    back as the value, positionally, with ".0" on a whole number (zero too): Arrow's cast writes the
    same digits where it chose no exponent, and a whole number's without a point. The rest (tiny,
    huge, infinite) are repr'd one by one, a few values in a column of predictions."""
    import pyarrow as pa
    import pyarrow.compute as pc

    size = np.abs(values)
    usual = ((size >= 1e-4) & (size < 1e16)) | (values == 0)
    # 32-bit offsets: half the time of a cast to large_string, and a block's digits fit them
    text = pc.cast(pc.cast(pa.array(values), pa.string()), pa.large_string())
    usual &= ~pc.match_substring(text, "e").to_numpy(zero_copy_only=False)
    missing = np.isnan(values)
    odd = ~usual & ~missing
    if odd.any():
        spelled = pa.array([repr(v) for v in values[odd].tolist()], type=pa.large_string())
        text = pc.replace_with_mask(text, pa.array(odd), spelled)
    if missing.any():
        text = pc.if_else(pa.array(missing), _large(""), text)
    whole = usual & (values == np.trunc(values))
    return [text, pc.if_else(pa.array(whole), _large(".0"), _large(""))] if whole.any() else [text]


def _quoted(text: Any) -> Any:
    """Text cells quoted where the csv module quotes them: holding a comma, a quote or a line end
    "\n" (quotes doubled inside; a lone "\r" is written as it is)."""
    import pyarrow.compute as pc

    data = bytes(_text_bytes(text))
    if not any(mark in data for mark in (b",", b'"', b"\n")):
        return text  # the common case, seen by a byte search (memchr) for each mark
    quote = _large('"')
    doubled = pc.binary_join_element_wise(quote, pc.replace_substring(text, '"', '""'), quote, _large(""))
    return pc.if_else(pc.match_substring_regex(text, '[,"\n]'), doubled, text)


def _text_bytes(text: Any) -> memoryview:
    """The UTF-8 bytes of an Arrow array of text (large_string), back to back, without a copy."""
    if len(text) == 0:
        return memoryview(b"")
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int64)[text.offset : text.offset + len(text) + 1]
    return memoryview(text.buffers()[2])[int(offsets[0]) : int(offsets[-1])]


def _large(text: str) -> Any:
    """The text as an Arrow scalar of the type the cells are spelled in (large_string)."""
    import pyarrow as pa

    return pa.scalar(text, pa.large_string())
