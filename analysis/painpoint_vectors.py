"""Word vectors learnt from the run's own clauses, blended with shipped pretrained ones, and clauses placed by them.

Seed words alone leave synonyms apart ("late", "delayed"), and a clause that
says its complaint in other words ("the attendant rolled her eyes") joins no
seed. Words said in the same clauses mean related things (distributional
similarity): each word's positive pointwise mutual information with the words
it shares clauses with, reduced by a truncated SVD, is a vector (Levy,
Goldberg & Dagan 2015: PPMI with context-distribution smoothing, SVD with the
square root of the singular values). The clauses counted are every clause of
the run (negative and not) and the shipped corpus, so the vectors know how
customers write in general, not only in this survey. No download, no model
file: a few seconds of linear algebra per run.

These run-own vectors move when comments are added, and 5,000 tweets are too
few to tell that "bag" and "luggage" are one thing; the shipped pretrained
vectors (:mod:`analysis.word_vectors`) are fixed and know it, but not a
survey's own words. So a word's vector is both side by side
(:func:`blended_vectors`, :data:`PRETRAINED_SHARE`); pretrained vectors also
group the seed words (:func:`anchor_similarity`). Stems are read as the
shortest word seen for them ("servic" as "service"), since the pretrained
vocabulary knows words, not stems.

A clause's vector is the mean of its words' vectors, each weighing how much
a complaint word it is (its positive log-odds z-score, as for the anchors).
Groups are then refined as a deterministic k-means started from the seed-word
groups: every clause goes to its nearest centroid when close enough (and to a
second one when nearly as close), so a clause that says "delayed 3 hours"
lands with the delays although "hours" seeded a group of its own, and a
clause without any seed word joins the complaint it says in other words.

All work is linear in the number of clauses (chunked sparse products); the
vocabulary with vectors is capped, so memory stays flat.

Pure and deterministic (fixed SVD seed); no Flask.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

import numpy as np

from analysis import complaint_terms as terms

#: Words with a vector: the most frequent units of the negative clauses (bounds memory: cap² floats).
MAX_VECTOR_WORDS = 4000
#: Dimensions of the word vectors.
DIMENSIONS = 100
#: Context-distribution smoothing of PPMI (Levy et al. 2015).
CONTEXT_ALPHA = 0.75
#: A word needs this many clauses to get a vector.
MIN_WORD_CLAUSES = 3
#: A clause joins its nearest group only when at least this similar to its centroid ...
JOIN_SIMILARITY = 0.5
#: ... and also a second group at most this much less similar (a clause may carry two complaints).
SECOND_MARGIN = 0.15
#: k-means refinements of the groups (each one pass over the clauses); more rounds let big groups
#: drift over their neighbours' members (measured on the tuning halves: 1 beats 2 and 3 in both domains).
ROUNDS = 1
#: Clauses placed this many at a time (memory stays flat: 15,000 x 356 floats, the blended dimensions).
CHUNK = 15_000
#: Share of the shipped pretrained vectors in a word's vector (the rest: the run's own PPMI vectors).
#: On the tuning halves 0.5 kept the accuracy of the run's own vectors (tweets F1 0.341 vs 0.347, NPS 0.446
#: vs 0.438) and made the pain points much steadier when comments are added (mean top-ten Jaccard over
#: four draws 0.93 vs 0.82 on tweets, 0.79 vs 0.77 on NPS); 1.0 was steadier on tweets but lost on NPS.
PRETRAINED_SHARE = 0.5
#: Two anchors' pretrained cosine counts as similarity only above this ("bag"~"luggage" 0.61 does,
#: "cancel"~"delay" 0.21 does not); 0.35-0.45 measured alike on the tuning halves.
ANCHOR_SIMILARITY_FLOOR = 0.4


class Cooccurrence:
    """Counts, over chunks of clauses, how often each pair of vector words is said in one clause."""

    def __init__(self, vocabulary: np.ndarray, df: np.ndarray):
        unigrams = [j for j, f in enumerate(vocabulary) if " " not in f and f != "not" and df[j] >= MIN_WORD_CLAUSES]
        unigrams.sort(key=lambda j: (-df[j], vocabulary[j]))
        self.columns = np.asarray(sorted(unigrams[:MAX_VECTOR_WORDS]), dtype=np.int64)
        self.index = {str(vocabulary[j]): k for k, j in enumerate(self.columns)}
        self.counts = np.zeros((len(self.columns), len(self.columns)), dtype=np.float32)

    def add_units(self, docs: Iterable[Iterable[str]]) -> None:
        """Add clauses given as feature lists (unknown features ignored)."""
        from scipy import sparse

        rows, cols = [], []
        for r, doc in enumerate(docs):
            found = {self.index[f] for f in doc if f in self.index}
            rows.extend([r] * len(found))
            cols.extend(found)
        if rows:
            x = sparse.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)),
                                  shape=(rows[-1] + 1, len(self.columns)))
            self.add_matrix(x)

    def add_matrix(self, x) -> None:
        """Add clauses given as a 0/1 sparse matrix over the vector words' columns."""
        pairs = (x.T @ x).tocoo()
        self.counts[pairs.row, pairs.col] += pairs.data  # a product's (row, col) are unique

    def vectors(self) -> np.ndarray:
        """Unit-length word vectors (rows in the order of :attr:`columns`); zeros for a lone word."""
        from sklearn.preprocessing import normalize
        from sklearn.utils.extmath import randomized_svd

        k = len(self.columns)
        # PPMI in place, in float32: one k x k array at a time (memory stays at cap² floats).
        ppmi = self.counts
        np.fill_diagonal(ppmi, 0.0)
        word = ppmi.sum(axis=1, dtype=np.float64)
        total = float(word.sum())
        if k < 3 or total == 0:
            return np.zeros((k, 1), dtype=np.float32)
        context = word ** CONTEXT_ALPHA
        context /= context.sum()
        # PMI = P(w, c) / (P(w) P_alpha(c)) = count / (count(w) * P_alpha(c))
        ppmi /= np.maximum(word, 1e-12).astype(np.float32)[:, None]
        ppmi /= np.maximum(context, 1e-12).astype(np.float32)[None, :]
        np.maximum(ppmi, 1.0, out=ppmi)  # log(<= 1) <= 0: not positive, dropped
        np.log(ppmi, out=ppmi)
        self.counts = np.zeros((0, 0), dtype=np.float32)  # spent: vectors are computed once
        u, s, _ = randomized_svd(ppmi, n_components=min(DIMENSIONS, k - 1), random_state=0)
        return normalize(u * np.sqrt(s)).astype(np.float32)


