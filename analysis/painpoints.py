"""Pain points: negative clauses grouped into named, ranked problems.

Input is every negative clause of the comments in scope (PII-masked text, the
clause's theme, its response's id and score) plus how the scores of *all*
answers in scope add up. Output is a list of :class:`PainPoint`, biggest
impact first. Pure and deterministic (fixed seeds, stable sorts); no Flask.

How:

1. **Features.** Each clause becomes Porter-stemmed content words and their
   bigrams (negations such as "no", "never", "nobody" are kept: "no one
   called" is the complaint), weighted by TF-IDF.
2. **Groups.** Within each theme (service, care, other) non-negative matrix
   factorisation (NMF) finds topics; each clause joins its strongest topic.
   Working per theme keeps "how a request was handled" apart from "how the
   person was treated", which is the question analysts ask. A few hundred
   clauses or fewer are clustered by average linkage across themes instead.
3. **Merge.** Groups whose centroids are near-duplicates (cosine at least
   :data:`MERGE_SIMILARITY`), or that end up with the same name, become one;
   the theme is the one most of its clauses carry.
4. **Drop** groups with fewer responses than ``min_count``.
5. **Names** are real phrases from the group's clauses ("on hold for hours",
   "no one called back"): the 2–5 word phrase most distinctive of the group
   against all negative clauses (class-based TF-IDF), not starting or ending
   on a filler word.
6. **Rank** by impact: how much the overall mean score would rise if the
   answers with this pain point scored like the others, in percent of the
   scale (share of scored answers × score gap ÷ scale span × 100). Surveys
   without scores fall back to size: impact is then the percentage of
   comments.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from analysis.labels import THEMES, theme_order

#: Centroid cosine similarity above which two groups are the same pain point.
MERGE_SIMILARITY = 0.5
#: Up to this many negative clauses are clustered by linkage (exact, and it
#: leaves one-off remarks alone); more by NMF topics, which scale.
LINKAGE_UP_TO = 300
#: Linkage joins clauses (and clusters) closer than this cosine distance.
LINKAGE_DISTANCE = 0.9
#: Most NMF topics looked for in one theme.
MAX_TOPICS_PER_THEME = 15
#: NMF learns its topics from at most this many clauses of a theme.
NMF_FIT_SAMPLE = 6000
#: Largest clustering vocabulary (most frequent terms kept).
MAX_FEATURES = 20_000
QUOTES = 3
#: Clauses sampled per group (and overall) to name it: bounds time on big surveys.
NAMING_SAMPLE = 3000

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
company s t
""".split())
# "turned up", "cut off", "sent out": a verb's particle may end a name.
_PARTICLES = frozenset({"up", "off", "out", "down", "over"})
# A name may not start with these (they make it read like a torn-off sentence) ...
_BAD_FIRST = STOP_WORDS - {"no", "not", "never", "nobody", "nothing", "on", "off", "too", "out", "down", "up",
                           "more", "over", "once", "only", "same", "very", "after", "before", "without", "as"}
# ... nor end with these.
_BAD_LAST = (STOP_WORDS - _PARTICLES) | {
    "no", "not", "never", "without", "nobody", "nothing", "because", "being", "took", "take", "make", "made",
    "said", "say", "went", "go", "come", "came", "want", "wanted", "need", "needed", "tried", "try", "seems",
    "seem", "like", "every", "another", "kept", "keep", "still", "got", "get", "getting",
}
# A name never runs across these (they join two thoughts) ...
_BREAKS = frozenset({"but", "so", "because", "although", "though", "however", "whereas", "except"})
# ... nor across "and" into a new subject ("month and it took").
_PRONOUNS = frozenset({"i", "it", "we", "they", "he", "she", "you", "this", "that", "there"})
_KEEP_IN_FEATURES = frozenset({"no", "not", "never", "nobody", "nothing", "none", "without"})

_WORD_RE = re.compile(r"[a-z]+(?:'[a-z]+)?|\d+(?:[.,:]\d+)*|\[(?:email|phone)\]")
_NO_ONE = re.compile(r"\bno[ -]?one\b")
_LEADING_CONJUNCTION = re.compile(r"^\s*(?:but|however|although|though|yet|whereas|except|and|so)\b[\s,]*", re.I)


