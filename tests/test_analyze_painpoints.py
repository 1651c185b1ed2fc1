"""analysis.painpoints: grouping, names, measures and ranking on hand-made clauses (no model)."""

from __future__ import annotations

import pytest

from analysis.painpoint_names import tidy_quote as _tidy_quote
from analysis.painpoints import NegativeClause, ScoreTotals, default_min_count, find_pain_points

HOLD = ["I was on hold for two hours", "on hold for two hours again", "kept on hold for two hours today",
        "two hours on hold before anyone answered", "on hold for hours and then cut off",
        "another hour on hold", "left on hold for ages", "on hold for two hours with music"]
ENGINEER = ["the engineer never turned up", "engineer never turned up for the visit",
            "the engineer never turned up twice", "our engineer never showed up",
            "the engineer never turned up on friday", "engineer never came"]
INFORMED = ["no one kept me informed", "nobody kept me informed about the delay",
            "no-one kept us informed at all", "nobody kept me informed or called"]
ODD = ["the colour of the van was ugly", "parking was hard", "their logo is odd"]
# What the same customers said that was not negative: the other side of the log-odds.
BACKGROUND = ["the engineer was friendly and quick", "thanks for sorting it today", "the app works well",
              "I called on monday and it was fine", "two hours later it all worked", "the music was nice",
              "great price for the broadband", "kept me up to date the whole time", "the visit went well",
              "love the new router", "the team answered quickly", "it was easy to set up", "good value",
              "the driver was polite", "happy with the speed", "nothing to add", "all good so far",
              "the website was clear", "on friday the box arrived", "they were helpful on the phone"] * 3


def clauses(groups, theme_of=None, score_of=None):
    """NegativeClause per text; response ids 1.. in order, score per group."""
    out, rid = [], 0
    for name, texts in groups.items():
        for text in texts:
            rid += 1
            out.append(NegativeClause(rid, text, (theme_of or {}).get(name, "service"), (score_of or {}).get(name, 3)))
    return out


def test_groups_are_found_named_and_complete():
    data = clauses({"hold": HOLD, "engineer": ENGINEER, "informed": INFORMED, "odd": ODD},
                   theme_of={"informed": "care"}, score_of={"hold": 1, "engineer": 2, "informed": 4, "odd": 6})
    points = find_pain_points(data, total_comments=40, scores=ScoreTotals(n=40, total=200, low=0, high=10),
                              background=BACKGROUND)
    by_label = {p.label: p for p in points}
    assert "engineer never turned up" in by_label, by_label
    assert any("on hold" in label for label in by_label), by_label
    assert any("kept" in label and "informed" in label for label in by_label), by_label

    engineer = by_label["engineer never turned up"]
    assert engineer.theme == "service"
    # every clause saying it is in the group (one is worded differently enough to be left out)
    assert set(engineer.response_ids) >= {9, 10, 11, 13}
    informed = next(p for p in points if "informed" in p.label)
    assert informed.theme == "care" and informed.response_ids == [15, 16, 17, 18]
    assert informed.count == 4 and informed.share == pytest.approx(4 / 40)
    for point in points:
        assert point.count == len(point.response_ids) == len(set(point.response_ids))
        assert 1 <= len(point.quotes) <= 3 and len(set(point.quotes)) == len(point.quotes)
    assert [p.rank for p in points] == list(range(1, len(points) + 1))
    assert not any("colour" in p.label or "logo" in p.label for p in points)


def test_score_impact_and_ranking_by_impact():
    data = clauses({"hold": HOLD, "informed": INFORMED}, score_of={"hold": 1, "informed": 2})
    # 100 scored answers summing to 600 (mean 6); the 8 hold answers scored 1, the 4 informed ones 2.
    points = find_pain_points(data, total_comments=50, scores=ScoreTotals(n=100, total=600, low=0, high=10),
                              background=BACKGROUND)
    hold = next(p for p in points if "hold" in p.label)
    informed = next(p for p in points if "informed" in p.label)
    n = hold.count
    assert n >= 6
    assert hold.score_impact == pytest.approx(1 - (600 - n * 1) / (100 - n))
    assert hold.impact == pytest.approx(n / 100 * -hold.score_impact / 10 * 100)
    assert informed.score_impact == pytest.approx(2 - (600 - 4 * 2) / 96)
    assert points[0] is hold and hold.impact > informed.impact


