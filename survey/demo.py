"""Seed the demo site: an NPS, a CSAT and a CES survey, each with answers, and a demo admin.

Seeding is idempotent: a second run finds the demo surveys and adds nothing.
The comments are our own writing (a few dozen by hand, hundreds composed by
:mod:`survey.demo_comments`), spread over the last twelve weeks with a fixed
seed so every demo looks the same. The first seeding also runs the analysis,
so the results pages show pain points on first sign-in.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets

import sqlalchemy as sa

from survey.db import db
from survey.models import Response, Survey, utcnow
from survey.operations import create_survey

# (score, comment) pairs; None comment means a score-only answer.
NPS_ANSWERS = [
    (10, "Engineer turned up on time, explained everything and the wifi has been rock solid since"),
    (9, "Really quick install. Only gripe is the router lights are blinding at night"),
    (3, "Took five weeks to get connected and nobody rang to say why the first two dates were cancelled"),
    (0, "Been on hold for 50 mins three times this week. Still no internet."),
    (8, "Good speeds for the price, set up was easy enough"),
    (6, "the lady on the phone was lovely but i still dont know when my landline will be moved"),
    (2, "Charged twice for the same month and it took four calls to get it refunded"),
    (10, "Best provider we've had, support actually listens"),
    (7, "Fine. Does what it says."),
    (1, "You promised a call back on Tuesday. It's now Friday. Nobody has called."),
    (9, None),
    (4, "Kept being passed between departments, each one asking for the same account details"),
    (10, "They sorted a fault on a Sunday evening, couldn't ask for more"),
    (5, "Price went up again with no warning letter, feels like loyalty counts for nothing"),
    (0, "Rude agent hung up on me when I asked to speak to a manager"),
    (8, None),
    (9, "Fast and reliable broadband, app is handy for checking usage"),
    (3, "Box arrived but the cable was missing and the chat bot kept looping"),
    (6, "ok service but the contract terms were confusing"),
    (10, "Switching over was painless, kept my number and no downtime at all"),
    (2, "No one told us the engineer visit was cancelled, took a day off work for nothing"),
    (7, "Decent, a bit pricey compared with others round here"),
    (0, None),
    (4, "Speed drops every evening, and the fix they suggested was to restart the router. again."),
]
CSAT_ANSWERS = [
    (5, "Agent was patient and fixed my login problem in one call"),
    (4, "Quick answer to my billing question, thanks"),
    (1, "My refund still hasn't arrived after three weeks and the chat just closes on me"),
    (2, "Had to explain my problem four times to four different people"),
    (5, "Sam went above and beyond, even emailed me afterwards to check it was working"),
    (3, "Issue solved in the end, took longer than I'd like"),
    (5, None),
    (1, "Felt like I was being a nuisance for asking. Very dismissive."),
    (4, "Easy to book a slot online and the technician was on time"),
    (2, "they said the parcel was delivered. it wasn't. nobody seems to care"),
    (5, "Friendly, fast and sorted it first time"),
    (4, None),
    (3, "It's fine"),
    (1, "Waited 40 minutes in the queue, then got cut off"),
    (5, "Really appreciated the apology and the goodwill credit"),
    (2, "Wrong item sent twice"),
    (4, "Helpful and efficient"),
    (5, "Kept me updated every step of the way, felt looked after"),
]
CES_ANSWERS = [
    (7, "Reset my password from the app in under a minute"),
    (6, "Pretty easy, the form just asked for my account number twice"),
    (2, "I had to call, email and then visit a shop before anyone could change my address"),
    (1, "Self-service portal kept throwing errors so I gave up"),
    (5, None),
    (7, "One call and it was done"),
    (3, "Took three attempts to upload the documents, the page kept timing out"),
    (4, "Not hard, not easy. The instructions could be clearer."),
    (6, "Chat agent knew exactly what to do"),
    (2, "Nobody could tell me who was handling my complaint"),
    (7, None),
    (5, "Straightforward once I found the right page"),
    (1, "Four weeks and still waiting for a simple refund"),
    (6, "Clear steps and a confirmation email straight away"),
]

DEMO_SURVEYS = [
    ("nps", "Demo: broadband NPS", "Northwind Broadband", NPS_ANSWERS, 420),
    ("csat", "Demo: support CSAT", "your support conversation", CSAT_ANSWERS, 280),
    ("ces", "Demo: account changes CES", "Northwind", CES_ANSWERS, 220),
]
#: Share of the generated answers (after the hand-written ones) that leave a comment.
COMMENT_SHARE = 0.75
# Where on each scale an answer of this sentiment lands (low .. high as fractions of the scale).
SCORE_RANGE = {"negative": (0.0, 0.55), "mixed": (0.3, 0.8), "neutral": (0.5, 0.85), "positive": (0.75, 1.0)}


def seed_demo(base_url: str, seed: int = 7) -> list[str]:
    """Create the demo surveys once and return lines describing where to find them."""
    rng = random.Random(seed)
    lines = [f"Rapport demo on {base_url}"]
    now = utcnow()
    for kind, name, subject, answers, count in DEMO_SURVEYS:
        survey = db.session.scalar(sa.select(Survey).where(Survey.name == name))
        if survey is None:
            survey = create_survey(kind, name, subject)
            _add_answers(survey, answers, count, rng, now)
        total = db.session.scalar(sa.select(sa.func.count()).where(Response.survey_id == survey.id))
        lines.append(f"  {kind.upper():<5} {name} ({total} answers): {base_url}/s/{survey.public_key}")
    return lines


def analyse_demo() -> list[str]:
    """Run the analysis of all surveys once, if none has run yet (the first sign-in then shows insight)."""
    from survey.insights.service import AnalysisError, run_analysis
    from survey.models import AnalysisRun

    if db.session.scalar(sa.select(AnalysisRun.id).limit(1)) is not None:
        return []
    try:
        outcome = run_analysis(None, None, None, None)
    except AnalysisError as exc:  # no model installed, or nothing to analyse
        return [f"Analysis not run: {exc}"]
    return [f"Analysed {outcome.report['totals']['comments']} comments: "
            f"{len(outcome.report['pain_points'])} pain points (report: {outcome.out_dir}/report.html)"]


DEMO_ADMIN = "admin@example.com"


def seed_demo_admin(base_url: str) -> list[str]:
    """Create the demo admin once, with a random password printed only then (only its hash is stored)."""
    from survey.auth.operations import create_user, find_user

    if find_user(DEMO_ADMIN) is not None:
        return [f"Dashboard: {base_url}/login as {DEMO_ADMIN} (the account exists; its password was shown when it "
                f"was created; set a new one with `flask user password {DEMO_ADMIN}`)"]
    password = secrets.token_urlsafe(12)
    create_user(DEMO_ADMIN, "admin", password)
    return [f"Dashboard: {base_url}/login as {DEMO_ADMIN} with password {password}",
            "  (shown only this once; `flask user password admin@example.com` sets a new one)"]


def _add_answers(survey: Survey, answers, count: int, rng: random.Random, now: dt.datetime) -> None:
    """The hand-written answers, then generated ones (:mod:`survey.demo_comments`), a quarter score-only."""
    from survey.demo_comments import demo_comments

    channels = ["link", "link", "email", "email", "widget"]
    generated = iter(demo_comments(survey.kind, count))
    low, high = survey.spec.low, survey.spec.high
    for i in range(count):
        if i < len(answers):
            score, comment = answers[i]
        else:
            sentiment, comment = next(generated)
            start, end = SCORE_RANGE[sentiment]
            score = round(low + (high - low) * rng.uniform(start, end))
            if rng.random() > COMMENT_SHARE:
                comment = None
        when = now - dt.timedelta(days=rng.uniform(0, 84))
        db.session.add(Response(
            survey_id=survey.id, score=score, comment=comment, channel=rng.choice(channels),
            created_at=when, updated_at=when,
            meta={"plan": rng.choice(["basic", "pro", "business"]), "region": rng.choice(["north", "south", "west"])},
        ))
    db.session.commit()


# -- e-mail invitations (survey.invites) --
DEMO_CONTACTS = [
    ("ana.lima@example.com", "Ana Lima", {"plan": "pro", "region": "north"}),
    ("ben.okafor@example.com", "Ben Okafor", {"plan": "basic", "region": "south"}),
    ("chloe.martin@example.com", "Chloé Martin", {"plan": "business", "region": "west"}),
    ("dev.patel@example.com", "Dev Patel", {"plan": "pro", "region": "south"}),
    ("eva.novak@example.com", "Eva Novák", {"plan": "basic", "region": "north"}),
]
DEMO_CAMPAIGN = "Demo: broadband NPS by e-mail"


def seed_demo_invitations(base_url: str) -> list[str]:
    """Import a few demo contacts once and e-mail them the demo NPS survey.

    With the file transport (which `flask demo` chooses when no MAIL_SERVER is
    set) the messages are written as .eml files under the instance folder, so
    the demo shows real invitations offline; with SMTP they stay queued for
    `flask invite deliver` (the addresses are example.com).
    """
    from flask import current_app

    from survey.invites.contacts import ContactRow
    from survey.invites.delivery import deliver
    from survey.invites.models import Campaign
    from survey.invites.operations import import_contacts, send_campaign

    survey = db.session.scalar(sa.select(Survey).where(Survey.name == DEMO_SURVEYS[0][1]))
    if survey is None:
        return []
    outbox = f"{current_app.instance_path}/outbox"
    if db.session.scalar(sa.select(Campaign.id).where(Campaign.name == DEMO_CAMPAIGN)) is None:
        import_contacts([ContactRow(line=i, email=email, name=name, attributes=dict(attributes))
                         for i, (email, name, attributes) in enumerate(DEMO_CONTACTS, start=2)])
        send_campaign(survey, base_url=base_url, name=DEMO_CAMPAIGN)
        if current_app.config.get("MAIL_TRANSPORT") == "file":
            deliver()
    if current_app.config.get("MAIL_TRANSPORT") != "file":
        return ["Demo invitations are queued: `flask invite deliver` sends them (to example.com addresses)"]
    return [f"Demo invitation e-mails (.eml, open in any mail program): {outbox}/<date>/"]