@dataclass(frozen=True)
class NegativeClause:
    """One negative clause of a comment (``text`` already PII-masked)."""

    response_id: int
    text: str
    theme: str
    score: int | None


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
    impact: float               # see the module docstring, step 6
    response_ids: list[int]
    quotes: list[str]
    terms: list[str] = field(default_factory=list)  # the group's strongest stems, for explanations

    def as_dict(self) -> dict:
        return {
            "rank": self.rank, "label": self.label, "theme": self.theme, "count": self.count,
            "share": round(self.share, 4),
            "score_impact": None if self.score_impact is None else round(self.score_impact, 3),
            "impact": round(self.impact, 3), "response_ids": self.response_ids, "quotes": self.quotes,
            "terms": self.terms,
        }


def default_min_count(total_comments: int) -> int:
    """Smallest group worth reporting: 2 answers, or 0.2% of the comments on big surveys."""
    return max(2, math.ceil(total_comments * 0.002))


def find_pain_points(
    clauses: Sequence[NegativeClause],
    total_comments: int,
    scores: ScoreTotals | None = None,
    *,
    min_count: int | None = None,
    seed: int = 0,
) -> list[PainPoint]:
    """Group ``clauses`` into pain points, name them and rank them by impact."""
    if total_comments < 1 or not clauses:
        return []
    min_count = default_min_count(total_comments) if min_count is None else min_count
    tokens = [_tokens(c.text) for c in clauses]
    matrix, vocabulary, keep = _tfidf([_features(t) for t in tokens])
    if matrix is None:
        return []
    groups = _topic_groups(clauses, matrix, keep, seed)
    groups = _merge_similar(groups, matrix)
    groups = [g for g in groups if len({clauses[i].response_id for i in g}) >= min_count]
    if not groups:
        return []
    names = _names(groups, tokens, matrix, seed)
    # A group with no phrase or word in common is a coincidence of stems: not a pain point.
    groups, names = [g for g, n in zip(groups, names) if n], [n for n in names if n]
    groups, names = _merge_same_names(groups, names)
    points = [
        _pain_point(group, name, clauses, tokens, matrix, vocabulary, total_comments, scores)
        for group, name in zip(groups, names)
    ]
    points.sort(key=lambda p: (-p.impact, -p.count, p.label))
    for rank, point in enumerate(points, start=1):
        point.rank = rank
    return points


# --------------------------------------------------------------------------- #
# Features
# --------------------------------------------------------------------------- #
def _tokens(text: str) -> list[str]:
    text = _NO_ONE.sub("nobody", text.lower().replace("\u2019", "'"))
    return _WORD_RE.findall(text)


@lru_cache(maxsize=50_000)
def _stem(word: str) -> str:
    return _stemmer().stem(word)


@lru_cache(maxsize=1)
def _stemmer():
    from nltk.stem import PorterStemmer

    return PorterStemmer()


def _features(tokens: list[str]) -> list[str]:
    """Stemmed content words (negations kept, "didn't" -> "not") and their bigrams."""
    words = []
    for token in tokens:
        if token.endswith("n't") or token in _KEEP_IN_FEATURES:
            words.append("not" if token.endswith("n't") else token)
        elif token[0].isalpha() and token not in STOP_WORDS and len(token) > 1:
            words.append(_stem(token.split("'")[0]))
    return words + [f"{a} {b}" for a, b in zip(words, words[1:])]


