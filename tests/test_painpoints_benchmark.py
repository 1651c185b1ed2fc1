"""The pain-point benchmark's own measures (benchmarks/painpoints.py) on small made-up comments.

The benchmark decides what is kept and what is dropped, so its error breakdown and its
stability over several draws are tested like any other code; no shared data is read here.
"""

from __future__ import annotations

from analysis.painpoints import NegativeClause, PainPoint, PainPointAnalysis
from benchmarks.painpoints import Domain, ceilings, rows_of, stability_draws, where_reasons_went
from tests.test_painpoint_method import posts


def _point(label: str, ids: list[int]) -> PainPoint:
    return PainPoint(rank=0, label=label, theme="service", count=len(ids), share=0.0, score_impact=None, impact=0.0,
                     response_ids=ids, quotes=[])


def _domain(truth_by_row: list[set[str]], texts: list[str] | None = None) -> Domain:
    ids = [f"c{k}" for k in range(len(truth_by_row))]
    texts = texts or ["a comment"] * len(truth_by_row)
    return Domain("made-up", ids, texts, [None] * len(ids), dict(zip(ids, truth_by_row)), frozenset(),
                  frozenset())


def test_each_reasons_comments_are_counted_by_where_they_went():
    # 20 comments of "late": 4 with no negative clause, 3 negative but in no pain point, 5 in another
    # pain point, 8 in the best match (which also holds 2 comments of "bags"); 10 of "bags" all placed.
    late, bags = {"late"}, {"bags"}
    truth = [late] * 20 + [bags] * 10
    labelled = []
    for row in range(30):
        negative = [] if row < 4 else [NegativeClause(row, "text", "service", None)]
        labelled.append((negative, []))
    delays = list(range(12, 20)) + [20, 21]
    result = PainPointAnalysis([_point("hour delay", delays), _point("lost bag", list(range(20, 30))),
                                _point("still waiting", list(range(7, 12)))], 26, 23, "size × negativity")
    went = where_reasons_went(_domain(truth), result, labelled)
    assert went["late"] == {"comments": 20, "not_negative": 4, "in_no_pain_point": 3, "elsewhere": 5,
                            "best": "hour delay", "precision": 0.8, "recall": 0.4}
    assert went["bags"]["best"] == "lost bag" and went["bags"]["recall"] == 1.0
    assert went["bags"]["elsewhere"] == 0  # the two also in "hour delay" are in their best match too


def test_ceilings_merge_one_reason_told_twice_and_never_two_reasons():
    # "late" (rows 0-19) is told as two pain points of 10; "bags" (20-29) is one; a vague one mixes both.
    late, bags = {"late"}, {"bags"}
    domain = _domain([late] * 20 + [bags] * 10)
    points = [_point("hour delay", list(range(0, 10))), _point("lost bag", list(range(20, 30))),
              _point("late flight", list(range(10, 20))), _point("still waiting", [0, 1, 20, 21])]
    result = PainPointAnalysis(points, 30, 30, "size × negativity")
    out = ceilings(domain, result)
    assert out["before"] == {"recovered": 2, "mean_best_f1": round((2 * 10 / 30 + 1.0) / 2, 3), "leading": 2}
    assert out["merge"]["merges"] == ["hour delay + late flight"]
    assert out["merge"]["mean_best_f1"] == 1.0 and out["merge"]["recovered"] == 2
    # Leaving out "lost bag" moves the vague group up in its place: the bags' best F1 falls.
    without_bags = next(d for d in out["drop_one"] if d["left_out"] == "lost bag")
    assert without_bags["mean_best_f1"] < out["before"]["mean_best_f1"]
    assert [d["left_out"] for d in out["drop_one"]] == ["hour delay", "lost bag", "late flight"]


