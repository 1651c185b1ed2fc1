"""Test support for owner e-mails (survey.alerts): a site address, owners and the queued messages.

Import the fixtures into a test module (``from tests.alerts_support import site, owner``).
"""

from __future__ import annotations

import email
from email import policy
from email.message import EmailMessage

import pytest
import sqlalchemy as sa

from survey.db import db
from survey.invites.models import OutboxMessage
from tests.dashboard_support import make_user

BASE_URL = "https://rapport.example.com"


@pytest.fixture
def site(app):
    """The app with a public address (owner e-mails link back to it) and a sender."""
    app.config.update(PUBLIC_BASE_URL=BASE_URL, MAIL_DEFAULT_SENDER="Rapport <rapport@example.com>")
    return app


@pytest.fixture
def owner(site):
    return make_user("analyst", email="olga.owner@example.com")


def queued(kind: str) -> list[EmailMessage]:
    """The queued (not yet sent) outbox messages of one kind, parsed, oldest first."""
    rows = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.kind == kind)
                              .order_by(OutboxMessage.id)).all()
    return [email.message_from_bytes(row.raw, policy=policy.default) for row in rows if row.raw is not None]


def outbox_count(kind: str) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)
                             .where(OutboxMessage.kind == kind))
