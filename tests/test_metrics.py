"""Tests for survey.metrics.

The worked examples spell out the arithmetic in comments so a reviewer can
check each expected number by hand (or with a calculator); the literals were
computed independently of the module. z for 95% is Φ⁻¹(0.975) = 1.959963984540054.
The hypothesis tests then check properties that must hold for any answers.
"""

from __future__ import annotations

import dataclasses
import json
import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from survey.metrics import (
    SCALES,
    ChangeResult,
    CESResult,
    CSATResult,
    MetricError,
    NPSResult,
    ScoreError,
    band,
    ces,
    change,
    csat,
    metric_for,
    nps,
    nps_change,
)

Z95 = 1.959963984540054
TOL = 1e-6
KINDS = ("nps", "csat", "ces")
LABELS = {"nps": "NPS", "csat": "CSAT", "ces": "CES"}


def approx(x: float) -> object:
    return pytest.approx(x, abs=TOL)


# ---------------------------------------------------------------------------
# NPS worked examples
# ---------------------------------------------------------------------------

NPS_SAMPLE = [10, 10, 9, 8, 7, 6, 0, 3, 10, 9]


def test_nps_wald_by_hand() -> None:
    # promoters (9-10): 10,10,9,10,9 -> 5    passives (7-8): 8,7 -> 2
    # detractors (0-6): 6,0,3 -> 3           n = 10
    # NPS = 100 * (0.5 - 0.3) = 20
    # Var = (p_P + p_D - (p_P - p_D)^2) / n = (0.5 + 0.3 - 0.04) / 10 = 0.076
    # se  = 100 * sqrt(0.076) = 27.568097504180443
    # CI  = 20 ± 1.959963984540054 * 27.568097504 = 20 ± 54.032478230
    #     = [-34.032478230482205, 74.03247823048221]
    r = nps(NPS_SAMPLE, method="wald")
    assert isinstance(r, NPSResult)
    assert (r.promoters, r.passives, r.detractors, r.n) == (5, 2, 3, 10)
    assert r.score == approx(20.0)
    assert r.se == approx(27.568097504180443)
    assert r.ci_low == approx(-34.032478230482205)
    assert r.ci_high == approx(74.03247823048221)
    assert r.kind == "nps"
    assert r.method == "wald"
    assert r.confidence == 0.95


def test_nps_adjusted_wald_by_hand() -> None:
    # Same answers: P = 5, D = 3, n = 10.
    # Adjusted: n' = 13, p_P' = 5.75/13, p_D' = 3.75/13
    # adjusted NPS (interval centre) = 100 * 2/13 = 15.384615384615385
    # p_P' + p_D' = 9.5/13 = 123.5/169, (p_P' - p_D')^2 = 4/169
    # Var' = (123.5 - 4)/169 / 13 = 119.5/2197 = 0.05439235...
    # se   = 100 * sqrt(119.5/2197) = 23.322168254457228
    # CI   = 15.384615385 ± 1.959963985 * 23.322168254 = 15.384615385 ± 45.710609820
    #      = [-30.32599443550415, 61.09522520473492]
    r = nps(NPS_SAMPLE, method="adjusted")
    assert r.score == approx(20.0)  # the reported score stays the observed NPS
    assert r.se == approx(23.322168254457228)
    assert r.ci_low == approx(-30.32599443550415)
    assert r.ci_high == approx(61.09522520473492)
    assert r.method == "adjusted"


def test_nps_adjusted_single_promoter_interval_need_not_contain_observed_score() -> None:
    # One promoter: p_P' = 1.75/4 = 0.4375, p_D' = 0.75/4 = 0.1875, centre = 25.
    # Var' = (0.625 - 0.0625)/4 = 0.140625, se = 37.5, CI = 25 ± 73.4986 = [-48.4986, 98.4986]
    # The observed score (100) lies above it -- documented behaviour of the method.
    r = nps([10], method="adjusted")
    assert r.score == 100
    assert r.se == approx(37.5)
    assert r.ci_low == approx(25 - Z95 * 37.5)
    assert r.ci_high == approx(25 + Z95 * 37.5)


