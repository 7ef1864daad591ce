"""A small convolutional network on tiny pictures (one label per picture): a lean script of its own.

Every picture is read once (the media kit's reader: files, zip, tar and BSON members), resized to
32 x 32 colour and scaled to [0, 1]. Per harness fold, a three-block CNN (3 x 3 convolutions with
16, 32 and 64 channels, max-pooling, global average pooling, a linear head) is trained with Adam for
a few epochs on the other folds, with random horizontal flips; the fold's network predicts its
held-out pictures and the test pictures, and the test answer is the mean over the folds' networks
(no sixth fit). Binary and multi-class answers are probabilities; one regression target is learned
standardised. Offered only where torch imports and the pictures are small enough that five fits
fit the script's budget (`offered`).
"""

from __future__ import annotations

import importlib.util
import textwrap

from mlestar import contract
from mlestar.blocks import BlockError, block_names
from mlestar.contract import BLOCK_MARKER
from mlestar.engineers.base import Candidate
from mlestar.engineers.builtin.media import render
from mlestar.engineers.builtin.media.outputs import saved_outputs
from mlestar.engineers.builtin.media.source import snippet
from mlestar.engineers.builtin.profile_view import ProfileView
from mlestar.engineers.builtin.pysrc import literal

NAME = "cnn_small"
SUMMARY = (
    "A small convolutional network (three 3x3 convolution blocks of 16, 32 and 64 channels, global "
    "average pooling, a linear head) trained with Adam on the 32x32 colour pictures themselves, "
    "with random horizontal flips."
)
MODELS = {NAME: SUMMARY}
FAMILY = "cnn"
PROBLEMS = frozenset({"binary", "multiclass", "regression"})
SIDE = 32
"""Pictures are seen at SIDE x SIDE colour."""
MAX_SIDE = 64.0
"""Offered only where the training pictures' median width and height are at most this."""
SECONDS_PER_PICTURE_EPOCH = 8.8 / 14_000
"""One thread, one training picture, one epoch of this network (batch norm, batches of 64, flips):
14,000 32x32 pictures in 8.8 CPU s, measured with torch 2.13.0+cpu (docs/environment.md)."""
SECONDS_PER_PREDICTION = 1.4 / 4_000
"""One thread, one picture predicted (4,000 in 1.4 CPU s, batches of 256)."""
FOLDS = 5
MIN_EPOCHS, MAX_EPOCHS = 3, 12
BUDGET_SHARE = 0.5
"""The share of the script's budget the network's fits may take (reading pictures, the rest)."""
HEADER_NAMES = frozenset({"INPUT", "OUTPUT", "SEED", "THREADS", "SAVE_MODEL", "ID_COLUMN", "FILES", "ENTRY",
                          "SIDE", "PROBLEM", "N_OUTPUTS", "EPOCHS", "BATCH", "LEARNING_RATE"})  # fmt: skip
"""Names the header defines (never copied from the kit)."""
BLOCKS = ("load", "pictures", "network", "train", "predict", "main")
"""The script's blocks: not the per-pixel script's load, files, model, ... (pixel_recipe reads a
script by its block names)."""
_KIT_ROOTS = ("FileReader", "row_paths", "load_image", "map_rows")


def picture_entry(profile: ProfileView) -> dict[str, object] | None:
    """The task's one picture per row (not per pixel), when intake found exactly one such entry."""
    entries = render.media_entries(profile)
    pictures = [e for e in entries if e.get("kind") == "image" and not e.get("per")]
    return pictures[0] if len(pictures) == 1 and len(entries) == 1 else None


def is_cnn_task(profile: ProfileView) -> bool:
    """One label per picture: binary, multi-class or one regression target, a picture per row."""
    problem = profile.problem_type
    return (
        problem in PROBLEMS
        and (problem == "multiclass" or profile.n_outputs == 1)
        and bool(profile.id_column)
        and picture_entry(profile) is not None
    )


def is_small(profile: ProfileView) -> bool:
    picture = profile.profile.get("media", {}).get("image", {})
    if not picture:
        return False
    return max(float(picture.get("width", 1e9)), float(picture.get("height", 1e9))) <= MAX_SIDE


def estimated_seconds(n_train: int, epochs: int) -> float:
    """One thread: five fits on four fifths of the rows, each predicting its fold and the test rows
    (taken as large as a fold)."""
    fit = FOLDS * 0.8 * n_train * epochs * SECONDS_PER_PICTURE_EPOCH
    return fit + FOLDS * 0.4 * n_train * SECONDS_PER_PREDICTION


def epochs_for(n_train: int, budget_s: float) -> int:
    """The most epochs (up to MAX_EPOCHS) whose estimated cost fits BUDGET_SHARE of the budget; 0 when
    not even MIN_EPOCHS do."""
    fitting = [
        e
        for e in range(MIN_EPOCHS, MAX_EPOCHS + 1)
        if estimated_seconds(n_train, e) <= BUDGET_SHARE * budget_s
    ]
    return max(fitting, default=0)


