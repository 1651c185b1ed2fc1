"""Starting an analysis from the dashboard, its progress, one at a time, and what the page says when empty."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from survey.db import db
from survey.models import AnalysisJob, AnalysisRun, PainPointRecord, utcnow
from tests.analyze_support import add_answers, analysis_app, tiny_model  # noqa: F401
from tests.dashboard_support import login

pytestmark = pytest.mark.usefixtures("analysis_app")


@pytest.fixture
def inline_jobs(app_config):
    # The job runs in the request here, so the test sees it end; the browser test runs it in its thread.
    app_config["ANALYSIS_JOBS_IN_BACKGROUND"] = False


def page(client, survey) -> str:
    return client.get(f"/surveys/{survey.public_key}/results").get_data(as_text=True)


def test_an_admin_starts_an_analysis_and_sees_its_pain_points(inline_jobs, client, make_survey, make_response):
    survey, _ = add_answers(make_survey, make_response)
    admin = login(client, "admin")
    before = page(client, survey)
    assert "No analysis has run for this survey yet" in before and "Analyze now" in before

    reply = client.post(f"/surveys/{survey.public_key}/analyze")
    assert reply.status_code == 303
    job = db.session.scalar(sa.select(AnalysisJob))
    assert job.status == "done" and job.running is None and job.requested_by_id == admin.id
    assert job.run_id is not None and job.finished_at is not None and "pain point" in job.message
    after = page(client, survey)
    assert "Analysis started" in after and "Last analysis" in after
    points = db.session.scalars(sa.select(PainPointRecord).where(PainPointRecord.run_id == job.run_id)).all()
    assert points and all(p.label in after for p in points)
    status = client.get(f"/surveys/{survey.public_key}/analysis.json").get_json()
    assert status["status"] == "done" and status["id"] == job.id and status["finished_at"].endswith("Z")


def test_analysts_cannot_start_one(inline_jobs, client, make_survey, make_response):
    survey, _ = add_answers(make_survey, make_response)
    login(client, "analyst")
    assert "Analyze now" not in page(client, survey)
    assert "An admin can start one here" in page(client, survey)
    assert client.post(f"/surveys/{survey.public_key}/analyze").status_code == 403
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AnalysisJob)) == 0


def test_one_analysis_at_a_time(inline_jobs, client, make_survey, make_response):
    survey, _ = add_answers(make_survey, make_response)
    login(client, "admin")
    running = AnalysisJob(survey_id=None, running=True, status="running", step="labelling comments", done=3, total=9)
    db.session.add(running)
    db.session.commit()
    reply = client.post(f"/surveys/{survey.public_key}/analyze", follow_redirects=True)
    text = reply.get_data(as_text=True)
    # When it started reads as every other moment on the dashboard (display.when_text), not "2026-12-07 09:43".
    started = running.started_at
    assert f"Not started: an analysis is already running (started {started:%-d %b %Y, %H:%M} UTC)" in text
    assert "let go 10 minutes after its last progress" in text  # jobs.stale_rule_text, as flask analyze says
    assert "Analysis running: labelling comments (3 of 9)" in text and "Analyze now" not in text
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AnalysisJob)) == 1
    # The flag's unique constraint holds across processes too: a second running row is refused by the database.
    db.session.add(AnalysisJob(running=True, status="running", step="starting"))
    with pytest.raises(sa.exc.IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_a_job_whose_process_died_stops_blocking(inline_jobs, client, make_survey, make_response):
    survey, _ = add_answers(make_survey, make_response)
    login(client, "admin")
    old = utcnow() - dt.timedelta(hours=1)
    db.session.add(AnalysisJob(running=True, status="running", step="labelling comments", started_at=old,
                               updated_at=old))
    db.session.commit()
    client.post(f"/surveys/{survey.public_key}/analyze")
    jobs = db.session.scalars(sa.select(AnalysisJob).order_by(AnalysisJob.id)).all()
    assert [j.status for j in jobs] == ["failed", "done"]
    assert "stopped reporting progress" in jobs[0].message


def test_the_page_says_a_job_whose_process_died_failed_and_offers_analyze_now_again(inline_jobs, client,
                                                                                    make_survey, make_response):
    """The page hid Analyze now while a job ran, and only pressing it retired a dead one: it said
    "running" for ever and polled for ever."""
    survey, _ = add_answers(make_survey, make_response)
    login(client, "admin")
    old = utcnow() - dt.timedelta(hours=1)
    db.session.add(AnalysisJob(survey_id=survey.id, running=True, status="running", step="labelling comments",
                               done=2000, total=9000, started_at=old, updated_at=old))
    db.session.commit()
    status = client.get(f"/surveys/{survey.public_key}/analysis.json").get_json()
    assert status["status"] == "failed" and "stopped reporting progress" in status["message"]
    text = page(client, survey)
    assert "Analysis running" not in text and "The last attempt failed: stopped reporting progress" in text
    assert "Analyze now" in text
    recent = utcnow() - dt.timedelta(minutes=1)  # a live job that reported a minute ago still runs
    db.session.add(AnalysisJob(survey_id=survey.id, running=True, status="running", step="labelling comments",
                               started_at=old, updated_at=recent))
    db.session.commit()
    assert "Analysis running" in page(client, survey)


def test_a_job_is_stale_by_its_last_progress_alone_and_both_messages_say_that_rule(app):
    """One rule (jobs.is_stale) retires a dead job and is what the busy messages state (stale_rule_text)."""
    from survey.insights.jobs import STALE_AFTER, is_stale, stale_rule_text

    now = utcnow()
    started = now - dt.timedelta(hours=3)
    just_silent = AnalysisJob(running=True, started_at=started, updated_at=now - STALE_AFTER)
    silent = AnalysisJob(running=True, started_at=started, updated_at=now - STALE_AFTER - dt.timedelta(seconds=1))
    finished = AnalysisJob(running=None, started_at=started, updated_at=started)
    assert not is_stale(just_silent, now)  # three hours old but reporting: a big live run
    assert is_stale(silent, now) and not is_stale(finished, now)
    assert stale_rule_text() == "one whose process died is let go 10 minutes after its last progress"


def test_a_failed_analysis_says_why(app, client, make_survey, make_response):
    from survey.insights.jobs import start_analysis

    app.config["ANALYSIS_MODEL_VERSION"] = "20990101-deadbeef"  # pinned to a model that is not there
    survey, _ = add_answers(make_survey, make_response)
    login(client, "admin")
    job = start_analysis(survey, None, background=False)
    assert job.status == "failed" and "model version '20990101-deadbeef' not found" in job.message
    assert "The last attempt failed" in page(client, survey)


def test_nothing_to_analyse_is_no_failed_attempt(client, make_survey):
    """A survey with no comment yet (the nightly `flask analyze` on a new site): nothing was done, and
    the page says why without calling it a failure."""
    from survey.insights.jobs import start_analysis

    survey = make_survey("csat")
    login(client, "admin")
    assert "No comments yet" in page(client, survey) and "Analyze now" not in page(client, survey)
    job = start_analysis(survey, None, background=False)
    assert job.status == "nothing" and "no comments" in job.message
    shown = page(client, survey)
    assert "No comments yet" in shown and "The last attempt failed" not in shown


def test_the_background_thread_runs_the_job(app, make_survey, make_response):
    from survey.insights.jobs import start_analysis

    survey, _ = add_answers(make_survey, make_response)
    job_id = start_analysis(survey, None).id
    import threading

    for thread in threading.enumerate():
        if thread.name == f"analysis-job-{job_id}":
            thread.join(timeout=120)
    db.session.expire_all()
    job = db.session.get(AnalysisJob, job_id)
    assert job.status == "done" and job.total >= 1 and job.done == job.total


def test_a_run_of_all_surveys_counts_for_a_survey_it_found_nothing_in(client, make_survey, make_response, runner,
                                                                      tmp_path):
    survey, _ = add_answers(make_survey, make_response)
    calm = make_survey("csat", name="Calm CSAT")
    make_response(calm, score=5, comment="all fine, thank you")
    result = runner.invoke(args=["analyze", "--out", str(tmp_path / "all")])
    assert result.exit_code == 0, result.output
    assert db.session.scalar(sa.select(AnalysisRun.survey_id)) is None
    login(client, "analyst")
    text = page(client, calm)
    assert "found no complaint that enough answers share" in text
    assert "No analysis has run" not in text


def test_the_demo_shows_pain_points_on_first_sign_in(client):
    from survey.demo import analyse_demo, seed_demo
    from survey.demo_comments import demo_comments
    from survey.models import Response, Survey

    seed_demo("http://127.0.0.1:5000")
    [line] = analyse_demo()
    assert line.startswith("Analysed") and "pain points" in line
    assert analyse_demo() == []  # once: a second seeding leaves the analysis alone
    comments = db.session.scalar(sa.select(sa.func.count()).select_from(Response).where(Response.comment.is_not(None)))
    assert comments >= 500  # hundreds of comments across the three kinds
    assert len({text for _, text in demo_comments("nps", 400)}) >= 250  # varied, not a few repeated
    login(client, "analyst")
    nps = db.session.scalar(sa.select(Survey).where(Survey.kind == "nps"))
    text = page(client, nps)
    assert "Last analysis" in text and "No analysis has run" not in text
    assert 'class="table pain-table"' in text
    for survey in db.session.scalars(sa.select(Survey)):
        assert "No analysis has run" not in page(client, survey), survey.name


def test_flask_analyze_takes_the_same_one_place_and_the_page_shows_how_it_ended(client, runner, make_survey,
                                                                              make_response, tmp_path, monkeypatch):
    """`flask analyze` (cron) ran beside Analyze now unseen: two runs labelled and pruned at once."""
    survey, _ = add_answers(make_survey, make_response)
    running = AnalysisJob(survey_id=None, running=True, status="running", step="labelling comments", done=3, total=9)
    db.session.add(running)
    db.session.commit()
    busy = runner.invoke(args=["analyze", "--survey", survey.public_key, "--out", str(tmp_path / "busy")])
    assert busy.exit_code == 1 and "an analysis is already running" in busy.output
    assert "only one runs at a time" in busy.output and not (tmp_path / "busy").exists()
    assert "let go 10 minutes after its last progress" in " ".join(busy.output.split())
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AnalysisRun)) == 0

    running.running, running.status = None, "done"
    db.session.commit()
    done = runner.invoke(args=["analyze", "--survey", survey.public_key, "--out", str(tmp_path / "done")])
    assert done.exit_code == 0, done.output
    job = db.session.scalar(sa.select(AnalysisJob).order_by(AnalysisJob.id.desc()).limit(1))
    assert (job.status, job.running, job.survey_id, job.requested_by_id) == ("done", None, survey.id, None)
    assert job.run_id is not None and job.done == job.total > 0 and "pain point" in job.message

    # However it ends, the place is given back and the job says why: here Ctrl-C in the middle.
    from survey.insights import service

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(service, "find_insights", interrupted)
    stopped = runner.invoke(args=["analyze", "--survey", survey.public_key, "--out", str(tmp_path / "stopped")])
    assert stopped.exit_code != 0
    job = db.session.scalar(sa.select(AnalysisJob).order_by(AnalysisJob.id.desc()).limit(1))
    assert (job.status, job.running, job.message) == ("failed", None, "interrupted")
    login(client, "admin")
    assert "Analyze now" in page(client, survey)