def test_nps_clipping() -> None:
    # [10,10,10,10,0]: P = 4, D = 1, n = 5, NPS = 60
    # Var = (0.8 + 0.2 - 0.36)/5 = 0.128, se = 35.77708763999664
    # CI = 60 ± 70.12180324612652 = [-10.121803246126518, 130.12...] -> high clipped to 100
    r = nps([10, 10, 10, 10, 0], method="wald")
    assert r.score == approx(60.0)
    assert r.se == approx(35.77708763999664)
    assert r.ci_low == approx(-10.121803246126518)
    assert r.ci_high == 100.0


def test_nps_all_promoters_has_zero_se() -> None:
    # p_P = 1, p_D = 0: Var = (1 + 0 - 1)/n = 0, so the Wald CI is the point 100.
    r = nps([9, 10, 10, 9], method="wald")
    assert (r.score, r.se, r.ci_low, r.ci_high) == (100.0, 0.0, 100.0, 100.0)


def test_nps_all_detractors() -> None:
    r = nps([0, 6, 3], method="wald")
    assert (r.score, r.se, r.ci_low, r.ci_high) == (-100.0, 0.0, -100.0, -100.0)


def test_nps_higher_confidence_is_wider() -> None:
    r95 = nps(NPS_SAMPLE, confidence=0.95, method="wald")
    r99 = nps(NPS_SAMPLE, confidence=0.99, method="wald")
    assert r99.se == r95.se
    assert r99.ci_low < r95.ci_low and r99.ci_high > r95.ci_high
    # z for 99% is 2.5758293035489
    assert r99.ci_high == approx(20 + 2.5758293035489 * 27.568097504180443)


# ---------------------------------------------------------------------------
# CSAT worked examples
# ---------------------------------------------------------------------------

CSAT_SAMPLE = [5, 4, 4, 3, 2, 5, 1, 4]


def test_csat_wald_by_hand() -> None:
    # satisfied (4-5): 5,4,4,5,4 -> 5 of n = 8, p = 0.625, CSAT = 62.5
    # se = 100 * sqrt(0.625 * 0.375 / 8) = 100 * sqrt(0.029296875) = 17.116329922036442
    # CI = 62.5 ± 1.959963985 * 17.116329922 = 62.5 ± 33.547390195
    #    = [28.95260980530331, 96.04739019469669]
    r = csat(CSAT_SAMPLE, method="wald")
    assert isinstance(r, CSATResult)
    assert (r.n, r.satisfied, r.kind, r.method) == (8, 5, "csat", "wald")
    assert r.score == approx(62.5)
    assert r.se == approx(17.116329922036442)
    assert r.ci_low == approx(28.95260980530331)
    assert r.ci_high == approx(96.04739019469669)


def test_csat_wilson_by_hand() -> None:
    # p = 0.625, n = 8, z^2 = 3.8414588206941236
    # denom  = 1 + z^2/n = 1.4801823525867654
    # centre = (0.625 + z^2/16) / denom = 0.8650911763 / 1.4801823526 = 0.584449054389515
    # half   = z * sqrt(0.625*0.375/8 + z^2/256) / denom
    #        = 1.959963985 * sqrt(0.029296875 + 0.015005699) / 1.480182353 = 0.2787066597868876
    # CI     = 100 * (0.584449054 ± 0.278706660) = [30.574239460262742, 86.31557141764026]
    r = csat(CSAT_SAMPLE, method="wilson")
    assert r.method == "wilson"
    assert r.score == approx(62.5)
    assert r.se == approx(17.116329922036442)  # se is always the Wald se
    assert r.ci_low == approx(30.574239460262742)
    assert r.ci_high == approx(86.31557141764026)


def test_csat_wilson_unanimous_keeps_width() -> None:
    # All satisfied: Wald collapses to [100, 100]; Wilson's lower bound is
    # n/(n + z^2) = 4/7.8414588 = 51.0109... and the upper bound exactly 100.
    assert csat([5, 4, 5, 5], method="wald").ci_low == 100.0
    r = csat([5, 4, 5, 5], method="wilson")
    assert r.ci_low == approx(100 * 4 / (4 + Z95**2))
    assert r.ci_high == 100.0
    r0 = csat([1, 2, 3], method="wilson")
    assert (r0.score, r0.ci_low) == (0.0, 0.0)
    assert r0.ci_high == approx(100 * Z95**2 / (3 + Z95**2))