def torch_found() -> bool:
    return importlib.util.find_spec("torch") is not None


def offered(profile: ProfileView, budget_s: float) -> bool:
    """torch imports, one small picture per row with one label, and five fits fit the budget."""
    return (
        is_cnn_task(profile)
        and is_small(profile)
        and epochs_for(profile.n_train, budget_s) > 0
        and torch_found()
    )


def candidate() -> Candidate:
    return Candidate(NAME, SUMMARY, "network = make_network(N_OUTPUTS)", "builtin", FAMILY)


def script(profile: ProfileView, seed: int, budget_s: float) -> str:
    """The whole CNN script."""
    entry = picture_entry(profile)
    if entry is None:
        raise ValueError("the CNN script needs one picture per row")
    code = snippet(_KIT_ROOTS, HEADER_NAMES)
    problem = profile.problem_type
    n_outputs = profile.n_outputs if problem == "multiclass" else 1
    epochs = max(epochs_for(profile.n_train, budget_s), MIN_EPOCHS)
    files_block = "\n\n\n".join(
        [
            "# Pictures: each row's picture, resized to SIDE x SIDE colour and scaled to [0, 1].\n"
            + render.import_lines(code.imports),
            code.code.strip("\n"),
            _PICTURES.strip("\n"),
        ]
    )
    blocks = {
        "load": _LOAD,
        "pictures": files_block + "\n",
        "network": _MODEL,
        "train": _TRAIN,
        "predict": _PREDICT,
        "main": _MAIN,
    }
    assert tuple(blocks) == BLOCKS
    header = _header(profile, entry, seed, problem, n_outputs, epochs)
    parts = [header] + [f"{BLOCK_MARKER}{b}\n{text}" for b, text in blocks.items()]
    return "\n\n".join(part.rstrip("\n") + "\n" for part in parts)


def is_cnn_script(script: str) -> bool:
    """Whether the script has the blocks of a CNN script (names no other built-in script uses)."""
    try:
        return tuple(block_names(script)) == BLOCKS
    except BlockError:
        return False


_LOAD = f'''def load_inputs() -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, np.ndarray]:
    """The harness's tables (keys to the pictures), the encoded answers, the folds."""
    train, test = pd.read_parquet(INPUT / "{contract.TRAIN_FILE}"), pd.read_parquet(INPUT / "{contract.TEST_FILE}")
    y = np.load(INPUT / "{contract.TARGET_FILE}", allow_pickle=False).reshape(len(train), -1)[:, 0]
    return train, test, y, np.load(INPUT / "{contract.FOLDS_FILE}")
'''

_PICTURES = '''def read_picture(reader: FileReader, path: str) -> np.ndarray:
    """(3, SIDE, SIDE) floats in [0, 1]; a missing or unreadable file is a grey picture."""
    data = reader.read(path)
    if data is None:
        return np.full((3, SIDE, SIDE), 0.5, dtype=np.float32)
    rgb, _ = load_image(data, Path(path).suffix, SIDE)
    return np.ascontiguousarray(rgb.transpose(2, 0, 1), dtype=np.float32)


def pictures(frame: pd.DataFrame, split: str) -> np.ndarray:
    """(rows, 3, SIDE, SIDE): every row's picture, in the frame's order."""
    paths = row_paths(ENTRY, frame, split, ID_COLUMN)
    with FileReader(FILES) as reader:
        found = map_rows(lambda path: read_picture(reader, path), paths, THREADS)
    return np.stack(found) if found else np.zeros((0, 3, SIDE, SIDE), dtype=np.float32)
'''

_MODEL = '''def make_network(n_outputs: int) -> nn.Module:
    """Three 3x3 convolution blocks (16, 32, 64 channels, max-pooling after the first two), global
    average pooling, a linear head."""
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, n_outputs),
    )  # fmt: skip
'''

