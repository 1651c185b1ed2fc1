"""Steps 2-5 of the pain-point method (:mod:`analysis.painpoints`): anchors, their groups, members, merges.

Every function works on column and row numbers of the negative clauses'
feature matrix (:class:`analysis.complaint_terms.TermWeights`); the work
grows with the number of clauses only through sparse products and chunked
passes, never pairwise over clauses.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict

import numpy as np

from analysis import complaint_terms as terms

#: A feature whose log-odds z-score reaches this may seed a pain point (p < 0.07, one-sided) ...
Z_ANCHOR = 1.5
#: ... and whose odds of being said are at least this many times higher in complaints
#: (log-odds ratio): a word everyone uses ("flight" to an airline) is sure but not specific.
MIN_ODDS_RATIO = 2.0
#: Most anchors grouped (the surest first): bounds the anchor-by-anchor step.
MAX_ANCHORS = 300
#: Anchors closer than this (1 - similarity) form one group (average linkage).
ANCHOR_DISTANCE = 0.8
#: Groups whose centroids are at least this similar (cosine) are one pain point ...
MERGE_SIMILARITY = 0.7
#: ... and so are groups sharing at least this share of the smaller one's answers.
MERGE_OVERLAP = 0.8
#: After placement, groups whose centroids *without durations* are at least this similar ...
SAME_COMPLAINT_SIMILARITY = 0.45
#: ... and that share at least this share of the smaller one's answers are one complaint told twice
#: ("took a month", "weeks to be connected"). Both, not either: "order was cancelled" shares words with
#: "still waiting for my order" but few answers, "on hold" shares answers with the delays but not words.
SAME_COMPLAINT_OVERLAP = 0.3
#: Groups whose names share a head word are one only when their centroids (durations left out) are this alike.
#: On the tuning halves 0.3 and 0.4 measured alike: the one head merge of the tweets ("on the plane" and
#: "stuck on a plane", cosine under 0.3) came and went with the draw and took the top ten's stability with it.
HEAD_MERGE_SIMILARITY = 0.3
#: A clause also joins any other group whose anchor it says at least this strongly,
#: relative to its strongest ("still waiting for the engineer to call back").
SECOND_GROUP_SHARE = 0.85
#: Clauses are placed on the groups this many at a time (memory stays flat).
ASSIGN_CHUNK = 20_000


def usable(weights: terms.TermWeights, excluded: set[str]) -> np.ndarray:
    """The features' z-scores, zero for names seen as @handles and for a lone "not"."""
    z = weights.z.astype(np.float64).copy()
    for j, feature in enumerate(weights.vocabulary):
        # A name is not a complaint; nor is "not" alone (its pairs, "not call", "not turn", say what).
        if feature == "not" or (excluded and any(p in excluded for p in feature.split())):
            z[j] = 0.0
    return z


def weighted_rows(matrix, z: np.ndarray):
    """Clauses × features, each present feature weighing its z-score if positive, rows L2-normalised."""
    from scipy import sparse
    from sklearn.preprocessing import normalize

    return normalize(matrix @ sparse.diags(np.clip(z, 0, None).astype(np.float32)), copy=False).tocsr()


class WeightedRows:
    """:func:`weighted_rows` of any rows, computed when asked (the whole weighted matrix is never held)."""

    def __init__(self, matrix, z: np.ndarray):
        self._matrix, self._z = matrix, z

    def __getitem__(self, rows):
        return weighted_rows(self._matrix[rows], self._z)


def anchors_of(weights: terms.TermWeights, z: np.ndarray, min_count: int) -> list[int]:
    df = np.asarray(weights.matrix.sum(axis=0)).ravel()
    floor = Z_ANCHOR if weights.has_background else 0.0
    order = np.lexsort((weights.vocabulary, -z))
    chosen = [int(j) for j in order
              if z[j] >= floor and z[j] > 0 and weights.delta[j] >= math.log(MIN_ODDS_RATIO)
              and df[j] >= max(2, min_count)
              and not terms.is_sentiment_only(weights.vocabulary[j])
              and not terms.is_duration_only(weights.vocabulary[j])]
    return chosen[:MAX_ANCHORS]


