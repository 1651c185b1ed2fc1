"""Which words carry a complaint: tokens, features and their log-odds against the rest.

A pain point is about what went wrong, so the words that matter are the ones
said much more often in negative clauses than in the other clauses of the
same comments. Brand names, @handles, greetings and "thanks" turn up on both
sides (or more on the happy side) and so weigh nothing, without any word list
made for one business or data set.

The weight of a feature is its z-scored log-odds ratio with an informative
Dirichlet prior (Monroe, Colaresi & Quinn 2008, "Fightin' Words", section
3.5.1), computed on presence per clause: negative clauses against all the
other clauses, the prior being the feature's rate over both. The prior keeps
rare words from looking distinctive by chance; the z-score says how sure the
difference is, so it grows with the evidence.

Pure and deterministic; no Flask.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

#: Prior strength (pseudo-clauses) of the informative Dirichlet prior.
PRIOR_CLAUSES = 50.0
#: Fewer background clauses than this cannot tell complaint words from the rest:
#: every feature then weighs by how often the negative clauses say it.
MIN_BACKGROUND = 30
#: Background clauses are counted in chunks of this many (memory stays flat).
CHUNK = 50_000
#: Lexicon words at least this strong (VADER valence, -4..4) say how the writer feels:
#: "terrible", "worst", "love"; milder ones ("delay" -1.3, "lost" -1.3) name what happened.
STRONG_VALENCE = 2.05
#: Largest vocabulary kept (most frequent features of the negative clauses).
MAX_FEATURES = 50_000

# Words that carry no complaint on their own. Negations, "back", "again",
# "still", "call" and the like are deliberately *not* here. "company" is what
# exports often put in place of the company's own name.
STOP_WORDS = frozenset("""
a about above after all also am an and any are as at be because been before being below between both but by
can could did do does doing down during each few for from further had has have having he her here hers herself
him himself his how i if in into is it its itself just me more most my myself of off on once only or other our
ours ourselves out over own same she should so some such than that the their theirs them themselves then there
these they this those through to too under until up very was we were what when where which while who whom why
will with would you your yours yourself yourselves i'm i've i'd i'll it's that's there's they're we're you're
you've we've they've he's she's let's what's im ive id dont didnt doesnt isnt wasnt cant wont got get gets
getting really even though although however yet whereas except etc ok okay well much many lot lots one's
company s t u ur amp rt
again now like said say says told tell ever since ago almost due another bc way thing things something anything
everything someone anyone everyone guys please literally actually already always also whole honestly seriously
basically absolutely totally completely simply truly definitely certainly obviously clearly
""".split())
#: Words that open a negation; in features they all become "not" ("no one called" = "nobody called").
NEGATORS = frozenset({"no", "not", "never", "nobody", "nothing", "none", "noone", "nowhere", "neither", "nor",
                      "without", "cannot", "cant", "dont", "didnt", "doesnt", "isnt", "wasnt", "wont", "havent",
                      "hasnt", "hadnt", "arent", "werent", "couldnt", "wouldnt", "shouldnt"})

_URL_RE = re.compile(r"(?:https?://|www\.)\S+", re.I)
_HANDLE_RE = re.compile(r"(?<![\w.])@(\w+)")
# An ordinal is one token ("14th"), not a number and a torn "th" that could seed or name a pain point ("th april").
_WORD_RE = re.compile(r"[a-z]+(?:'[a-z]+)?|\d+(?:st|nd|rd|th)\b|\d+(?:[.,:]\d+)*|\[(?:email|phone)\]")
_NO_ONE = re.compile(r"\bno[ -]?one\b")


_HANDLE_PART_RE = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


def handles(text: str) -> list[str]:
    """The names @handles of ``text`` stand for, lower-cased: the handle and its first word.

    "@SkyLarkAir" -> "skylarkair", "sky"; "@bluefin_air" -> "bluefin_air", "bluefin": people
    write the company's name without the "@" too, and the name is no complaint.
    """
    if "@" not in text:
        return []
    out = []
    for handle in _HANDLE_RE.findall(text):
        out.append(handle.lower())
        parts = _HANDLE_PART_RE.findall(handle)
        if len(parts) > 1 and len(parts[0]) >= 4:
            out.append(parts[0].lower())
    return out


def tokens(text: str) -> list[str]:
    """Lower-case words as written: URLs and @handles dropped, "#" of hashtags dropped."""
    text = text.lower().replace("\u2019", "'")
    if "http" in text or "www." in text:
        text = _URL_RE.sub(" ", text)
    if "@" in text:
        text = _HANDLE_RE.sub(" ", text)
    return _WORD_RE.findall(_NO_ONE.sub("nobody", text.replace("#", " ")))


class ClauseTokens(Sequence):
    """The tokens of each text, computed when asked: a million clauses' token lists are never held at once."""

    def __init__(self, texts: Sequence[str]):
        self._texts = texts

    def __len__(self) -> int:
        return len(self._texts)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [tokens(t) for t in self._texts[i]]
        return tokens(self._texts[i])