def _tfidf(docs: list[list[str]]):
    """Row-normalised TF-IDF; ``keep`` lists the rows that have any feature."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    min_df = 2 if len(docs) >= 50 else 1
    vectorizer = TfidfVectorizer(analyzer=lambda doc: doc, min_df=min_df, max_df=0.5 if len(docs) >= 50 else 1.0,
                                 max_features=MAX_FEATURES, sublinear_tf=True, dtype=np.float32)
    try:
        matrix = vectorizer.fit_transform(docs).tocsr()
    except ValueError:  # no feature survives (every clause is filler words)
        return None, None, []
    keep = np.flatnonzero(matrix.getnnz(axis=1))
    return matrix, vectorizer.get_feature_names_out(), keep


# --------------------------------------------------------------------------- #
# Grouping
# --------------------------------------------------------------------------- #
def _topic_groups(clauses, matrix, keep, seed: int) -> list[list[int]]:
    """Clause groups: linkage clustering of all clauses when few, else NMF topics within each theme.

    Few clauses are clustered across themes: the clause-level theme of a short
    remark is the least certain label, and splitting a handful of clauses three
    ways would leave nothing to group.
    """
    if len(keep) <= LINKAGE_UP_TO:
        return _linkage_groups(np.asarray(keep), matrix) if len(keep) > 1 else []
    by_theme: dict[str, list[int]] = defaultdict(list)
    for i in keep:
        by_theme[clauses[i].theme].append(int(i))
    groups: list[list[int]] = []
    for theme in sorted(by_theme, key=theme_order):
        rows = np.array(by_theme[theme])
        if len(rows) > 1:
            groups.extend(_nmf_groups(rows, matrix, seed))
    return groups


def _linkage_groups(rows: np.ndarray, matrix) -> list[list[int]]:
    """Average-linkage clusters of clauses closer than :data:`LINKAGE_DISTANCE` (cosine)."""
    from sklearn.cluster import AgglomerativeClustering

    sub = matrix[rows]
    distances = np.clip(1.0 - (sub @ sub.T).toarray(), 0.0, 2.0)
    labels = AgglomerativeClustering(n_clusters=None, metric="precomputed", linkage="average",
                                     distance_threshold=LINKAGE_DISTANCE).fit_predict(distances)
    members: dict[int, list[int]] = defaultdict(list)
    for row, label in zip(rows, labels):
        members[int(label)].append(int(row))
    return [sorted(g) for g in sorted(members.values(), key=min) if len(g) > 1]


def _nmf_groups(rows: np.ndarray, matrix, seed: int) -> list[list[int]]:
    """Each clause joins its strongest NMF topic (more topics for more clauses, up to a cap)."""
    from sklearn.decomposition import NMF
    from threadpoolctl import threadpool_limits

    sub = matrix[rows]
    used = np.flatnonzero(sub.getnnz(axis=0))
    sub = sub[:, used].astype(np.float64)
    k = int(min(MAX_TOPICS_PER_THEME, max(2, round(math.sqrt(len(rows) / 4))), len(used)))
    model = NMF(n_components=k, init="nndsvda", random_state=seed, max_iter=400, tol=1e-4)
    # One BLAS thread: the same numbers on every machine, and no threads spinning on a busy host.
    with threadpool_limits(limits=1, user_api="blas"):
        if len(rows) <= NMF_FIT_SAMPLE:
            weights = model.fit_transform(sub)
        else:  # topics from a sample, then every clause placed on them: time stays flat on big surveys
            sample = np.sort(np.random.default_rng(seed).choice(len(rows), NMF_FIT_SAMPLE, replace=False))
            model.fit(sub[sample])
            weights = model.transform(sub)
    best = weights.argmax(axis=1)
    members: dict[int, list[int]] = defaultdict(list)
    for row, topic, strength in zip(rows, best, weights.max(axis=1)):
        if strength > 0:
            members[int(topic)].append(int(row))
    return [members[t] for t in sorted(members)]


def _centroids(groups, matrix) -> np.ndarray:
    out = np.vstack([np.asarray(matrix[g].mean(axis=0)).ravel() for g in groups])
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norms == 0, 1, norms)


def _merge_similar(groups: list[list[int]], matrix) -> list[list[int]]:
    """Union groups whose centroids are near-duplicates (most similar pairs first)."""
    if len(groups) < 2:
        return groups
    sims = _centroids(groups, matrix) @ _centroids(groups, matrix).T
    parent = list(range(len(groups)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    pairs = sorted(((sims[i, j], i, j) for i in range(len(groups)) for j in range(i + 1, len(groups))
                    if sims[i, j] >= MERGE_SIMILARITY), key=lambda p: (-p[0], p[1], p[2]))
    for _, i, j in pairs:
        a, b = find(i), find(j)
        if a != b:
            parent[max(a, b)] = min(a, b)
    merged: dict[int, list[int]] = defaultdict(list)
    for i, group in enumerate(groups):
        merged[find(i)].extend(group)
    return [sorted(merged[root]) for root in sorted(merged)]


def _merge_same_names(groups, names):
    by_name: dict[str, list[int]] = {}
    order: list[str] = []
    for group, name in zip(groups, names):
        if name not in by_name:
            by_name[name] = []
            order.append(name)
        by_name[name].extend(group)
    return [sorted(by_name[n]) for n in order], order


# --------------------------------------------------------------------------- #
# Names
# --------------------------------------------------------------------------- #
def _phrases(tokens: list[str]) -> set[tuple[str, ...]]:
    """Candidate names in one clause: 2–5 word runs that read as a phrase on their own."""
    found = set()
    n = len(tokens)
    for i in range(n):
        if tokens[i] in _BAD_FIRST or not tokens[i][0].isalpha():
            continue
        for j in range(i + 2, min(n, i + 5) + 1):
            last = tokens[j - 1]
            if not last[0].isalpha() or last in _BREAKS or (last in _PRONOUNS and tokens[j - 2] == "and"):
                break
            if last not in _BAD_LAST:
                found.add(tuple(tokens[i:j]))
    return found


def _sample(indices: Sequence[int], limit: int, seed: int) -> Sequence[int]:
    if len(indices) <= limit:
        return indices
    rng = np.random.default_rng(seed)
    return sorted(rng.choice(np.asarray(indices), size=limit, replace=False).tolist())


def _names(groups: list[list[int]], tokens: list[list[str]], matrix, seed: int) -> list[str]:
    """Each group's most distinctive phrase said at least twice (class-based TF-IDF across groups).

    A group with no such phrase is named after the word most of its clauses
    share, with its neighbours in the most typical clause ("visit was cancelled");
    a group without even that (or whose name another group took) gets None.
    """
    # The same text pasted twenty times is one voice, not twenty.
    samples = [list({" ".join(tokens[i]): i for i in _sample(group, NAMING_SAMPLE, seed)}.values())
               for group in groups]
    phrase_counts, word_counts = [], []
    phrase_rates: Counter = Counter()
    word_rates: Counter = Counter()
    for sample in samples:
        phrases, words = Counter(), Counter()
        for i in sample:
            phrases.update(_phrases(tokens[i]))
            words.update({w for w in tokens[i] if w[0].isalpha() and w not in STOP_WORDS and len(w) > 2})
        phrase_counts.append(phrases)
        word_counts.append(words)
        phrase_rates.update({p: c / len(sample) for p, c in phrases.items()})
        word_rates.update({w: c / len(sample) for w, c in words.items()})
    names: list[str] = []
    for group, sample, phrases, words in zip(groups, samples, phrase_counts, word_counts):
        size = len(sample)
        best = _best(phrases, phrase_rates, size, lambda p: (1 + 0.35 * (_content(p) - 1)) * (1 + 0.15 * (len(p) - 2)))
        name = " ".join(best) if best else ""
        if not name or name in names:
            anchor = _best(words, word_rates, size, lambda w: 1.0)
            name = _phrase_around(anchor, _by_centrality(group, matrix), tokens) if anchor else ""
        names.append(name if name and name not in names else None)
    return names


def _best(counts: Counter, rates: Counter, size: int, weight):
    """The item said at least twice with the best rate × distinctiveness × ``weight``; ties by order."""
    best, best_score = None, 0.0
    for item, count in sorted(counts.items()):
        if count < 2:
            continue
        rate = count / size
        # How much more this group says it than the other groups do.
        distinct = rate / (rates[item] - rate + 1 / size)
        score = rate * math.log1p(distinct) * weight(item)
        if score > best_score:
            best, best_score = item, score
    return best


def _content(phrase: tuple[str, ...]) -> int:
    return sum(1 for w in phrase if w not in STOP_WORDS)


def _phrase_around(anchor: str, order: list[int], tokens: list[list[str]]) -> str:
    """A 2–3 word phrase holding ``anchor`` from the first clause (in ``order``) that has one."""
    for i in order:
        words = tokens[i]
        if anchor not in words:
            continue
        at = words.index(anchor)
        for start, end in ((at - 1, at + 2), (at - 2, at + 1), (at, at + 3), (at - 1, at + 1), (at, at + 2)):
            if start >= 0 and end <= len(words):
                candidate = tuple(words[start:end])
                if candidate in _phrases(list(candidate)):
                    return " ".join(candidate)
    return anchor


def _by_centrality(group: list[int], matrix) -> list[int]:
    """The group's clauses, most typical (nearest the centroid) first."""
    centre = np.asarray(matrix[group].mean(axis=0)).ravel()
    closeness = matrix[group] @ centre
    return [group[k] for k in sorted(range(len(group)), key=lambda k: (-float(closeness[k]), group[k]))]