def anchor_groups(present, matrix, word_similarity: np.ndarray | None = None) -> list[list[int]]:
    """Anchor columns grouped by average linkage on max(context cosine, member Jaccard, word similarity).

    An anchor's context is the positive pointwise mutual information of the
    features said with it: what is said *specially* with "delayed", not the
    "flight" said with everything. ``word_similarity`` (anchors x anchors, 0..1)
    is how alike the anchors mean whatever this run's data says: shipped
    pretrained vectors know that "bag" and "luggage" are one complaint even
    when a small survey says them in too few clauses to show it.
    """
    from scipy import sparse
    from sklearn.cluster import AgglomerativeClustering
    from sklearn.preprocessing import normalize

    k = present.shape[1]
    if k == 1:
        return [[0]]
    n = matrix.shape[0]
    together_f = (present.T @ matrix).tocoo()
    df_a = np.asarray(present.sum(axis=0)).ravel()
    df_f = np.asarray(matrix.sum(axis=0)).ravel()
    pmi = np.log(together_f.data * n / (df_a[together_f.row] * df_f[together_f.col]))
    keep = (pmi > 0) & (together_f.data >= 2)
    context = normalize(sparse.csr_matrix((pmi[keep], (together_f.row[keep], together_f.col[keep])),
                                          shape=together_f.shape))
    cosine = (context @ context.T).toarray()
    together = (present.T @ present).toarray()
    df = np.diag(together).copy()
    # Jaccard, not overlap: "cancelled flight" lies inside "flight" too, and must not tie all flights together.
    shared = together / np.maximum(np.add.outer(df, df) - together, 1)
    similarity = np.maximum(cosine, shared)
    if word_similarity is not None:
        similarity = np.maximum(similarity, word_similarity)
    distance = np.clip(1.0 - similarity, 0.0, 1.0)
    np.fill_diagonal(distance, 0.0)
    labels = AgglomerativeClustering(n_clusters=None, metric="precomputed", linkage="average",
                                     distance_threshold=ANCHOR_DISTANCE).fit_predict(distance)
    members: dict[int, list[int]] = defaultdict(list)
    for column, label in enumerate(labels):
        members[int(label)].append(column)
    return sorted(members.values(), key=min)


def _assign(present, anchor_z: np.ndarray, anchor_groups: list[list[int]]) -> list[list[int]]:
    """Each clause's members list per anchor group (in the groups' order, empty lists kept).

    A clause joins the group of the surest anchor it says and any other group
    whose anchor it says nearly as surely (:data:`SECOND_GROUP_SHARE`). The
    strongest anchor, not the sum: a long clause that touches many words of a
    broad group would otherwise always land there.
    """
    order = [c for group in anchor_groups for c in group]
    starts = np.cumsum([0] + [len(g) for g in anchor_groups[:-1]])
    weights = anchor_z[order].astype(np.float32)
    members: list[list[int]] = [[] for _ in anchor_groups]
    for start in range(0, present.shape[0], ASSIGN_CHUNK):
        said = present[start:start + ASSIGN_CHUNK][:, order].toarray() * weights
        scores = np.maximum.reduceat(said, starts, axis=1)
        top = scores.max(axis=1, keepdims=True)
        joined = (scores > 0) & (scores >= SECOND_GROUP_SHARE * top)
        for offset, group in zip(*np.nonzero(joined)):
            members[int(group)].append(start + int(offset))
    return members


def members(present, strength: np.ndarray, anchor_groups: list[list[int]], clauses, min_count: int):
    """Clause groups of at least ``min_count`` answers, and the anchor columns each owns.

    The anchors of a group too small to report step aside and their clauses go
    to the next group they say something of, until every group is big enough.
    """
    for _ in range(5):
        members = _assign(present, strength, anchor_groups)
        big = [len({clauses[i].response_id for i in m}) >= min_count for m in members]
        if all(big):
            break
        anchor_groups = [g for g, m, keep in zip(anchor_groups, members, big) if m and keep]
        if not anchor_groups:
            return [], []
    kept = [(m, set(g)) for m, g in zip(members, anchor_groups)
            if m and len({clauses[i].response_id for i in m}) >= min_count]
    return [m for m, _ in kept], [g for _, g in kept]


def _centroids(groups, weighted) -> np.ndarray:
    out = np.vstack([np.asarray(weighted[g].mean(axis=0)).ravel() for g in groups])
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norms == 0, 1, norms)


def _pair_measures(groups: list[list[int]], weighted, clauses):
    """Centroid cosine of each pair of groups, and the answers each pair shares (and each group's own)."""
    from scipy import sparse

    centroids = _centroids(groups, weighted)
    similar = centroids @ centroids.T
    # Answers shared by each pair of groups, by one sparse product (not set by set: groups get big).
    ids = {rid: k for k, rid in enumerate(sorted({clauses[i].response_id for g in groups for i in g}))}
    rows, cols = [], []
    for g, group in enumerate(groups):
        answers = {ids[clauses[i].response_id] for i in group}
        rows.extend([g] * len(answers))
        cols.extend(answers)
    member = sparse.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(groups), len(ids)))
    shared = (member @ member.T).toarray()
    return similar, shared, np.diag(shared)


def merge(groups: list[list[int]], owns: list[set[int]], weighted, clauses):
    """Union groups with near-duplicate centroids or mostly the same answers."""
    if len(groups) < 2:
        return groups, owns
    similar, shared, size = _pair_measures(groups, weighted, clauses)
    pairs = [(i, j) for i in range(len(groups)) for j in range(i + 1, len(groups))
             if similar[i, j] >= MERGE_SIMILARITY or shared[i, j] >= MERGE_OVERLAP * min(size[i], size[j])]
    return _unite(groups, owns, _no_bridges(pairs, similar, shared, size))


def without_durations(vocabulary, z: np.ndarray) -> np.ndarray:
    """``z`` with every feature made only of durations ("week", "two hours", "hour week") at zero."""
    out = z.copy()
    for j, feature in enumerate(vocabulary):
        if terms.is_duration_only(feature):
            out[j] = 0.0
    return out