_TRAIN = '''class Network:
    """A network fitted on some pictures, with what turns its outputs into answers."""

    def __init__(self, x: np.ndarray, y: np.ndarray, seed: int) -> None:
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        self.mean, self.scale = (float(y.mean()), float(y.std()) or 1.0) if PROBLEM == "regression" else (0.0, 1.0)
        self.net = make_network(N_OUTPUTS)
        optimizer = torch.optim.Adam(self.net.parameters(), lr=LEARNING_RATE)
        pictures, answers = torch.from_numpy(x), torch.from_numpy(self.encoded(y))
        self.net.train()
        for epoch in range(EPOCHS):
            order = torch.from_numpy(rng.permutation(len(x)))
            total = 0.0
            for start in range(0, len(x), BATCH):
                rows = order[start : start + BATCH]
                batch = pictures[rows]
                flip = torch.from_numpy(rng.random(len(rows)) < 0.5)
                batch = torch.where(flip[:, None, None, None], batch.flip(3), batch)  # mirrored pictures
                optimizer.zero_grad()
                loss = self.loss(self.net(batch), answers[rows])
                loss.backward()
                optimizer.step()
                total += float(loss) * len(rows)
            print(f"  epoch {epoch + 1}/{EPOCHS}: loss {total / max(len(x), 1):.4f}", flush=True)
        self.net.eval()

    def encoded(self, y: np.ndarray) -> np.ndarray:
        if PROBLEM == "multiclass":
            return y.astype(np.int64)
        return ((y - self.mean) / self.scale).astype(np.float32)

    def loss(self, out: torch.Tensor, answers: torch.Tensor) -> torch.Tensor:
        if PROBLEM == "multiclass":
            return nn.functional.cross_entropy(out, answers)
        if PROBLEM == "binary":
            return nn.functional.binary_cross_entropy_with_logits(out[:, 0], answers)
        return nn.functional.mse_loss(out[:, 0], answers)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """(rows, N_OUTPUTS): probabilities, or values on the answers' scale."""
        outs = []
        with torch.no_grad():
            for start in range(0, len(x), 4 * BATCH):
                out = self.net(torch.from_numpy(x[start : start + 4 * BATCH]))
                if PROBLEM == "multiclass":
                    out = torch.softmax(out, dim=1)
                elif PROBLEM == "binary":
                    out = torch.sigmoid(out)
                else:
                    out = out * self.scale + self.mean
                outs.append(out.numpy().astype(np.float64))
        return np.concatenate(outs) if outs else np.zeros((0, N_OUTPUTS))


def cross_fit(x: np.ndarray, y: np.ndarray, folds: np.ndarray) -> tuple[np.ndarray, list]:
    """Out-of-fold predictions of every row (NaN on unused rows) and each fold's network."""
    oof = np.full((len(x), N_OUTPUTS), np.nan)
    networks = []
    for k in range(int(folds.max()) + 1):
        fit, valid = np.flatnonzero((folds >= 0) & (folds != k)), np.flatnonzero(folds == k)
        network = Network(x[fit], y[fit], SEED + k)
        oof[valid] = network.predict(x[valid])
        networks.append(network)
        print(f"fold {k}: fitted on {len(fit)} pictures, {len(valid)} predicted", flush=True)
    return oof, networks
'''

_PREDICT = '''class Predictor:
    """Rows in, answers out: each row's picture, the mean answer of the folds' networks."""

    def __init__(self, networks: list) -> None:
        self.networks = networks

    def predict(self, frame: pd.DataFrame, split: str = "test") -> np.ndarray:
        torch.set_num_threads(THREADS)
        x = pictures(frame, split)
        return np.mean([network.predict(x) for network in self.networks], axis=0)
'''

_MAIN = f"""def main() -> None:
    start = time.time()
    torch.set_num_threads(THREADS)
    train, test, y, folds = load_inputs()
    x = pictures(train, "train")
    print(f"{{len(x)}} training pictures read in {{time.time() - start:.1f}}s", flush=True)
    oof, networks = cross_fit(x, y, folds)
    predictor = Predictor(networks)
{saved_outputs("oof")}"""


def _header(profile: ProfileView, entry: dict[str, object], seed: int, problem: str, n_outputs: int,
            epochs: int) -> str:  # fmt: skip
    plan = (
        f"Plan: a first picture solution ({NAME}). {SUMMARY} Each fold's network is trained for "
        f"{epochs} epochs on the other folds and predicts its fold; test pictures get the mean of the "
        "folds' networks."
    )
    doc = "\n".join(textwrap.wrap(plan, 100))
    return f'''"""A picture in, its answer out: a small convolutional network on the pictures themselves.

{doc}
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import cloudpickle
import numpy as np
import pandas as pd
import torch
from torch import nn

INPUT, OUTPUT = Path("{contract.INPUT_DIR}"), Path("{contract.OUTPUT_DIR}")
SEED = int(os.environ.get("{contract.ENV_SEED}", "{seed}"))
THREADS = int(os.environ.get("{contract.ENV_THREADS}", "1"))
SAVE_MODEL = os.environ.get("{contract.ENV_SAVE_MODEL}") == "1"
ID_COLUMN = {literal(profile.id_column)}
FILES = INPUT / "{contract.FILES_LINK}"
ENTRY = {literal(entry)}
"""Where train and test rows keep their picture ({{id}} is the row's key)."""
SIDE = {SIDE}
"""Pictures are seen at SIDE x SIDE colour."""
PROBLEM = {literal(problem)}
N_OUTPUTS = {n_outputs}
EPOCHS = {epochs}
"""Passes over the training pictures per fold (chosen so five fits fit the script's budget)."""
BATCH = 64
LEARNING_RATE = 2e-3
'''
