"""Uncertainty sampling for the analyst's label queue (analysis.review_queue)."""

from __future__ import annotations

import pytest

from analysis.review_queue import Candidate, margin_uncertainty, pick, uncertainty


def cand(rid, survey, theme, s, t=(0.9, 0.05, 0.05)):
    return Candidate(rid, survey, theme, dict(zip(("negative", "neutral", "positive"), s)),
                     dict(zip(("service", "care", "other"), t)))


def test_margin_uncertainty():
    assert margin_uncertainty({"a": 0.5, "b": 0.5, "c": 0.0}) == 1.0
    assert margin_uncertainty({"a": 1.0, "b": 0.0, "c": 0.0}) == 0.0
    assert margin_uncertainty({"a": 0.6, "b": 0.3, "c": 0.1}) == pytest.approx(0.7)
    assert margin_uncertainty({"a": 1.0}) == 1.0


def test_a_comment_is_as_uncertain_as_its_less_certain_task():
    sure_sentiment_unsure_theme = cand(1, "s", "care", (0.98, 0.01, 0.01), (0.45, 0.44, 0.11))
    assert uncertainty(sure_sentiment_unsure_theme) == pytest.approx(0.99)


def test_pick_takes_the_least_certain_but_spreads_over_surveys_and_themes():
    # survey A's service comments are all very uncertain; a plain top-k would take only them
    many = [cand(i, "A", "service", (0.34, 0.33, 0.33)) for i in range(1, 7)]
    others = [cand(10, "A", "care", (0.6, 0.3, 0.1)), cand(11, "B", "service", (0.5, 0.4, 0.1)),
              cand(12, "B", "other", (0.97, 0.02, 0.01), (0.97, 0.02, 0.01))]
    got = pick(many + others, 4)
    ids = [c.response_id for c, _ in got]
    assert ids[0] == 1  # the most uncertain of all comes first
    assert {c.survey for c, _ in got} == {"A", "B"}
    assert {(c.survey, c.theme) for c, _ in got} == {("A", "service"), ("A", "care"), ("B", "service"),
                                                     ("B", "other")}
    scores = [u for _, u in got]
    assert scores == sorted(scores, reverse=True)
    # once every bucket has given one, the second layer again goes by uncertainty
    assert [c.response_id for c, _ in pick(many + others, 6)][4:] == [2, 3]


def test_pick_is_deterministic_and_bounded():
    items = [cand(i, "S", "other", (0.5, 0.5, 0.0)) for i in (5, 3, 9)]
    assert [c.response_id for c, _ in pick(items, 10)] == [3, 5, 9]
    assert pick(items, 0) == [] and pick([], 5) == []
