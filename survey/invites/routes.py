"""The pages behind an invitation e-mail's links.

Scanner safety. Corporate mail filters fetch every link of a message, often
with HEAD, sometimes following redirects, sometimes in a browser that runs
scripts. So:

* No GET or HEAD here writes anything. ``/i/<token>/<score>`` (a score
  button) shows the follow-up page with that score chosen; a small
  same-origin script on it (``confirm-click.js``; the CSP forbids inline
  scripts) POSTs the score with the page's CSRF token, and that POST records
  it. A fetch that does not run the script records nothing; without
  scripts, the customer's "Send" records the answer.
* A scanner that does run scripts opens every button's page within seconds.
  ``operations.record_click`` treats different scores confirmed within
  ``INVITE_CLICK_BURST_SECONDS`` as such a fan-out: the provisional answer
  is withdrawn and the burst ignored, so the customer's own later click
  counts. No redirects are involved, so following them changes nothing.
* Each invitation has one answer: clicking again, in the e-mail or the
  reminder, or sending the form, changes it until the link expires.

Unknown or tampered tokens get 404, expired ones 410, both with a page that
says what happened. The unsubscribe link works for as long as the contact
exists, also after the survey link expired.
"""

from __future__ import annotations

from flask import abort, jsonify, redirect, render_template, request, url_for

from survey.errors import error_response
from survey.invites import bp
from survey.invites.forms import ClickForm, InvitationAnswerForm, UnsubscribeForm
from survey.invites.models import Invitation
from survey.models import utcnow
from survey.operations import edit_allowed_until
from survey.invites.operations import answer_invitation, find_invitation, record_click, unsubscribe_invitation
from survey.lookups import require_open
from survey.requestinfo import ua_family
from survey.security import csrf

NOT_FOUND = ("This survey link is not valid. It may have been cut short or changed: please open it again "
             "from the e-mail, or copy the whole link into your browser.")


def _date(value) -> str:
    return f"{value:%d %B %Y}".lstrip("0")


def invitation_or_abort(token: str, *, usable: bool = True) -> Invitation:
    """The token's invitation, or a 404 (unknown) / 410 (expired, survey closed) page."""
    invitation = find_invitation(token)
    if invitation is None:
        abort(404, description=NOT_FOUND)
    if not usable:
        return invitation
    if invitation.response is not None and utcnow() > edit_allowed_until(invitation.response):
        abort(410, description=f"Thank you, your answer was recorded. It could be changed until "
                               f"{_date(edit_allowed_until(invitation.response))}; it is final now.")
    if invitation.is_expired():
        if invitation.answered_at is not None:
            abort(410, description=f"Thank you, your answer was recorded. This link stopped taking changes on "
                                   f"{_date(invitation.expires_at)}.")
        abort(410, description=f"This survey link expired on {_date(invitation.expires_at)}, so it no longer "
                               "takes answers. Thank you for your interest.")
    require_open(invitation.campaign.survey, new_answer=invitation.response is None)
    return invitation


def _answer_page(invitation: Invitation, form: InvitationAnswerForm, *, clicked: int | None = None, status=200,
                 damaged: str | None = None):
    survey = invitation.campaign.survey
    response = invitation.response
    return render_template(
        "invites/answer.html", survey=survey, form=form, token=request.view_args["token"], clicked=clicked,
        answered=response, expires_on=_date(invitation.expires_at), damaged=damaged,
    ), status


@bp.get("/i/<token>")
def answer(token: str):
    invitation = invitation_or_abort(token)
    form = InvitationAnswerForm.for_survey(invitation.campaign.survey, formdata=None)
    if invitation.response is not None:
        form.score.data = invitation.response.score
        form.comment.data = invitation.response.comment
    return _answer_page(invitation, form)


@bp.get("/i/<token>/<int:score>")
def score_link(token: str, score: int):
    invitation = invitation_or_abort(token)
    survey = invitation.campaign.survey
    if score not in survey.scale:
        return _damaged_score(invitation)
    form = InvitationAnswerForm.for_survey(survey, formdata=None)
    form.score.data = score
    if invitation.response is not None:
        form.comment.data = invitation.response.comment
    return _answer_page(invitation, form, clicked=score)


@bp.get("/i/<token>/<path:damaged>")
def damaged_score_link(token: str, damaged: str):
    """A score link whose score is not a number: cut short, or with the sentence's full stop or a
    space stuck to it by a mail program ("/i/TOKEN/7."). The person is who the token says."""
    return _damaged_score(invitation_or_abort(token))


def _damaged_score(invitation: Invitation):
    """The answer page, nothing chosen, saying the link's score was damaged; 404, as that link is no page."""
    survey = invitation.campaign.survey
    form = InvitationAnswerForm.for_survey(survey, formdata=None)
    if invitation.response is not None:
        form.comment.data = invitation.response.comment
    return _answer_page(invitation, form, status=404,
                        damaged=f"This answer link is damaged: its score is not one from {survey.spec.low} to "
                                f"{survey.spec.high}, so nothing was recorded. Please choose your answer below.")


@bp.post("/i/<token>/click")
def click(token: str):
    invitation = invitation_or_abort(token)
    survey = invitation.campaign.survey
    form = ClickForm()
    if not form.for_survey_scale(survey.scale):
        errors = form.score.errors or [next(iter(form.errors.values()))[0]]
        return error_response(422, str(errors[0]), field="score")
    recorded = record_click(invitation, form.score.data, ua_family=ua_family(request.user_agent.string))
    more = "Add a comment below if you like, or change your score." if survey.followup_enabled else \
        "You can change it below."
    message = (f"Thank you, your score of {form.score.data} is saved. {more}" if recorded
               else "Please press Send to record your answer.")
    return jsonify({"recorded": recorded, "score": form.score.data, "message": message})


@bp.post("/i/<token>")
def submit(token: str):
    invitation = invitation_or_abort(token)
    form = InvitationAnswerForm.for_survey(invitation.campaign.survey)
    if not form.validate():
        return _answer_page(invitation, form, status=422)
    answer_invitation(invitation, score=form.score.data, comment=form.comment.data,
                      ua_family=ua_family(request.user_agent.string), confirmed=True)
    return redirect(url_for("invites.thanks", token=token), code=303)


@bp.get("/i/<token>/thanks")
def thanks(token: str):
    invitation = invitation_or_abort(token, usable=False)
    return render_template("invites/thanks.html", survey=invitation.campaign.survey, token=token,
                           can_change=not invitation.is_expired(), expires_on=_date(invitation.expires_at))


@bp.route("/u/<token>", methods=["GET", "POST"])
@csrf.exempt
def unsubscribe(token: str):
    """GET asks (a scanner's fetch changes nothing); POST unsubscribes: the page's button,
    or a mail provider's RFC 8058 one-click POST (body ``List-Unsubscribe=One-Click``)."""
    invitation = invitation_or_abort(token, usable=False)
    form = UnsubscribeForm()
    if request.method == "POST":
        unsubscribe_invitation(invitation)
        if request.form.get("List-Unsubscribe") == "One-Click":
            return "", 204
        return render_template("invites/unsubscribed.html", survey=invitation.campaign.survey)
    contact = invitation.contact
    return render_template("invites/unsubscribe.html", survey=invitation.campaign.survey, form=form,
                           already=contact is None or contact.unsubscribed_at is not None)


@bp.after_request
def private_page(response):
    # These pages carry a personal link: not for caches, search engines or other sites' logs.
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response

