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
   :data:`~analysis.painpoint_groups.Z_ANCHOR`, odds at least
   :data:`~analysis.painpoint_groups.MIN_ODDS_RATIO` times higher, said
   by enough answers, not a strong sentiment word on its own: "terrible" says
   how, not what; nor a duration alone: "two hours" is said of hold queues,
   delays and repairs alike) seed the pain points.
3. **Anchor groups.** Anchors said in the same company (cosine of their
   positive-PMI contexts), by the same clauses (member Jaccard) or meaning
   the same by the shipped pretrained word vectors (:mod:`analysis.word_vectors`:
   "bag", "luggage", "baggage") join by average linkage. The work grows with
   the number of anchors, not comments.
4. **Members.** A clause joins the group of the surest anchor it says, and any
   group whose anchor it says nearly as surely: a clause (and a comment) may
   carry several pain points. Groups too small to report give their clauses
   to the next group they say something of.
5. **Refine** by word vectors (the groups' centroids without durations and dates:
   "hour" says how long, of hold queues and delays alike): half the shipped pretrained ones, which do not
   move when comments are added (so neither do borderline clauses, much), half
   learnt from the run's own clauses and the shipped corpus, which know this
   survey's words (:mod:`analysis.painpoint_vectors`): every clause goes to the group
   whose centroid is nearest its vector, when close enough, so "delayed 3
   hours" joins the delays although "hours" seeded a group, and a clause with
   no seed word joins the complaint it says in other words. A clause close to
   no group is an "other negative comment".
6. **Merge** near-duplicates: groups with close centroids, mostly the same
   answers, or names sharing a head word ("hours late", "hrs late") become
   one (names sharing a head word only when their centroids are also alike:
   names shift with the draw, centroids much less), so the top ten are ten
   problems; a small group that lies inside two others joins only the one it
   shares most with, never ties the two together; after placement, so do groups close
   once durations are left out that share some answers ("took a month",
   "weeks to be connected"), but not "still waiting for my order" and "order
   was cancelled", which share words, not answers.
7. **Names** are phrases the members wrote (2-5 words, negation kept, never a
   torn fragment, no brand or handle): the one most typical of the group and
   least of the others (:mod:`analysis.painpoint_names`).
