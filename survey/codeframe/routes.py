"""The codeframe screen: a survey's pain points with their trend, and every analyst edit (thin views).

GET shows the codeframe beside the latest analysis (members, proposals,
trends); POST applies one edit through :mod:`survey.codeframe.operations`
(which records who and when) and redirects back. The codeframe also downloads
and uploads as the CSV file ``flask codeframe export`` / ``import`` use, through
the same functions.
"""

from __future__ import annotations

from pathlib import PurePath

import sqlalchemy as sa
from flask import Response as HttpResponse
from flask import abort, flash, redirect, render_template, url_for
from markupsafe import Markup
from sqlalchemy.orm.exc import StaleDataError

from analysis.labels import THEMES
from survey.auth import current_user, login_required, role_required
from survey.codeframe import bp
from survey.codeframe import operations as ops
from survey.codeframe.forms import ACTIONS, CodeframeEditForm, CodeframeUploadForm
from survey.codeframe.models import CodeframePoint
from survey.db import db
from survey.errors import error_response
from survey.insights.charts import share_sparkline_svg
from survey.display import isolated
from survey.lookups import survey_or_404
from survey.models import PainPointRecord, Response, pain_point_responses
from survey.results.queries import latest_run

#: Comments shown per pain point, and taken as a proposal's examples when it is accepted.
MEMBERS_SHOWN = 8
#: Problems of an uploaded file listed on the page (all are counted).
PROBLEMS_SHOWN = 50


@bp.get("/surveys/<public_key>/codeframe")
@login_required
def codeframe(public_key: str):
    return _page(survey_or_404(public_key))


def _page(survey, upload_form: CodeframeUploadForm | None = None, problems: list[str] | None = None,
          status: int = 200):
    """The codeframe screen; after a refused upload, with its problems beside the form."""
    run = latest_run(survey)
    records = [p for p in (run.pain_points if run else []) if p.survey_id in (survey.id, None)]
    # The latest run knew the pain points by the names they had then: follow renames and merges since.
    now = ops.renamed(survey)
    sorted_into = {}
    for record in records:
        if record.source == "codeframe":
            sorted_into.setdefault(now.get(record.label, record.label), record)
    rows = []
    for point in ops.points_of(survey):
        record = sorted_into.get(point.name)
        rows.append({"point": point, "record": record, "members": _members(record),
                     "examples": point.in_force("example"),
                     "excluded": len(point.in_force("excluded")),
                     "rewritten": [e for e in point.superseded() if e.role == "example"],
                     "sparkline": _sparkline(record) if record else None})
    # A proposal accepted or dismissed since this analysis is decided: offering it again only
    # leads to "already has a pain point named ..." (or brings back what was dismissed).
    decided = ops.answered_proposals(survey, run.finished_at if run else None)
    made = [p for p in records if p.source in ("proposal", "discovered")]
    proposals = [p for p in made if ops.proposal_label(p.label) not in decided]
    return render_template("codeframe/codeframe.html", survey=survey, run=run, rows=rows, proposals=proposals,
                           all_decided=bool(made) and not proposals,
                           form=CodeframeEditForm(), themes=THEMES, edits=ops.edits_of(survey, limit=20),
                           proposal_members={p.id: _members(p) for p in proposals}, examples_taken=MEMBERS_SHOWN,
                           proposal_sparklines={p.id: _sparkline(p) for p in proposals},
                           upload_form=upload_form or CodeframeUploadForm(), can_upload=current_user().is_admin,
                           problems=(problems or [])[:PROBLEMS_SHOWN], problem_count=len(problems or []),
                           file_max_mb=ops.FILE_MAX_BYTES // 1024 // 1024, points_max=ops.POINTS_MAX,
                           examples_max=ops.EXAMPLES_MAX), status


@bp.get("/surveys/<public_key>/codeframe.csv")
@login_required
def download(public_key: str):
    """The codeframe as ``flask codeframe export`` writes it (formula-safe cells; it imports back)."""
    survey = survey_or_404(public_key)
    if not ops.has_codeframe(survey.id):
        abort(404, description=f"Survey {survey.public_key} has no codeframe yet, so there is nothing to download.")
    return HttpResponse(ops.export_text(survey), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="codeframe-{survey.public_key}.csv"',
        "X-Content-Type-Options": "nosniff"})


@bp.post("/surveys/<public_key>/codeframe/import")
@role_required("admin")  # a bulk change, like Analyze now and retraining
def upload(public_key: str):
    """Merge an uploaded codeframe file, as ``flask codeframe import`` does: all of it, or nothing and why."""
    survey = survey_or_404(public_key)
    form = CodeframeUploadForm()
    if not form.validate_on_submit():
        return _page(survey, form, status=422)
    source = PurePath((form.file.data.filename or "").replace("\\", "/")).name[:200] or "the uploaded file"
    try:
        # One byte past the bound is enough to refuse it, without reading the rest.
        outcome = ops.import_file(survey, form.file.data.read(ops.FILE_MAX_BYTES + 1), current_user(), source)
    except ops.BadLines as exc:
        form.file.errors.append(f"{source}: {exc}. Fix them and upload the file again.")
        return _page(survey, form, exc.problems, status=422)
    except ops.CodeframeError as exc:
        form.file.errors.append(f"{source}: {exc}.")
        return _page(survey, form, status=422)
    except (sa.exc.IntegrityError, StaleDataError):
        db.session.rollback()  # another import or edit added the same name at the same moment
        form.file.errors.append("Another analyst changed this codeframe at the same moment, so nothing was "
                                "imported: upload the file again.")
        return _page(survey, form, status=409)
    flash(ops.outcome_text(survey, outcome, source), "success")
    return redirect(url_for("codeframe.codeframe", public_key=survey.public_key))