def test_without_scores_impact_is_the_share_of_comments():
    data = [NegativeClause(c.response_id, c.text, c.theme, None) for c in clauses({"hold": HOLD})]
    (point,) = find_pain_points(data, total_comments=20, scores=ScoreTotals(n=0))
    assert point.score_impact is None
    assert point.impact == pytest.approx(point.count / 20 * 100)


def test_a_response_counts_once_however_many_clauses_it_has():
    data = [NegativeClause(1, "on hold for two hours", "service", 0),
            NegativeClause(1, "then on hold for two hours again", "service", 0),
            NegativeClause(2, "on hold for two hours, awful music the whole time", "service", 4),
            NegativeClause(3, "on hold for two hours today before giving up", "service", 5)]
    (point,) = find_pain_points(data, total_comments=4, scores=ScoreTotals(n=4, total=19, low=0, high=10))
    assert point.response_ids == [1, 2, 3] and point.count == 3
    assert len(point.quotes) == 3  # one per answer
    # the answers' scores count once each: (0 + 4 + 5) / 3 against the fourth answer's 10
    assert point.score_impact == pytest.approx(3 - 10)


def test_small_groups_are_dropped_and_min_count_scales():
    data = clauses({"hold": HOLD, "informed": INFORMED})
    (point,) = find_pain_points(data, 1000, min_count=5, background=BACKGROUND)
    assert "hold" in point.label
    assert default_min_count(10) == 2 and default_min_count(100_000) == 200


def test_empty_input_and_filler_only_clauses():
    assert find_pain_points([], 10) == []
    assert find_pain_points(clauses({"x": ["it was the", "and so on"]}), 10) == []
    assert find_pain_points(clauses({"hold": HOLD}), 0) == []


def test_quotes_are_masked_text_tidied_and_not_repeated():
    data = [NegativeClause(1, "but on hold for two hours, call [phone]", "service", 1),
            NegativeClause(2, "although on hold for two hours before giving up", "service", 1),
            NegativeClause(3, "on hold for two hours, mail [email] now", "service", 1),
            NegativeClause(4, "on hold for two hours, mail [email] now!", "service", 1)]
    (point,) = find_pain_points(data, total_comments=4)
    assert point.response_ids == [1, 2, 3, 4]
    assert "On hold for two hours, call [phone]" in point.quotes
    assert "On hold for two hours before giving up" in point.quotes
    assert len(point.quotes) == 3  # the fourth says the third again
    assert all(not q.lower().startswith(("but ", "although ")) for q in point.quotes)


def test_long_quotes_are_cut_at_a_word():
    text = "although the wait " + "went on and on " * 40
    quote = _tidy_quote(text)
    assert len(quote) <= 240 and quote.endswith(" went…") and quote.startswith("The wait went on")


def varied(texts, n, rng):
    """``n`` clauses from ``texts`` with different openings and endings, as real comments have."""
    openings = ["", "honestly ", "to be fair ", "again ", "sadly ", "as usual ", "this time "]
    endings = ["", " this week", " on monday", " last month", " at the weekend", " yesterday", " in march"]
    return [rng.choice(openings) + rng.choice(texts) + rng.choice(endings) for _ in range(n)]


def test_many_clauses_use_topics_and_are_deterministic():
    import random

    rng = random.Random(4)
    data = clauses({"hold": varied(HOLD, 200, rng), "engineer": varied(ENGINEER, 150, rng),
                    "informed": varied(INFORMED, 100, rng), "odd": varied(ODD, 30, rng)},
                   theme_of={"informed": "care"})
    assert len(data) > 300  # the NMF path, not only linkage
    first = find_pain_points(data, 1000, seed=0, background=BACKGROUND)
    assert [p.as_dict() for p in first] == [p.as_dict() for p in find_pain_points(data, 1000, seed=0, background=BACKGROUND)]
    labels = [p.label for p in first]
    assert "engineer never turned up" in labels, labels
    engineer = sum(p.count for p in first if "engineer" in p.label)
    assert engineer >= 140, labels
    informed = next(p for p in first if "informed" in p.label)
    assert informed.theme == "care" and informed.count >= 95
