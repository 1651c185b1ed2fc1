"""Survey metrics for Rapport: NPS, CSAT and CES, with standard errors,
confidence intervals and tests for change between two periods.

Why a module of its own, in plain Python: these numbers are what customers
read off the dashboard and act on, so the arithmetic lives in one small place
that is easy to check by hand (``tests/test_metrics.py`` does exactly that).
Only the standard library (and the kinds of ``survey.kinds``) is used;
``statistics.NormalDist`` provides the normal quantiles and CDF.

Longer than our usual ~400 lines on purpose: about half of it is the
derivation of each estimator, its interval and its test in the docstrings,
kept beside the arithmetic it justifies so it can be checked in one reading.

Conventions shared by every function here:

* Scores are an iterable of ``int`` on the metric's scale (see ``SCALES``).
  Anything else -- floats (even ``7.0``), strings, ``None``, ``bool`` -- raises
  ``ScoreError`` naming the value, its 0-based position and the allowed range.
  Nothing is coerced: a float in the data means something upstream is wrong.
* Empty input is not an error: the dashboard must be able to say "no answers
  yet", so the result has ``n == 0`` and ``score``/``se``/``ci_*`` set to None.
* Anything that cannot be estimated is ``None``, never ``nan``: results go
  straight to JSON, and ``NaN`` is not valid JSON.
* Scores, standard errors and interval bounds are on the reporting scale
  (NPS points -100..100, CSAT percent 0..100, CES scale units 1..7), and
  intervals are clipped to that scale because values outside it are impossible.
* Every default interval is valid at every sample size, including n = 1 and
  unanimous answers (no zero-width interval): Wilson for shares (CSAT, the CES
  agree share), a MOVER-Wilson interval for NPS, and a Student-t interval with
  one prior degree of freedom for the CES mean. Each result's ``method`` names
  the one used (``METHODS`` lists them). The normal (Wald) intervals remain
  available by name for comparison; the change test uses the normal
  approximation with ``z = Φ⁻¹(1/2 + confidence/2)``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from numbers import Real
from statistics import NormalDist, fmean, stdev
from typing import Any, ClassVar, Literal

from scipy.special import stdtrit

from survey.kinds import KINDS

__all__ = [
    "SCALES",
    "METHODS",
    "DEFAULT_METHODS",
    "Band",
    "Kind",
    "MetricError",
    "ScoreError",
    "MetricResult",
    "NPSResult",
    "CSATResult",
    "CESResult",
    "ChangeResult",
    "nps",
    "csat",
    "ces",
    "metric_for",
    "band",
    "change",
    "nps_change",
]

Kind = Literal["nps", "csat", "ces"]
Band = Literal["negative", "neutral", "positive"]

#: Inclusive (low, high) answer range of each survey kind (from ``survey.kinds``).
SCALES: dict[str, tuple[int, int]] = {code: (k.low, k.high) for code, k in KINDS.items()}

# Widest possible difference between two scores, used to clip change intervals:
# the span of the reporting scale (NPS -100..100 points, CSAT 0..100 percent, CES 1..7).
_SPANS = {code: k.metric_range[1] - k.metric_range[0] for code, k in KINDS.items()}

#: What each interval ``method`` name means, as shown beside an interval.
METHODS: dict[str, str] = {
    "wilson": "Wilson score interval",
    "mover-wilson": "MOVER interval from Wilson intervals of promoters and detractors",
    "t-prior": "Student t interval with one prior degree of freedom",
    "adjusted": "adjusted Wald interval (n + 3)",
    "wald": "Wald (normal) interval",
    "normal": "normal interval",
}

#: The interval each kind uses unless asked otherwise: valid at every sample size.
DEFAULT_METHODS: dict[str, str] = {"nps": "mover-wilson", "csat": "wilson", "ces": "t-prior"}


class MetricError(ValueError):
    """Bad arguments to a metric function (kind, method, confidence or scores)."""


class ScoreError(MetricError):
    """A single answer is not a valid score for the survey kind.

    Carries ``value``, ``position`` (0-based, or None for a lone score) and
    ``kind`` so callers can point at the offending answer, not just log text.
    """

    def __init__(self, message: str, *, value: object, position: int | None, kind: str):
        super().__init__(message)
        self.value = value
        self.position = position
        self.kind = kind


# --------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricResult:
    """Fields every metric shares; ``kind`` is fixed per subclass.

    ``score``/``se``/``ci_low``/``ci_high`` are None when they cannot be
    estimated (no answers; with CES's "normal" method also a single answer).
    ``method`` names the interval (a key of ``METHODS``).
    """

    kind: ClassVar[str] = ""

    score: float | None
    n: int
    se: float | None
    ci_low: float | None
    ci_high: float | None
    confidence: float
    method: str

    def as_dict(self) -> dict[str, Any]:
        """Plain, JSON-serialisable dict: kind, score, n, se, ci_low, ci_high, then the rest."""
        return {"kind": self.kind, **asdict(self)}


@dataclass(frozen=True)
class NPSResult(MetricResult):
    """Net Promoter Score on the -100..100 scale, with category counts."""

    kind: ClassVar[str] = "nps"

    promoters: int
    passives: int
    detractors: int


@dataclass(frozen=True)
class CSATResult(MetricResult):
    """CSAT: percent of answers that are 4 or 5 (``satisfied`` counts them)."""

    kind: ClassVar[str] = "csat"

    satisfied: int


@dataclass(frozen=True)
class CESResult(MetricResult):
    """CES: mean effort score (1..7) plus the percent who agree (5..7).

    ``sd`` is the sample standard deviation (n-1 denominator), None for fewer
    than two answers. ``se`` and the interval are the method's (see ``ces``).
    The agree share is a proportion, so like CSAT it has a Wald se (0 when
    unanimous) and a Wilson interval.
    """

    kind: ClassVar[str] = "ces"

    sd: float | None
    agree: int
    agree_share: float | None
    agree_se: float | None
    agree_ci_low: float | None
    agree_ci_high: float | None


@dataclass(frozen=True)
class ChangeResult:
    """Difference ``after - before`` of one metric, with a two-sided z test.

    ``difference``/``se``/``ci_*`` are in the metric's reporting units (NPS
    points, CSAT percentage points, CES scale units). ``z`` and ``p_value``
    are None when the se is 0 or unknown: the normal test has nothing to say
    then, and ``significant`` is False.
    """

    kind: str
    difference: float | None
    se: float | None
    z: float | None
    p_value: float | None
    ci_low: float | None
    ci_high: float | None
    significant: bool
    confidence: float
    method: str
    before_score: float | None
    after_score: float | None
    before_n: int
    after_n: int

    def as_dict(self) -> dict[str, Any]:
        """Plain, JSON-serialisable dict of all fields."""
        return asdict(self)


# --------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------


def _check_kind(kind: object) -> str:
    if not isinstance(kind, str) or kind not in SCALES:
        raise MetricError(f"unknown metric kind {kind!r}; expected one of {', '.join(map(repr, KINDS))}")
    return kind


def _check_method(method: object, allowed: tuple[str, ...], label: str) -> str:
    if method not in allowed:
        choices = ", ".join(repr(m) for m in allowed)
        raise MetricError(f"unknown {label} method {method!r}; expected one of {choices}")
    return method  # type: ignore[return-value]


def _z_for(confidence: object) -> float:
    """Two-sided normal quantile for ``confidence``, rejecting anything outside (0, 1)."""
    if isinstance(confidence, bool) or not isinstance(confidence, Real) or not 0 < confidence < 1:
        raise MetricError(f"confidence must be a number strictly between 0 and 1, got {confidence!r}")
    return NormalDist().inv_cdf(0.5 + float(confidence) / 2)


def _check_score(kind: str, value: object, position: int | None) -> int:
    lo, hi = SCALES[kind]
    label = KINDS[kind].abbreviation
    where = f" at position {position}" if position is not None else ""
    # bool is an int subclass, but True/False in survey data is a bug upstream.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ScoreError(
            f"score {value!r}{where} is not an integer ({type(value).__name__}); "
            f"{label} scores must be whole numbers {lo}–{hi}",
            value=value,
            position=position,
            kind=kind,
        )
    if not lo <= value <= hi:
        raise ScoreError(
            f"score {value!r}{where} is outside {lo}–{hi} for {label}",
            value=value,
            position=position,
            kind=kind,
        )
    return int(value)


def _validate(kind: str, scores: Iterable[int]) -> tuple[int, ...]:
    """Materialise ``scores`` (it may be a one-shot iterator) and check every item."""
    # A string is iterable, and "" would silently read as "no answers".
    if isinstance(scores, (str, bytes)):
        raise TypeError(f"scores must be an iterable of ints, not {type(scores).__name__}")
    try:
        iterator = iter(scores)
    except TypeError:
        raise TypeError(f"scores must be an iterable of ints, not {type(scores).__name__}") from None
    return tuple(_check_score(kind, value, i) for i, value in enumerate(iterator))


def _clip(x: float, lo: float, hi: float) -> float:
    return min(max(x, lo), hi)


def _interval(centre: float, se: float, z: float, lo: float, hi: float) -> tuple[float, float]:
    """Symmetric normal interval, clipped to the values the quantity can take."""
    return _clip(centre - z * se, lo, hi), _clip(centre + z * se, lo, hi)


def _band_of(kind: str, value: int) -> Band:
    # The same cut points define NPS detractors/passives/promoters, CSAT
    # "satisfied" and CES "agree", so bands and metrics cannot drift apart.
    return KINDS[kind].band(value)  # type: ignore[return-value]


# --------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------


def nps(scores: Iterable[int], confidence: float = 0.95, method: str = "mover-wilson") -> NPSResult:
    """Net Promoter Score of 0..10 answers, with a confidence interval.

    Promoters answer 9-10, passives 7-8, detractors 0-6;
    ``score = 100 * (p_P - p_D)`` with observed proportions, for every method.

    The counts are one multinomial draw, so p_P and p_D are negatively
    correlated and the variance of their difference is::

        Var = (p_P + p_D - (p_P - p_D)**2) / n
        se  = 100 * sqrt(Var)

    ``se`` is this (Wald) standard error, except with "adjusted" (its own).

    ``method="mover-wilson"`` (default; Zou & Donner's "method of variance
    estimates recovery" for a difference of two correlated proportions):
    take the Wilson interval (l_P, u_P) of p_P and (l_D, u_D) of p_D, and the
    multinomial correlation ``r = -sqrt(p_P p_D / ((1 - p_P)(1 - p_D)))``::

        low  = d - sqrt((p_P - l_P)**2 + (u_D - p_D)**2 - 2 r (p_P - l_P)(u_D - p_D))
        high = d + sqrt((u_P - p_P)**2 + (p_D - l_D)**2 - 2 r (u_P - p_P)(p_D - l_D))

    with d = p_P - p_D. Wilson intervals never collapse and always hold their
    own estimate, so this interval has width at every n and always contains
    the observed score. When everyone is a promoter or everyone a detractor r
    is 0/0; its limit with no passives, -1, is used.

    ``method="wald"``: ``score ± z * se``, which is zero-width when everyone
    gives the same band. ``method="adjusted"`` (adjusted Wald, Rocks 2016):
    add 3/4 promoter, 3/4 detractor and 3/2 passive, then Wald on n + 3; it is
    centred on the adjusted estimate, so with very few answers the observed
    score can lie outside it.

    Bounds are clipped to -100..100. Empty input gives ``n == 0`` and None
    for score, se and the interval.
    """
    values = _validate("nps", scores)
    z = _z_for(confidence)
    method = _check_method(method, ("mover-wilson", "wald", "adjusted"), "NPS")
    n = len(values)
    bands = [_band_of("nps", v) for v in values]
    promoters = bands.count("positive")
    passives = bands.count("neutral")
    detractors = bands.count("negative")
    if n == 0:
        return NPSResult(None, 0, None, None, None, float(confidence), method, 0, 0, 0)

    score = 100 * (promoters - detractors) / n
    p_pro, p_det = promoters / n, detractors / n
    # max() guards against a rounding-level negative when p_P or p_D is 1.
    se = 100 * math.sqrt(max(0.0, (p_pro + p_det - (p_pro - p_det) ** 2) / n))
    if method == "mover-wilson":
        ci_low, ci_high = _mover_wilson(promoters, detractors, n, z)
    else:
        size, adj_pro, adj_det, adj_se = float(n), p_pro, p_det, se
        if method == "adjusted":
            size = n + 3.0
            adj_pro, adj_det = (promoters + 0.75) / size, (detractors + 0.75) / size
            adj_se = 100 * math.sqrt(max(0.0, (adj_pro + adj_det - (adj_pro - adj_det) ** 2) / size))
        ci_low, ci_high = _interval(100 * (adj_pro - adj_det), adj_se, z, -100.0, 100.0)
        se = adj_se
    return NPSResult(
        score, n, se, ci_low, ci_high, float(confidence), method, promoters, passives, detractors
    )


def _mover_wilson(promoters: int, detractors: int, n: int, z: float) -> tuple[float, float]:
    """MOVER interval of 100 * (p_P - p_D) from the two Wilson intervals; see ``nps``."""
    p_pro, p_det = promoters / n, detractors / n
    l_pro, u_pro = _wilson(promoters, n, z)
    l_det, u_det = _wilson(detractors, n, z)
    if p_pro == 1 or p_det == 1:
        r = -1.0
    else:
        r = -math.sqrt(p_pro * p_det / ((1 - p_pro) * (1 - p_det)))
    d = p_pro - p_det
    below_pro, above_det = p_pro - l_pro, u_det - p_det
    above_pro, below_det = u_pro - p_pro, p_det - l_det
    low = d - math.sqrt(max(0.0, below_pro**2 + above_det**2 - 2 * r * below_pro * above_det))
    high = d + math.sqrt(max(0.0, above_pro**2 + below_det**2 - 2 * r * above_pro * below_det))
    return _clip(100 * low, -100.0, 100 * d), _clip(100 * high, 100 * d, 100.0)


def _wilson(successes: int, n: int, z: float) -> tuple[float, float]:
    """Wilson score interval for a proportion, as fractions in [0, 1].

    centre = (p + z²/2n) / (1 + z²/n)
    half   = z * sqrt(p(1-p)/n + z²/4n²) / (1 + z²/n)

    The bound is exactly 0 when there are no successes and exactly 1 when all
    are; those cases are set directly so rounding cannot push the observed
    proportion a hair outside its own interval.
    """
    p = successes / n
    z2 = z * z
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    low = 0.0 if successes == 0 else _clip(centre - half, 0.0, p)
    high = 1.0 if successes == n else _clip(centre + half, p, 1.0)
    return low, high


def _share(successes: int, n: int, z: float, method: str) -> tuple[float, float, float, float]:
    """Percent share, its Wald se and its interval (``method`` "wilson" or "wald"), all 0..100."""
    p = successes / n
    share = 100 * p
    se = 100 * math.sqrt(p * (1 - p) / n)
    if method == "wald":
        low, high = _interval(share, se, z, 0.0, 100.0)
    else:
        low, high = (100 * bound for bound in _wilson(successes, n, z))
    return share, se, low, high


def csat(scores: Iterable[int], confidence: float = 0.95, method: str = "wilson") -> CSATResult:
    """CSAT of 1..5 answers: percent of 4s and 5s, with a confidence interval.

    ``score = 100 * p`` where p is the share of 4-5; ``se = 100 * sqrt(p(1-p)/n)``
    (the Wald se, whatever the method, so it stays comparable across methods).

    ``method="wilson"`` (default): the Wilson score interval (see ``_wilson``),
    valid for small n and for p at 0 or 1, where Wald collapses to a point.
    ``method="wald"``: ``CI = score ± z * se``, clipped to 0..100.

    Empty input gives ``n == 0`` and None for score, se and the interval.
    """
    values = _validate("csat", scores)
    z = _z_for(confidence)
    method = _check_method(method, ("wilson", "wald"), "CSAT")
    n = len(values)
    satisfied = sum(1 for v in values if _band_of("csat", v) == "positive")
    if n == 0:
        return CSATResult(None, 0, None, None, None, float(confidence), method, 0)
    score, se, ci_low, ci_high = _share(satisfied, n, z, method)
    return CSATResult(score, n, se, ci_low, ci_high, float(confidence), method, satisfied)


def ces(scores: Iterable[int], confidence: float = 0.95, method: str = "t-prior") -> CESResult:
    """CES of 1..7 answers: mean effort score, plus the percent who agree (5-7).

    ``score`` is the mean; ``sd`` the sample standard deviation (n-1, None
    below two answers).

    ``method="t-prior"`` (default): a Student t interval whose variance
    estimate carries one prior degree of freedom at the variance of an answer
    spread evenly over the scale (4 on 1..7), so one answer, or several
    identical ones, still give an honest width instead of none::

        s*² = (Σ(x - mean)² + 4) / n        se = s* / sqrt(n)
        CI  = mean ± t(n df) * se           (clipped to 1..7)

    With many answers this is the ordinary t interval (the prior is one
    answer's worth of spread among n). ``method="normal"``: ``mean ± z *
    sd/sqrt(n)`` for n >= 2, None below; zero-width for identical answers.

    ``agree_share`` is ``100 * share of 5-7`` with its Wald se and a Wilson
    interval (with ``method="normal"``: a Wald one).
    """
    values = _validate("ces", scores)
    z = _z_for(confidence)
    method = _check_method(method, ("t-prior", "normal"), "CES")
    n = len(values)
    agree = sum(1 for v in values if _band_of("ces", v) == "positive")
    if n == 0:
        return CESResult(
            None, 0, None, None, None, float(confidence), method, None, 0, None, None, None, None
        )

    lo, hi = SCALES["ces"]
    mean = fmean(values)
    sd = stdev(values) if n >= 2 else None
    se = ci_low = ci_high = None
    if method == "t-prior":
        # Variance of an answer spread evenly over the scale: ((hi - lo + 1)² - 1) / 12.
        prior_variance = ((hi - lo + 1) ** 2 - 1) / 12
        squares = sum((v - mean) ** 2 for v in values)
        se = math.sqrt((squares + prior_variance) / n / n)
        t = float(stdtrit(n, 0.5 + float(confidence) / 2))
        ci_low, ci_high = _interval(mean, se, t, float(lo), float(hi))
    elif sd is not None:
        se = sd / math.sqrt(n)
        ci_low, ci_high = _interval(mean, se, z, float(lo), float(hi))

    share_method = "wald" if method == "normal" else "wilson"
    agree_share, agree_se, agree_ci_low, agree_ci_high = _share(agree, n, z, share_method)
    return CESResult(
        mean, n, se, ci_low, ci_high, float(confidence), method,
        sd, agree, agree_share, agree_se, agree_ci_low, agree_ci_high,
    )  # fmt: skip


def metric_for(
    kind: str, scores: Iterable[int], confidence: float = 0.95, *, method: str | None = None
) -> MetricResult:
    """Compute the metric named by ``kind`` ("nps", "csat" or "ces").

    ``method`` None uses ``DEFAULT_METHODS[kind]``; otherwise "mover-wilson",
    "wald" or "adjusted" for NPS, "wilson" or "wald" for CSAT, "t-prior" or
    "normal" for CES.
    """
    kind = _check_kind(kind)
    method = method or DEFAULT_METHODS[kind]
    if kind == "nps":
        return nps(scores, confidence, method)
    if kind == "csat":
        return csat(scores, confidence, method)
    return ces(scores, confidence, method)


def band(kind: str, score: int) -> Band:
    """Which band one answer falls in: "negative", "neutral" or "positive".

    NPS: detractor 0-6 / passive 7-8 / promoter 9-10; CSAT: 1-2 / 3 / 4-5;
    CES: 1-3 / 4 / 5-7. Used to pick the follow-up prompt and chart colour,
    so it validates the answer just like the metric functions do.
    """
    kind = _check_kind(kind)
    return _band_of(kind, _check_score(kind, score, None))


# --------------------------------------------------------------------------
# Change between two samples
# --------------------------------------------------------------------------


def change(
    kind: str, before: Iterable[int], after: Iterable[int], confidence: float = 0.95
) -> ChangeResult:
    """Change in a metric from the ``before`` answers to the ``after`` answers.

    The two samples are independent, so the variance of the difference is the
    sum of the two variances: ``se = sqrt(se_before² + se_after²)``, using

    * NPS: the Wald (multinomial) se of each NPS, in points;
    * CSAT: the Wald se of each proportion -- the unpooled two-proportion
      statistic, so the test and the interval agree;
    * CES: ``sd / sqrt(n)`` of each mean -- Welch's se, no equal-variance
      assumption (with a normal rather than t reference distribution).

    Then ``z = difference / se``, ``p_value = 2 * Φ(-|z|)``,
    ``CI = difference ± z_c * se`` (clipped to the widest possible change,
    e.g. -200..200 for NPS) and ``significant = p_value < 1 - confidence``.

    If either side has no answers (or, for CES, fewer than two) the se is
    unknown and everything but the counts is None. If the se is exactly 0
    (both samples unanimous) the CI is the single point ``difference`` and
    z/p_value are None: the normal test is undefined, so nothing is called
    significant.
    """
    kind = _check_kind(kind)
    z_crit = _z_for(confidence)
    # The test needs each side's plain standard error: for CES the sample sd / sqrt(n)
    # (the "normal" method), for NPS and CSAT the Wald se every method reports.
    se_method = "normal" if kind == "ces" else None
    first = metric_for(kind, before, confidence, method=se_method)
    second = metric_for(kind, after, confidence, method=se_method)
    method = "welch" if kind == "ces" else "wald"

    difference = se = z = p_value = ci_low = ci_high = None
    if first.score is not None and second.score is not None:
        difference = second.score - first.score
    if difference is not None and first.se is not None and second.se is not None:
        se = math.hypot(first.se, second.se)
        span = _SPANS[kind]
        ci_low, ci_high = _interval(difference, se, z_crit, -span, span)
        if se > 0:
            z = difference / se
            p_value = 2 * NormalDist().cdf(-abs(z))

    return ChangeResult(
        kind=kind,
        difference=difference,
        se=se,
        z=z,
        p_value=p_value,
        ci_low=ci_low,
        ci_high=ci_high,
        significant=p_value is not None and p_value < 1 - confidence,
        confidence=float(confidence),
        method=method,
        before_score=first.score,
        after_score=second.score,
        before_n=first.n,
        after_n=second.n,
    )


def nps_change(before: Iterable[int], after: Iterable[int], confidence: float = 0.95) -> ChangeResult:
    """NPS change ``after - before`` in points; see ``change`` for the method."""
    return change("nps", before, after, confidence)


# --------------------------------------------------------------------------
# Shares of comments (a pain point's trend)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ShareResult:
    """``count`` of ``n`` as a proportion with its Wilson interval (fractions in [0, 1]); None when n is 0."""

    count: int
    n: int
    share: float | None
    ci_low: float | None
    ci_high: float | None
    confidence: float
    method: str = "wilson"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def share(count: int, n: int, confidence: float = 0.95) -> ShareResult:
    """The share ``count / n`` with the same Wilson interval as CSAT's ``method="wilson"``."""
    z = _z_for(confidence)
    if n < 0 or count < 0 or count > n:
        raise MetricError(f"a share needs 0 <= count <= n, got {count} of {n}")
    if n == 0:
        return ShareResult(count, n, None, None, None, float(confidence))
    low, high = _wilson(count, n, z)
    return ShareResult(count, n, count / n, low, high, float(confidence))


def share_change(before: tuple[int, int], after: tuple[int, int], confidence: float = 0.95) -> ChangeResult:
    """Change of a share from ``before = (count, n)`` to ``after``, as fractions.

    The unpooled two-proportion z test, as :func:`change` does for CSAT: the
    Wald se of each share, ``se = sqrt(se_before² + se_after²)``.
    """
    z_crit = _z_for(confidence)
    first, second = share(*before, confidence), share(*after, confidence)
    difference = se = z = p_value = ci_low = ci_high = None
    if first.share is not None and second.share is not None:
        difference = second.share - first.share
        se = math.hypot(math.sqrt(first.share * (1 - first.share) / first.n),
                        math.sqrt(second.share * (1 - second.share) / second.n))
        ci_low, ci_high = _interval(difference, se, z_crit, -1.0, 1.0)
        if se > 0:
            z = difference / se
            p_value = 2 * NormalDist().cdf(-abs(z))
    return ChangeResult(
        kind="share", difference=difference, se=se, z=z, p_value=p_value, ci_low=ci_low, ci_high=ci_high,
        significant=p_value is not None and p_value < 1 - confidence, confidence=float(confidence), method="wald",
        before_score=first.share, after_score=second.share, before_n=first.n, after_n=second.n,
    )
