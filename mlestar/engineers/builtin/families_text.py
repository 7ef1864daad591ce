"""Feature families for text and list cells: text statistics, paired texts compared row by row,
latent topics, and lists as bags of tokens.

Each renderer returns the code of one family for the script's features block (see features.py).
Heavy imports sit inside the generated functions, so they cannot clash with a block's own.
"""

from __future__ import annotations

from mlestar.engineers.builtin.profile_view import ProfileView
from mlestar.engineers.builtin.pysrc import literal


def text_pairs(p: ProfileView) -> str:
    return f'''TEXT_PAIRS = {literal([tuple(pair) for pair in p.text_pairs], 0, len("TEXT_PAIRS = "))}
"""Columns compared row by row: how alike the two texts are is what matters."""
LSA_COMPONENTS = 64


def add_text_pairs(out: pd.DataFrame, frame: pd.DataFrame, maker: FeatureMaker) -> pd.DataFrame:
    """How alike the two texts of each pair are: cosine of word and character TF-IDF and of their
    latent topics (LSA), shared words (count, Jaccard, share of the shorter), the edit-distance ratio
    and the differences in length. Vocabularies are fitted once on train and test texts (no answers)."""
    from difflib import SequenceMatcher

    for a, b in TEXT_PAIRS:
        first, second = texts(frame[a]), texts(frame[b])
        words, chars, topics = maker.fit_once(f"pair {{a}} {{b}}", lambda rows, a=a, b=b: fit_pair_models(rows, a, b))
        word_a, word_b = words.transform(first), words.transform(second)
        tokens_a, tokens_b = first.str.findall(r"\\w+").map(set), second.str.findall(r"\\w+").map(set)
        size_a, size_b = tokens_a.map(len).to_numpy(dtype=float), tokens_b.map(len).to_numpy(dtype=float)
        shared = np.array([len(x & y) for x, y in zip(tokens_a, tokens_b)], dtype=float)
        name = f"{{a}}_{{b}}"
        out[f"{{name}}_word_cosine"] = row_cosine(word_a, word_b)
        out[f"{{name}}_char_cosine"] = row_cosine(chars.transform(first), chars.transform(second))
        out[f"{{name}}_lsa_cosine"] = row_cosine(topics.transform(word_a), topics.transform(word_b))
        out[f"{{name}}_shared_words"] = shared
        out[f"{{name}}_jaccard"] = shared / np.maximum(size_a + size_b - shared, 1)
        out[f"{{name}}_overlap"] = shared / np.maximum(np.minimum(size_a, size_b), 1)
        out[f"{{name}}_edit_ratio"] = [SequenceMatcher(None, x, y).ratio() for x, y in zip(first, second)]
        out[f"{{name}}_length_gap"] = np.abs(first.str.len().to_numpy(dtype=float) - second.str.len().to_numpy(dtype=float))
        out[f"{{name}}_words_gap"] = np.abs(size_a - size_b)
    return out


def fit_pair_models(rows: pd.DataFrame, a: str, b: str) -> tuple[Any, Any, Any]:
    """Word and character TF-IDF and LSA topics, fitted on both texts of every row."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    both = pd.concat([texts(rows[a]), texts(rows[b])], ignore_index=True)
    words = TfidfVectorizer(sublinear_tf=True).fit(both)
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True).fit(both)
    n_topics = max(1, min(LSA_COMPONENTS, len(words.vocabulary_) - 1))
    return words, chars, TruncatedSVD(n_topics, random_state=SEED).fit(words.transform(both))


def texts(values: pd.Series) -> pd.Series:
    return values.fillna("").astype(str).str.lower().reset_index(drop=True)


def row_cosine(x: Any, y: Any) -> np.ndarray:
    """The cosine similarity of each row of x with the same row of y (sparse or dense rows)."""
    from sklearn.preprocessing import normalize

    x, y = normalize(x), normalize(y)
    product = x.multiply(y) if hasattr(x, "multiply") else x * y
    return np.asarray(product.sum(axis=1)).ravel()
'''


