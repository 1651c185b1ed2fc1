"""What a pain point is about: the team's generic complaint facets read per clause, summed per group.

Word statistics, answers shared and word-vector centroids cannot tell one
complaint told twice ("on hold", "on the phone") from two different ones told
by the same customers ("still waiting", "order was cancelled"): that a hold
queue is a way of failing to reach support is world knowledge, not a fact of
the run's words (benchmarks/README.md, stops 23-26). The complaint facets
(:mod:`analysis.complaint_facets`: a small set of generic facets a CX team in
any business recognises, written once by the team, never from the data)
carry it. A group's *profile* is the mean of its members' facet probabilities
over the complaint facets (the "not a complaint" column left out,
renormalised), and its *dominant facet* the largest share of that profile
when it is at least :data:`FACET_SHARE`. Each clause is read by the facet
model once, when a profile first needs it, and a big group's profile is read
from a fixed sample of its members: the cost does not grow with the comments.

Pure and deterministic; no Flask.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: A group's dominant facet counts only when it holds at least this share of the group's complaint profile:
#: a group whose members are about several things has none (and is neither vetoed nor merged by it).
FACET_SHARE = 0.4
#: A group's profile is read from at most this many of its clauses (evenly spaced over its members): a mean of
#: probabilities, so a sample this big is within about 1% of the whole group's, and the facet model runs on at
#: most groups x this many clauses however many comments come in.
PROFILE_SAMPLE = 2000


class ClauseFacets:
    """The facet probabilities of the negative clauses, read by the facet model when first asked, once each."""

    def __init__(self, texts: Sequence[str]):
        self._texts = texts
        self._rows: np.ndarray | None = None
        self._read = np.zeros(len(texts), dtype=bool)

    def rows(self, indices: np.ndarray) -> np.ndarray:
        """Clauses ``indices`` x (complaint facets + "not a complaint"), in :mod:`analysis.complaint_facets`' order."""
        from analysis.complaint_facets import facet_probabilities

        indices = np.asarray(indices, dtype=np.int64)
        missing = np.unique(indices[~self._read[indices]])
        if len(missing):
            read = np.asarray(facet_probabilities([self._texts[i] for i in missing]), dtype=np.float32)
            if self._rows is None:
                self._rows = np.zeros((len(self._texts), read.shape[1]), dtype=np.float32)
            self._rows[missing] = read
            self._read[missing] = True
        return self._rows[indices]

    def profiles(self, groups: Sequence[Sequence[int]]) -> np.ndarray:
        """Groups x complaint facets: the mean of (a sample of) the members' facet probabilities, the last
        ("not a complaint") column left out, each row renormalised to sum to 1."""
        out = []
        for group in groups:
            members = np.asarray(sorted(group), dtype=np.int64)
            if len(members) > PROFILE_SAMPLE:
                members = members[np.linspace(0, len(members) - 1, PROFILE_SAMPLE).round().astype(np.int64)]
            out.append(self.rows(members)[:, :-1].mean(axis=0, dtype=np.float64))
        profile = np.vstack(out)
        totals = profile.sum(axis=1, keepdims=True)
        return profile / np.where(totals == 0, 1, totals)


def dominant(profile: np.ndarray) -> np.ndarray:
    """Per group, its dominant facet's column, or -1 when no facet holds :data:`FACET_SHARE` of its profile."""
    top = profile.argmax(axis=1)
    return np.where(profile[np.arange(len(profile)), top] >= FACET_SHARE, top, -1)


# --------------------------------------------------------------------------- #
# Experiment switches (stop 27): which of the facet rules run. Measured, then the losers removed.
# --------------------------------------------------------------------------- #
VETO = 0          # groups with different dominant facets are never merged by any merge
SAME_MERGE = 0    # same dominant facet and close profiles: one complaint (after placement)
SAME_JS = 0.15    # ... close: Jensen-Shannon divergence (base 2) at most this
SAME_NEEDS_SHARED = 0  # ... and (if 1) they share at least one answer
CAP = 0           # top ten: at most this many places per dominant facet before other facets (0: off)
VERDICT_LAST = 0  # top ten: a group whose dominant facet is the general verdict only when no specific one is left
VERDICT = "general_verdict"


def js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    m = (p + q) / 2

    def kl(a):
        mask = a > 0
        return float(np.sum(a[mask] * np.log2(a[mask] / m[mask])))

    return (kl(p) + kl(q)) / 2


def differ(dom: np.ndarray, i: int, j: int) -> bool:
    return dom[i] >= 0 and dom[j] >= 0 and dom[i] != dom[j]


def vetoed(pairs, groups, facets):
    """``pairs`` without those whose groups have different dominant facets."""
    if facets is None or not VETO or not pairs:
        return pairs
    dom = dominant(facets.profiles(groups))
    return [(i, j) for i, j in pairs if not differ(dom, i, j)]


def same_facet_pairs(groups, facets, shared=None):
    if facets is None or not SAME_MERGE or len(groups) < 2:
        return []
    prof = facets.profiles(groups)
    dom = dominant(prof)
    out = []
    for i in range(len(groups)):
        for j in range(i + 1, len(groups)):
            if dom[i] >= 0 and dom[i] == dom[j] and js_divergence(prof[i], prof[j]) <= SAME_JS:
                if SAME_NEEDS_SHARED and shared is not None and shared[i, j] < 1:
                    continue
                out.append((i, j))
    return out


def facet_names() -> list[str]:
    from analysis.complaint_facets import FACETS

    return [f if isinstance(f, str) else f[0] for f in FACETS]


SEED = 0              # seed a group for a facet with many confident negative clauses but no group of its own
SEED_PROB = 0.5       # ... a clause is the facet's when its probability is at least this (and its largest)
SEED_MIN_SHARE = 0.03 # ... many: this share of the negative comments (and the smallest reportable group)
SEED_UNPLACED = 0     # ... (if 1) only from clauses in no group yet
SEED_ANCHOR_SHARE = 0.1  # the seeded group owns the anchors said by at least this share of its members (its name)


def seeded_groups(groups, facets, clauses, min_count, present):
    """New groups: per facet (not the verdict) with no group whose dominant facet it is, its confident clauses."""
    if facets is None or not SEED:
        return [], []
    n = len(clauses)
    rows = facets.rows(np.arange(n))[:, :-1]
    names = facet_names()
    dom = set(int(d) for d in dominant(facets.profiles(groups))) if groups else set()
    top = rows.argmax(axis=1)
    conf = rows[np.arange(n), top] >= SEED_PROB
    placed = np.zeros(n, dtype=bool)
    if SEED_UNPLACED:
        for g in groups:
            placed[list(g)] = True
    negative = len({c.response_id for c in clauses})
    new, owns = [], []
    for f, name in enumerate(names):
        if name == VERDICT or f in dom:
            continue
        members = np.nonzero(conf & (top == f) & ~placed)[0]
        answers = len({clauses[i].response_id for i in members})
        if answers < max(min_count, SEED_MIN_SHARE * negative):
            continue
        said = np.asarray(present[members].sum(axis=0)).ravel()
        own = {int(a) for a in np.nonzero(said >= SEED_ANCHOR_SHARE * len(members))[0]}
        if not own and said.max() > 0:
            own = {int(said.argmax())}
        new.append(sorted(int(i) for i in members))
        owns.append(own)
    return new, owns