8. **Rank** by impact: with scores, how much the overall mean score would rise
   if the answers with this pain point scored like the others, in percent of
   the scale; without scores, by size × negativity (percent of comments times
   the members' mean probability of being negative). With scores the order
   uses the impact's lower bound (the gap less :data:`RANK_Z` standard errors
   of its members' mean score): a small group whose few scores happen to be
   low does not push a sure, bigger one out of the top ten, and which small
   groups reach it moves less when comments are added. A group whose answers
   score *above* the others' by as much (the mirror of that bound) is praise
   the clause labeller took for a complaint ("kept my number and no downtime"
   is worded like "kept cutting out", "no signal"): it is dropped, and its
   answers are not counted as negative comments. The top ten are ten
   different problems: each place goes to the pain point whose answers *not
   already in those chosen* would rank highest (greedy maximal coverage), so
   a group repeating the answers of bigger ones ("still waiting" besides
   "connection delay") leaves its place to another problem; the ten are then
   shown in their own impact order. On a small survey a pain point that
   does not survive leaving out a tenth of the answers (the grouping run
   again without each of four tenths) takes a top-ten place only when too
   few steady ones are left: a group at a threshold's edge comes and goes
   when a few answers are added.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from analysis import complaint_terms as terms
from analysis import painpoint_vectors as vectors
from analysis.labels import theme_order
from analysis.painpoint_groups import (MIN_ODDS_RATIO, anchor_groups, anchors_of, members, merge, merge_same_complaint,
                                       merge_same_heads,
                                       merge_same_names, unigram_z, units_of, usable, WeightedRows,
                                       without_durations)
from analysis.painpoint_names import name_groups, quotes_for

RANKED_BY_SCORE = "score impact"
RANKED_BY_SIZE = "size × negativity"
#: Pain points with scores are ordered by their impact with the gap this many standard errors smaller.
RANK_Z = 1.96
#: The top ten are chosen by what each pain point adds beyond the others chosen ("ten different problems").
DIVERSE_PLACES = 10
#: Surveys with at most this many negative clauses check how steady each pain point is ...
STEADY_CHECK_MAX_CLAUSES = 2000
#: ... by grouping again this many times, each without a different tenth of the answers ...
STEADY_RESAMPLES = 4
#: ... and a pain point whose members match less well than this (median Jaccard) takes a top-ten
#: place only when too few steady ones are left.
STEADY_MIN = 0.5


@dataclass(frozen=True, slots=True)  # slots: a big survey holds hundreds of thousands
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
    squares: float | None = None  # sum of the squared scores, for their spread

    @property
    def span(self) -> float:
        return float(self.high - self.low) or 1.0

    @property
    def spread(self) -> float:
        """Standard deviation of all the scores (a quarter of the scale when the squares are unknown)."""
        if self.squares is None or self.n < 2:
            return self.span / 4
        mean = self.total / self.n
        return math.sqrt(max(0.0, (self.squares - self.n * mean * mean) / (self.n - 1)))


@dataclass
class PainPoint:
    rank: int
    label: str
    theme: str
    count: int                  # responses with at least one clause in the group
    share: float                # count / all comments in scope
    score_impact: float | None  # mean score with it minus mean score of the other answers
    impact: float               # see the module docstring, step 8
    response_ids: list[int]
    quotes: list[str]
    terms: list[str] = field(default_factory=list)  # the group's strongest complaint terms
    impact_low: float = 0.0     # what the ranking uses: the impact with an uncertain gap made smaller

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
    steadiness_check: bool = True,
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
    check = steadiness_check and len(clauses) <= STEADY_CHECK_MAX_CLAUSES
    if check:
        background = list(background)  # read again by each resample
    words = terms.ClauseTokens([c.text for c in clauses])
    names = {h for c in clauses for h in terms.handles(c.text)}

    def streamed():
        for text in background:
            names.update(terms.handles(text))
            yield text

    weights = terms.weigh(words, streamed(), context_of=_cooccurrence)
    if weights is None:
        return nothing
    excluded = {terms.stem(n) for n in names} | names
    z = usable(weights, excluded)
    weighted = WeightedRows(weights.matrix, z)
    anchors = anchors_of(weights, z, min_count)
    if not anchors:
        return nothing
    present = weights.matrix[:, anchors]
    seeds = anchor_groups(present, weights.matrix, vectors.anchor_similarity(weights.vocabulary, anchors))
    groups, owns = members(present, z[anchors], seeds, clauses, min_count)
    groups, owns = merge(groups, owns, weighted, clauses)
    cooc = weights.context
    word_weights = vectors.word_weights(cooc, z, weights.delta, math.log(MIN_ODDS_RATIO))
    timeless = without_durations(weights.vocabulary, z)  # how long or when: said of every complaint alike
    centre_weights = vectors.word_weights(cooc, timeless, weights.delta, math.log(MIN_ODDS_RATIO))
    groups, owns = vectors.refine(groups, owns, weights.matrix, cooc, word_weights,
                                   vectors.blended_vectors(cooc, weights.vocabulary), centre_weights)
    groups, owns = _big_enough(groups, owns, clauses, min_count)
    same = WeightedRows(weights.matrix, timeless)
    groups, owns = merge_same_complaint(groups, owns, same, clauses)
    z_of = unigram_z(weights.vocabulary, z)
    delta_of = {f: float(d) for f, d in zip(weights.vocabulary, weights.delta) if " " not in f}
    for _ in range(4):  # name, merge groups whose names share a head word, name the merged ones again
        anchor_units = [units_of(g, own, present, anchors, weights.vocabulary) for g, own in zip(groups, owns)]
        labels = name_groups(groups, words, anchor_units, z_of=z_of, excluded=frozenset(excluded), seed=seed)
        merged, owns = merge_same_heads(groups, owns, labels, delta_of, same)
        if len(merged) == len(groups):
            break
        groups = merged
    groups, labels = merge_same_names(groups, labels)
    points = [_pain_point(g, label, clauses, words, weighted, weights.vocabulary, z, total_comments, scores)
              for g, label in zip(groups, labels)]
    if ranked_by == RANKED_BY_SCORE:
        points, negative_comments = _without_praise(points, groups, clauses, scores)
    steady = None
    if check and len(points) > DIVERSE_PLACES:
        steady = _steadiness(points, clauses, total_comments, scores, background, min_count)
    points = _diverse_order(sorted(points, key=_by_impact), clauses, total_comments, scores, steady)
    for rank, point in enumerate(points, start=1):
        point.rank = rank
    covered = len({r for p in points for r in p.response_ids})
    return PainPointAnalysis(points, negative_comments, covered, ranked_by)


def _without_praise(points: list[PainPoint], groups, clauses, scores: ScoreTotals) -> tuple[list[PainPoint], int]:
    """``points`` without the praise among them, and how many negative comments are left.

    The clause labeller errs on phrases that complaints usually say: "kept my number" reads like
    "kept cutting out", "no downtime" like "no signal". A group of such praise scores *above* the
    answers without it: its impact is below zero, no score would rise if it were fixed, so it is no
    pain point. Its clauses are not counted as negative comments either (unless another pain point
    holds them). A promoter's single complaint still counts: one member's score moves a group's
    mean little, and groups are judged, never clauses.
    """
    praise = [k for k, g in enumerate(groups)
              if _surely_above(_scored({clauses[i].response_id: clauses[i].score for i in g}), scores)]
    if not praise:
        return points, len({c.response_id for c in clauses})
    dropped = set(praise)
    kept_clauses = {i for k, g in enumerate(groups) if k not in dropped for i in g}
    praise_clauses = {i for k in praise for i in groups[k]} - kept_clauses
    negative = len({c.response_id for i, c in enumerate(clauses) if i not in praise_clauses})
    return [p for k, p in enumerate(points) if k not in dropped], negative


def _by_impact(point: PainPoint):
    return -point.impact_low, -point.impact, -point.count, point.label


def _steadiness(points: list[PainPoint], clauses, total_comments: int, scores, background, min_count: int):
    """Per pain point (by id), how well it survives leaving out a tenth of the answers.

    The grouping runs again :data:`STEADY_RESAMPLES` times, each time without a different tenth of
    the answers (chosen by a hash of their ids: the same data gives the same tenths); a pain point's
    steadiness is the median over the runs of its best member Jaccard there (its members restricted
    to the answers kept). On a small survey a group at the edge of a threshold (a seed word whose
    odds are just twice as high, two groups whose centroids are just alike enough to merge) comes
    and goes with a few answers; this says which.
    """
    kept_by_run = []
    for k in range(STEADY_RESAMPLES):
        sub = [c for c in clauses if _tenth(c.response_id) != k]
        result = analyse_pain_points(sub, total_comments, scores, background=background, min_count=min_count,
                                     steadiness_check=False)
        kept_by_run.append(({c.response_id for c in sub}, [set(p.response_ids) for p in result.points]))
    out = {}
    for point in points:
        members = set(point.response_ids)
        best = []
        for kept, others in kept_by_run:
            before = members & kept
            best.append(max((len(before & o) / len(before | o) for o in others), default=0.0) if before else 0.0)
        out[id(point)] = float(np.median(best))
    return out


def _tenth(response_id: int) -> int:
    """Which tenth of the answers ``response_id`` falls in (a fixed hash: the same for every run)."""
    return ((response_id * 2654435761) & 0xFFFFFFFF) * 10 >> 32


def _diverse_order(points: list[PainPoint], clauses, total_comments: int, scores,
                   steady: dict[int, float] | None = None) -> list[PainPoint]:
    """``points`` (in impact order) with the top :data:`DIVERSE_PLACES` chosen for what each adds.

    Greedy maximal coverage, as in maximal marginal relevance (Carbonell & Goldstein 1998): each
    of the top places goes to the pain point whose answers not yet covered by those already chosen
    would rank highest on their own (the same measure as the ranking), so a group that mostly
    repeats the answers of bigger ones gives its place to a different problem. The chosen ones are
    then ordered by their own impact, which is also what is shown. With ``steady`` (pain point id ->
    :func:`_steadiness`), one below :data:`STEADY_MIN` is chosen only when no steady one is left.
    Work: places x members, in arrays (one row per answer, not a dict: a million answers are held
    as a few flat arrays).
    """
    if len(points) <= DIVERSE_PLACES:
        return points  # all of them are in the top ten, in impact order
    answers = np.fromiter((c.response_id for c in clauses), dtype=np.int64, count=len(clauses))
    negativity = np.fromiter((c.negativity for c in clauses), dtype=np.float64, count=len(clauses))
    score = np.fromiter((np.nan if c.score is None else c.score for c in clauses), dtype=np.float64,
                        count=len(clauses))
    order = np.lexsort((-negativity, answers))  # by answer, its most negative clause first
    answers, negativity, score = answers[order], negativity[order], score[order]
    first = np.r_[True, answers[1:] != answers[:-1]]
    answers, negativity, score = answers[first], negativity[first], score[first]
    with_scores = scores is not None and scores.n
    pool = list(points)
    rows = [np.searchsorted(answers, np.asarray(p.response_ids, dtype=np.int64)) for p in pool]
    covered = np.zeros(len(answers), dtype=bool)

    def added(k: int) -> float:
        new = rows[k][~covered[rows[k]]]
        if not len(new):
            return 0.0
        if with_scores:
            scored = score[new][~np.isnan(score[new])]
            gap, _ = _gap_and_impact(scored, scores)
            return _sure_impact(scored, gap, scores)
        return len(new) / total_comments * 100 * float(negativity[new].mean())

    def sure(k: int) -> bool:
        return steady is None or steady[id(pool[k])] >= STEADY_MIN

    chosen = []
    for _ in range(DIVERSE_PLACES):
        best = max(range(len(pool)), key=lambda k: (sure(k), added(k), -k))
        chosen.append(pool.pop(best))
        covered[rows.pop(best)] = True
    chosen.sort(key=_by_impact)
    return chosen + pool


def _cooccurrence(vocabulary, df):
    """Word co-occurrence of this run's clauses, primed with the shipped corpus (how customers write)."""
    context = vectors.Cooccurrence(vocabulary, df)
    context.add_units(_corpus_features())
    return context


@lru_cache(maxsize=1)
def _corpus_features() -> tuple[tuple[str, ...], ...]:
    from analysis.corpus import CorpusError, load_corpus

    try:
        texts = load_corpus().texts
    except CorpusError:  # an install without the corpus learns from its own comments only
        return ()
    return tuple(tuple(terms.units(terms.tokens(t))) for t in texts)


def _big_enough(groups, owns, clauses, min_count: int):
    kept = [(g, o) for g, o in zip(groups, owns) if len({clauses[i].response_id for i in g}) >= min_count]
    return [g for g, _ in kept], [o for _, o in kept]


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
        score_impact, impact = pain_point_impact(responses, share, scores)
        impact_low = _impact_low(responses, score_impact, scores)
    else:
        score_impact, impact = None, share * 100 * (sum(negativity.values()) / count)
        impact_low = impact
    return PainPoint(
        rank=0, label=label, theme=theme, count=count, share=share, score_impact=score_impact, impact=impact,
        response_ids=sorted(responses), quotes=quotes_for(group, label, clauses, words, weighted),
        terms=_top_terms(group, weighted, vocabulary, z), impact_low=impact_low,
    )


def pain_point_impact(responses: dict[int, int | None], share: float, scores: ScoreTotals):
    """``(score_impact, impact)`` of a pain point with these members; codeframe points use it too."""
    return _gap_and_impact(_scored(responses), scores)


def _impact_low(responses: dict[int, int | None], gap: float | None, scores: ScoreTotals) -> float:
    """The impact with the gap :data:`RANK_Z` standard errors of the members' mean score smaller (not below 0)."""
    return _sure_impact(_scored(responses), gap, scores)


def _surely_above(scored: np.ndarray, scores: ScoreTotals) -> bool:
    """Whether these scores are above the other answers' by more than :data:`RANK_Z` standard errors.

    The mirror of :func:`_sure_impact`, with the same floor on the spread.
    """
    gap, _ = _gap_and_impact(scored, scores)
    if gap is None or len(scored) < 2:
        return False
    spread = max(float(np.std(scored, ddof=1)), scores.spread)
    return gap - RANK_Z * spread / math.sqrt(len(scored)) > 0


def _scored(responses: dict[int, int | None]) -> np.ndarray:
    return np.asarray([s for s in responses.values() if s is not None], dtype=np.float64)


def _gap_and_impact(scored: np.ndarray, scores: ScoreTotals):
    if not len(scored) or len(scored) >= scores.n:
        return None, 0.0
    total = float(scored.sum())
    gap = total / len(scored) - (scores.total - total) / (scores.n - len(scored))
    return gap, (len(scored) / scores.n) * (-gap) / scores.span * 100


def _sure_impact(scored: np.ndarray, gap: float | None, scores: ScoreTotals) -> float:
    if gap is None or len(scored) < 2:
        return 0.0
    # Two members who both scored 0 have no spread of their own: their standard error would be 0
    # and they would outrank a sure complaint of hundreds, so the spread is never below all answers'.
    spread = max(float(np.std(scored, ddof=1)), scores.spread)
    sure_gap = max(0.0, -gap - RANK_Z * spread / math.sqrt(len(scored)))
    return (len(scored) / scores.n) * sure_gap / scores.span * 100


def _top_terms(group, weighted, vocabulary, z, limit: int = 6) -> list[str]:
    weights = np.asarray(weighted[group].sum(axis=0)).ravel()
    top = np.lexsort((vocabulary, -weights))[:limit]
    return [str(vocabulary[i]) for i in top if weights[i] > 0]
