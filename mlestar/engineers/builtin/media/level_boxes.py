"""Answers at several levels in one file: the box script's train, predict and main additions when
each row names its level (a layout like a study-level finding and image-level boxes, intake's
mlestar/task/levels.py).

Each level gets its own model, fitted on its rows only. A level whose every answer is one label
over the same whole-picture box ("typical 1 0 0 1 1": a finding per study) is answered with every
label at its probability (a classifier per label over the features of the pictures of the row's
group, a study's scans, averaged; the probabilities summing to one), spelled as the training answers spell the box; any other level is a
box level, answered by the box script's BoxModel (presence classifiers, placed and typical boxes,
nothing found). The rows' answers are then written back in the submission's order.
"""

from __future__ import annotations

from mlestar.engineers.builtin.media.outputs import saved_outputs
from mlestar.engineers.builtin.profile_view import ProfileView


def level_column(profile: ProfileView) -> str | None:
    """The column naming each row's level, when intake found answers at several levels."""
    found = [f.get("level") for f in profile.files if f.get("level")]
    return str(found[0]) if len(found) == 1 else None


def group_column(profile: ProfileView) -> str | None:
    """The column naming the group (a study) whose pictures a whole-picture answer is told by."""
    found = [f.get("group") for f in profile.files if f.get("level")]
    return str(found[0]) if len(found) == 1 and found[0] else None


def constants(profile: ProfileView) -> str:
    return (
        f'LEVEL_COLUMN = "{level_column(profile)}"\n'
        '"""Each row\'s level: each level is answered by a model of its own."""\n'
        f"GROUP_COLUMN = {group_column(profile)!r}\n"
        '"""Rows sharing it (a study and its images): a whole-picture answer is told by all their pictures."""\n'
    )


TRAIN = '''

class LabelModel:
    """One label per row over the whole picture (a finding per study): a classifier per label; every
    label written at its probability, the probabilities summing to one, at the level's box."""

    def __init__(self, x: np.ndarray, answers: list, labels: list, box: tuple) -> None:
        self.labels, self.box = labels, box
        present = presence(answers, labels)
        self.models = [fit_presence(x, present[:, j]) for j in range(len(labels))]

    def strings(self, x: np.ndarray, sizes: np.ndarray) -> list:
        columns = [
            np.full(len(x), model) if isinstance(model, float) else model.predict_proba(x)[:, 1]
            for model in self.models
        ]
        found = np.column_stack(columns)
        found = found / np.maximum(found.sum(axis=1, keepdims=True), 1e-9)
        corners = " ".join(f"{v:g}" for v in self.box)
        return [" ".join(f"{label} {p:.4f} {corners}" for label, p in zip(self.labels, row, strict=True)) for row in found]


def whole_picture(answers: list) -> tuple | None:
    """The box every answer of a level holds alone (one label per row over the whole picture), or None."""
    places = {tuple(boxes[0][2:]) for boxes in answers if len(boxes) == 1}
    if len(places) != 1 or any(len(boxes) != 1 for boxes in answers):
        return None
    return places.pop()


def level_model(answers: list, level: str) -> tuple[Any, bool]:
    """How one level's rows are answered: a maker of its model from (features, answers, sizes),
    and whether it reads the features pooled over each row's group."""
    whole = whole_picture(answers)
    labels = sorted({b[0] for boxes in answers for b in boxes})
    if whole is not None:
        print(f"level {level}: one of {len(labels)} labels per row, over the whole picture", flush=True)
        return (lambda x, kept, sizes: LabelModel(x, kept, labels, whole)), True
    nothing = nothing_box(answers)
    classes = [label for label in labels if not nothing or label != nothing[0]]
    print(f"level {level}: boxes of {len(classes)} classes, nothing found: {nothing}", flush=True)
    return (lambda x, kept, sizes: BoxModel(x, kept, sizes, classes, nothing)), False


def pooled(x: np.ndarray, frame: pd.DataFrame) -> np.ndarray:
    """Each row's features averaged over the rows of its group (a study's scans, missing values
    left out); the features as they are without a group column."""
    if GROUP_COLUMN is None or GROUP_COLUMN not in frame.columns:
        return x
    groups = frame[GROUP_COLUMN].astype(str).to_numpy()
    return pd.DataFrame(x).groupby(groups).transform("mean").to_numpy(dtype=np.float32)


def level_fits(
    x: np.ndarray, pooled_x: np.ndarray, answers: list, sizes: np.ndarray, folds: np.ndarray, levels: np.ndarray
) -> tuple[dict, list]:
    """Each level's model fitted on all its rows, and the out-of-fold answers of every row (its
    level's model fitted on the other folds' rows of that level; a whole-picture level reads the
    features pooled over each row's group)."""
    models, oof = {}, [""] * len(answers)
    for level in sorted(set(levels)):
        mine = np.flatnonzero(levels == level)
        make, pooling = level_model([answers[i] for i in mine], level)
        x_level = pooled_x if pooling else x
        for k in range(int(folds.max()) + 1):
            fit, valid = mine[folds[mine] != k], mine[folds[mine] == k]
            if not len(valid) or not len(fit):
                continue
            model = make(x_level[fit], [answers[i] for i in fit], sizes[fit])
            for i, text in zip(valid, model.strings(x_level[valid], sizes[valid]), strict=True):
                oof[i] = text
        models[level] = (make(x_level[mine], [answers[i] for i in mine], sizes[mine]), pooling)
    return models, oof
'''

PREDICT = '''class Predictor:
    """Rows in, prediction strings out: each row's picture features, its level's model."""

    def __init__(self, models: dict, known_sizes: np.ndarray) -> None:
        self.models, self.known_sizes = models, known_sizes

    def predict(self, frame: pd.DataFrame, split: str = "test") -> np.ndarray:
        features = file_features(frame, split)
        sizes = picture_sizes(features, self.known_sizes)
        x = features.to_numpy(dtype=np.float32)
        pooled_x = pooled(x, frame)
        levels = frame[LEVEL_COLUMN].astype(str).to_numpy()
        out = [""] * len(frame)
        for level, (model, pooling) in self.models.items():
            rows = np.flatnonzero(levels == level)
            x_level = pooled_x if pooling else x
            for i, text in zip(rows, model.strings(x_level[rows], sizes[rows]) if len(rows) else [], strict=True):
                out[i] = text
        return np.asarray(out, dtype=str).reshape(-1, 1)
'''

MAIN = """def main() -> None:
    start = time.time()
    train, test, answers, folds = load_inputs()
    used = np.flatnonzero(folds >= 0)
    features = file_features(train.iloc[used], "train")
    x, sizes = features.to_numpy(dtype=np.float32), picture_sizes(features)
    levels = train[LEVEL_COLUMN].astype(str).to_numpy()[used]
    pooled_x = pooled(x, train.iloc[used])
    models, oof_used = level_fits(x, pooled_x, [answers[i] for i in used], sizes, folds[used], levels)
    oof = [""] * len(train)
    for i, text in zip(used, oof_used, strict=True):
        oof[i] = text
    predictor = Predictor(models, sizes)
""" + saved_outputs("np.asarray(oof, dtype=str).reshape(-1, 1)")
