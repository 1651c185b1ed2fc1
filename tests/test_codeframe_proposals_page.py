"""The codeframe screen's proposals: one accepted or dismissed is no longer offered until the next analysis."""

from __future__ import annotations

import re

import pytest

from survey.codeframe import operations as ops
from survey.results.queries import latest_run
from tests.analyze_support import add_answers, analysis_app, read_report, tiny_model  # noqa: F401
from tests.dashboard_support import login
from tests.test_codeframe import ANSWERS, FIXTURE

pytestmark = pytest.mark.usefixtures("analysis_app")


def offered(client, survey) -> list[str]:
    page = client.get(f"/surveys/{survey.public_key}/codeframe").get_data(as_text=True)
    return re.findall(r'<div class="proposal" data-proposal="([^"]+)"', page)


@pytest.mark.parametrize("action", ["accept", "dismiss"])
def test_an_accepted_or_dismissed_proposal_is_not_offered_again(action, client, runner, make_survey, make_response,
                                                                tmp_path):
    survey, _ = add_answers(make_survey, make_response, ANSWERS)
    assert runner.invoke(args=["codeframe", "import", str(FIXTURE), "--survey", survey.public_key]).exit_code == 0
    result = runner.invoke(args=["analyze", "--survey", survey.public_key, "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    proposals = [p for p in read_report(tmp_path / "r")["pain_points"] if p["proposal"]]
    assert proposals, "the billing complaints should be proposed"
    login(client)
    page = client.get(f"/surveys/{survey.public_key}/codeframe").get_data(as_text=True)
    # An analyst starts analyses with a button, not the command line the page used to name alone.
    assert "<strong>Analyze now</strong> on the" in page and f'href="/surveys/{survey.public_key}/results"' in page
    # A point's share says what it is a share of.
    assert re.search(r"\d+ comments · \d+\.\d% of all comments", " ".join(page.split()))
    before = offered(client, survey)
    assert before == [p["label"] for p in proposals]
    # Each proposal has its trend beside it, as each codeframe point does, to judge it by.
    blocks = " ".join(page.split()).split('<div class="proposal"')[1:]
    assert len(blocks) == len(proposals)
    for block, proposal in zip(blocks, proposals):
        assert '<div class="trend-cell"> <svg' in block and f"{proposal['count']} comments · " in block
    # It said "with its comments as examples"; accepting takes the first few only.
    assert "Accept one to add it (with up to 8 of its comments as examples)" in " ".join(page.split())
    ids = {r.label: r.id for r in latest_run(survey).pain_points if r.source == "proposal"}

    reply = client.post(f"/surveys/{survey.public_key}/codeframe",
                        data={"action": action, "proposal_id": ids[before[0]], "name": "Wrong bills"})
    assert reply.status_code == 302
    assert ("Wrong bills" in [p.name for p in ops.points_of(survey)]) == (action == "accept")
    if action == "accept":
        # Its panel said "no comments in the latest analysis" beside a proposal of several comments.
        page = " ".join(client.get(f"/surveys/{survey.public_key}/codeframe").get_data(as_text=True).split())
        assert "new since the latest analysis: the next one sorts comments into it" in page
    # Still offered, its Accept only led to "the codeframe already has a pain point named ..."
    # (or brought back what the analyst had just dismissed).
    assert offered(client, survey) == before[1:]
    if not before[1:]:
        assert "No proposals left" in client.get(f"/surveys/{survey.public_key}/codeframe").get_data(as_text=True)


def test_with_no_codeframe_yet_proposals_do_not_point_at_pain_points_above(client, runner, make_survey,
                                                                           make_response, tmp_path):
    survey, _ = add_answers(make_survey, make_response, ANSWERS)
    assert runner.invoke(args=["analyze", "--survey", survey.public_key, "--out", str(tmp_path / "r")]).exit_code == 0
    login(client)
    page = " ".join(client.get(f"/surveys/{survey.public_key}/codeframe").get_data(as_text=True).split())
    assert "This survey has no codeframe yet" in page and offered(client, survey)
    assert "Found by the latest analysis among the negative comments. Accept one" in page
    assert "pain points above" not in page


def test_a_pain_points_trend_says_in_words_whether_it_is_more_than_chance(client, make_survey, make_response):
    """The screen said "rising (+30.0 pts, p=0.012)" and nothing at all for a change within chance:
    the same words as the Results page's change instead."""
    from survey.db import db
    from tests.results_support import add_run

    survey = make_survey("nps")
    rising = [make_response(survey, score=1, comment=f"engineer never came {i}") for i in range(3)]
    steady = [make_response(survey, score=2, comment=f"billing wrong {i}") for i in range(2)]
    quiet = [make_response(survey, score=3, comment=f"app slow {i}") for i in range(1)]
    for name in ("missed visits", "billing errors", "slow app"):
        ops.add_point(survey, name, "service")
    _, (up, flat, none_lately) = add_run(survey, [("missed visits", "service", rising),
                                                  ("billing errors", "service", steady),
                                                  ("slow app", "service", quiet)])
    change = {"from": "2024-01-01", "to": "2024-01-08", "ci_low": 0.05, "ci_high": 0.5}
    up.source = flat.source = "codeframe"
    up.trend = {"periods": [], "latest_change": {**change, "difference": 0.3, "p_value": 0.0123, "significant": True,
                                                 "direction": "up"}}
    flat.trend = {"periods": [], "latest_change": {**change, "difference": 0.05, "p_value": 0.31,
                                                   "significant": False, "direction": "steady"}}
    # None in either of the last two weeks: nothing varies, so there is no test (it read "may be chance (p –)").
    none_lately.trend = {"periods": [{"period_start": "2024-01-01", "count": 1, "n": 4, "share": 0.25, "ci_low": 0.05, "ci_high": 0.7},
                                     {"period_start": "2024-01-08", "count": 0, "n": 30, "share": 0.0, "ci_low": 0.0, "ci_high": 0.11},
                                     {"period_start": "2024-01-15", "count": 0, "n": 2, "share": 0.0, "ci_low": 0.0, "ci_high": 0.66}],
                         "latest_change": {**change, "difference": 0.0, "p_value": None, "significant": False,
                                           "direction": "steady"}}
    db.session.commit()
    login(client)
    text = " ".join(re.sub(r"<[^>]+>", " ", client.get(f"/surveys/{survey.public_key}/codeframe")
                           .get_data(as_text=True)).split())
    assert "rising: +30.0 points, a real change, not chance (p = 0.012)" in text
    assert "steady: within normal variation, may be chance (p = 0.310)" in text
    assert "p=" not in text
    assert "steady: 0% of comments in both of the last two periods" in text and "(p –)" not in text


def test_an_example_the_customer_rewrote_is_shown_as_the_earlier_text_and_no_longer_teaches(
        client, make_survey, make_response):
    """An example kept the text it was made from after the customer rewrote the comment, and went on
    teaching the sort as if the comment still said it. Now it is out of force, as an analyst's labels
    are (label_corrections.superseded_at), and the screen shows it as the earlier text."""
    from survey.codeframe.models import CodeframeExample
    from survey.db import db
    from survey.insights.codeframe import _codeframe, judgements
    from survey.operations import revise_response

    survey = make_survey("nps")
    response = make_response(survey, score=2, comment="The engineer never came")
    other = make_response(survey, score=1, comment="Engineer missed the slot twice")
    point = ops.add_point(survey, "missed visits", "service", examples=[response, other])
    revise_response(response, comment="Actually the bill was wrong")

    point = db.session.get(type(point), point.id)
    assert [e.text for e in point.in_force("example")] == ["Engineer missed the slot twice"]
    (earlier,) = point.superseded()
    assert earlier.text == "The engineer never came" and earlier.response_id == response.id
    # Not taught to the next sort, nor exported as the team's example.
    taught, _, confirmed, _ = judgements(_codeframe(survey.id))
    assert taught == [("Engineer missed the slot twice", "missed visits")]
    assert confirmed == {"missed visits": {other.id}}
    assert [r["example"] for r in ops.export_rows(survey)] == ["Engineer missed the slot twice"]

    login(client)
    html = client.get(f"/surveys/{survey.public_key}/codeframe").get_data(as_text=True)
    text = " ".join(re.sub(r"<[^>]+>", " ", re.sub(r"</?bdi>", "", html)).split())
    assert "1 example · 1 rewritten since" in text
    assert "earlier text “The engineer never came” rewritten" in text
    assert f'name="example_ids" value="{earlier.id}"' not in html  # not offered to split off

    # The analyst files the new text; and a comment rewritten back to its old words, filed again,
    # brings the old row back into force rather than clashing with it.
    ops.assign_comment(point, response)
    assert "Actually the bill was wrong" in [e.text for e in point.in_force("example")]
    revise_response(response, comment="The engineer never came")
    point = db.session.get(type(point), point.id)
    ops.assign_comment(point, response)
    assert sorted(e.text for e in point.in_force("example")) == ["Engineer missed the slot twice",
                                                                 "The engineer never came"]
    assert db.session.query(CodeframeExample).count() == 3


def test_a_hidden_point_is_not_said_to_have_no_comments(client, runner, make_survey, make_response, tmp_path):
    """A point hidden before the analysis had its comments sorted into it (and kept out of the proposals),
    yet its panel said "no comments in the latest analysis"."""
    survey, _ = add_answers(make_survey, make_response, ANSWERS)
    assert runner.invoke(args=["codeframe", "import", str(FIXTURE), "--survey", survey.public_key]).exit_code == 0
    ops.set_hidden(ops.point_by_name(survey, "on hold for hours"), True)
    assert runner.invoke(args=["analyze", "--survey", survey.public_key, "--out", str(tmp_path / "r")]).exit_code == 0
    login(client)
    page = " ".join(client.get(f"/surveys/{survey.public_key}/codeframe").get_data(as_text=True).split())
    panel = page[page.index('data-point="on hold for hours"'):]
    panel = panel[:panel.index("</section>")]
    assert "hidden: the analysis still sorts comments into it" in panel
    assert "no comments in the latest analysis" not in panel
