"""scikit-learn transformers that turn comments into feature vectors.

The classifier must label 10,000 comments a second, so the expensive parts are
vectorised over a whole batch:

* :class:`Tokenizer` runs :func:`analysis.text.tokenize` once per text; the
  word, char and lexicon branches all read its token lists.
* :class:`WordNgrams` and :class:`CharNgrams` are *hashing* vectorisers: each
  distinct token gets a process-wide integer id and is stemmed / cut into
  character n-grams and hashed once (:class:`_TokenTables`); a batch is then
  one dict lookup per token, numpy gathers and one sparse-matrix build. No
  vocabulary is fitted, so they are stateless and both task pipelines can
  share their output.
* :class:`LexiconFeatures` adds a few dense features from a sentiment lexicon
  (the words of VADER's lexicon, ``analysis/data/sentiment_lexicon.tsv``) and
  from theme cue words written from the codebook
  (``analysis/data/theme_cues.tsv``). A small training corpus never covers
  every opinion word; the lexicon does. Both lists are copied into the fitted
  estimator, so a saved model does not depend on the data files.

Why one module over 400 lines: the three vectorisers share the token tables
and the batch layout; split apart, the speed contract above would be spread
over files that must change together.

All transformers follow the scikit-learn API (``get_params`` / ``fit`` /
``transform``) so ``GridSearchCV`` can tune them as ``features__words__...``.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from itertools import chain

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.preprocessing import normalize
from sklearn.utils import murmurhash3_32

from analysis import text as textmod
from analysis.labels import THEMES

NEG = textmod.NEG_PREFIX
_MAX_CACHE = 500_000  # distinct tokens kept before the caches are cleared

_stemmer = None
_stem_cache: dict[str, str] = {}
_lexicon_tables: dict[str, dict] = {}


def stem(token: str) -> str:
    """Porter stem of ``token`` (``NEG_`` prefix kept; markers unchanged), memoised."""
    s = _stem_cache.get(token)
    if s is None:
        global _stemmer
        if _stemmer is None:
            from nltk.stem import PorterStemmer  # here: nltk's package import takes seconds (see complaint_terms)

            _stemmer = PorterStemmer()
        if token.startswith(NEG):
            s = NEG + stem(token[len(NEG):])
        elif token.isupper() or not token.isalpha():
            s = token
        else:
            s = _stemmer.stem(token)
        if len(_stem_cache) > _MAX_CACHE:
            _stem_cache.clear()
        _stem_cache[token] = s
    return s


# --------------------------------------------------------------------------- #
# Process-wide token ids and per-token feature tables
# --------------------------------------------------------------------------- #
class _TokenTables:
    """Every distinct token seen gets an integer id; each feature branch keeps
    what it needs per id (a hash, a list of n-gram columns, a lexicon row) in
    flat numpy arrays, filled once per new token. A batch then costs one dict
    lookup per token and a few numpy gathers, whatever the branch.

    Thread-safe: callers hold :attr:`lock` from :meth:`ids` to their last
    gather, so a reset (after ``_MAX_CACHE`` tokens) cannot swap the tables
    between the two (the labeller may be called from several request threads).
    """

    def __init__(self):
        self.lock = threading.RLock()
        self.local = threading.local()
        self.reset()

    def reset(self):
        self.vocab: dict[str, int] = {}
        self.tokens: list[str] = []
        self.tables: dict = {}
        self.generation = getattr(self, "generation", 0) + 1

    def ids(self, X) -> tuple[np.ndarray, np.ndarray]:
        """(token ids of all tokens in order, tokens per document) for ``X``."""
        last = getattr(self.local, "last", None)
        if last is not None and last[0] is X and last[1] == self.generation:
            return last[2], last[3]
        flat = list(chain.from_iterable(X))
        vocab = self.vocab
        new = set(flat).difference(vocab)
        if new:
            with self.lock:
                if len(vocab) + len(new) > _MAX_CACHE:
                    self.reset()
                    vocab = self.vocab
                    new = set(flat)
                for tok in sorted(new):
                    if tok not in vocab:
                        vocab[tok] = len(self.tokens)
                        self.tokens.append(tok)
        ids = np.fromiter(map(vocab.__getitem__, flat), dtype=np.int64, count=len(flat))
        lengths = np.fromiter(map(len, X), dtype=np.int64, count=len(X))
        self.local.last = (X, self.generation, ids, lengths)
        return ids, lengths

    def ragged(self, key, make) -> "_Ragged":
        """Per-token variable-length int arrays (``make(token)``), filled up to the vocab."""
        with self.lock:
            table = self.tables.get(key)
            if table is None or table.generation != self.generation:
                table = self.tables[key] = _Ragged(self.generation)
            if table.n < len(self.tokens):
                table.extend([make(t) for t in self.tokens[table.n:]])
            return table


    def dense(self, key, width: int, make=None, make_rows=None, dtype=np.float64) -> np.ndarray:
        """Per-token float rows, filled up to the vocab: ``make(token) -> sequence of
        width``, or ``make_rows(tokens) -> (len(tokens), width)`` for a batch of new tokens."""
        with self.lock:
            entry = self.tables.get(key)
            if entry is None or entry[0] != self.generation:
                entry = [self.generation, np.zeros((0, width), dtype=dtype)]
                self.tables[key] = entry
            n = len(entry[1])
            if n < len(self.tokens):
                new = self.tokens[n:]
                rows = make_rows(new) if make_rows else [make(t) for t in new]
                rows = np.asarray(rows, dtype=dtype).reshape(-1, width)
                entry[1] = np.concatenate([entry[1], rows])
            return entry[1]


class _Ragged:
    def __init__(self, generation: int):
        self.generation = generation
        self.n = 0
        self.starts = np.zeros(0, dtype=np.int64)
        self.lens = np.zeros(0, dtype=np.int64)
        self.pool = np.zeros(0, dtype=np.int64)

    def extend(self, arrays: list[np.ndarray]) -> None:
        lens = np.array([len(a) for a in arrays], dtype=np.int64)
        starts = len(self.pool) + np.concatenate([[0], np.cumsum(lens)[:-1]])
        self.pool = np.concatenate([self.pool] + arrays)
        self.starts = np.concatenate([self.starts, starts])
        self.lens = np.concatenate([self.lens, lens])
        self.n += len(arrays)

    def gather(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(values of all ids concatenated, number of values per id)."""
        lens = self.lens[ids]
        total = int(lens.sum())
        if not total:
            return np.zeros(0, dtype=np.int64), lens
        ends = np.cumsum(lens)
        offsets = np.repeat(self.starts[ids] - (ends - lens), lens)
        return self.pool[offsets + np.arange(total)], lens


