"""The weekly digest: its content on hand-worked numbers, exactly once, opt-out, the command, SMTP delivery."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa

from survey.alerts import digest as digest_module
from survey.alerts.digest import build_digest, due_week, parse_week, queue_digests, queue_due_digests
from survey.alerts.mail import set_preferences
from survey.alerts.models import MailPreference, OwnerMail
from survey.db import db
from survey.followup.models import FollowUp
from survey.invites import delivery
from survey.models import AnalysisRun, PainPointRecord, pain_point_responses
from survey.operations import OperationError
from tests.alerts_support import (AFTER_THE_WEEK, BASE_URL, BEFORE, MONDAY, WEEK, at, digest_week,  # noqa: F401
                                  outbox_count, owner, queued, site)
from tests.alerts_support import Killed
from tests.dashboard_support import make_user
from tests.invites_support import html_part, local_path, mailbox, smtp_server, text_part  # noqa: F401

def test_digest_content_on_hand_worked_numbers(digest_week):
    survey, answers = digest_week
    digest = build_digest(survey, MONDAY)
    assert (digest.metric.n, digest.metric.score) == (20, -50.0)
    change = digest.change
    assert (change.before_score, change.after_score, change.difference) == (50.0, -50.0, -100.0)
    # Wald se of each NPS: sqrt((0.6 + 0.1 - 0.5**2) / 20) = 0.15, i.e. 15 points; of the difference 21.21.
    assert change.se == pytest.approx(21.2132, abs=1e-3)
    assert change.significant and change.p_value < 0.001
    assert [(p.label, p.this_week, p.last_week) for p in digest.grown] == [("Slow delivery", 5, 1),
                                                                           ("Billing errors", 1, 0)]
    # Slow delivery: 10% -> 50% of 10 comments; se = sqrt(.1*.9/10 + .5*.5/10) = 0.1844, z = 2.169, p = 0.030.
    assert digest.grown[0].change.p_value == pytest.approx(0.0301, abs=5e-4) and digest.grown[0].change.significant
    # Billing errors: 0% -> 10%; se = sqrt(.1*.9/10) = 0.0949, z = 1.054, p = 0.292: may be chance.
    assert digest.grown[1].change.p_value == pytest.approx(0.2918, abs=5e-4)
    assert not digest.grown[1].change.significant
    assert digest.waiting == 11 and digest.oldest_waiting.id == answers["before"][0].id

    report = queue_digests(MONDAY, now=AFTER_THE_WEEK)
    assert (report.queued, report.surveys) == (1, 1)
    [message] = queued("digest")
    assert message["Subject"] == f"Broadband NPS: your week {WEEK} in brief"
    text = text_part(message)
    # Typed names and comments are isolated (FSI … PDI): a right-to-left override in one cannot reorder the mail.
    assert "Broadband NPS: week 2026-W10 (2 Mar to 8 Mar 2026)" in text
    assert re.search(r"NPS -50 \(95% CI -\d+ to -\d+\), from 20 answers\.", text)
    # Whether a change is more than chance, in the words every page uses (survey.display.verdict_text).
    assert "-100 points from the week before (+50): a real change, not chance (p < 0.001); " \
           "95% CI -142 points to -58 points." in text
    assert "- Slow delivery: 5 of 10 (50%), up from 1 of 10 (10%): a real change, not chance (p = 0.030)" in text
    assert "- Billing errors: 1 of 10 (10%), up from 0 of 10 (0%): within normal variation, may be chance " \
           "(p = 0.292)" in text
    assert "significant" not in text
    assert "Rude staff" not in text
    assert "11 low scores waiting for a follow-up (open or contacted)." in text
    assert "The oldest: 3/10 on 23 Feb 2026: “Engineer missed two appointments, still no internet”" in text
    assert "“Engineer missed two appointments, still no internet”" in html_part(message)
    assert f"Results: {BASE_URL}/surveys/{survey.public_key}/results" in text
    html = html_part(message)
    assert "-100 points from the week before" in html and "Slow delivery" in html
    assert "a real change, not chance (p = 0.030)" in html and "within normal variation, may be chance" in html
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_digest_names_codeframe_pain_points_as_they_are_now(digest_week):
    # Analysts renamed one codeframe pain point and hid another after the run: the digest says so.
    from survey.codeframe import operations as ops
    survey, _ = digest_week
    for record in db.session.scalars(sa.select(PainPointRecord)):
        record.source = "codeframe"
        ops.add_point(survey, record.label, "service")
    ops.rename_point(ops.point_by_name(survey, "Slow delivery"), "Late parcels")
    ops.set_hidden(ops.point_by_name(survey, "Billing errors"), True)
    digest = build_digest(survey, MONDAY)
    assert [(p.label, p.this_week, p.last_week) for p in digest.grown] == [("Late parcels", 5, 1)]


def test_honest_lines_without_analysis_and_with_too_few_answers(site, make_survey, make_response, owner):
    survey = make_survey("csat", name="Support CSAT", owner_id=owner.id)
    for i, score in enumerate([5, 4, 1]):
        make_response(survey, score=score, comment="<b>bold</b> claim" if i == 2 else None, created_at=at(MONDAY, i))
    queue_digests(MONDAY, now=AFTER_THE_WEEK)
    [message] = queued("digest")
    text = text_part(message)
    assert "Too few answers for a score: 3 of 10 needed" in text
    assert "Too few answers to compare with the week before (0 then, 3 now; 10 needed in each)." in text
    assert "No analysis has run on this survey yet, so there are no pain points to compare." in text
    assert "1 low score waiting for a follow-up" in text
    html = html_part(message)
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html


def test_an_analysis_older_than_the_week_says_so(digest_week):
    survey, _ = digest_week
    db.session.execute(sa.update(AnalysisRun).values(finished_at=at(BEFORE, 3)))
    db.session.commit()
    queue_digests(MONDAY, now=AFTER_THE_WEEK)
    assert ("The latest analysis ran on 23 Feb 2026, before this week, so this week's comments are not grouped "
            "into pain points yet.") in text_part(queued("digest")[0])


def test_exactly_once_per_survey_week_and_person(digest_week, owner):
    survey, _ = digest_week
    assert queue_digests(MONDAY, now=AFTER_THE_WEEK).queued == 1
    again = queue_digests(MONDAY, now=AFTER_THE_WEEK)
    assert (again.queued, again.already) == (0, 1) and outbox_count("digest") == 1
    # A second owner (the survey handed to an admin) gets it once too; the first is not sent it again.
    admin = make_user("admin")
    survey.owner_id = admin.id
    db.session.commit()
    assert queue_digests(MONDAY, now=AFTER_THE_WEEK).queued == 1
    assert sorted(m["To"] for m in queued("digest")) == sorted([owner.email, admin.email])
    with pytest.raises(sa.exc.IntegrityError):
        db.session.add(OwnerMail(kind="digest", survey_id=survey.id, user_id=admin.id, week=WEEK))
        db.session.commit()
    db.session.rollback()


def test_a_crash_between_queueing_and_commit_sends_it_once(digest_week, monkeypatch):
    real_commit = db.session.commit

    def crash():
        raise Killed("worker killed between queueing and commit")

    monkeypatch.setattr(db.session, "commit", crash)
    with pytest.raises(Killed):
        queue_digests(MONDAY, now=AFTER_THE_WEEK)
    db.session.rollback()
    monkeypatch.setattr(db.session, "commit", real_commit)
    assert outbox_count("digest") == 0
    assert queue_digests(MONDAY, now=AFTER_THE_WEEK).queued == 1
    assert queue_digests(MONDAY, now=AFTER_THE_WEEK).queued == 0 and outbox_count("digest") == 1


def test_opt_out_and_quiet_surveys(digest_week, owner, make_survey):
    make_survey("ces", name="Nothing happened", owner_id=owner.id)
    set_preferences(owner, weekly_digest=False)
    report = queue_digests(MONDAY, now=AFTER_THE_WEEK)
    assert (report.queued, report.nobody) == (0, 2) and outbox_count("digest") == 0
    set_preferences(owner, weekly_digest=True)
    report = queue_digests(MONDAY, now=AFTER_THE_WEEK)
    assert (report.queued, report.quiet) == (1, 1)


def test_due_week_follows_the_configured_weekday_and_hour(site):
    site.config.update(DIGEST_WEEKDAY=0, DIGEST_HOUR=8)
    assert due_week(dt.datetime(2026, 3, 9, 7, 59)) == BEFORE  # Monday before 08:00: last week's is not due yet
    assert due_week(dt.datetime(2026, 3, 9, 8, 0)) == MONDAY
    assert due_week(dt.datetime(2026, 3, 14, 23, 0)) == MONDAY
    site.config.update(DIGEST_WEEKDAY=4, DIGEST_HOUR=17)  # Friday 17:00
    assert due_week(dt.datetime(2026, 3, 13, 16, 0)) == BEFORE
    assert due_week(dt.datetime(2026, 3, 13, 17, 0)) == MONDAY
    site.config.update(DIGEST_WEEKDAY=7)
    with pytest.raises(OperationError, match="DIGEST_WEEKDAY"):
        due_week(dt.datetime(2026, 3, 13, 17, 0))


def test_the_worker_queues_the_due_week_once(digest_week):
    assert queue_due_digests(AFTER_THE_WEEK).queued == 1
    assert queue_due_digests(AFTER_THE_WEEK + dt.timedelta(hours=5)).queued == 0
    assert outbox_count("digest") == 1


@pytest.mark.parametrize("text", ["2026-10", "2026-W54", "W10", "2026-W1", "", "2026-W10-1"])
def test_bad_weeks_are_refused(text):
    with pytest.raises(OperationError, match="week"):
        parse_week(text)


def test_digest_send_command(digest_week, runner, smtp_server, mailbox, client, owner):
    survey, _ = digest_week
    result = runner.invoke(args=["digest", "send", "--week", WEEK])
    assert result.exit_code == 0, result.output
    assert "digest 2026-W10: queued 1 e-mail(s) for 1 survey(s)" in result.output and "sent 1" in result.output
    [message] = mailbox.messages()
    assert message["Subject"] == f"Broadband NPS: your week {WEEK} in brief"
    rerun = runner.invoke(args=["digest", "send", "--week", WEEK, "--survey", survey.public_key])
    assert rerun.exit_code == 0 and "queued 0" in rerun.output and "already sent 1" in rerun.output
    assert len(mailbox.messages()) == 1
    unsubscribe = re.search(r"<(https://[^>]+)>", str(message["List-Unsubscribe"])).group(1)
    assert client.post(local_path(unsubscribe), data={"List-Unsubscribe": "One-Click"}).status_code == 204
    assert db.session.get(MailPreference, owner.id).weekly_digest is False


def test_digest_send_refuses_clearly(digest_week, runner, app):
    bad = runner.invoke(args=["digest", "send", "--week", "2026-W99"])
    assert bad.exit_code == 2 and "--week" in bad.output and "has no week 99" in bad.output
    unfinished = runner.invoke(args=["digest", "send", "--week", "2099-W10"])
    assert unfinished.exit_code == 1 and "has not ended yet" in unfinished.output
    unknown = runner.invoke(args=["digest", "send", "--week", WEEK, "--survey", "nope"])
    assert unknown.exit_code == 1 and "no survey has the key" in unknown.output
    app.config.update(MAIL_TRANSPORT=None, MAIL_SERVER=None)  # no SMTP set up: queued, and said so
    unsent = runner.invoke(args=["digest", "send", "--week", WEEK])
    assert unsent.exit_code == 1 and "queued 1" in unsent.output and "cannot be sent" in unsent.output
    assert outbox_count("digest") == 1
    app.config["PUBLIC_BASE_URL"] = None
    nowhere = runner.invoke(args=["digest", "send", "--week", WEEK])
    assert nowhere.exit_code == 1 and "PUBLIC_BASE_URL" in nowhere.output


def test_delivered_digest_goes_through_smtp_with_the_outbox(digest_week, smtp_server, mailbox):
    queue_digests(MONDAY, now=AFTER_THE_WEEK)
    assert delivery.deliver().sent == 1
    assert delivery.deliver().sent == 0  # exactly once
    [message] = mailbox.messages()
    assert "Slow delivery" in html_part(message)
    assert digest_module.week_name(MONDAY) == WEEK


def test_a_week_may_be_typed_in_lower_case():
    assert parse_week(" 2026-w10 ") == MONDAY
    assert parse_week("2020-W53") == dt.date(2020, 12, 28)  # a year with 53 ISO weeks