def test_a_subsets_labels_are_renumbered_like_the_subset():
    labelled = [([NegativeClause(row, f"clause {row}", "service", None)], [f"other {row}"]) for row in range(5)]
    picked = rows_of(labelled, [1, 3, 4])
    assert [c.response_id for negative, _ in picked for c in negative] == [0, 1, 2]
    assert [c.text for negative, _ in picked for c in negative] == ["clause 1", "clause 3", "clause 4"]
    assert [b for _, background in picked for b in background] == ["other 1", "other 3", "other 4"]


def test_stability_over_several_draws_reuses_the_labels_and_reports_each_draw():
    clauses, background = posts({"cancel": 60, "late": 50, "bag": 40}, seed=3)
    # One row per negative post, then one per background post (as labelled comments).
    labelled = [([NegativeClause(k, c.text, c.theme, c.score, c.negativity)], []) for k, c in enumerate(clauses)]
    labelled += [([], [t]) for t in background]
    texts = [c.text for c in clauses] + background

    def reason(text: str) -> set[str]:
        return {r for r, said in (("cancel", "cancel"), ("late", "late"), ("bag", "bag"), ("bag", "luggage"))
                if said in text and text in {c.text for c in clauses}}

    domain = _domain([reason(t) for t in texts], texts)
    from benchmarks.painpoints import analyse

    grown, _ = analyse(domain, None, labelled)  # no model: the labels given are used
    result = stability_draws(domain, None, [1, 2], labelled, grown)
    assert [d["seed"] for d in result["draws"]] == [1, 2]
    assert result["min"] == min(d["min"] for d in result["draws"])
    assert result["mean_of_minima"] == round(sum(d["min"] for d in result["draws"]) / 2, 3)
    # Three clear complaints: each draw finds them again, and each draw's own top ten recovers all three.
    assert result["min"] >= 0.8
    assert [d["recovered"] for d in result["draws"]] == [3, 3]
    assert result["draws_recovered"] == 3 and result["draws_mean_best_f1"] >= 0.8
    assert result["draws_mean_best_f1"] == round(sum(d["mean_best_f1"] for d in result["draws"]) / 2, 3)


def test_benchmark_options_refuse_malformed_values_with_a_message(capsys):
    import pytest

    from benchmarks import accuracy, learning_curve, painpoints

    for main, argv, message in (
        (painpoints.main, ["--stability", "--draws", "1,x"], "not a comma-separated list of whole numbers"),
        (painpoints.main, ["--draws", ","], "give at least one draw"),
        (accuracy.main, ["--dev-tweets", "-5"], "not a whole number of tweets"),
        (learning_curve.main, ["--augment-scale", "0"], "not a number above 0"),
        (learning_curve.main, ["--augment-scale", "nan"], "not a number above 0"),
        (learning_curve.main, ["--neighbour-share", "-0.1"], "not a number above 0"),
        (learning_curve.main, ["--neighbour-share", "1.5"], "not a share between 0 and 1"),
        (learning_curve.main, ["--fold-intercept", "loose"], "invalid choice: 'loose'"),
    ):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 2
        assert message in capsys.readouterr().err


def test_top_ten_facets_say_what_each_pain_point_is_about_from_its_answers_clauses():
    from benchmarks.painpoints import top_ten_facets

    hold = ["on hold for an hour again", "nobody answers the phone line", "stuck in the phone queue for ages",
            "could not get through to anyone on the helpline"]
    cancelled = ["they cancelled my order without telling me", "my booking was cancelled the day before",
                 "order cancelled for no reason", "appointment cancelled at the last minute"]
    labelled = [([NegativeClause(row, text, "service", None)], []) for row, text in enumerate(hold + cancelled)]
    result = PainPointAnalysis([_point("on hold", [0, 1, 2, 3]), _point("cancelled", [4, 5, 6, 7])], 8, 8,
                               "size × negativity")
    out = top_ten_facets(result, labelled)
    assert [(f["label"], f["facet"]) for f in out] == [("on hold", "reaching_support"), ("cancelled", "cancellation")]
    for f in out:  # its two largest shares, the main facet first
        assert next(iter(f["profile"])) == f["facet"] and 0 <= sum(f["profile"].values()) <= 1
