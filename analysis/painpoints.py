"""Pain points: negative clauses grouped into named, ranked problems.

Input is every negative clause of the comments in scope (PII-masked text, the
clause's theme, its response's id and score, how negative it is), the other
clauses of those comments as background, and how the scores of *all* answers
in scope add up. Output is a :class:`PainPointAnalysis`: the pain points,
biggest impact first, and how many negative comments they cover. Pure and
deterministic (stable sorts, no random step that the data does not fix); no
Flask.

How:

1. **Complaint terms.** Each clause becomes stemmed content words and their
   bigrams, every negation kept as "not" ("nobody called back" is the
   complaint, "called back" is not). Each feature is weighed by how much more
   often negative clauses say it than the other clauses (z-scored log-odds
   with an informative Dirichlet prior, :mod:`analysis.complaint_terms`):
   brand names, @handles, greetings and thanks fall out by themselves.
2. **Anchors.** The features surest to belong to complaints (z at least
   :data:`Z_ANCHOR`, odds at least :data:`MIN_ODDS_RATIO` times higher, said
   by enough answers, not a strong sentiment word on its own: "terrible" says
   how, not what) seed the pain points.
3. **Anchor groups.** Anchors said in the same company (cosine of their
   positive-PMI contexts) or by the same clauses (member Jaccard) join by
   average linkage. The work grows with the number of anchors, not comments.
4. **Members.** A clause joins the group of the surest anchor it says, and any
   group whose anchor it says nearly as surely: a clause (and a comment) may
   carry several pain points. Groups too small to report give their clauses
   to the next group they say something of. A clause with no anchor is an
   "other negative comment".
5. **Merge** near-duplicates: groups with close centroids, mostly the same
   answers, or names sharing a head word ("hours late", "hrs late") become
   one, so the top ten are ten problems.
6. **Names** are phrases the members wrote (2-5 words, negation kept, never a
   torn fragment, no brand or handle): the one most typical of the group and
   least of the others (:mod:`analysis.painpoint_names`).
7. **Rank** by impact: with scores, how much the overall mean score would rise
   if the answers with this pain point scored like the others, in percent of
   the scale; without scores, by size × negativity (percent of comments times
   the members' mean probability of being negative).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from analysis import complaint_terms as terms
from analysis.labels import theme_order
from analysis.painpoint_names import name_groups, quotes_for

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
#: A clause also joins any other group whose anchor it says at least this strongly,
#: relative to its strongest ("still waiting for the engineer to call back").
SECOND_GROUP_SHARE = 0.85
#: Clauses are placed on the groups this many at a time (memory stays flat).
ASSIGN_CHUNK = 20_000
RANKED_BY_SCORE = "score impact"
RANKED_BY_SIZE = "size × negativity"


@dataclass(frozen=True)
class NegativeClause:
    """One negative clause of a comment (``text`` already PII-masked)."""

    response_id: int
    text: str
    theme: str
    score: int | None
    negativity: float = 1.0   # the clause's probability of being negative


@dataclass(frozen=True)
class ScoreTotals:
    """The scores of every answer in scope, summed (for "the mean of the others")."""

    n: int = 0
    total: float = 0.0
    low: int = 0
    high: int = 10

    @property
    def span(self) -> float:
        return float(self.high - self.low) or 1.0


@dataclass
class PainPoint:
    rank: int
    label: str
    theme: str
    count: int                  # responses with at least one clause in the group
    share: float                # count / all comments in scope
    score_impact: float | None  # mean score with it minus mean score of the other answers
    impact: float               # see the module docstring, step 7
    response_ids: list[int]
    quotes: list[str]
    terms: list[str] = field(default_factory=list)  # the group's strongest complaint terms

    def as_dict(self) -> dict:
        return {
            "rank": self.rank, "label": self.label, "theme": self.theme, "count": self.count,
            "share": round(self.share, 4),
            "score_impact": None if self.score_impact is None else round(self.score_impact, 3),
            "impact": round(self.impact, 3), "response_ids": self.response_ids, "quotes": self.quotes,
            "terms": self.terms,
        }


@dataclass
class PainPointAnalysis:
    """The pain points of one scope and what they leave out."""

    points: list[PainPoint]
    negative_comments: int   # comments with at least one negative clause
    covered_comments: int    # of those, in at least one pain point
    ranked_by: str

    @property
    def other_comments(self) -> int:
        """Negative comments in no pain point ("other negative comments")."""
        return self.negative_comments - self.covered_comments

    @property
    def coverage(self) -> float:
        return self.covered_comments / self.negative_comments if self.negative_comments else 0.0

    def as_dict(self) -> dict:
        return {"negative_comments": self.negative_comments, "covered_comments": self.covered_comments,
                "other_negative_comments": self.other_comments, "coverage": round(self.coverage, 4),
                "ranked_by": self.ranked_by}


def default_min_count(total_comments: int) -> int:
    """Smallest group worth reporting: 2 answers, or 0.2% of the comments on big surveys."""
    return max(2, math.ceil(total_comments * 0.002))


def find_pain_points(clauses: Sequence[NegativeClause], total_comments: int, scores: ScoreTotals | None = None,
                     **options) -> list[PainPoint]:
    """The ranked pain points of ``clauses`` (see :func:`analyse_pain_points`)."""
    return analyse_pain_points(clauses, total_comments, scores, **options).points


def analyse_pain_points(
    clauses: Sequence[NegativeClause],
    total_comments: int,
    scores: ScoreTotals | None = None,
    *,
    background: Iterable[str] = (),
    min_count: int | None = None,
    seed: int = 0,
) -> PainPointAnalysis:
    """Group ``clauses`` into pain points, name them and rank them by impact.

    ``background`` are the texts of the other (not negative) clauses in scope,
    streamed once: what complaints say more often than they do is what they
    are about. ``seed`` only picks which members are read for a name when a
    group is very large.
    """
    clauses = list(clauses)
    ranked_by = RANKED_BY_SCORE if scores is not None and scores.n else RANKED_BY_SIZE
    negative_comments = len({c.response_id for c in clauses})
    nothing = PainPointAnalysis([], negative_comments, 0, ranked_by)
    if total_comments < 1 or not clauses:
        return nothing
    min_count = default_min_count(total_comments) if min_count is None else min_count
    words = [terms.tokens(c.text) for c in clauses]
    names = {h for c in clauses for h in terms.handles(c.text)}

    def streamed():
        for text in background:
            names.update(terms.handles(text))
            yield text

    weights = terms.weigh(words, streamed())
    if weights is None:
        return nothing
    excluded = {terms.stem(n) for n in names} | names
    z = _usable(weights, excluded)
    weighted = _weighted(weights.matrix, z)
    anchors = _anchors(weights, z, min_count)
    if not anchors:
        return nothing
    present = weights.matrix[:, anchors]
    groups, owns = _members(present, z[anchors], _anchor_groups(present, weights.matrix), clauses, min_count)
    groups, owns = _merge(groups, owns, weighted, clauses)
    z_of = _unigram_z(weights.vocabulary, z)
    delta_of = {f: float(d) for f, d in zip(weights.vocabulary, weights.delta) if " " not in f}
    for _ in range(4):  # name, merge groups whose names share a head word, name the merged ones again
        anchor_units = [_units_of(g, own, present, anchors, weights.vocabulary) for g, own in zip(groups, owns)]
        labels = name_groups(groups, words, anchor_units, z_of=z_of, excluded=frozenset(excluded), seed=seed)
        merged, owns = _merge_same_heads(groups, owns, labels, delta_of)
        if len(merged) == len(groups):
            break
        groups = merged
    groups, labels = _merge_same_names(groups, labels)
    points = [_pain_point(g, label, clauses, words, weighted, weights.vocabulary, z, total_comments, scores)
              for g, label in zip(groups, labels)]
    points.sort(key=lambda p: (-p.impact, -p.count, p.label))
    for rank, point in enumerate(points, start=1):
        point.rank = rank
    covered = len({r for p in points for r in p.response_ids})
    return PainPointAnalysis(points, negative_comments, covered, ranked_by)


# --------------------------------------------------------------------------- #
# Anchors and groups
# --------------------------------------------------------------------------- #
def _usable(weights: terms.TermWeights, excluded: set[str]) -> np.ndarray:
    """The features' z-scores, zero for names seen as @handles and for a lone "not"."""
    z = weights.z.astype(np.float64).copy()
    for j, feature in enumerate(weights.vocabulary):
        # A name is not a complaint; nor is "not" alone (its pairs, "not call", "not turn", say what).
        if feature == "not" or (excluded and any(p in excluded for p in feature.split())):
            z[j] = 0.0
    return z