def is_negator(token: str) -> bool:
    return token in NEGATORS or token.endswith("n't")


def is_content(token: str) -> bool:
    return token[0].isalpha() and len(token) > 1 and token not in STOP_WORDS and not token.startswith("[")


#: Most stems whose written form is remembered (bounds memory on huge, misspelt surveys).
MAX_SURFACES = 200_000
_surfaces: dict[str, str] = {}


@lru_cache(maxsize=100_000)
def stem(word: str) -> str:
    word = word.split("'")[0]
    stemmed = _stemmer().stem(word)
    _remember(word, stemmed)
    return stemmed


def _remember(word: str, stemmed: str) -> None:
    known = _surfaces.get(stemmed)
    # The shortest form seen, then the first alphabetically: "delay" for delay/delays/delayed, whatever the order.
    if (known is None and len(_surfaces) < MAX_SURFACES) or (known is not None and (len(word), word) < (len(known), known)):
        _surfaces[stemmed] = word


def surface(stemmed: str) -> str:
    """A word as customers write it for a stem ("service" for "servic"), for pretrained vectors."""
    return _surfaces.get(stemmed, stemmed)


@lru_cache(maxsize=1)
def _stemmer():
    # Imported at the first stem, not with this module: nltk's package import takes seconds (it loads
    # scipy.stats and scikit-learn) and the web app imports this module without ever stemming.
    from nltk.stem import PorterStemmer

    stemmer = PorterStemmer()
    for word in DURATION_WORDS:  # their written forms are known first, as when they were stemmed at import
        _remember(word, stemmer.stem(word))
    return stemmer


@lru_cache(maxsize=200_000)
def _unit(token: str) -> str | None:
    if is_negator(token):
        return "not"
    return stem(token) if is_content(token) else None


def units(words: Sequence[str]) -> list[str]:
    """Stemmed content words with every negation as "not", in order."""
    out: list[str] = []
    for token in words:
        unit = _unit(token)
        if unit is not None and not (unit == "not" and out and out[-1] == "not"):
            out.append(unit)
    return out


def features(words: Sequence[str]) -> list[str]:
    """A clause's features: its units and the bigrams of neighbouring units ("not call", "lost bag")."""
    u = units(words)
    return u + [f"{a} {b}" for a, b in zip(u, u[1:]) if a != b]


@lru_cache(maxsize=1)
def sentiment_stems() -> frozenset[str]:
    """Stems of the sentiment lexicon's strongly valenced words ("terrible", "worst", "love").

    A feature made only of these says how the writer feels, not what went wrong.
    """
    from analysis.features import read_sentiment_lexicon

    return frozenset(stem(word) for word, valence in read_sentiment_lexicon().items()
                     if abs(valence) >= STRONG_VALENCE and word.isalpha())


#: Words that say how long or when, not what went wrong ("two hours", "last week" are in delays,
#: hold queues and repairs alike; "since April", "on Monday" in any complaint that has a date):
#: general English, like the stop words. A date is to a complaint what a duration is.
DURATION_WORDS = tuple("""
second minute min mins hour hr hrs day week month year time today tonight yesterday tomorrow morning
afternoon night weekend last next ago one two three four five six seven eight nine ten twelve
twenty half few couple
january february march april may june july august september october november december
monday tuesday wednesday thursday friday saturday sunday
""".split())


@lru_cache(maxsize=1)
def duration_stems() -> frozenset[str]:
    """The stems of DURATION_WORDS (stemmed on first use, like every word: see _stemmer)."""
    return frozenset(map(stem, DURATION_WORDS))


def is_duration_only(feature: str) -> bool:
    """A feature made only of duration words and numbers ("hour", "two day", "last week")."""
    parts = [p for p in feature.split() if p != "not"]
    return bool(parts) and all(p in duration_stems() or p[0].isdigit() for p in parts)


