"""Recordings labelled in a text side file (`key,label,label...`, `?` for test), answered one
submission row per (recording, class): intake reads them as a multi-label task whose submission
rows the writer spreads out, and the audio model learns which tones a clip holds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import soundfile
from sklearn.metrics import roc_auc_score

from mlestar.execution.base import Executor
from mlestar.handover.submission import check_submission, to_submission_frame
from mlestar.serving.answer import answer_from
from mlestar.task import load_task_tables
from mlestar.task.spec import ProblemType
from tests.media_attempts import capped_rounds
from tests.test_media_engineer import run_first_draft

PITCH = (300.0, 900.0, 1700.0, 2900.0)


def recordings_task(
    folder: Path, n: int = 60, seed: int = 0, joined: bool = False, names: bool = True
) -> Path:
    """Clips of noise and one tone per class they hold (none to two classes each); every fifth
    clip is a test clip. Keys are numbers, the sample's Id rec_id * 100 + class (or text keys,
    "<rec>_<class>", with joined); the files are named through a side table (or by the key)."""
    rng = np.random.default_rng(seed)
    data = folder / "essential_data"
    (data / "wavs").mkdir(parents=True)
    (folder / "description.md").write_text(
        "Which birds sing in each clip. Scored by the area under the ROC curve."
    )
    keys = [f"r{i}" if joined else str(i) for i in range(n)]
    labels = {k: sorted({int(c) for c in rng.integers(0, 4, int(rng.integers(0, 3)))}) for k in keys}
    test = [k for i, k in enumerate(keys) if i % 5 == 0]
    rate = 8000
    for i, k in enumerate(keys):
        t = np.arange(rate // 2) / rate
        clip = rng.normal(0, 0.1, t.size) + sum(0.3 * np.sin(2 * np.pi * PITCH[c] * t) for c in labels[k])
        soundfile.write(data / "wavs" / (f"site{i % 3}_{i:04d}.wav" if names else f"{k}.wav"), clip, rate)
    if names:
        names_table = pd.DataFrame({"rec_id": keys, "filename": [f"site{i % 3}_{i:04d}" for i in range(n)]})
        names_table.to_csv(data / "rec_id2filename.txt", index=False)
    lines = ["rec_id,[labels]"] + [
        f"{k},?" if k in test else ",".join([k, *map(str, labels[k])]) for k in keys
    ]
    (data / "rec_labels_test_hidden.txt").write_text("\n".join(lines) + "\n")
    pd.DataFrame({"rec_id": keys, "fold": [int(k in test) for k in keys]}).to_csv(
        data / "CVfolds_2.txt", index=False
    )
    ids = [f"{k}_{c}" if joined else int(k) * 100 + c for k in test for c in range(4)]
    pd.DataFrame({"Id": ids, "Probability": 0}).to_csv(folder / "sample_submission.csv", index=False)
    return folder


def test_labels_in_a_side_file_are_read_as_multilabel_rows(tmp_path: Path) -> None:
    spec, tables = load_task_tables(recordings_task(tmp_path / "task"))
    assert spec.id_column == "rec_id" and spec.target_columns == ("Probability",)
    assert spec.problem_type is ProblemType.MULTILABEL and spec.classes == ("0", "1", "2", "3")
    assert spec.n_outputs == 4 and spec.label_separator == " " and spec.train_target_columns == ("labels",)
    assert spec.metric == "roc_auc" and spec.solver == "engineers" and spec.baseline == "prior"
    assert spec.submission.pairs == "{id}*100+{class}" and spec.submission.value_kind == "probability"
    assert (
        spec.row_files[0]["train"] == "essential_data/wavs/{filename}"
        and spec.row_files[0]["kind"] == "audio"
    )
    assert len(tables.train) == 48 and len(tables.test) == 12 and spec.dropped_rows == 0
    assert (tables.train["labels"] == "").any()  # a clip without a class is an answer: no class present
    assert list(tables.test["rec_id"]) == list(range(0, 60, 5))
    assert tables.train["filename"].str.endswith(".wav").all()


def test_text_keys_joined_with_their_class_and_files_named_by_the_key(tmp_path: Path) -> None:
    spec, tables = load_task_tables(recordings_task(tmp_path / "task", joined=True, names=False))
    assert spec.submission.pairs == "{id}_{class}" and spec.id_column == "rec_id"
    assert spec.row_files[0]["train"] == "essential_data/wavs/{id}.wav"
    assert list(tables.test["rec_id"][:2]) == ["r0", "r5"]


def test_a_labels_file_without_unknown_rows_is_not_this_layout(tmp_path: Path) -> None:
    folder = recordings_task(tmp_path / "task")
    labels = folder / "essential_data" / "rec_labels_test_hidden.txt"
    labels.write_text(labels.read_text().replace(",?", ",1"))
    spec, tables = load_task_tables(folder)  # nothing names the test rows: no rows built, as before
    assert spec.solver == "baseline" and tables.train.empty and not spec.submission.pairs


def test_each_test_row_answers_its_pair_rows_in_the_samples_order(tmp_path: Path) -> None:
    spec, tables = load_task_tables(recordings_task(tmp_path / "task"))
    sample = tables.sample_submission.sample(frac=1.0, random_state=0).reset_index(drop=True)
    pred = np.arange(12 * 4, dtype=float).reshape(12, 4) / 100  # row r, class c: (4r + c) / 100
    frame = to_submission_frame(spec, pred, tables.test, sample)
    check_submission(frame, spec, sample)
    assert list(frame.columns) == ["Id", "Probability"] and list(frame["Id"]) == list(sample["Id"])
    row = {rec: i for i, rec in enumerate(tables.test["rec_id"])}
    expected = [(4 * row[i // 100] + i % 100) / 100 for i in frame["Id"]]
    assert np.allclose(frame["Probability"], expected)


def test_a_served_row_answers_a_probability_per_class(tmp_path: Path) -> None:
    spec, tables = load_task_tables(recordings_task(tmp_path / "task"))
    out = answer_from(spec, np.full((3, 4), 0.25), tables.test.head(3))  # one row per row served
    assert list(out.columns) == ["Probability_0", "Probability_1", "Probability_2", "Probability_3"]
    assert out.shape == (3, 4)


def test_the_audio_model_hears_the_classes_out_of_fold(tmp_path: Path, script_executor: Executor) -> None:
    work, data, tables = run_first_draft(
        recordings_task(tmp_path / "task"), tmp_path, script_executor, capped_rounds
    )
    oof, answers = np.load(work / "output" / "oof.npy"), np.load(data / "target.npy")
    assert oof.shape == answers.shape == (48, 4)
    assert roc_auc_score(answers.ravel(), oof.ravel()) > 0.85  # the prior (class shares) scores 0.5 per class
    assert np.load(work / "output" / "test.npy").shape == (12, 4)