def _weighted(matrix, z: np.ndarray):
    """Clauses × features, each present feature weighing its z-score if positive, rows L2-normalised."""
    from scipy import sparse
    from sklearn.preprocessing import normalize

    return normalize(matrix @ sparse.diags(np.clip(z, 0, None).astype(np.float32)), copy=False).tocsr()


def _anchors(weights: terms.TermWeights, z: np.ndarray, min_count: int) -> list[int]:
    df = np.asarray(weights.matrix.sum(axis=0)).ravel()
    floor = Z_ANCHOR if weights.has_background else 0.0
    order = np.lexsort((weights.vocabulary, -z))
    chosen = [int(j) for j in order
              if z[j] >= floor and z[j] > 0 and weights.delta[j] >= math.log(MIN_ODDS_RATIO)
              and df[j] >= max(2, min_count)
              and not terms.is_sentiment_only(weights.vocabulary[j])]
    return chosen[:MAX_ANCHORS]


def _anchor_groups(present, matrix) -> list[list[int]]:
    """Anchor columns grouped by average linkage on max(context cosine, member Jaccard).

    An anchor's context is the positive pointwise mutual information of the
    features said with it: what is said *specially* with "delayed", not the
    "flight" said with everything.
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
    distance = np.clip(1.0 - np.maximum(cosine, shared), 0.0, 1.0)
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


def _members(present, strength: np.ndarray, anchor_groups: list[list[int]], clauses, min_count: int):
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


def _merge(groups: list[list[int]], owns: list[set[int]], weighted, clauses):
    """Union groups with near-duplicate centroids or mostly the same answers."""
    if len(groups) < 2:
        return groups, owns
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
    size = np.diag(shared)
    pairs = [(i, j) for i in range(len(groups)) for j in range(i + 1, len(groups))
             if similar[i, j] >= MERGE_SIMILARITY or shared[i, j] >= MERGE_OVERLAP * min(size[i], size[j])]
    return _unite(groups, owns, pairs)


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


def _units_of(group: list[int], own: set[int], present, anchors: list[int], vocabulary) -> dict[str, float]:
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


def _unigram_z(vocabulary, z: np.ndarray) -> dict[str, float]:
    return {f: float(v) for f, v in zip(vocabulary, z) if " " not in f}


def _heads(label: str | None, delta_of: dict[str, float]) -> set[str]:
    """The words of a name that say what went wrong: content stems specific to complaints."""
    if not label:
        return set()
    stems = {terms.stem(w) for w in label.split() if terms.is_content(w)}
    return {s for s in stems if delta_of.get(s, 0.0) >= math.log(MIN_ODDS_RATIO)}


def _merge_same_heads(groups, owns, labels, delta_of):
    """Union groups whose names share a head word ("hours late", "hrs late"; "lost bag", "checked bag")."""
    first: dict[str, int] = {}
    pairs = []
    for i, label in enumerate(labels):
        for head in sorted(_heads(label, delta_of)):
            pairs.append((first.setdefault(head, i), i))
    return _unite(groups, owns, pairs)


def _merge_same_names(groups, labels):
    by_name: dict[str, list[int]] = {}
    for group, label in zip(groups, labels):
        if label:
            by_name.setdefault(label, []).extend(group)
    return [sorted(set(g)) for g in by_name.values()], list(by_name)


# --------------------------------------------------------------------------- #
# Measures and quotes
# --------------------------------------------------------------------------- #
def _pain_point(group, label, clauses, words, weighted, vocabulary, z, total_comments, scores) -> PainPoint:
    responses: dict[int, int | None] = {}
    negativity: dict[int, float] = {}
    themes: Counter = Counter()
    for i in group:
        clause = clauses[i]
        responses[clause.response_id] = clause.score
        negativity[clause.response_id] = max(negativity.get(clause.response_id, 0.0), clause.negativity)
        themes[clause.theme] += 1
    theme = sorted(themes.items(), key=lambda kv: (-kv[1], theme_order(kv[0])))[0][0]
    count = len(responses)
    share = count / total_comments
    if scores is not None and scores.n:
        score_impact, impact = _impact(responses, share, scores)
    else:
        score_impact, impact = None, share * 100 * (sum(negativity.values()) / count)
    return PainPoint(
        rank=0, label=label, theme=theme, count=count, share=share, score_impact=score_impact, impact=impact,
        response_ids=sorted(responses), quotes=quotes_for(group, label, clauses, words, weighted),
        terms=_top_terms(group, weighted, vocabulary, z),
    )


def _impact(responses: dict[int, int | None], share: float, scores: ScoreTotals):
    scored = [s for s in responses.values() if s is not None]
    if not scored or len(scored) >= scores.n:
        return None, 0.0
    mean_with = sum(scored) / len(scored)
    mean_others = (scores.total - sum(scored)) / (scores.n - len(scored))
    gap = mean_with - mean_others
    impact = (len(scored) / scores.n) * (-gap) / scores.span * 100
    return gap, impact


def _top_terms(group, weighted, vocabulary, z, limit: int = 6) -> list[str]:
    weights = np.asarray(weighted[group].sum(axis=0)).ravel()
    top = np.lexsort((vocabulary, -weights))[:limit]
    return [str(vocabulary[i]) for i in top if weights[i] > 0]
