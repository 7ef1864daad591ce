"""The bird-recording layout: clips listed in text side files, one submission row per (clip, species).

essential_data/ holds CVfolds_2.txt (rec_id,fold: 1 for test), rec_id2filename.txt (rec_id,filename
without the suffix), rec_labels_test_hidden.txt (a header, then `rec_id,species,species...` per
clip, the clip's key alone for no species, `?` for a test clip), species_list.txt and src_wavs/
<filename>.wav; the sample's Id is rec_id * 100 + species. Each clip is noise plus a tone per species
it holds (species s at its own pitch), so the labels can be heard.
"""

from __future__ import annotations

import io
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

RATE = 8000
SPECIES = 4
CLIPS = 60


def _clip(species: list[int], rng: np.random.Generator) -> bytes:
    t = np.arange(RATE // 2) / RATE  # half a second
    signal = rng.normal(0, 0.1, t.size)
    for s in species:
        signal += 0.4 * np.sin(2 * np.pi * (500 + 700 * s) * t)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes((np.clip(signal, -1, 1) * 20000).astype("<i2").tobytes())
    return buf.getvalue()


def bird_pairs(entry: dict[str, Any], public: Path, rng: np.random.Generator) -> pd.DataFrame:
    """Recordings listed in text files; the submission has one row per (recording, species)."""
    ess = public / "essential_data"
    (ess / "src_wavs").mkdir(parents=True)
    test = [i % 5 == 0 for i in range(CLIPS)]
    truth = {
        i: sorted({int(s) for s in rng.integers(0, SPECIES, int(rng.integers(0, 3)))}) for i in range(CLIPS)
    }
    pd.DataFrame({"rec_id": range(CLIPS), "fold": [int(t) for t in test]}).to_csv(
        ess / "CVfolds_2.txt", index=False
    )
    names = [f"PC{1 + i % 3}_2009{i:04d}_0010" for i in range(CLIPS)]
    pd.DataFrame({"rec_id": range(CLIPS), "filename": names}).to_csv(ess / "rec_id2filename.txt", index=False)
    lines = ["rec_id,[labels]"] + [
        f"{i},?" if test[i] else ",".join(map(str, [i, *truth[i]])) for i in range(CLIPS)
    ]
    (ess / "rec_labels_test_hidden.txt").write_text("\n".join(lines) + "\n")
    (ess / "species_list.txt").write_text(
        "class_id,code,species\n" + "".join(f"{s},B{s},bird {s}\n" for s in range(SPECIES))
    )
    for i, name in enumerate(names):
        (ess / "src_wavs" / f"{name}.wav").write_bytes(_clip(truth[i], rng))
    answers = pd.DataFrame(
        [
            {"Id": r * 100 + s, "Probability": int(s in truth[r])}
            for r in range(CLIPS)
            if test[r]
            for s in range(SPECIES)
        ]
    )
    answers.assign(Probability=0).to_csv(public / "sample_submission.csv", index=False)
    return answers