def is_sentiment_only(feature: str) -> bool:
    parts = [p for p in feature.split() if p != "not"]
    lexicon = sentiment_stems()
    return not parts or all(p in lexicon for p in parts)


@dataclass
class TermWeights:
    """The negative clauses' feature matrix (binary, CSR) and each feature's log-odds z-score."""

    matrix: object            # scipy.sparse.csr_matrix, clauses x features, 0/1
    vocabulary: np.ndarray    # feature strings
    z: np.ndarray             # z-scored log-odds, negative clauses vs background
    delta: np.ndarray         # the log-odds ratio itself (effect size)
    has_background: bool
    context: object = None    # what ``context_of`` built, fed every clause's features


def weigh(negative_words: Sequence[Sequence[str]], background_texts: Iterable[str], *,
          excluded: frozenset[str] = frozenset(), context_of=None) -> TermWeights | None:
    """Features of the negative clauses weighed against the background clauses.

    ``excluded`` are stems never used as features (the @handles' names seen in
    the data: a name is not a complaint). ``context_of(vocabulary, df)``, if
    given, returns an object whose ``add_matrix`` sees the negative clauses and
    ``add_units`` every chunk of background clauses (word vectors learn from
    all of them in the same single pass). None when no feature occurs twice.
    """
    from sklearn.feature_extraction.text import CountVectorizer

    def analyse(words):
        found = features(words)
        if excluded:
            found = [f for f in found if not any(p in excluded for p in f.split())]
        return found

    docs = (analyse(w) for w in negative_words)  # streamed: the feature lists are never all held
    vectorizer = CountVectorizer(analyzer=lambda doc: doc, binary=True, dtype=np.float32,
                                 min_df=2 if len(negative_words) >= 20 else 1, max_features=MAX_FEATURES)
    try:
        matrix = vectorizer.fit_transform(docs).tocsr()
    except ValueError:  # no feature at all
        return None
    vocabulary = vectorizer.get_feature_names_out()
    y_neg = np.asarray(matrix.sum(axis=0)).ravel().astype(np.float64)
    n_neg = matrix.shape[0]
    context = None if context_of is None else context_of(vocabulary, y_neg)
    if context is not None:
        for start in range(0, n_neg, CHUNK):
            context.add_matrix(matrix[start:start + CHUNK][:, context.columns])
    y_bg = np.zeros_like(y_neg)
    n_bg = 0

    def count(chunk):
        if context is not None:
            context.add_units(chunk)
        return np.asarray(vectorizer.transform(chunk).sum(axis=0)).ravel()

    chunk: list[list[str]] = []
    for text in background_texts:
        chunk.append(analyse(tokens(text)))
        if len(chunk) == CHUNK:
            y_bg += count(chunk)
            n_bg += len(chunk)
            chunk = []
    if chunk:
        y_bg += count(chunk)
        n_bg += len(chunk)
    if n_bg < MIN_BACKGROUND:
        # Nothing to compare with: weigh by how sure the word is frequent (sqrt of its count).
        return TermWeights(matrix, vocabulary, np.sqrt(y_neg), np.full_like(y_neg, np.inf), has_background=False,
                           context=context)
    delta, z = log_odds(y_neg, n_neg, y_bg, n_bg)
    return TermWeights(matrix, vocabulary, z, delta, has_background=True, context=context)


def log_odds(y_a: np.ndarray, n_a: int, y_b: np.ndarray, n_b: int, prior: float = PRIOR_CLAUSES):
    """(log-odds ratio, its z-score) of each feature's presence in A vs B, informative Dirichlet prior.

    The z-scores of the log-odds ratio of each feature's presence in A vs B, informative Dirichlet prior.

    The prior adds ``prior`` pseudo-clauses split by the feature's rate over
    A and B together (Monroe et al. 2008, eq. 16, 18-20 on presence counts).
    """
    rate = (y_a + y_b) / float(n_a + n_b)
    alpha = prior * rate
    rest = prior * (1.0 - rate)
    odds_a = np.log(y_a + alpha) - np.log(np.maximum(n_a - y_a, 0) + rest)
    odds_b = np.log(y_b + alpha) - np.log(np.maximum(n_b - y_b, 0) + rest)
    variance = 1.0 / (y_a + alpha) + 1.0 / (y_b + alpha)
    delta = odds_a - odds_b
    return delta, delta / np.sqrt(variance)