# ---------------------------------------------------------------------------
# CES worked examples
# ---------------------------------------------------------------------------


def test_ces_by_hand() -> None:
    # [3,5,5,6,7,4]: n = 6, mean = 30/6 = 5
    # deviations -2,0,0,1,2,-1 -> sum of squares 10, s^2 = 10/5 = 2, sd = sqrt(2)
    # se = sqrt(2)/sqrt(6) = sqrt(1/3) = 0.5773502691896257
    # CI = 5 ± 1.959963985 * 0.577350269 = 5 ± 1.131585734 = [3.8684142659238283, 6.131585734076172]
    # agree (5-7): 5,5,6,7 -> 4 of 6 = 66.666...%
    # agree se = 100 * sqrt((2/3)(1/3)/6) = 100 * sqrt(1/27) = 19.245008972987527
    # agree CI = 66.667 ± 37.719524 = [28.947142197460956, 104.386...] -> high clipped to 100
    r = ces([3, 5, 5, 6, 7, 4], method="normal")
    assert isinstance(r, CESResult)
    assert (r.n, r.kind, r.agree) == (6, "ces", 4)
    assert r.score == approx(5.0)
    assert r.sd == approx(math.sqrt(2))
    assert r.se == approx(0.5773502691896257)
    assert r.ci_low == approx(3.8684142659238283)
    assert r.ci_high == approx(6.131585734076172)
    assert r.agree_share == approx(200 / 3)
    assert r.agree_se == approx(19.245008972987527)
    assert r.agree_ci_low == approx(28.947142197460956)
    assert r.agree_ci_high == 100.0


def test_ces_ci_clipped_to_scale() -> None:
    # [1,1,1,2]: mean 1.25, SS = 3*0.0625 + 0.5625 = 0.75, s^2 = 0.25, sd = 0.5,
    # se = 0.25, CI = 1.25 ± 0.49 -> low 0.76 clipped to 1.
    r = ces([1, 1, 1, 2], method="normal")
    assert r.se == approx(0.25)
    assert r.ci_low == 1.0
    assert r.ci_high == approx(1.25 + Z95 * 0.25)


def test_ces_single_answer_has_mean_but_no_spread() -> None:
    r = ces([6], method="normal")
    assert (r.score, r.n, r.sd, r.se, r.ci_low, r.ci_high) == (6.0, 1, None, None, None, None)
    assert (r.agree, r.agree_share, r.agree_se) == (1, 100.0, 0.0)


# ---------------------------------------------------------------------------
# Empty input, result objects, dispatch, bands
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_empty_input_means_no_answers(kind: str) -> None:
    r = metric_for(kind, [])
    assert r.n == 0
    assert (r.score, r.se, r.ci_low, r.ci_high) == (None, None, None, None)
    json.dumps(r.as_dict())


def test_empty_kind_specific_fields() -> None:
    r = nps([])
    assert (r.promoters, r.passives, r.detractors) == (0, 0, 0)
    assert csat([]).satisfied == 0
    c = ces([])
    assert (c.sd, c.agree, c.agree_share, c.agree_se, c.agree_ci_low, c.agree_ci_high) == (
        None, 0, None, None, None, None,
    )  # fmt: skip


def test_as_dict_is_plain_json_with_common_keys_first() -> None:
    for r in (nps(NPS_SAMPLE), csat(CSAT_SAMPLE), ces([3, 5, 5, 6, 7, 4])):
        d = r.as_dict()
        assert list(d)[:6] == ["kind", "score", "n", "se", "ci_low", "ci_high"]
        assert d["kind"] == r.kind
        assert json.loads(json.dumps(d)) == d
    assert nps(NPS_SAMPLE).as_dict()["promoters"] == 5
    assert csat(CSAT_SAMPLE).as_dict()["satisfied"] == 5
    assert set(ces([1, 7]).as_dict()) >= {"agree_share", "agree_ci_low", "agree_ci_high", "sd"}