def text_topics(p: ProfileView) -> str:
    return '''TOPICS = 32
"""Latent topics (LSA components) kept per text column."""


def add_text_topics(out: pd.DataFrame, frame: pd.DataFrame, maker: FeatureMaker) -> pd.DataFrame:
    """What each text is about, as numbers a table model can split on: its TOPICS latent topics
    (LSA of word TF-IDF, both fitted once on train and test texts, no answers)."""
    for column in TEXT:
        words, topics = maker.fit_once(f"topics {column}", lambda rows, column=column: fit_topics(rows[column]))
        values = topics.transform(words.transform(frame[column].fillna("").astype(str)))
        for i in range(values.shape[1]):
            out[f"{column}_topic_{i}"] = values[:, i]
    return out


def fit_topics(known: pd.Series) -> tuple[Any, Any]:
    """Word TF-IDF and its TOPICS-component LSA, fitted on every row's text."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    known = known.fillna("").astype(str)
    words = TfidfVectorizer(sublinear_tf=True, min_df=2, max_features=50000).fit(known)
    topics = TruncatedSVD(max(1, min(TOPICS, len(words.vocabulary_) - 1)), random_state=SEED)
    return words, topics.fit(words.transform(known))
'''


def list_tokens(p: ProfileView) -> str:
    return f'''LISTS = {literal(p.lists, 0, len("LISTS = "))}
"""Columns whose cells are lists (kept as JSON text): each becomes a bag of its common tokens."""
TOP_TOKENS = 30


def add_list_tokens(out: pd.DataFrame, frame: pd.DataFrame, maker: FeatureMaker) -> pd.DataFrame:
    """Each list as its length, its distinct tokens and a 0/1 column for each of its TOP_TOKENS most
    common tokens over train and test; the raw list text is dropped."""
    for column in LISTS:
        counts = tokens_of(maker.reference[column]).explode().dropna().value_counts().sort_index()
        common = counts.sort_values(ascending=False, kind="stable").index[:TOP_TOKENS]
        tokens = tokens_of(frame[column])
        bag = {{f"{{column}}_length": tokens.map(len), f"{{column}}_distinct": tokens.map(lambda t: len(set(t)))}}
        for i, token in enumerate(common):
            bag[f"{{column}}_has_{{i}}"] = tokens.map(lambda t, token=token: token in t)
        out = pd.concat([out.drop(columns=[column], errors="ignore"), pd.DataFrame(bag).astype(float)], axis=1)
    return out


def tokens_of(values: pd.Series) -> pd.Series:
    """The tokens of each list cell (JSON text in the prepared tables; anything else: no tokens)."""
    import json

    return values.map(lambda v: [str(t) for t in json.loads(v)] if isinstance(v, str) and v.startswith("[") else [])
'''


def text_stats(p: ProfileView) -> str:
    return '''TEXT_MARKS = {",": "commas", ";": "semicolons", ":": "colons", "!": "exclamations", r"\\?": "questions",
              '"': "quotes", "'": "apostrophes"}
"""Punctuation counted per character of text (patterns: "?" is escaped)."""


def add_text_stats(out: pd.DataFrame, frame: pd.DataFrame, maker: FeatureMaker) -> pd.DataFrame:
    """Shape of each text: length, words, word length, punctuation, capitals, digits, vocabulary, and
    how hard it reads (words per sentence, long words, syllables per word as vowel groups)."""
    for column in TEXT:
        text = frame[column].fillna("").astype(str)
        chars = text.str.len().clip(lower=1)
        words = text.str.split()
        n_words = words.str.len().clip(lower=1)
        out[f"{column}_chars"] = text.str.len().astype(float)
        out[f"{column}_words"] = words.str.len().astype(float)
        out[f"{column}_word_length"] = chars / n_words
        out[f"{column}_unique_words"] = words.map(lambda w: len(set(w))) / n_words
        for mark, label in TEXT_MARKS.items():
            out[f"{column}_{label}"] = text.str.count(mark) / chars
        out[f"{column}_capitals"] = text.str.count(r"[A-Z]") / chars
        out[f"{column}_digits"] = text.str.count(r"[0-9]") / chars
        out[f"{column}_words_per_sentence"] = n_words / text.str.count(r"[.!?]+").clip(lower=1)
        out[f"{column}_long_words"] = words.map(lambda w: sum(len(x) > 6 for x in w)) / n_words
        out[f"{column}_syllables_per_word"] = text.str.lower().str.count(r"[aeiouy]+") / n_words
    return out
'''
