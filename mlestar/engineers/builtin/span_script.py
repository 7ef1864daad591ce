"""The blocks of the learned span-extraction script (span.py writes its header).

Words are runs of non-space characters, as word-level span metrics count them. A word's label is
1 when it overlaps the answer's first occurrence in the text. Word rates (how often a word, in a
context, belongs to answers) are computed on other rows only: cross-fitted inside each model's own
training rows, and from all of them for new rows, so no row's answer describes itself.
"""

from __future__ import annotations

from mlestar import contract as c

WORDS_SCRIPT = f'''# %% block: features
# Features: one row per word: its position and shape, and the row's context.
WORD = re.compile(r"\\S+")
SHAPE = ["position", "from_end", "relative", "n_words", "length", "punctuation", "capitals"]


def word_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Every word of every text, in order: its row, (start, end) in the text, position and shape."""
    rows = []
    for row, text in enumerate(texts_of(frame)):
        spans = [m.span() for m in WORD.finditer(text)]
        for position, (start, end) in enumerate(spans):
            word = text[start:end]
            capitals = sum(ch.isupper() for ch in word) / len(word)
            punctuation = sum(not ch.isalnum() for ch in word) / len(word)
            rows.append((row, start, end, position, len(spans), word.lower(), len(word), punctuation, capitals))
    columns = ["row", "start", "end", "position", "n_words", "word", "length", "punctuation", "capitals"]
    table = pd.DataFrame(rows, columns=columns)
    table["from_end"] = table["n_words"] - 1 - table["position"]
    table["relative"] = table["position"] / table["n_words"]
    for column in CONTEXT:
        table[column] = frame[column].fillna("").astype(str).to_numpy()[table["row"].to_numpy()]
    return table


def in_answer(table: pd.DataFrame, texts: list[str], answers: np.ndarray) -> np.ndarray:
    """1 for words overlapping the answer's first occurrence in its text, 0 for the others, -1 for the
    words of rows whose answer is not found in the text (they teach nothing)."""
    found = [text.find(str(answer)) if str(answer) else -1 for text, answer in zip(texts, answers)]
    begin = np.array(found)[table["row"].to_numpy()]
    finish = begin + np.array([len(str(a)) for a in answers])[table["row"].to_numpy()]
    inside = (table["start"].to_numpy() < finish) & (table["end"].to_numpy() > begin)
    return np.where(begin < 0, -1, inside.astype(int))


# %% block: model
# Model: boosted trees on each word's shape and its cross-fitted rates.
from lightgbm import LGBMClassifier

SETTINGS = {{
    "n_estimators": 200, "learning_rate": 0.05, "num_leaves": 31, "min_child_samples": 20, "subsample": 0.8,
    "subsample_freq": 1, "colsample_bytree": 0.8,
}}
"""LightGBM settings of the word model."""
SMOOTHING = 5.0
"""A word seen n times gets the rate (answers + SMOOTHING * overall) / (n + SMOOTHING)."""
INNER_FOLDS = 5
KEYS = [list(k) for k in dict.fromkeys([("word",), (*CONTEXT, "word"), (*CONTEXT, "position"), (*CONTEXT, "from_end")])]
"""What rates are kept for: the word, the word in its context, the place in the text in its context."""


class WordScorer:
    """The probability that a word belongs to the answer."""

    def fit(self, table: pd.DataFrame, labels: np.ndarray) -> WordScorer:
        known = labels >= 0
        table, labels = table[known].reset_index(drop=True), labels[known]
        inner = table["row"].to_numpy() % INNER_FOLDS
        rates = np.zeros((len(table), 2 * len(KEYS)))
        for k in range(INNER_FOLDS):  # each row's rates come from the other rows only
            fitted = fit_rates(table[inner != k], labels[inner != k])
            rates[inner == k] = lookup_rates(fitted, table[inner == k])
        self.rates_ = fit_rates(table, labels)
        model = LGBMClassifier(**SETTINGS, random_state=SEED, n_jobs=THREADS, verbose=-1)
        self.model_ = model.fit(model_inputs(table, rates), labels)
        return self

    def predict(self, table: pd.DataFrame) -> np.ndarray:
        return self.model_.predict_proba(model_inputs(table, lookup_rates(self.rates_, table)))[:, 1]


def fit_rates(table: pd.DataFrame, labels: np.ndarray) -> tuple[float, list[pd.DataFrame]]:
    """The overall rate, and per key the smoothed rate and the count of each value."""
    overall, stats = float(labels.mean()), []
    for key in KEYS:
        counted = table[key].assign(label=labels).groupby(key)["label"].agg(["sum", "count"])
        counted["rate"] = (counted["sum"] + SMOOTHING * overall) / (counted["count"] + SMOOTHING)
        stats.append(counted[["rate", "count"]])
    return overall, stats


def lookup_rates(fitted: tuple[float, list[pd.DataFrame]], table: pd.DataFrame) -> np.ndarray:
    overall, stats = fitted
    columns = []
    for key, counted in zip(KEYS, stats):
        found = table[key].join(counted, on=key)
        columns += [found["rate"].fillna(overall).to_numpy(), found["count"].fillna(0).to_numpy()]
    return np.column_stack(columns)


def model_inputs(table: pd.DataFrame, rates: np.ndarray) -> np.ndarray:
    """The word's shape and rates, and the rates of the words just before and after it."""
    first, last = (table["position"] == 0).to_numpy(), (table["from_end"] == 0).to_numpy()
    before = np.where(first[:, None], np.nan, np.roll(rates, 1, axis=0))
    after = np.where(last[:, None], np.nan, np.roll(rates, -1, axis=0))
    return np.hstack([table[SHAPE].to_numpy(dtype=float), rates, before, after])


# %% block: train
# Train: word models cross-fitted on the harness folds; the threshold chosen on their predictions.
THRESHOLDS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
"""Candidate thresholds: a word counts toward the answer by how far its score is above it."""


def cross_fit(table: pd.DataFrame, labels: np.ndarray, folds: np.ndarray) -> tuple[np.ndarray, list]:
    """Out-of-fold word scores (NaN for rows left out) and one fitted scorer per fold."""
    word_folds = folds[table["row"].to_numpy()]
    scores, scorers = np.full(len(table), np.nan), []
    for k in range(int(folds.max()) + 1):
        start = time.time()
        scorer = WordScorer().fit(table[(word_folds >= 0) & (word_folds != k)], labels[(word_folds >= 0) & (word_folds != k)])
        scores[word_folds == k] = scorer.predict(table[word_folds == k])
        scorers.append(scorer)
        print(f"fold {{k}}: word model fitted in {{time.time() - start:.1f}}s", flush=True)
    return scores, scorers


def spans_of(texts: list[str], table: pd.DataFrame, scores: np.ndarray, threshold: float) -> list[str]:
    """Each text's best contiguous run of words: the largest total of (score - threshold), found by
    Kadane's scan; the whole text when no word scores above the threshold."""
    bounds = np.searchsorted(table["row"].to_numpy(), np.arange(len(texts) + 1))
    starts, ends = table["start"].to_numpy(), table["end"].to_numpy()
    answers = []
    for row, text in enumerate(texts):
        first, stop = bounds[row], bounds[row + 1]
        best, best_span, running, begin = 0.0, None, 0.0, first
        for i in range(first, stop):
            gain = scores[i] - threshold
            running, begin = (gain, i) if running <= 0 else (running + gain, begin)
            if running > best:
                best, best_span = running, (begin, i)
        answers.append(text if best_span is None else text[starts[best_span[0]] : ends[best_span[1]]])
    return answers


def word_jaccard(truth: str, guess: str) -> float:
    a, b = set(truth.lower().split()), set(guess.lower().split())
    return len(a & b) / len(a | b) if a | b else 0.0


def best_threshold(texts: list[str], table: pd.DataFrame, scores: np.ndarray, answers: np.ndarray, used: np.ndarray) -> float:
    """The threshold whose spans agree best with the answers (word Jaccard) on the rows scored."""
    filled = np.nan_to_num(scores, nan=0.0)

    def agreement(threshold: float) -> float:
        guesses = spans_of(texts, table, filled, threshold)
        return float(np.mean([word_jaccard(str(a), g) for a, g, u in zip(answers, guesses, used) if u]))

    return max(THRESHOLDS, key=agreement)


# %% block: predict
class Predictor:
    """The fitted solution: every fold's word scorer, their mean score, the threshold."""

    def __init__(self, scorers: list, threshold: float) -> None:
        self.scorers, self.threshold = scorers, threshold

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Answers for rows shaped like {c.TEST_FILE}."""
        table = word_table(frame)
        scores = np.mean([s.predict(table) for s in self.scorers], axis=0) if len(table) else np.zeros(0)
        return as_answers(spans_of(texts_of(frame), table, scores, self.threshold))


def save_outputs(oof: np.ndarray, test_pred: np.ndarray, predictor: Predictor) -> None:
    OUTPUT.mkdir(exist_ok=True)
    np.save(OUTPUT / "{c.OOF_FILE}", oof)
    np.save(OUTPUT / "{c.TEST_PRED_FILE}", test_pred)
    if SAVE_MODEL:
        with open(OUTPUT / "{c.MODEL_FILE}", "wb") as handle:
            cloudpickle.dump(predictor, handle)


# %% block: main
def main() -> None:
    train, test, answers, folds = load_inputs()
    table, texts = word_table(train), texts_of(train)
    scores, scorers = cross_fit(table, in_answer(table, texts, answers), folds)
    threshold = best_threshold(texts, table, scores, answers, folds >= 0)
    print(f"threshold {{threshold}}", flush=True)
    oof = as_answers(spans_of(texts, table, np.nan_to_num(scores, nan=0.0), threshold))
    oof[folds < 0] = ""
    predictor = Predictor(scorers, threshold)
    save_outputs(oof, predictor.predict(test), predictor)


if __name__ == "__main__":
    main()
'''