def test_results_are_frozen() -> None:
    r = nps(NPS_SAMPLE)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.score = 0  # type: ignore[misc]


def test_generators_are_accepted() -> None:
    assert nps(x for x in NPS_SAMPLE) == nps(NPS_SAMPLE)


def test_metric_for_dispatches() -> None:
    assert metric_for("nps", NPS_SAMPLE) == nps(NPS_SAMPLE)
    assert metric_for("csat", CSAT_SAMPLE, 0.9) == csat(CSAT_SAMPLE, 0.9)
    assert metric_for("ces", [1, 2, 3]) == ces([1, 2, 3])
    assert metric_for("nps", NPS_SAMPLE, method="adjusted") == nps(NPS_SAMPLE, method="adjusted")
    assert metric_for("csat", CSAT_SAMPLE, method="wilson") == csat(CSAT_SAMPLE, method="wilson")
    with pytest.raises(MetricError, match="unknown metric kind 'NPS'"):
        metric_for("NPS", [])
    with pytest.raises(MetricError, match="CES method 'wilson'"):
        metric_for("ces", [1], method="wilson")


def test_scales() -> None:
    assert SCALES == {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}


@pytest.mark.parametrize(
    ("kind", "negative", "neutral", "positive"),
    [
        ("nps", range(0, 7), range(7, 9), range(9, 11)),
        ("csat", range(1, 3), range(3, 4), range(4, 6)),
        ("ces", range(1, 4), range(4, 5), range(5, 8)),
    ],
)
def test_band(kind: str, negative: range, neutral: range, positive: range) -> None:
    assert [band(kind, s) for s in negative] == ["negative"] * len(negative)
    assert [band(kind, s) for s in neutral] == ["neutral"] * len(neutral)
    assert [band(kind, s) for s in positive] == ["positive"] * len(positive)


def test_band_validates() -> None:
    with pytest.raises(ScoreError, match="score 6 is outside 1–5 for CSAT"):
        band("csat", 6)
    with pytest.raises(ScoreError, match="score 9.0 is not an integer"):
        band("nps", 9.0)  # type: ignore[arg-type]
    with pytest.raises(MetricError):
        band("sus", 3)


# ---------------------------------------------------------------------------
# Change
# ---------------------------------------------------------------------------


def test_nps_change_by_hand() -> None:
    # before = NPS_SAMPLE: NPS 20, Var = 0.076
    # after  = [10,9,9,10,8,7,10,6,9,10]: P = 7, passives 2, D = 1, n = 10
    #   NPS = 100 * (0.7 - 0.1) = 60, Var = (0.8 - 0.36)/10 = 0.044
    # difference = 60 - 20 = 40
    # se = 100 * sqrt(0.076 + 0.044) = 100 * sqrt(0.12) = 34.64101615137755
    # z  = 40 / 34.641016151 = 2/sqrt(3) = 1.1547005383792515
    # p  = 2 * Φ(-1.1547005384) = 0.24821307898992362 -> not significant at 95%
    # CI = 40 ± 1.959963985 * 34.641016151 = 40 ± 67.895144045
    #    = [-27.895144044570287, 107.89514404457029]
    r = nps_change(NPS_SAMPLE, [10, 9, 9, 10, 8, 7, 10, 6, 9, 10])
    assert isinstance(r, ChangeResult)
    assert (r.kind, r.method, r.before_n, r.after_n) == ("nps", "wald", 10, 10)
    assert (r.before_score, r.after_score) == (approx(20.0), approx(60.0))
    assert r.difference == approx(40.0)
    assert r.se == approx(34.64101615137755)
    assert r.z == approx(1.1547005383792515)
    assert r.p_value == approx(0.24821307898992362)
    assert r.ci_low == approx(-27.895144044570287)
    assert r.ci_high == approx(107.89514404457029)
    assert r.significant is False
    # At 70% confidence alpha = 0.3 > p, so the same change counts as significant.
    assert nps_change(NPS_SAMPLE, [10, 9, 9, 10, 8, 7, 10, 6, 9, 10], 0.7).significant is True
    json.dumps(r.as_dict())