# --------------------------------------------------------------------------- #
# Measures and quotes
# --------------------------------------------------------------------------- #
def _pain_point(group, name, clauses, tokens, matrix, vocabulary, total_comments, scores) -> PainPoint:
    responses: dict[int, int | None] = {}
    themes: Counter = Counter()
    for i in group:
        responses[clauses[i].response_id] = clauses[i].score
        themes[clauses[i].theme] += 1
    theme = sorted(themes.items(), key=lambda kv: (-kv[1], THEMES.index(kv[0]) if kv[0] in THEMES else 9))[0][0]
    count = len(responses)
    share = count / total_comments
    score_impact, impact = _impact(responses, share, scores)
    return PainPoint(
        rank=0, label=name, theme=theme, count=count, share=share, score_impact=score_impact, impact=impact,
        response_ids=sorted(responses), quotes=_quotes(group, name, clauses, tokens, matrix),
        terms=_top_terms(group, matrix, vocabulary),
    )


def _impact(responses: dict[int, int | None], share: float, scores: ScoreTotals | None):
    if scores is None or scores.n == 0:
        return None, share * 100
    scored = [s for s in responses.values() if s is not None]
    if not scored or len(scored) >= scores.n:
        return None, 0.0
    mean_with = sum(scored) / len(scored)
    mean_others = (scores.total - sum(scored)) / (scores.n - len(scored))
    gap = mean_with - mean_others
    impact = (len(scored) / scores.n) * (-gap) / scores.span * 100
    return gap, impact


