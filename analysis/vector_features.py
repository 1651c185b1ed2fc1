"""Feature blocks from the shipped pretrained word vectors (:mod:`analysis.word_vectors`).

Two ways to let the classifiers use what the vectors know about words the
corpus has few or no examples of, both measured against today's features by
``benchmarks/word_vector_block.py`` (tuning halves) before any is adopted:

* :class:`WordVectorMeans`: the comment's mean vector, a dense block;
* :class:`WordClusters`: a bag of word clusters (k-means over the vectors), a
  sparse block as cheap as the word n-grams.

Both read the token lists of :class:`analysis.features.Tokenizer` and keep one
row per distinct token in the process-wide token tables of
:mod:`analysis.features`, so a batch costs a gather and a sparse product, not
a pass of the vectors' tokenizer. Kept apart from ``features.py`` because that
module is already at its size limit; they share its tables.
"""

from __future__ import annotations

import hashlib

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin

from analysis import word_vectors
from analysis.features import _TABLES, NEG, _rows_to_csr


def _check_vectors(estimator) -> None:
    if getattr(estimator, "vectors_digest_", None) != word_vectors.digest():
        raise ValueError("this model was trained with other word vectors than "
                         f"{word_vectors.VECTORS_DIR}; retrain it")


def _vector_word(token: str) -> str:
    """The word a token's vector is read for: negation marks dropped, markers
    (``NUM``, ``URL``, ``EMO_POS``) and punctuation give none."""
    base = token[len(NEG):] if token.startswith(NEG) else token
    if not base or base.isupper() or not any(ch.isalpha() for ch in base):
        return ""
    return base.replace("_", " ")


def _negated(tokens: list[str]) -> list[list[float]]:
    return [[float(t.startswith(NEG))] for t in tokens]


class WordVectorMeans(TransformerMixin, BaseEstimator):
    """Mean of the comment's pretrained word vectors (:mod:`analysis.word_vectors`).

    Each distinct token's vector is looked up once (the vectors' SIF weighting
    kept, so "the" counts less than "delayed") into a per-process table; a
    batch is then one sparse product (documents x tokens) @ (tokens x dims),
    l2-normalised and scaled by ``weight`` against the n-gram blocks. Synonyms
    and words the corpus never had ("rebooked", "stranded") land near what they
    mean, which n-grams of a 7,000-row corpus cannot give. ``dims`` keeps the
    first of the vectors' PCA dimensions (most variance first). ``negation``:
    ``"split"`` puts words in a negation scope ("not helpful") in a second copy
    of the columns, ``"drop"`` reads them as if not negated. ``norm``: ``"l2"``
    (unit rows) or ``"mean"`` (divided by the token count: linear in the tokens).

    Stateless: the vectors ship in ``models/word_vectors`` (like the NLTK data
    the tokenizer reads), ``fit`` only records their digest so a model trained
    on other vectors is refused.
    """

    def __init__(self, weight=1.0, dims=256, negation="split", norm="l2"):
        self.weight = weight
        self.dims = dims
        self.negation = negation
        self.norm = norm

    def _width(self) -> int:
        return self.dims * (2 if self.negation == "split" else 1)

    def fit(self, X=None, y=None):
        self.vectors_digest_ = word_vectors.digest()
        return self

    def _rows(self, tokens: list[str]) -> np.ndarray:
        words = [_vector_word(t) for t in tokens]
        out = np.zeros((len(tokens), self.dims), dtype=np.float32)
        keep = [i for i, w in enumerate(words) if w]
        if keep:
            out[keep] = word_vectors.raw_word_vectors([words[i] for i in keep])[:, :self.dims]
        return out

    def transform(self, X):
        _check_vectors(self)
        d = self.dims
        with _TABLES.lock:
            ids, lengths = _TABLES.ids(X)
            table = _TABLES.dense(("word-vectors", d), d, make_rows=self._rows,
                                  dtype=np.float32)
            n_tok, n = len(ids), len(X)
            indptr = np.concatenate([[0], np.cumsum(lengths)])
            ones = np.ones(n_tok, dtype=np.float32)
            out = np.zeros((n, self._width()), dtype=np.float32)
            if n_tok and self.negation == "split":
                # one product of d columns per token: negated tokens' counts go to the
                # second copy (each token is either negated or not)
                negated = _TABLES.dense(("negated",), 1, make_rows=_negated,
                                        dtype=np.float32)[ids, 0] > 0
                doc = np.repeat(np.arange(n), lengths)
                for part, cols in ((~negated, slice(0, d)), (negated, slice(d, 2 * d))):
                    per_doc = np.bincount(doc[part], minlength=n)
                    counts = sp.csr_matrix(
                        (ones[part], ids[part], np.concatenate([[0], np.cumsum(per_doc)])),
                        shape=(n, len(table)))
                    out[:, cols] = counts @ table
            elif n_tok:
                out[:] = sp.csr_matrix((ones, ids, indptr), shape=(n, len(table))) @ table
        if self.norm == "l2":
            norms = np.linalg.norm(out, axis=1, keepdims=True)
        else:  # "mean": linear in the tokens, so a classifier's part of it is per token
            norms = np.maximum(lengths, 1).astype(np.float32)[:, None]
        np.divide(out, norms, out=out, where=norms > 0)
        out *= np.float32(self.weight)
        # dense rows as CSR directly: sp.csr_matrix(dense) scans for non-zeros
        w = out.shape[1]
        return sp.csr_matrix((out.ravel(), np.tile(np.arange(w, dtype=np.int32), n),
                              np.arange(0, n * w + 1, w, dtype=np.int64)), shape=(n, w))