def test_csat_change_by_hand() -> None:
    # before [5,4,2,1]: p = 0.5, n = 4; after [5,5,4,4,3]: p = 0.8, n = 5
    # difference = 80 - 50 = 30 points
    # se = 100 * sqrt(0.25/4 + 0.16/5) = 100 * sqrt(0.0945) = 30.740852297878796
    # z  = 30 / 30.740852298 = 0.9759000729485332, p = 0.3291139859786081
    # CI = 30 ± 60.250963358 = [-30.250963357907786, 90.25096335790778]
    r = change("csat", [5, 4, 2, 1], [5, 5, 4, 4, 3])
    assert r.method == "wald"
    assert r.difference == approx(30.0)
    assert r.se == approx(30.740852297878796)
    assert r.z == approx(0.9759000729485332)
    assert r.p_value == approx(0.3291139859786081)
    assert r.ci_low == approx(-30.250963357907786)
    assert r.ci_high == approx(90.25096335790778)
    assert not r.significant


def test_ces_change_by_hand() -> None:
    # before [3,5,5,6,7,4]: mean 5, s^2 = 2, se^2 = 2/6 = 1/3
    # after  [6,7,7,6]: mean 6.5, SS = 4 * 0.25 = 1, s^2 = 1/3, se^2 = (1/3)/4 = 1/12
    # difference = 1.5, Welch se = sqrt(1/3 + 1/12) = sqrt(5/12) = 0.6454972243679028
    # z = 1.5 / 0.645497224 = 2.32379000772445, p = 0.020136751550346332 < 0.05 -> significant
    # CI = 1.5 ± 1.265151312 = [0.23484868811834025, 2.7651513118816595]
    r = change("ces", [3, 5, 5, 6, 7, 4], [6, 7, 7, 6])
    assert r.method == "welch"
    assert r.difference == approx(1.5)
    assert r.se == approx(0.6454972243679028)
    assert r.z == approx(2.32379000772445)
    assert r.p_value == approx(0.020136751550346332)
    assert r.ci_low == approx(0.23484868811834025)
    assert r.ci_high == approx(2.7651513118816595)
    assert r.significant is True


def test_change_with_empty_side_is_unknown() -> None:
    r = nps_change([], [10, 9])
    assert (r.difference, r.se, r.z, r.p_value, r.ci_low, r.ci_high) == (None,) * 6
    assert (r.before_n, r.after_n, r.significant) == (0, 2, False)
    r = change("ces", [4], [5, 6])  # one CES answer: no se on that side
    assert r.difference == approx(1.5)
    assert (r.se, r.z, r.p_value, r.ci_low) == (None, None, None, None)
    assert not r.significant


def test_change_with_zero_se_has_no_test() -> None:
    # All detractors -> all promoters: difference 200, both variances 0.
    r = nps_change([0, 1, 2], [10, 10])
    assert (r.difference, r.se, r.ci_low, r.ci_high) == (200.0, 0.0, 200.0, 200.0)
    assert (r.z, r.p_value, r.significant) == (None, None, False)