def _sparkline(record: PainPointRecord) -> Markup:
    # Only numbers are drawn (share_sparkline_svg), so the SVG is safe to mark up.
    return Markup(share_sparkline_svg((record.trend or {}).get("periods", [])))


def _members(record: PainPointRecord | None) -> list[Response]:
    if record is None:
        return []
    return list(db.session.scalars(
        sa.select(Response).join(pain_point_responses, pain_point_responses.c.response_id == Response.id)
        .where(pain_point_responses.c.pain_point_id == record.id).order_by(Response.id).limit(MEMBERS_SHOWN)))


@bp.post("/surveys/<public_key>/codeframe")
@login_required
def edit(public_key: str):
    survey = survey_or_404(public_key)
    form = CodeframeEditForm()
    if not form.validate_on_submit() or form.action.data not in ACTIONS:
        return error_response(400, "This edit cannot be made: " + _form_errors(form))
    user = current_user()
    try:
        message = _apply(survey, form, user)
    except ops.CodeframeError as exc:
        flash(str(exc), "error")
    except (sa.exc.IntegrityError, StaleDataError):
        # Another analyst's edit committed between this one's checks and its commit (the same new
        # name; a point merged away, whose row is then gone): the database refused it whole, so say
        # so rather than show a 500.
        db.session.rollback()
        flash("Another analyst changed this codeframe at the same moment, so nothing was saved: "
              "the page now shows their change; make yours again if it still applies.", "error")
    else:
        flash(message, "success")
    return redirect(url_for("codeframe.codeframe", public_key=survey.public_key))


def _form_errors(form: CodeframeEditForm) -> str:
    if form.action.data not in ACTIONS:
        return "unknown edit."
    return "; ".join(f"{name}: {' '.join(errors)}" for name, errors in form.errors.items()) or "the form is invalid."


def _point(survey, point_id: int | None) -> CodeframePoint:
    point = db.session.get(CodeframePoint, point_id) if point_id else None
    if point is None or point.survey_id != survey.id:
        raise ops.CodeframeError("that pain point is no longer in this survey's codeframe (reload the page)")
    return point


def _response(survey, response_id: int | None) -> Response:
    response = db.session.get(Response, response_id) if response_id else None
    if response is None or response.survey_id != survey.id:
        raise ops.CodeframeError("that comment is not an answer to this survey")
    return response


def _proposal(survey, proposal_id: int | None) -> PainPointRecord:
    record = db.session.get(PainPointRecord, proposal_id) if proposal_id else None
    if record is None or record.survey_id not in (survey.id, None):
        raise ops.CodeframeError("that proposal is no longer in the latest analysis (reload the page)")
    return record


def _apply(survey, form: CodeframeEditForm, user) -> str:
    action = form.action.data
    if action == "rename":
        point = _point(survey, form.point_id.data)
        old = point.name
        if not ops.rename_point(point, form.name.data or "", user):
            return f"“{isolated(old)}” already has that name; nothing changed."
        return f"Renamed “{isolated(old)}” to “{isolated(point.name)}”."
    if action in ("hide", "show"):
        point = _point(survey, form.point_id.data)
        if not ops.set_hidden(point, action == "hide", user):
            return f"“{isolated(point.name)}” was already {'hidden' if action == 'hide' else 'shown'}; nothing changed."
        return f"“{isolated(point.name)}” is {'hidden' if action == 'hide' else 'shown again'}."
    if action == "merge":
        point, into = _point(survey, form.point_id.data), _point(survey, form.target_id.data)
        name = point.name
        ops.merge_points(into, [point], user)
        return f"Merged “{isolated(name)}” into “{isolated(into.name)}”."
    if action == "split":
        point = _point(survey, form.point_id.data)
        new = ops.split_point(point, form.name.data or "", list(form.example_ids.data or []), user)
        return f"“{isolated(new.name)}” split off “{isolated(point.name)}”."
    if action in ("assign", "remove"):
        response = _response(survey, form.response_id.data)
        if action == "remove":
            point = _point(survey, form.point_id.data)
            ops.remove_comment(point, response, user)
            return f"That comment is no longer in “{isolated(point.name)}”."
        target = _point(survey, form.target_id.data)
        if form.point_id.data:
            ops.move_comment(_point(survey, form.point_id.data), target, response, user)
        else:
            ops.assign_comment(target, response, user)
        return f"That comment is now an example of “{isolated(target.name)}”."
    record = _proposal(survey, form.proposal_id.data)
    if action == "dismiss":
        ops.dismiss_proposal(survey, record.label, [], [r.id for r in record.responses], user)
        return f"“{isolated(record.label)}” will not be proposed again."
    theme = form.theme.data if form.theme.data in THEMES else record.theme
    point = ops.add_point(survey, form.name.data or record.label, theme, user, examples=_members(record),
                          proposal=ops.proposal_label(record.label))
    return f"“{isolated(point.name)}” is now in the codeframe; the next analysis sorts comments into it."