_TABLES = _TokenTables()


def _rows_to_csr(rows: np.ndarray, cols: np.ndarray, n_rows: int, n_cols: int,
                 sublinear_tf: bool, norm: str | None) -> sp.csr_matrix:
    """CSR count matrix from (row, col) pairs (log-scaled, row-normalised).

    Each pair becomes one integer ``row * n_cols + col``; one sort of those
    keys orders the pairs by row, then column, and each run of equal keys is
    one cell's count. That is the canonical matrix scipy's ``sum_duplicates``
    would make (sorted indices, duplicates added), bit for bit, without its
    per-row sort of (index, value) pairs, which cost more than the rest of the
    n-gram features.
    """
    key = rows.astype(np.int64, copy=False) * n_cols + cols
    key.sort()
    if len(key):
        first = np.empty(len(key), dtype=bool)
        first[0] = True
        np.not_equal(key[1:], key[:-1], out=first[1:])
        starts = np.flatnonzero(first)
        counts = np.diff(np.append(starts, len(key))).astype(np.float64)
        key = key[starts]
    else:
        counts = np.zeros(0)
    cell_rows, cell_cols = np.divmod(key, n_cols)
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(cell_rows, minlength=n_rows), out=indptr[1:])
    X = sp.csr_matrix((counts, cell_cols, indptr), shape=(n_rows, n_cols))
    X.has_canonical_format = True
    if sublinear_tf:
        np.log1p(X.data, out=X.data)
    if norm:
        X = normalize(X, norm=norm, copy=False)
    return X