# ---------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "scores", "message"),
    [
        ("nps", [10, 9, 8, 11], "score 11 at position 3 is outside 0–10 for NPS"),
        ("nps", [-1], "score -1 at position 0 is outside 0–10 for NPS"),
        ("csat", [5, 0], "score 0 at position 1 is outside 1–5 for CSAT"),
        ("csat", [6], "score 6 at position 0 is outside 1–5 for CSAT"),
        ("ces", [1, 2, 8], "score 8 at position 2 is outside 1–7 for CES"),
        ("ces", [0], "score 0 at position 0 is outside 1–7 for CES"),
        ("ces", [1, 7.0], "score 7.0 at position 1 is not an integer (float); CES scores must be whole numbers 1–7"),
        ("nps", [float("nan")], "score nan at position 0 is not an integer (float)"),
        ("nps", [3, "9"], "score '9' at position 1 is not an integer (str); NPS scores must be whole numbers 0–10"),
        ("csat", [None], "score None at position 0 is not an integer (NoneType); CSAT scores"),
        ("nps", [1, 2, True], "score True at position 2 is not an integer (bool)"),
        ("csat", [False], "score False at position 0 is not an integer (bool)"),
        ("nps", [Decimal(5)], "score Decimal('5') at position 0 is not an integer (Decimal)"),
        ("ces", [Fraction(3)], "score Fraction(3, 1) at position 0 is not an integer (Fraction)"),
    ],
)
def test_bad_scores_raise_score_error(kind: str, scores: list[object], message: str) -> None:
    with pytest.raises(ScoreError) as excinfo:
        metric_for(kind, scores)  # type: ignore[arg-type]
    assert message in str(excinfo.value)
    assert isinstance(excinfo.value, ValueError)
    assert excinfo.value.kind == kind
    assert excinfo.value.position == len(scores) - 1


def test_change_validates_both_sides() -> None:
    with pytest.raises(ScoreError, match="score 11 at position 0 is outside 0–10 for NPS"):
        nps_change([9], [11])


@pytest.mark.parametrize("scores", ["", "9", b"9", None, 9])
def test_non_iterables_and_strings_are_type_errors(scores: object) -> None:
    with pytest.raises(TypeError, match="scores must be an iterable of ints"):
        nps(scores)  # type: ignore[arg-type]


@pytest.mark.parametrize("confidence", [0, 1, 0.0, 1.0, -0.5, 1.5, float("nan"), True, "0.95", None])
@pytest.mark.parametrize("kind", KINDS)
def test_bad_confidence(kind: str, confidence: object) -> None:
    with pytest.raises(ValueError, match="confidence must be a number strictly between 0 and 1"):
        metric_for(kind, [SCALES[kind][0]], confidence)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="confidence"):
        change(kind, [SCALES[kind][0]], [SCALES[kind][1]], confidence)  # type: ignore[arg-type]


def test_bad_methods() -> None:
    with pytest.raises(ValueError, match="unknown NPS method 'wilson'"):
        nps([9], method="wilson")
    with pytest.raises(ValueError, match="unknown CES method 'wald'"):
        ces([4], method="wald")
    with pytest.raises(ValueError, match="unknown CSAT method 'adjusted'"):
        csat([4], method="adjusted")


# ---------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------


def answers(kind: str, min_size: int = 0) -> st.SearchStrategy[list[int]]:
    lo, hi = SCALES[kind]
    return st.lists(st.integers(lo, hi), min_size=min_size, max_size=60)


def score_bounds(kind: str) -> tuple[float, float]:
    return {"nps": (-100.0, 100.0), "csat": (0.0, 100.0), "ces": (1.0, 7.0)}[kind]


def all_results(kind: str, scores: list[int]) -> list:
    if kind == "nps":
        return [nps(scores), nps(scores, method="wald"), nps(scores, method="adjusted")]
    if kind == "csat":
        return [csat(scores), csat(scores, method="wald")]
    return [ces(scores), ces(scores, method="normal")]


@pytest.mark.parametrize("kind", KINDS)
@given(data=st.data())
def test_prop_score_and_interval_within_bounds(kind: str, data: st.DataObject) -> None:
    scores = data.draw(answers(kind, min_size=1))
    lo, hi = score_bounds(kind)
    for r in all_results(kind, scores):
        assert r.n == len(scores)
        assert lo <= r.score <= hi
        if r.se is not None:
            assert r.se >= 0
            assert lo <= r.ci_low <= r.ci_high <= hi
            if r.method != "adjusted":  # adjusted Wald is centred on the adjusted NPS
                assert r.ci_low <= r.score <= r.ci_high


@given(answers("nps", min_size=1))
def test_prop_adjusted_interval_contains_adjusted_estimate(scores: list[int]) -> None:
    r = nps(scores, method="adjusted")
    centre = 100 * (r.promoters - r.detractors) / (r.n + 3)
    assert r.ci_low <= centre <= r.ci_high
    assert r.se > 0  # pseudo-counts mean the interval never collapses


