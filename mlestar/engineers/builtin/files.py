"""The files block: generic features from extra files keyed by row id (data usage).

Text files are read as lines of tokens: the leading word of a line is its key ("atom", "vertex"),
a trailing word its label ("Ga", "C"); the block counts keys and labels, summarises each key's
numbers per position, and when a key's lines hold three numbers treats them as points in space
(nearest-neighbour distances between labels). Images give size, colour and contrast statistics.
"""

from __future__ import annotations

from mlestar import contract
from mlestar.engineers.builtin.media import render as media
from mlestar.engineers.builtin.media.options import MediaOptions
from mlestar.engineers.builtin.profile_view import ProfileView
from mlestar.engineers.builtin.pysrc import literal

_TEXT_READER = '''VOCABULARY_SAMPLE = 200
"""Train files read to fix the keys and labels every row reports (so columns match across splits)."""
MAX_WORDS = 12
MAX_POSITIONS = 4


def parse_lines(path: Path) -> list[tuple[str, list[float], str]]:
    """Each line as (key, numbers, label): its leading word, its numbers, its trailing word."""
    lines = []
    for raw in path.read_text(errors="replace").splitlines():
        tokens = SEPARATORS.split(raw.strip())
        if not tokens[0] or tokens[0].startswith("#"):
            continue
        numbers, words = [], []
        for token in tokens:
            (numbers if NUMBER.fullmatch(token) else words).append(token)
        key = tokens[0] if words and tokens[0] == words[0] else "(numbers)"
        label = tokens[-1] if numbers and len(words) > (key != "(numbers)") and tokens[-1] == words[-1] else ""
        lines.append((key, [float(n) for n in numbers], label))
    return lines


SEPARATORS = re.compile(r"[\\s,;]+")
NUMBER = re.compile(r"[-+]?(\\d+\\.?\\d*|\\.\\d+)([eE][-+]?\\d+)?")


VOCABULARIES: dict[str, tuple] = {}
"""Each template's vocabulary, read once (and kept in the pickled predictor)."""


def vocabulary(template: str) -> tuple[tuple[tuple[str, int], ...], tuple[str, ...]]:
    """The most common keys (with how many numbers their lines hold) and labels, over a sample of
    the train rows' files: every row reports exactly these, so columns match across splits."""
    if template not in VOCABULARIES:
        VOCABULARIES[template] = read_vocabulary(template)
    return VOCABULARIES[template]


def read_vocabulary(template: str) -> tuple[tuple[tuple[str, int], ...], tuple[str, ...]]:
    keys: Counter[str] = Counter()
    widths: dict[str, Counter[int]] = {}
    labels: Counter[str] = Counter()
    train_ids = pd.read_parquet(INPUT / "TRAIN_FILE", columns=[ID_COLUMN])[ID_COLUMN]
    for row_id in train_ids.head(VOCABULARY_SAMPLE):
        path = FILES / template.format(id=row_id)
        if path.is_file():
            parsed = parse_lines(path)
            keys.update({key for key, _, _ in parsed})
            labels.update({label for _, _, label in parsed if label})
            for key, numbers, _ in parsed:
                widths.setdefault(key, Counter())[min(len(numbers), MAX_POSITIONS)] += 1
    common = top(keys)
    return tuple((k, top(widths[k])[0]) for k in common), tuple(top(labels))


def top(counts: Counter) -> list:
    """The most common values, ties broken by value: the same order in every process."""
    return [value for value, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_WORDS]]


def text_file_stats(path: Path, keys: tuple[tuple[str, int], ...], labels: tuple[str, ...]) -> dict[str, float]:
    """Counts of keys and labels, per-position statistics of each key's numbers, point distances."""
    parsed = parse_lines(path) if path.is_file() else []
    stats: dict[str, float] = {"lines": float(len(parsed))}
    for key, width in keys:
        rows = [numbers[:width] for k, numbers, _ in parsed if k == key and len(numbers) >= width]
        stats[f"{key}_count"] = float(len(rows))
        values = np.array(rows, dtype=float).reshape(len(rows), width)
        for j in range(width):
            for name, summary in SUMMARIES.items():
                stats[f"{key}_{j}_{name}"] = float(summary(values[:, j])) if len(rows) else np.nan
    for label in labels:
        stats[f"label_{label}_share"] = sum(lab == label for _, _, lab in parsed) / max(len(parsed), 1)
    stats.update(point_distances(parsed, labels))
    return stats


SUMMARIES = {"mean": np.mean, "std": np.std, "min": np.min, "max": np.max}


def point_distances(parsed: list[tuple[str, list[float], str]], labels: tuple[str, ...]) -> dict[str, float]:
    """Lines with three numbers and a label read as labelled points: for each pair of labels, the
    mean distance from a point to its nearest neighbour of the other label (NaN when absent)."""
    points = [(numbers, label) for _, numbers, label in parsed if len(numbers) == 3 and label]
    pairs = [(a, b) for a in labels for b in labels if a <= b]
    stats = {"points_nearest_mean": np.nan, **{f"near_{a}_{b}_mean": np.nan for a, b in pairs}}
    if len(points) < 2:
        return stats
    xyz = np.array([p for p, _ in points], dtype=float)
    names = np.array([label for _, label in points])
    distances = np.sqrt(((xyz[:, None, :] - xyz[None, :, :]) ** 2).sum(axis=-1))
    np.fill_diagonal(distances, np.inf)
    stats["points_nearest_mean"] = float(distances.min(axis=1).mean())
    masks = {label: names == label for label in labels}
    for a, b in pairs:
        if masks[a].sum() and masks[b].sum() > (a == b):
            stats[f"near_{a}_{b}_mean"] = float(distances[masks[a]][:, masks[b]].min(axis=1).mean())
    return stats
'''