def _pretrained(words: list[str]) -> np.ndarray | None:
    """The shipped pretrained vectors of ``words`` (:mod:`analysis.word_vectors`), None if not installed."""
    from analysis.word_vectors import word_vectors

    try:
        return word_vectors(words)
    except (FileNotFoundError, ImportError):  # a stripped install still groups, with the run's own vectors
        return None


@lru_cache(maxsize=1)
def _vocabulary_forms() -> dict[str, str]:
    """Each stem's shortest whole word in the pretrained vocabulary (then the first alphabetically)."""
    from analysis.word_vectors import vocabulary_words

    try:
        words = vocabulary_words()
    except (FileNotFoundError, ImportError):
        return {}
    forms: dict[str, str] = {}
    for word in sorted(words, key=lambda w: (len(w), w)):
        forms.setdefault(terms.stem(word), word)
    return forms


def _said(feature: str) -> str:
    """A feature as customers write it: each stem's written form ("lost bag" for "lost bag", "service" for "servic").

    The form comes from the fixed pretrained vocabulary when it has one, so that it does not
    depend on which words this process happened to stem before (another survey analysed
    earlier would otherwise change this one's vectors); else the shortest form seen.
    """
    forms = _vocabulary_forms()
    return " ".join(forms.get(part) or terms.surface(part) for part in feature.split())


def blended_vectors(cooc: Cooccurrence, vocabulary: np.ndarray, share: float = PRETRAINED_SHARE) -> np.ndarray:
    """The vector words' vectors: the shipped pretrained ones and the run's own, side by side.

    Both are unit rows, scaled by the square roots of their shares, so the
    cosine of two words is ``share`` times their pretrained cosine plus the
    rest times the run's own.
    """
    pretrained = _pretrained([_said(str(vocabulary[j])) for j in cooc.columns]) if share > 0 else None
    if pretrained is None:
        return cooc.vectors()
    if share >= 1:
        return pretrained
    return np.hstack([pretrained * np.sqrt(share), cooc.vectors() * np.sqrt(1 - share)]).astype(np.float32)