@given(answers("ces", min_size=1))
def test_prop_ces_agree_interval(scores: list[int]) -> None:
    r = ces(scores)
    assert 0 <= r.agree_ci_low <= r.agree_share <= r.agree_ci_high <= 100


@given(answers("nps"))
def test_prop_nps_counts_add_up(scores: list[int]) -> None:
    r = nps(scores)
    assert r.promoters + r.passives + r.detractors == r.n == len(scores)
    assert r.promoters == sum(s >= 9 for s in scores)
    assert r.detractors == sum(s <= 6 for s in scores)


@given(answers("csat"), answers("ces"))
def test_prop_csat_ces_counts(csat_scores: list[int], ces_scores: list[int]) -> None:
    assert csat(csat_scores).satisfied == sum(s >= 4 for s in csat_scores)
    assert ces(ces_scores).agree == sum(s >= 5 for s in ces_scores)


@pytest.mark.parametrize("kind", KINDS)
@given(data=st.data())
def test_prop_permutation_invariance(kind: str, data: st.DataObject) -> None:
    scores = data.draw(answers(kind))
    shuffled = data.draw(st.permutations(scores))
    for a, b in zip(all_results(kind, scores), all_results(kind, shuffled)):
        for field in dataclasses.fields(a):
            x, y = getattr(a, field.name), getattr(b, field.name)
            if isinstance(x, float):
                assert y == pytest.approx(x, rel=1e-12, abs=1e-12)
            else:
                assert x == y


@given(st.lists(st.sampled_from([9, 10]), min_size=1, max_size=60))
def test_prop_all_promoters_is_100(scores: list[int]) -> None:
    r = nps(scores, method="wald")
    assert (r.score, r.se, r.ci_low, r.ci_high) == (100.0, 0.0, 100.0, 100.0)
    assert nps(scores, method="adjusted").score == 100.0


@pytest.mark.parametrize("kind", KINDS)
@given(data=st.data())
def test_prop_duplicating_sample_shrinks_se(kind: str, data: st.DataObject) -> None:
    scores = data.draw(answers(kind, min_size=2))
    single, double = metric_for(kind, scores), metric_for(kind, scores * 2)
    assert double.score == pytest.approx(single.score)
    assert double.se <= single.se
    if kind != "ces":  # a proportion's se scales exactly by 1/sqrt(2)
        assert double.se == pytest.approx(single.se / math.sqrt(2), abs=1e-9)
    elif single.se > 0:  # the n-1 in the sd makes it a bit less than that
        assert double.se < single.se


@pytest.mark.parametrize("kind", KINDS)
@given(data=st.data())
def test_prop_out_of_range_int_raises(kind: str, data: st.DataObject) -> None:
    lo, hi = SCALES[kind]
    bad = data.draw(st.one_of(st.integers(max_value=lo - 1), st.integers(min_value=hi + 1)))
    scores = data.draw(answers(kind))
    position = data.draw(st.integers(0, len(scores)))
    scores.insert(position, bad)
    with pytest.raises(ScoreError) as excinfo:
        metric_for(kind, scores)
    assert str(excinfo.value) == f"score {bad} at position {position} is outside {lo}–{hi} for {LABELS[kind]}"
    assert excinfo.value.value == bad


@pytest.mark.parametrize("kind", KINDS)
@given(data=st.data())
def test_prop_change_is_antisymmetric(kind: str, data: st.DataObject) -> None:
    before = data.draw(answers(kind, min_size=2))
    after = data.draw(answers(kind, min_size=2))
    forward, backward = change(kind, before, after), change(kind, after, before)
    assert forward.difference == pytest.approx(-backward.difference, abs=1e-9)
    assert forward.se == pytest.approx(backward.se)
    assert forward.significant == backward.significant
    if forward.p_value is not None:
        assert forward.p_value == pytest.approx(backward.p_value)
        assert 0 <= forward.p_value <= 1
        # significance and the CI excluding 0 are the same decision (unclipped CI)
        assert forward.significant == (abs(forward.z) > Z95)