_cluster_cache: dict[tuple, np.ndarray] = {}


class WordClusters(TransformerMixin, BaseEstimator):
    """Bag of word clusters: each token counts for the cluster of its pretrained vector.

    The clusters are k-means (``n_clusters``, fixed seed) over the unit vectors
    of the whole words in the shipped vocabulary (:mod:`analysis.word_vectors`),
    so "late", "delayed" and "delay" share a column that the corpus need only
    have taught once, and a word the corpus never had lands in the column of
    words that mean the same. Negated words count in a second set of columns.
    A token's cluster is looked up once per process; a batch is then one
    gather and one sparse build, like :class:`WordNgrams` (no dense block
    for the classifier to multiply). Log counts, l2-normalised, times ``weight``.
    """

    def __init__(self, n_clusters=512, weight=1.0, seed=0):
        self.n_clusters = n_clusters
        self.weight = weight
        self.seed = seed

    def fit(self, X=None, y=None):
        key = (self.n_clusters, self.seed, word_vectors.digest())
        centroids = _cluster_cache.get(key)
        if centroids is None:
            from sklearn.cluster import MiniBatchKMeans
            from threadpoolctl import threadpool_limits

            _, vectors = word_vectors.vocabulary_vectors()
            # three passes over 22k words: ~1.5 s; BLAS threads only slow this on a busy machine
            km = MiniBatchKMeans(self.n_clusters, init="random", batch_size=4096, n_init=1,
                                 max_iter=3, random_state=self.seed)
            with threadpool_limits(limits=1, user_api="blas"):
                centroids = km.fit(vectors).cluster_centers_.astype(np.float32)
            centroids /= np.linalg.norm(centroids, axis=1, keepdims=True) + 1e-12
            _cluster_cache[key] = centroids
        self.centroids_ = centroids
        self.vectors_digest_ = word_vectors.digest()
        return self

    def _clusters(self, tokens: list[str]) -> np.ndarray:
        words = [_vector_word(t) for t in tokens]
        out = np.full((len(tokens), 1), -1.0)
        keep = [i for i, w in enumerate(words) if w]
        if keep:
            rows = word_vectors.word_vectors([words[i] for i in keep])
            best = (rows @ self.centroids_.T).argmax(1)
            neg = np.array([tokens[i].startswith(NEG) for i in keep])
            out[keep, 0] = best + self.n_clusters * neg
        return out

    def transform(self, X):
        _check_vectors(self)
        key = ("word-clusters", hashlib.sha256(self.centroids_.tobytes()).hexdigest())
        with _TABLES.lock:
            ids, lengths = _TABLES.ids(X)
            table = _TABLES.dense(key, 1, make_rows=self._clusters)
            cluster = table[ids, 0].astype(np.int64)
        doc = np.repeat(np.arange(len(X)), lengths)
        found = cluster >= 0
        out = _rows_to_csr(doc[found], cluster[found], len(X), 2 * self.n_clusters,
                           sublinear_tf=True, norm="l2")
        if self.weight != 1.0:
            out.data *= self.weight
        return out