_IMAGE_READER = '''IMAGE_STATS = ("width", "height", "aspect", "r_mean", "r_std", "g_mean", "g_std", "b_mean", "b_std",
               "gray_p10", "gray_p90", "edges")


def image_stats(path: Path) -> dict[str, float]:
    """Size, aspect, per-channel brightness and spread, and edge strength of an image."""
    if not path.is_file():
        return dict.fromkeys(IMAGE_STATS, np.nan)
    with Image.open(path) as image:
        width, height = image.size
        pixels = np.asarray(image.convert("RGB").resize((64, 64)), dtype=float) / 255.0
    gray = pixels.mean(axis=2)
    stats = {"width": float(width), "height": float(height), "aspect": width / max(height, 1)}
    for c, channel in enumerate("rgb"):
        stats[f"{channel}_mean"] = float(pixels[:, :, c].mean())
        stats[f"{channel}_std"] = float(pixels[:, :, c].std())
    stats["gray_p10"], stats["gray_p90"] = (float(q) for q in np.percentile(gray, [10, 90]))
    stats["edges"] = float(np.abs(np.diff(gray, axis=0)).mean() + np.abs(np.diff(gray, axis=1)).mean())
    return stats
'''


def render_files(profile: ProfileView, media_options: MediaOptions | None = None) -> str:
    """The whole files block for the task's per-row files (pictures, sounds and numeric files:
    media/render.py)."""
    if media.applies(profile):
        return media.render_media_files(profile, media_options or media.default_options(profile))
    entries = [
        {"train": f["train"], "test": f.get("test") or f["train"], "kind": f["kind"]} for f in profile.files
    ]
    kinds = {e["kind"] for e in entries}
    imports = ["import re", "from collections import Counter"] if "text" in kinds else []
    if "image" in kinds:
        imports.append("from PIL import Image")
    text_reader = _TEXT_READER.replace("TRAIN_FILE", contract.TRAIN_FILE)
    readers = ([text_reader] if "text" in kinds else []) + ([_IMAGE_READER] if "image" in kinds else [])
    opening = "# Files: statistics of each row's own files, found through its id."
    constants = (
        f'ID_COLUMN = {literal(profile.id_column)}\nFILES = INPUT / "{contract.FILES_LINK}"\n'
        f"ROW_FILES = {literal(entries, 0, len('ROW_FILES = '))}\n"
        '"""Per-row files: where train and test rows keep them ({id} is the row id), and their kind."""'
    )
    return "\n\n\n".join(
        [
            opening + ("\n" + "\n".join(imports) if imports else ""),
            constants,
            *[r.rstrip("\n") for r in readers],
            _entry(kinds),
        ]
    )


def _entry(kinds: set[str]) -> str:
    text_line = (
        '            if entry["kind"] == "text":\n'
        '                keys, labels = vocabulary(entry["train"])\n'
        "                rows.append(text_file_stats(path, keys, labels))\n"
    )
    image_line = (
        '            {keyword} entry["kind"] == "image":\n                rows.append(image_stats(path))\n'
    )
    body = ""
    if "text" in kinds:
        body += text_line
    if "image" in kinds:
        body += image_line.format(keyword="elif" if body else "if")
    return f'''def file_features(frame: pd.DataFrame, split: str) -> pd.DataFrame:
    """Features from each row's own files, found through the row id; one column per statistic."""
    tables = []
    for i, entry in enumerate(ROW_FILES):
        rows = []
        for row_id in frame[ID_COLUMN]:
            path = FILES / entry[split].format(id=row_id)
{body}        tables.append(pd.DataFrame(rows, index=frame.index).add_prefix(f"file{{i}}_"))
    return pd.concat(tables, axis=1)
'''


OFF_OPENING = "# Files: turned off"
OFF = f'''{OFF_OPENING} (the rows' own files are not used).
def file_features(frame: pd.DataFrame, split: str) -> pd.DataFrame:
    """No columns: the rows' files are left out."""
    return pd.DataFrame(index=frame.index)
'''
