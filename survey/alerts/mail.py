"""Who gets a survey's owner e-mails, the signed unsubscribe link, and the e-mail itself as an outbox row.

Owners: the survey's owner (``Survey.owner_id``) while that account is
active; a survey without one (never set, or its owner's account deleted or
deactivated) goes to every active admin instead, so a low score never lands
with nobody. Each person may turn either e-mail off (``MailPreference``).

The unsubscribe link carries the user id and the e-mail kind, signed with the
site's SECRET_KEY (itsdangerous): nobody can forge one for another person, and
it needs no table of tokens. Owner e-mails are few (one per batch or week per
person), so each is built with the ``email`` package rather than the
invitation composer's template-once fast path.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime

import sqlalchemy as sa
from flask import current_app, render_template
from itsdangerous import BadSignature, URLSafeSerializer

from survey.alerts.models import OWNER_MAIL_KINDS, MailPreference
from survey.db import db
from survey.invites.campaigns import Links
from survey.invites.compose import BuiltMessage, sender_address, wire_address
from survey.invites.models import OutboxMessage, recipient_domain
from survey.models import Survey, User

_SALT = "rapport.owner-mail.unsubscribe"
KIND_TITLES = {"alert": "low-score alerts", "digest": "the weekly digest"}


def owners_of(survey: Survey) -> list[User]:
    """The people a survey's alerts and digest are for (see the module's docstring)."""
    owner = survey.owner
    if owner is not None and owner.is_active:
        return [owner]
    return list(db.session.scalars(sa.select(User).where(User.is_active, User.role == "admin").order_by(User.id)))


def preference_of(user: User) -> MailPreference:
    """The person's choices; a fresh (unsaved, all on) one when they never chose."""
    return db.session.get(MailPreference, user.id) or MailPreference(user_id=user.id, low_score_alerts=True,
                                                                     weekly_digest=True)


def recipients(survey: Survey, kind: str) -> list[User]:
    """The owners who have not turned this kind of e-mail off."""
    return [user for user in owners_of(survey) if preference_of(user).wants(kind)]


def set_preferences(user: User, *, low_score_alerts: bool | None = None, weekly_digest: bool | None = None) -> None:
    """Change what the person receives (None leaves a choice as it is); commits."""
    preference = db.session.get(MailPreference, user.id)
    if preference is None:
        preference = MailPreference(user_id=user.id, low_score_alerts=True, weekly_digest=True)
        db.session.add(preference)
    if low_score_alerts is not None:
        preference.low_score_alerts = low_score_alerts
    if weekly_digest is not None:
        preference.weekly_digest = weekly_digest
    db.session.commit()


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def _address_tag(user: User) -> str:
    # A link made for a deleted account must not work for a later account given the same id.
    return hashlib.sha256(user.email.lower().encode()).hexdigest()[:16]


def unsubscribe_token(user: User, kind: str) -> str:
    return _serializer().dumps({"u": user.id, "k": kind, "a": _address_tag(user)})


def user_of_unsubscribe_token(token: str) -> tuple[User | None, str | None]:
    """(the person, the kind) of a genuine link; (None, None) for a forged, cut or altered one,
    (None, kind) when it was genuine but its account is gone."""
    try:
        data = _serializer().loads(token)
    except BadSignature:
        return None, None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int) or data.get("k") not in OWNER_MAIL_KINDS:
        return None, None
    user = db.session.get(User, data["u"])
    if user is None or _address_tag(user) != data.get("a"):
        return None, data["k"]
    return user, data["k"]


def site_links() -> Links | None:
    """Absolute links from the worker, or None while PUBLIC_BASE_URL is not set (nothing can link back)."""
    base_url = current_app.config.get("PUBLIC_BASE_URL")
    return Links(base_url) if base_url else None


def build_mail(user: User, kind: str, subject: str, template: str, links: Links, now: dt.datetime,
               **context) -> BuiltMessage:
    """The e-mail from ``email/<template>.txt`` and ``.html``, with a one-click unsubscribe for ``kind``."""
    sender = sender_address(current_app.config["MAIL_DEFAULT_SENDER"])
    unsubscribe = links.build("alerts.unsubscribe", token=unsubscribe_token(user, kind))
    survey = context.get("survey") or context["digest"].survey
    # Why this person gets it: they own the survey, or it has no active owner and they are an admin.
    reason = (f"you own {survey.name}" if survey.owner_id == user.id
              else f"you are an admin and {survey.name} has no active owner")
    context.update(subject=subject, unsubscribe_url=unsubscribe, account_url=links.build("auth.account"),
                   kind_title=KIND_TITLES[kind], reason=reason)
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = sender
    message["To"] = wire_address(user.email)
    message["Subject"] = subject
    message["Date"] = format_datetime(now.replace(tzinfo=dt.timezone.utc))
    message_id = f"<{secrets.token_hex(16)}@{sender.domain}>"
    message["Message-ID"] = message_id
    mailto = current_app.config.get("MAIL_UNSUBSCRIBE_MAILTO") or sender.addr_spec
    message["List-Unsubscribe"] = f"<mailto:{mailto}?subject=unsubscribe>, <{unsubscribe}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(render_template(f"email/{template}.txt", **context))
    message.add_alternative(render_template(f"email/{template}.html", **context), subtype="html")
    return BuiltMessage(raw=message.as_bytes(), message_id=message_id, envelope_from=sender.addr_spec,
                        recipient=wire_address(user.email))


def outbox_message(kind: str, built: BuiltMessage, now: dt.datetime) -> OutboxMessage:
    """The outbox row the delivery worker sends (exactly once, like every invitation); the caller commits."""
    message = OutboxMessage(kind=kind, state="queued", message_id=built.message_id,
                            envelope_from=built.envelope_from, recipient=built.recipient,
                            domain=recipient_domain(built.recipient), raw=built.raw, size=len(built.raw),
                            attempts=0, next_attempt_at=now, created_at=now)
    db.session.add(message)
    return message