class Tokenizer(TransformerMixin, BaseEstimator):
    """Texts -> token lists with :func:`analysis.text.tokenize` (negation, emoji, URLs...)."""

    def fit(self, X, y=None):
        return self

    def __sklearn_is_fitted__(self):
        return True  # stateless: nothing to fit

    def transform(self, X):
        tok = textmod.tokenize
        return [tok(t) for t in X]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        tags.requires_fit = False
        return tags


class _HashedNgrams(TransformerMixin, BaseEstimator):
    """What the two hashed n-gram transformers share: their settings, and no fitted state."""

    def __init__(self, ngram_range, n_features, sublinear_tf, norm):
        self.ngram_range = ngram_range
        self.n_features = n_features
        self.sublinear_tf = sublinear_tf
        self.norm = norm

    def fit(self, X, y=None):
        return self

    def __sklearn_is_fitted__(self):
        return True  # stateless: nothing to fit


class WordNgrams(_HashedNgrams):
    """Hashed stemmed word n-grams of token lists (unigrams + bigrams by default).

    Bigrams hash as a mix of their two unigram hashes, so nothing is built
    per bigram in Python. Term counts are log-scaled and each row is
    l2-normalised (no IDF: keeps the transformer stateless and shareable).
    """

    def __init__(self, ngram_range=(1, 2), n_features=2**18, sublinear_tf=True, norm="l2"):
        super().__init__(ngram_range, n_features, sublinear_tf, norm)

    def transform(self, X):
        lo, hi = self.ngram_range
        n = self.n_features
        with _TABLES.lock:  # ids and tables must come from the same generation
            ids, lengths = _TABLES.ids(X)
            flat, _ = _TABLES.ragged("word-hash", _word_hash).gather(ids)
        doc = np.repeat(np.arange(len(X)), lengths)
        rows, cols = [], []
        if lo <= 1 <= hi:
            rows.append(doc)
            cols.append(flat % n)
        if lo <= 2 <= hi and len(flat) > 1:
            same = doc[1:] == doc[:-1]
            a, b = flat[:-1][same], flat[1:][same]
            rows.append(doc[1:][same])
            cols.append(((a * 0x9E3779B1) ^ (b + 0x7F4A7C15)) % n)
        if not rows:
            rows, cols = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
        return _rows_to_csr(np.concatenate(rows), np.concatenate(cols), len(X), n,
                            self.sublinear_tf, self.norm)


def _word_hash(token: str) -> np.ndarray:
    """Hash of the stem of ``token`` (unbounded; reduced modulo n_features later)."""
    return np.array([murmurhash3_32(stem(token), seed=0, positive=True)], dtype=np.int64)


class CharNgrams(_HashedNgrams):
    """Hashed character n-grams inside each token (like ``analyzer="char_wb"``).

    Each token is padded with "<" and ">"; tokens in a negation scope use "{"
    and "}" instead, so "NEG_helpful" and "helpful" share no n-grams. The
    hashed n-gram columns of each distinct token are computed once and cached.
    Catches misspellings and word forms the corpus never had.
    """

    def __init__(self, ngram_range=(3, 5), n_features=2**18, sublinear_tf=True, norm="l2"):
        super().__init__(ngram_range, n_features, sublinear_tf, norm)

    def _token_cols(self, token: str) -> np.ndarray:
        lo, hi = self.ngram_range
        if token.startswith(NEG):
            w = "{" + token[len(NEG):] + "}"
        elif token.isupper():
            w = "[" + token + "]"
        else:
            w = "<" + token + ">"
        grams = [w[i:i + k] for k in range(lo, hi + 1) for i in range(len(w) - k + 1)] or [w]
        return np.array([murmurhash3_32(g, seed=1, positive=True) % self.n_features
                         for g in grams], dtype=np.int64)

    def transform(self, X):
        key = ("char", tuple(self.ngram_range), self.n_features)
        with _TABLES.lock:
            ids, lengths = _TABLES.ids(X)
            cols, per_token = _TABLES.ragged(key, self._token_cols).gather(ids)
        tok_doc = np.repeat(np.arange(len(X)), lengths)
        rows = np.repeat(tok_doc, per_token)
        return _rows_to_csr(rows, cols, len(X), self.n_features, self.sublinear_tf, self.norm)


