"""Closing the loop: the "needs follow-up" inbox of low scores, and each answer's follow-up.

An answer at or below its survey's threshold (``Survey.followup_max_score``;
by default the top of the kind's negative band, i.e. detractors for NPS) waits
in the inbox until someone marks it resolved. Anyone on the team may work it,
analysts and admins alike: following up with a customer changes no survey,
contact or account, only the answer's follow-up record and its notes.
"""

from flask import Blueprint, Flask

bp = Blueprint("followup", __name__)


def init_app(app: Flask) -> None:
    # Imported here, not above: survey.models_all imports this package for its tables.
    from survey.followup import routes  # noqa: F401
    from survey.followup.queries import duration_text

    app.register_blueprint(bp)
    app.add_template_filter(duration_text)