def _top_terms(group, matrix, vocabulary, limit: int = 6) -> list[str]:
    weights = np.asarray(matrix[group].sum(axis=0)).ravel()
    top = np.argsort(-weights, kind="stable")[:limit]
    return [str(vocabulary[i]) for i in top if weights[i] > 0]


def _quotes(group, name, clauses, tokens, matrix) -> list[str]:
    """Up to three clauses from different answers: nearest the group's centre, naming phrase first."""
    centre = np.asarray(matrix[group].mean(axis=0)).ravel()
    closeness = matrix[group] @ centre
    phrase = name.split()
    ranked = sorted(
        range(len(group)),
        key=lambda k: (
            not _contains(tokens[group[k]], phrase),
            not 4 <= len(tokens[group[k]]) <= 30,
            -float(closeness[k]),
            group[k],
        ),
    )
    quotes, seen_responses, seen_words = [], set(), []
    for k in ranked:
        clause = clauses[group[k]]
        text = _tidy_quote(clause.text)
        words = set(tokens[group[k]])
        # Three ways of saying it, not one remark three times.
        if not text or clause.response_id in seen_responses or any(_jaccard(words, w) > 0.75 for w in seen_words):
            continue
        quotes.append(text)
        seen_responses.add(clause.response_id)
        seen_words.append(words)
        if len(quotes) == QUOTES:
            break
    return quotes


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / (len(a | b) or 1)


def _contains(tokens: list[str], phrase: list[str]) -> bool:
    n = len(phrase)
    return any(tokens[i:i + n] == phrase for i in range(len(tokens) - n + 1))


def _tidy_quote(text: str, limit: int = 240) -> str:
    """The clause as written, minus a leading "but"/"although", capitalised, at most ``limit`` characters."""
    text = " ".join(_LEADING_CONJUNCTION.sub("", text).split())
    if len(text) > limit:
        text = text[: limit - 1].rsplit(" ", 1)[0] + "…"
    return text[:1].upper() + text[1:]