# --------------------------------------------------------------------------- #
# Lexicon and theme cues
# --------------------------------------------------------------------------- #

@functools.cache
def read_sentiment_lexicon() -> dict[str, float]:
    """Word -> mean valence (-4..4) from ``analysis/data/sentiment_lexicon.tsv``.

    The word entries of VADER's lexicon (MIT licence, notice in the file), so
    training needs no extra package.
    """
    return {row[0]: float(row[1]) for row in textmod._read_table("sentiment_lexicon.tsv")}


@functools.cache
def read_theme_cues() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(theme, stemmed words) pairs from ``analysis/data/theme_cues.tsv``."""
    cues = []
    for row in textmod._read_table("theme_cues.tsv"):
        theme, phrase = row[0].strip(), row[1].strip().lower()
        cues.append((theme, tuple(stem(w) for w in phrase.split())))
    return tuple(cues)


class LexiconFeatures(TransformerMixin, BaseEstimator):
    """Dense lexicon features: sentiment valence and theme cue counts.

    Sentiment (VADER's valences; a negated word counts -0.74 times its
    valence, as in VADER): squashed positive sum, negative sum and their
    normalised difference, "!" and "?" presence, EMO_POS / EMO_NEG counts.
    Theme: for each of service/care/other, squashed count of codebook cue
    words and phrases. ``weight`` scales the block against the l2-normalised
    n-gram blocks.

    Speed: each distinct token's contribution is computed once into a row of
    a per-process table; a batch is then a table gather and one sparse
    matrix product (documents x tokens) @ (tokens x features).
    """

    N_SENTIMENT = 7
    _N_RAW = 6 + len(THEMES) + 1  # pos, neg, excl, quest, epos, eneg, 3 cues, bigram-start flag

    def __init__(self, weight=1.0, use_sentiment=True, use_themes=True):
        self.weight = weight
        self.use_sentiment = use_sentiment
        self.use_themes = use_themes

    def fit(self, X=None, y=None):
        lex = read_sentiment_lexicon() if self.use_sentiment else {}
        words = sorted(lex)
        self.lexicon_words_ = np.array(words, dtype=str)
        self.lexicon_values_ = np.array([lex[w] for w in words], dtype=np.float64)
        cues = read_theme_cues() if self.use_themes else []
        self.cue_phrases_ = np.array([" ".join(p) for _, p in cues], dtype=str)
        self.cue_themes_ = np.array([THEMES.index(t) for t, _ in cues], dtype=np.int64)
        self.__dict__.pop("_cache", None)
        return self

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_cache", None)  # derived lookup tables are rebuilt on demand
        return state

    def _tables(self) -> dict:
        """Lookup tables derived from the fitted arrays, shared by equal estimators.

        Kept in a module-level cache keyed by the arrays' content, so the many
        clones made by a grid search (and both task pipelines) share one
        table of per-token rows.
        """
        cache = self.__dict__.get("_cache")
        if cache is not None:
            return cache
        h = hashlib.sha256()
        for arr in (self.lexicon_words_, self.lexicon_values_, self.cue_phrases_,
                    self.cue_themes_):
            h.update(arr.dtype.str.encode())
            h.update(np.ascontiguousarray(arr).tobytes())
        key = h.hexdigest()
        cache = _lexicon_tables.get(key)
        if cache is None:
            lex = dict(zip(self.lexicon_words_.tolist(), self.lexicon_values_.tolist()))
            uni: dict[str, list[int]] = {}
            bi: dict[tuple[str, str], list[int]] = {}
            for phrase, theme in zip(self.cue_phrases_.tolist(), self.cue_themes_.tolist()):
                words = phrase.split()
                if len(words) == 1:
                    uni.setdefault(words[0], []).append(theme)
                else:  # phrases are matched on their first two words
                    bi.setdefault((words[0], words[1]), []).append(theme)
            cache = {"key": key, "lex": lex, "uni": uni, "bi": bi,
                     "bi_first": {a for a, _ in bi}}
            if len(_lexicon_tables) > 8:
                _lexicon_tables.clear()
            _lexicon_tables[key] = cache
        self.__dict__["_cache"] = cache
        return cache

    @staticmethod
    def _token_row(c: dict, tok: str) -> list[float]:
        """One token's raw contributions (see ``_N_RAW``)."""
        row = [0.0] * LexiconFeatures._N_RAW
        negated = tok.startswith(NEG)
        base = tok[len(NEG):] if negated else tok
        v = c["lex"].get(base)
        if v is not None:
            v = -0.74 * v if negated else v
            row[0 if v > 0 else 1] = abs(v)
        row[2] = float(tok[0] == "!")
        row[3] = float(tok[0] == "?")
        row[4] = float(tok == "EMO_POS")
        row[5] = float(tok == "EMO_NEG")
        s = stem(base)
        for t in c["uni"].get(s, ()):
            row[6 + t] += 1
        row[9] = float(s in c["bi_first"])
        return row

    def transform(self, X):
        c = self._tables()
        with _TABLES.lock:
            ids, lengths = _TABLES.ids(X)
            table = _TABLES.dense(("lexicon", c["key"]), self._N_RAW,
                                  lambda tok: self._token_row(c, tok))
            rows = table[ids]
            doc_of = np.repeat(np.arange(len(X)), lengths)
            # two-word cue phrases: the first word is flagged, look at the next
            pairs = [(int(doc_of[p]), _TABLES.tokens[ids[p]], _TABLES.tokens[ids[p + 1]])
                     for p in np.flatnonzero(rows[:, 9]).tolist()
                     if p + 1 < len(ids) and doc_of[p + 1] == doc_of[p]]
        n_tok = len(ids)
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        docs = sp.csr_matrix((np.ones(n_tok), np.arange(n_tok), indptr),
                             shape=(len(X), n_tok))
        raw = np.asarray(docs @ rows) if n_tok else np.zeros((len(X), self._N_RAW))
        for d, a, b in pairs:
            a = a[len(NEG):] if a.startswith(NEG) else a
            b = b[len(NEG):] if b.startswith(NEG) else b
            for t in c["bi"].get((stem(a), stem(b)), ()):
                raw[d, 6 + t] += 1
        pos, neg = raw[:, 0], raw[:, 1]
        total = pos - neg
        n_theme = len(THEMES) if self.use_themes else 0
        out = np.empty((len(X), self.N_SENTIMENT + n_theme))
        out[:, 0] = np.tanh(pos / 4.0)
        out[:, 1] = np.tanh(neg / 4.0)
        out[:, 2] = total / np.sqrt(total * total + 15.0)
        out[:, 3] = raw[:, 2] > 0
        out[:, 4] = raw[:, 3] > 0
        out[:, 5] = np.tanh(raw[:, 4])
        out[:, 6] = np.tanh(raw[:, 5])
        if n_theme:
            out[:, 7:] = np.tanh(raw[:, 6:9] / 2.0)
        if not self.use_sentiment:
            out[:, :self.N_SENTIMENT] = 0.0
        return sp.csr_matrix(out * self.weight)