def merge_same_complaint(groups: list[list[int]], owns: list[set[int]], weighted_without_durations, clauses):
    """Union placed groups that are one complaint told in other words: close in what, and the same answers.

    ``weighted_without_durations`` are the clause rows weighed with
    :func:`without_durations`: how long something took is said of hold queues,
    delays and connection waits alike, so it must not make two groups alike.
    """
    if len(groups) < 2:
        return groups, owns
    similar, shared, size = _pair_measures(groups, weighted_without_durations, clauses)
    pairs = [(i, j) for i in range(len(groups)) for j in range(i + 1, len(groups))
             if similar[i, j] >= SAME_COMPLAINT_SIMILARITY
             and shared[i, j] >= SAME_COMPLAINT_OVERLAP * min(size[i], size[j])]
    return _unite(groups, owns, _no_bridges(pairs, similar, shared, size))


def _no_bridges(pairs, similar, shared, size):
    """``pairs`` with each smaller group joined to one partner only: the one it shares most with.

    A small group is contained in every big group that holds its few answers: three answers
    that say "still waiting" and "order cancelled" would tie the waits and the cancelled orders
    into one pain point by union-find, although the two are nothing alike. Two groups still
    become one when they themselves pass the bar; a group only cannot be the bridge between two.
    """
    best: dict[int, tuple] = {}
    for i, j in pairs:
        small, big = (i, j) if (size[i], -i) < (size[j], -j) else (j, i)
        key = (shared[small, big] / max(size[small], 1), similar[small, big], -big)
        if small not in best or key > best[small][0]:
            best[small] = (key, big)
    return sorted((small, big) for small, (_, big) in best.items())


def _unite(groups: list[list[int]], owns: list[set[int]], pairs):
    """The connected groups of ``pairs`` as one group each, with all their anchors (union-find: order-free)."""
    parent = list(range(len(groups)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in pairs:
        a, b = find(i), find(j)
        if a != b:
            parent[max(a, b)] = min(a, b)
    merged: dict[int, set[int]] = defaultdict(set)
    anchors: dict[int, set[int]] = defaultdict(set)
    for i, group in enumerate(groups):
        merged[find(i)].update(group)
        anchors[find(i)].update(owns[i])
    roots = sorted(merged)
    return [sorted(merged[root]) for root in roots], [anchors[root] for root in roots]


def units_of(group: list[int], own: set[int], present, anchors: list[int], vocabulary) -> dict[str, float]:
    """The stems of the group's own anchors, with how many of its clauses say each.

    Only its own: a clause that joined a second group brings that group's
    words along ("still waiting" in a group about cancelled orders).
    """
    columns = sorted(own)
    counts = np.asarray(present[group][:, columns].sum(axis=0)).ravel()
    out: Counter = Counter()
    for column, count in zip((anchors[c] for c in columns), counts):
        if count:
            for unit in vocabulary[column].split():
                if unit != "not":
                    out[unit] = max(out[unit], float(count))
    return dict(out)


def unigram_z(vocabulary, z: np.ndarray) -> dict[str, float]:
    return {f: float(v) for f, v in zip(vocabulary, z) if " " not in f}


def _heads(label: str | None, delta_of: dict[str, float]) -> set[str]:
    """The words of a name that say what went wrong: content stems specific to complaints."""
    if not label:
        return set()
    stems = {terms.stem(w) for w in label.split() if terms.is_content(w)}
    return {s for s in stems if delta_of.get(s, 0.0) >= math.log(MIN_ODDS_RATIO)}


def merge_same_heads(groups, owns, labels, delta_of, weighted_without_durations):
    """Union groups whose names share a head word and who say alike things ("hours late", "hrs late").

    A shared word in two names alone is weak and fickle evidence: names are read from the
    members, so "stuck on a plane" (a group that shares "plane" with "on the plane") is "stuck
    in miami" when 10% fewer comments come in, and the merge comes and goes with the draw. So
    the pair must also have centroids (durations left out) at least
    :data:`HEAD_MERGE_SIMILARITY` alike, which does not hang on a name.
    """
    first: dict[str, int] = {}
    pairs = []
    for i, label in enumerate(labels):
        for head in sorted(_heads(label, delta_of)):
            j = first.setdefault(head, i)
            if j != i:
                pairs.append((j, i))
    if pairs:
        involved = sorted({g for pair in pairs for g in pair})
        at = {g: k for k, g in enumerate(involved)}
        centroids = _centroids([groups[g] for g in involved], weighted_without_durations)
        pairs = [(i, j) for i, j in pairs if float(centroids[at[i]] @ centroids[at[j]]) >= HEAD_MERGE_SIMILARITY]
    return _unite(groups, owns, pairs)


def merge_same_names(groups, labels):
    by_name: dict[str, list[int]] = {}
    for group, label in zip(groups, labels):
        if label:
            by_name.setdefault(label, []).extend(group)
    return [sorted(set(g)) for g in by_name.values()], list(by_name)