def anchor_similarity(vocabulary: np.ndarray, anchors: list[int]) -> np.ndarray | None:
    """How alike the anchors mean, from the pretrained vectors: 0 up to :data:`ANCHOR_SIMILARITY_FLOOR`, then to 1.

    Seeds that are one complaint in other words ("bag", "luggage", "baggage";
    "website", "site") then start as one group instead of being merged later.
    """
    pretrained = _pretrained([_said(str(vocabulary[j])) for j in anchors])
    if pretrained is None:
        return None
    cosine = pretrained @ pretrained.T
    return np.clip((cosine - ANCHOR_SIMILARITY_FLOOR) / (1.0 - ANCHOR_SIMILARITY_FLOOR), 0.0, 1.0)


def word_weights(cooc: Cooccurrence, z: np.ndarray, delta: np.ndarray, min_delta: float) -> np.ndarray:
    """Each vector word's weight in a clause vector: its complaint z-score if specific to complaints.

    A word everyone says ("flight" to an airline) is sure but not specific
    (log-odds ratio below ``min_delta``) and would pull every clause together.
    """
    columns = cooc.columns
    return np.where(delta[columns] >= min_delta, np.clip(z[columns], 0.0, None), 0.0).astype(np.float32)


def clause_vectors(matrix, rows: slice | np.ndarray, cooc: Cooccurrence, weights: np.ndarray,
                   vectors: np.ndarray) -> np.ndarray:
    """Unit vectors of some clauses (zeros for a clause with no weighed vector word)."""
    from sklearn.preprocessing import normalize

    said = matrix[rows][:, cooc.columns]
    return normalize(np.asarray((said.multiply(weights[None, :])) @ vectors), copy=False)


def centroids(groups: list[list[int]], matrix, cooc, weights, vectors) -> np.ndarray:
    """Each group's mean clause vector, unit length; a big group is read :data:`CHUNK` clauses at a time."""
    out = np.zeros((len(groups), vectors.shape[1]), dtype=np.float64)
    for k, group in enumerate(groups):
        rows = np.asarray(group)
        for start in range(0, len(rows), CHUNK):
            out[k] += clause_vectors(matrix, rows[start:start + CHUNK], cooc, weights, vectors).sum(axis=0)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norms == 0, 1, norms)


def assign(n: int, matrix, cooc, weights, vectors, centres: np.ndarray) -> list[list[int]]:
    """Each clause to its nearest centroid when close enough, and to a second one nearly as close."""
    members: list[list[int]] = [[] for _ in range(len(centres))]
    for start in range(0, n, CHUNK):
        block = clause_vectors(matrix, slice(start, min(n, start + CHUNK)), cooc, weights, vectors)
        similar = block @ centres.T
        top = similar.max(axis=1, keepdims=True)
        joined = (similar >= JOIN_SIMILARITY) & (similar >= top - SECOND_MARGIN)
        for offset, group in zip(*np.nonzero(joined)):
            members[int(group)].append(start + int(offset))
    return members


def refine(groups: list[list[int]], owns: list[set[int]], matrix, cooc, weights, vectors, centre_weights=None):
    """Seed-word groups refined by k-means on clause vectors: every clause goes to its nearest centroid.

    ``centre_weights`` (default ``weights``) weigh the words of the centroids:
    the run leaves durations out of them, since how long something took says
    what no group is about ("hour" is in hold queues and delays alike), while a
    clause keeps them. Centroids are not merged here: on both tuning halves,
    merging close centroids joined different complaints that share words
    ("still waiting for my order", "order was cancelled") and lost more than it gained.
    """
    if not groups or vectors.shape[1] < 2:
        return groups, owns
    n = matrix.shape[0]
    for _ in range(ROUNDS):
        centres = centroids(groups, matrix, cooc, weights if centre_weights is None else centre_weights, vectors)
        placed = assign(n, matrix, cooc, weights, vectors, centres)
        keep = [k for k, m in enumerate(placed) if m]
        groups, owns = [placed[k] for k in keep], [owns[k] for k in keep]
    return groups, owns
