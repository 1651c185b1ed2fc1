"""The default intervals of survey.metrics hold at every sample size.

Each expected number is worked from the formula in the comment, with
z = Φ⁻¹(0.975) = 1.959963984540054 (z² = 3.841458820694124) and Student t
quantiles t(1) = 12.706204736174694, t(2) = 4.302652729749462,
t(3) = 3.1824463052837078, t(10) = 2.228138851986274 (0.975 point);
the literals were computed apart from the module (scipy.stats, by hand).
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from survey.metrics import DEFAULT_METHODS, METHODS, SCALES, ces, csat, metric_for, nps

Z2 = 1.959963984540054**2


def approx(x: float) -> object:
    return pytest.approx(x, abs=1e-6)


def interval(result) -> tuple[float, float]:
    return result.ci_low, result.ci_high


# --------------------------------------------------------------------- CSAT: Wilson

# All satisfied: low = n / (n + z²), high = 100; none satisfied: low = 0, high = z² / (n + z²).
@pytest.mark.parametrize("n", [1, 2, 3, 10])
def test_csat_all_and_none_satisfied(n: int) -> None:
    everyone = csat([5] * n)
    assert everyone.method == "wilson"
    assert (everyone.score, everyone.ci_high) == (100.0, 100.0)
    assert everyone.ci_low == approx(100 * n / (n + Z2))
    nobody = csat([1] * n)
    assert (nobody.score, nobody.ci_low) == (0.0, 0.0)
    assert nobody.ci_high == approx(100 * Z2 / (n + Z2))


def test_csat_literals_at_small_n() -> None:
    # n = 1, a 5: 1/(1 + z²) = 20.6549…   (Wald said [100, 100])
    assert interval(csat([5])) == (approx(20.654931437723747), 100.0)
    # n = 2, one of two: centre 0.5, half = z·sqrt(0.125 + z²/16)/(1 + z²/2) = 0.405469
    assert interval(csat([5, 1])) == (approx(9.453120573423075), approx(90.54687942657694))
    # n = 3, two of three (Wald said [13.3, 100])
    assert interval(csat([5, 4, 1])) == (approx(20.76596008020477), approx(93.85080552796038))
    # n = 10, seven of ten
    assert interval(csat([5] * 4 + [4] * 3 + [3, 2, 1])) == (approx(39.677814746114535), approx(89.2208732593699))


# --------------------------------------------------------------------- NPS: MOVER-Wilson

def test_nps_single_answers() -> None:
    # One promoter: no passives, so r = -1 and the interval is 2·Wilson(1 of 1) - 1:
    # low = 100·(1 - 2·z²/(1 + z²)) = -58.690…   (Wald said [100, 100])
    one = nps([10])
    assert one.method == "mover-wilson"
    assert one.score == 100.0
    assert interval(one) == (approx(100 * (1 - 2 * Z2 / (1 + Z2))), 100.0)
    assert interval(nps([0])) == (-100.0, approx(-100 * (1 - 2 * Z2 / (1 + Z2))))
    # One passive: p_P = p_D = 0, r = 0: ±(upper Wilson bound of 0 of 1) = ±79.345…
    assert interval(nps([8])) == (approx(-79.34506856227625), approx(79.34506856227625))


def test_nps_two_and_three_answers() -> None:
    # n = 2, a promoter and a detractor: r = -1, ±(Wilson width of 1 of 2) = ±81.094
    assert interval(nps([10, 0])) == (approx(-81.09375885315386), approx(81.09375885315386))
    # n = 2, two promoters: 2·Wilson(2 of 2) - 1 = 2·0.342380 - 1
    assert interval(nps([9, 10])) == (approx(-31.523954498669404), 100.0)
    # n = 2, a promoter and a passive: r = 0,
    # low = 0.5 - sqrt((0.5 - 0.094531)² + 0.657620²), high = 0.5 + (0.905469 - 0.5)
    assert interval(nps([10, 7])) == (approx(-27.25727851131815), approx(90.54687942657694))
    # n = 3, 2 promoters and a detractor: r = -1, so 2·Wilson(2 of 3) - 1
    assert interval(nps([10, 10, 0])) == (approx(2 * 20.76596008020477 - 100), approx(2 * 93.85080552796038 - 100))
    # n = 3, one of each: r = -sqrt((1/9)/(4/9)) = -0.5
    assert interval(nps([10, 8, 0])) == (approx(-63.98143052827471), approx(63.98143052827471))


def test_nps_ten_answers() -> None:
    # P = 5, D = 3, n = 10: r = -sqrt(0.15/0.35) = -0.654654;
    # Wilson(5/10) = [0.236593, 0.763407], Wilson(3/10) = [0.107789, 0.603222]
    r = nps([10, 10, 9, 8, 7, 6, 0, 3, 10, 9])
    assert r.score == approx(20.0)
    assert interval(r) == (approx(-31.56568882233635), approx(61.5471370788139))
    # Everyone a promoter: 2·Wilson(10 of 10) - 1 = 2·0.722467 - 1 (Wald said [100, 100])
    assert interval(nps([10] * 10)) == (approx(44.49344002742216), 100.0)
    assert interval(nps([0] * 10)) == (-100.0, approx(-44.49344002742216))


# --------------------------------------------------------------------- CES: t with a prior

def test_ces_means_at_small_n() -> None:
    # se = sqrt((SS + 4) / n) / sqrt(n), CI = mean ± t(n) · se, clipped to 1..7
    # n = 1, a 7: se = 2, ± 25.4: the whole scale (there was no interval at all before)
    one = ces([7])
    assert (one.method, one.score, one.se) == ("t-prior", 7.0, approx(2.0))
    assert interval(one) == (1.0, 7.0)
    # n = 2, 4 and 5: SS = 0.5, se = sqrt(4.5/2)/sqrt(2) = 1.06066, ± 4.5637: still the whole scale
    assert interval(ces([4, 5])) == (1.0, 7.0)
    # n = 3, 6, 7, 7: SS = 2/3, se = sqrt(4.6667/3)/sqrt(3) = 0.720082, ± 2.291612
    assert interval(ces([6, 7, 7])) == (approx(4.3750434120944615), 7.0)
    # n = 10, all 4: SS = 0, se = sqrt(0.4)/sqrt(10) = 0.2, ± 0.445628 (plain t/normal: zero width)
    assert interval(ces([4] * 10)) == (approx(3.554372229602745), approx(4.445627770397254))
    # n = 10, mean 5, SS = 24: se = sqrt(2.8)/sqrt(10) = 0.529150, ± 1.179020
    assert interval(ces([3, 5, 5, 6, 7, 4, 5, 6, 2, 7])) == (approx(3.820979742224673), approx(6.179020257775327))


def test_ces_agree_share_is_wilson() -> None:
    r = ces([6, 7, 7])  # everyone agrees: low = 3/(3 + z²) = 43.850…
    assert (r.agree_share, r.agree_ci_high) == (100.0, 100.0)
    assert r.agree_ci_low == approx(43.85029682449546)


def test_every_default_method_is_named() -> None:
    assert set(DEFAULT_METHODS) == set(SCALES)
    for kind, method in DEFAULT_METHODS.items():
        assert method in METHODS
        assert metric_for(kind, [SCALES[kind][1]]).method == method


# --------------------------------------------------------------------- properties

BOUNDS = {"nps": (-100.0, 100.0), "csat": (0.0, 100.0), "ces": (1.0, 7.0)}


def answers(kind: str) -> st.SearchStrategy[list[int]]:
    lo, hi = SCALES[kind]
    return st.lists(st.integers(lo, hi), min_size=1, max_size=40)


@pytest.mark.parametrize("kind", sorted(SCALES))
@given(data=st.data())
def test_prop_interval_holds_estimate_within_scale_with_width(kind: str, data: st.DataObject) -> None:
    scores = data.draw(answers(kind))
    r = metric_for(kind, scores)
    lo, hi = BOUNDS[kind]
    assert lo <= r.ci_low <= r.score <= r.ci_high <= hi
    assert r.ci_high > r.ci_low  # never a zero-width interval, even for one answer
    if kind == "ces":
        assert 0 <= r.agree_ci_low <= r.agree_share <= r.agree_ci_high <= 100
        assert r.agree_ci_high > r.agree_ci_low


@pytest.mark.parametrize("kind", sorted(SCALES))
@given(data=st.data())
def test_prop_fewer_answers_give_a_wider_interval(kind: str, data: st.DataObject) -> None:
    # The same answers twice over: same estimate, more answers, so a narrower interval.
    scores = data.draw(answers(kind))
    times = data.draw(st.integers(2, 4))
    fewer, more = metric_for(kind, scores), metric_for(kind, scores * times)
    assert more.score == pytest.approx(fewer.score)
    lo, hi = BOUNDS[kind]
    assert fewer.ci_low <= more.ci_low + 1e-9 and more.ci_high <= fewer.ci_high + 1e-9
    if (fewer.ci_low, fewer.ci_high) != (lo, hi):  # unless both are the whole scale
        assert fewer.ci_high - fewer.ci_low > more.ci_high - more.ci_low
