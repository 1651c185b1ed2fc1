"""Changes to a survey's codeframe: the only module that writes its tables, and it commits.

Every change is recorded as a :class:`CodeframeEdit` (who, what, when) in the
same transaction. Problems a person can fix raise :class:`CodeframeError`
with a message for them; nothing is half-written.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from analysis.labels import THEMES
from survey.codeframe.models import (NAME_MAX, CodeframeEdit, CodeframeExample, CodeframePoint, DismissedProposal,
                                     text_key)
from survey.csvsafe import SPREADSHEET_BOM, safe_cell, unsafe_cell
from survey.db import db
from survey.importer import ImportError_, csv_text, sniff_delimiter, unreadable_csv
from survey.models import Response, Survey, User, utcnow
from survey.textrules import text_problem

#: The file format (import and export): one row per example.
COLUMNS = ("name", "theme", "keywords", "example", "hidden")
REQUIRED_ONE_OF = ("example", "keywords")
DEFAULT_THEME = "other"
KEYWORD_SEPARATOR = ";"
EXAMPLE_MAX = 5000
#: Bounds on one codeframe file, the dashboard's upload and ``flask codeframe import`` alike (a walk
#: imported a 10 MB file of 500 pain points: 3 minutes, and a 42 MB codeframe page). The file bound
#: stays under the site's request limit (MAX_CONTENT_LENGTH, 2 MB) so an upload meets this message.
FILE_MAX_BYTES = 1024 * 1024
POINTS_MAX = 200  # in a codeframe, whatever adds them (import, copy, accepting a proposal, a split)
EXAMPLES_MAX = 5000  # example rows in one file


class CodeframeError(ValueError):
    """A change that cannot be made; the message says why, for a person."""


class BadLines(CodeframeError):
    """A codeframe file with problems, each "line N: what"; nothing of it was imported."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(f"{len(problems)} bad line(s); nothing was imported")


def too_large() -> CodeframeError:
    # Said without the file's size: an upload is read only one byte past the bound.
    return CodeframeError(f"the file is larger than {FILE_MAX_BYTES // 1024 // 1024} MB, the most a codeframe file "
                          f"may be (with at most {POINTS_MAX} pain points and {EXAMPLES_MAX} examples); nothing was "
                          "imported. Split it and import the parts one after the other")


@dataclass
class PointSpec:
    """One pain point as a file describes it."""

    name: str
    theme: str | None = None
    keywords: list[str] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)
    hidden: bool = False


@dataclass
class ImportOutcome:
    points_added: int = 0
    examples_added: int = 0
    keywords_added: int = 0
    themes_changed: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.points_added or self.examples_added or self.keywords_added or self.themes_changed)


# --------------------------------------------------------------------------- #
# Reading
# --------------------------------------------------------------------------- #
def points_of(survey: Survey, include_hidden: bool = True) -> list[CodeframePoint]:
    query = sa.select(CodeframePoint).where(CodeframePoint.survey_id == survey.id)
    if not include_hidden:
        query = query.where(CodeframePoint.hidden.is_(False))
    return list(db.session.scalars(query.order_by(CodeframePoint.name)))


def has_codeframe(survey_id: int) -> bool:
    return db.session.scalar(sa.select(sa.func.count(CodeframePoint.id))
                             .where(CodeframePoint.survey_id == survey_id)) > 0


def name_key(name: str) -> str:
    """What makes two pain point names the same: case and spacing do not ("Late flight", "late  Flight")."""
    return " ".join(name.split()).casefold()


def point_by_name(survey: Survey, name: str) -> CodeframePoint:
    point = db.session.scalar(sa.select(CodeframePoint).where(CodeframePoint.survey_id == survey.id,
                                                              CodeframePoint.name == name))
    if point is None:
        raise CodeframeError(f"survey {survey.public_key} has no pain point named {name!r} in its codeframe")
    return point


def edits_of(survey: Survey, limit: int = 100) -> list[CodeframeEdit]:
    return list(db.session.scalars(sa.select(CodeframeEdit).where(CodeframeEdit.survey_id == survey.id)
                                   .order_by(CodeframeEdit.created_at.desc(), CodeframeEdit.id.desc()).limit(limit)))


def renamed(survey: Survey) -> dict[str, str]:
    """Every former name of a pain point (renamed or merged away) and the name it goes by now."""
    now: dict[str, str] = {}
    for edit in db.session.scalars(sa.select(CodeframeEdit).where(CodeframeEdit.survey_id == survey.id,
                                                                  CodeframeEdit.action.in_(("rename", "merge")))
                                   .order_by(CodeframeEdit.created_at, CodeframeEdit.id)):
        olds = [edit.detail.get("old_name")] if edit.action == "rename" else list(edit.detail.get("merged", []))
        new = edit.detail.get("point")
        for old in filter(None, olds):
            for name, current in list(now.items()):
                if current == old:
                    now[name] = new
            now[old] = new
    return now


def as_edited_now(survey: Survey, records: list) -> list[tuple[Any, str, list[str]]]:
    """A run's pain point records as the codeframe stands now: ``(record, name, merged_since)``.

    A run stores the codeframe's pain points under the names they had then; renames and hides since
    show at once. A hidden or removed point is left out. Points merged since the run are one entry,
    under the surviving name, with the merged-away names in ``merged_since``; its counts, members
    and trend stay the run's own record until the next run recounts the merged point.
    """
    now, points = renamed(survey), {p.name: p for p in points_of(survey)}
    groups: dict[str, list] = {}
    out: list[tuple[Any, str, list[str]]] = []
    for record in records:
        if record.source != "codeframe":
            out.append((record, record.label, []))
            continue
        name = now.get(record.label, record.label)
        point = points.get(name)
        if point is None or point.hidden:
            continue
        if name not in groups:
            groups[name] = []
            out.append((None, name, []))  # filled below, in the rank of its best record
        groups[name].append(record)
    filled = []
    for record, name, merged in out:
        if record is None:
            group = groups[name]
            kept = next((r for r in group if r.label == name), group[0])
            record, merged = kept, [r.label for r in group if r is not kept]
        filled.append((record, name, merged))
    return filled


# --------------------------------------------------------------------------- #
# The file format
# --------------------------------------------------------------------------- #
def parse_csv(text: str) -> tuple[list[PointSpec], list[str]]:
    """Pain points from a codeframe file's text, and its problems as "line N: what" (all of them)."""
    # The separator as the answer importer finds it: spreadsheets in many locales save with semicolons.
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(text), strict=True)
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    if not header:
        return [], ["line 1: the file is empty; it needs a header with `name` and `example` and/or `keywords`"]
    unknown = sorted(set(header) - set(COLUMNS))
    problems = []
    if "name" not in header or not set(REQUIRED_ONE_OF) & set(header):
        problems.append(f"line 1: the header needs `name` and `example` and/or `keywords` (it has {', '.join(header)})")
    if unknown:
        problems.append(f"line 1: unknown column(s) {', '.join(unknown)}; the columns are {', '.join(COLUMNS)}")
    if len(set(header)) != len(header):
        problems.append("line 1: a column appears twice")
    if problems:
        return [], problems
    reader.fieldnames = header
    specs: dict[str, PointSpec] = {}  # by name_key: names differing in case or spacing are one point
    examples_read = 0
    rows = iter(reader)
    while True:
        start = reader.line_num + 1  # a quoted cell may span lines: a broken one is reported where it starts
        try:
            row = next(rows)
        except StopIteration:
            break
        except csv.Error as exc:  # the rest of the file cannot be read reliably
            problems.append(f"line {start}: {unreadable_csv(str(exc), reader.line_num)}")
            break
        line = reader.line_num
        if None in row:
            problems.append(f"line {line}: more cells than columns")
            continue
        # A cell export_rows made formula-safe reads back as it was.
        cells = {k: unsafe_cell((v or "").strip()) for k, v in row.items()}
        if not any(cells.values()):
            continue
        bad_text = next(((column, problem) for column, value in cells.items()
                         if (problem := text_problem(value))), None)
        if bad_text:
            problems.append(f"line {line}: the {bad_text[0]} {bad_text[1]}")
            continue
        name, theme = " ".join(cells.get("name", "").split()), cells.get("theme", "").lower()
        keywords = [" ".join(k.split()) for k in cells.get("keywords", "").split(KEYWORD_SEPARATOR) if k.strip()]
        example = cells.get("example", "")
        hidden = cells.get("hidden", "").lower()
        if not name:
            problems.append(f"line {line}: no name")
        elif len(name) > NAME_MAX:
            problems.append(f"line {line}: the name is longer than {NAME_MAX} characters")
        elif not example and not keywords:
            problems.append(f"line {line}: {name!r} has neither an example nor keywords")
        elif theme and theme not in THEMES:
            problems.append(f"line {line}: unknown theme {theme!r}; use one of {', '.join(THEMES)}")
        elif len(example) > EXAMPLE_MAX:
            problems.append(f"line {line}: the example is longer than {EXAMPLE_MAX} characters")
        elif hidden not in ("", "yes", "no", "true", "false", "1", "0"):
            problems.append(f"line {line}: hidden is {hidden!r}; write yes or leave it empty")
        elif theme and specs.get(name_key(name)) and specs[name_key(name)].theme not in (None, theme):
            problems.append(f"line {line}: {name!r} has theme {theme!r} here but "
                            f"{specs[name_key(name)].theme!r} above")
        elif name_key(name) not in specs and len(specs) == POINTS_MAX:
            problems.append(f"line {line}: a {POINTS_MAX + 1}st pain point; a codeframe holds at most {POINTS_MAX} "
                            "(the rest of the file was not read)")
            break
        elif example and examples_read == EXAMPLES_MAX:
            problems.append(f"line {line}: a {EXAMPLES_MAX + 1}st example; a file holds at most {EXAMPLES_MAX} "
                            "(import the rest as another file; the rest of this one was not read)")
            break
        else:
            examples_read += bool(example)
            spec = specs.setdefault(name_key(name), PointSpec(name))
            spec.theme = spec.theme or theme or None
            spec.keywords.extend(k for k in keywords if k.casefold() not in {x.casefold() for x in spec.keywords})
            if example:
                spec.examples.append(example)
            spec.hidden = spec.hidden or hidden in ("yes", "true", "1")
    return list(specs.values()), problems


def read_bounded(path: Path) -> bytes:
    """A codeframe file's bytes; one larger than FILE_MAX_BYTES raises before it is read."""
    if Path(path).stat().st_size > FILE_MAX_BYTES:
        raise too_large()
    return Path(path).read_bytes()


def read_file(path: Path) -> tuple[list[PointSpec], list[str]]:
    return parse_bytes(read_bounded(path))


def parse_bytes(data: bytes) -> tuple[list[PointSpec], list[str]]:
    """A codeframe file's content (a file or an upload): its pain points and its problems, as parse_csv.

    Raises :class:`CodeframeError` for content over FILE_MAX_BYTES.
    """
    if len(data) > FILE_MAX_BYTES:
        raise too_large()
    try:
        text = csv_text(data)
    except ImportError_ as exc:
        return [], [str(exc)]
    try:
        return parse_csv(text)
    except csv.Error as exc:
        return [], [f"not a readable CSV file: {exc}"]


def export_rows(survey: Survey) -> Iterable[dict]:
    """The codeframe as file rows (the import format): one per example, one for a point without examples."""
    for point in points_of(survey):
        # Formula-safe (survey.csvsafe) like every CSV Rapport writes; parse_csv takes the apostrophe off again.
        base = {"name": safe_cell(point.name), "theme": point.theme,
                "keywords": safe_cell(f"{KEYWORD_SEPARATOR} ".join(point.keywords)),
                "hidden": "yes" if point.hidden else ""}
        examples = [e.text for e in point.in_force("example")]
        for text in examples or [""]:
            yield {**base, "example": safe_cell(text)}


def write_csv(rows: Iterable[dict], out) -> None:
    """The import format, BOM first (survey.csvsafe.SPREADSHEET_BOM): the file is edited in spreadsheets
    and comes back through the import, which takes the BOM off."""
    out.write(SPREADSHEET_BOM)
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)


def export_text(survey: Survey) -> str:
    """The whole export (what ``flask codeframe export`` prints), for the dashboard's download."""
    buffer = io.StringIO()
    write_csv(export_rows(survey), buffer)
    return buffer.getvalue()


def outcome_text(survey: Survey, outcome: ImportOutcome, source: str) -> str:
    """What an import did, said the same way on the command line and the dashboard."""
    if not outcome.changed:
        return f"Nothing changed: the codeframe of {survey.public_key} already holds everything in {source}."
    return (f"Imported into {survey.public_key} ({survey.name}): {outcome.points_added} new pain point(s), "
            f"{outcome.examples_added} new example(s), {outcome.keywords_added} new keyword(s)"
            + (f", {outcome.themes_changed} theme(s) changed" if outcome.themes_changed else "") + ".")


# --------------------------------------------------------------------------- #
# Writing
# --------------------------------------------------------------------------- #
def _judge(point: CodeframePoint, role: str, text: str, response_id: int | None, user: User | None) -> bool:
    """``text`` in force as an example (or exclusion) of ``point``; False if it already was.

    A row of the same text that a customer's rewrite put out of force comes back into force (the
    same text, judged the same way again) rather than a second row beside it.
    """
    key = text_key(text)
    for example in point.examples:
        if example.role == role and example.text_key == key:
            if example.superseded_at is None:
                return False
            example.superseded_at, example.text, example.response_id = None, text, response_id
            example.user_id = user.id if user else None
            return True
    point.examples.append(CodeframeExample(role=role, text=text, text_key=key, response_id=response_id,
                                           user_id=user.id if user else None))
    return True


def supersede_examples(response: Response) -> None:
    """The customer rewrote ``response``'s comment: every analyst's judgement of it in a codeframe
    (an example, or taken out) judged the earlier text, so none stays in force. The rows stay, with
    that text, as history, like an analyst's labels (survey.labels.forget_model_labels). The caller commits."""
    db.session.execute(sa.update(CodeframeExample)
                       .where(CodeframeExample.response_id == response.id, CodeframeExample.superseded_at.is_(None))
                       .values(superseded_at=utcnow()))


def _record(survey: Survey, user: User | None, action: str, **detail) -> None:
    db.session.add(CodeframeEdit(survey_id=survey.id, user_id=user.id if user else None,
                                 actor=user.email if user else "cli", action=action, detail=detail))


def _lock_codeframe(survey: Survey) -> None:
    """Hold the survey's codeframe until this transaction ends, so that counting its points and adding
    one are a single step: two analysts accepting a proposal at once took a full codeframe one past
    POINTS_MAX, each having counted before the other's point was committed.

    A no-op UPDATE of the survey's row is the one statement that does it on both databases:
    PostgreSQL locks the row (FOR NO KEY UPDATE, which answers' inserts do not wait for) until the
    commit, and a count after it sees every point committed before; SQLite lets one connection write
    at a time, and a transaction's first write takes that lock and reads the file as it is then."""
    db.session.execute(sa.update(Survey).where(Survey.id == survey.id).values(id=Survey.id)
                       .execution_options(synchronize_session=False))


def _merge_specs(survey: Survey, specs: list[PointSpec], user: User | None) -> ImportOutcome:
    """Add what ``specs`` say that the codeframe lacks; nothing already there changes but a given theme."""
    outcome = ImportOutcome()
    _lock_codeframe(survey)
    existing = {name_key(p.name): p for p in points_of(survey)}
    total = len(existing | {name_key(spec.name): None for spec in specs})
    if total > POINTS_MAX:  # checked before anything is written
        raise CodeframeError(f"a codeframe holds at most {POINTS_MAX} pain points; this would make "
                             f"{survey.public_key}'s {total} ({len(existing)} now); nothing was imported")
    for spec in specs:
        point = existing.get(name_key(spec.name))
        if point is None:
            point = CodeframePoint(survey_id=survey.id, name=spec.name, theme=spec.theme or DEFAULT_THEME,
                                   keywords=[], hidden=spec.hidden)
            db.session.add(point)
            db.session.flush()
            existing[name_key(spec.name)] = point
            outcome.points_added += 1
        elif spec.theme and spec.theme != point.theme:
            point.theme = spec.theme
            outcome.themes_changed += 1
        known = {k.casefold() for k in point.keywords}
        new_keywords = [k for k in spec.keywords if k.casefold() not in known]
        if new_keywords:
            point.keywords = [*point.keywords, *new_keywords]
            outcome.keywords_added += len(new_keywords)
        for text in spec.examples:
            if _judge(point, "example", text, None, user):
                outcome.examples_added += 1
    return outcome


def import_codeframe(survey: Survey, specs: list[PointSpec], user: User | None = None,
                     source: str = "") -> ImportOutcome:
    """Merge a parsed file into the survey's codeframe, in one transaction; re-importing changes nothing."""
    outcome = _merge_specs(survey, specs, user)
    if outcome.changed:
        _record(survey, user, "import", source=source, points_added=outcome.points_added,
                examples_added=outcome.examples_added, keywords_added=outcome.keywords_added)
    db.session.commit()
    return outcome


def import_file(survey: Survey, data: bytes, user: User | None = None, source: str = "") -> ImportOutcome:
    """A codeframe file's content merged into the survey's codeframe (``flask codeframe import`` and the
    dashboard's upload): all of it, or nothing and :class:`BadLines` / :class:`CodeframeError` saying why."""
    specs, problems = parse_bytes(data)
    if problems:
        raise BadLines(problems)
    if not specs:
        raise CodeframeError("no pain points in the file; nothing was imported")
    return import_codeframe(survey, specs, user, source)


def copy_codeframe(source: Survey, target: Survey, user: User | None = None) -> ImportOutcome:
    """Give ``target`` the pain points of ``source`` (names, themes, keywords, example texts, hidden flags)."""
    if source.id == target.id:
        raise CodeframeError("a codeframe cannot be copied onto its own survey")
    specs = [PointSpec(p.name, p.theme, list(p.keywords), [e.text for e in p.in_force("example")],
                       p.hidden) for p in points_of(source)]
    if not specs:
        raise CodeframeError(f"survey {source.public_key} has no codeframe to copy")
    outcome = _merge_specs(target, specs, user)
    _record(target, user, "copy", source=source.public_key, points_added=outcome.points_added,
            examples_added=outcome.examples_added)
    db.session.commit()
    return outcome


def _check_room(survey: Survey) -> None:
    """Raise unless the codeframe can take one more pain point (hidden ones count: they are still sorted into).

    The codeframe stays locked until the caller's commit (:func:`_lock_codeframe`)."""
    _lock_codeframe(survey)
    held = db.session.scalar(sa.select(sa.func.count(CodeframePoint.id)).where(CodeframePoint.survey_id == survey.id))
    if held >= POINTS_MAX:
        raise CodeframeError(f"the codeframe of {survey.public_key} is full: it holds {held} pain points and a "
                             f"codeframe holds at most {POINTS_MAX}. Merge pain points that belong together to make "
                             "room; nothing was added")


def _check_name(survey: Survey, name: str, keep: CodeframePoint | None = None) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise CodeframeError("a pain point needs a name")
    if len(name) > NAME_MAX:
        raise CodeframeError(f"a pain point's name is at most {NAME_MAX} characters")
    problem = text_problem(name)
    if problem:
        raise CodeframeError(f"the name {problem}")
    clash = next((p for p in points_of(survey) if name_key(p.name) == name_key(name) and p is not keep), None)
    if clash is not None:
        raise CodeframeError(f"the codeframe already has a pain point named {clash.name!r}")
    return name


def add_point(survey: Survey, name: str, theme: str, user: User | None = None,
              examples: Iterable[Response] = (), keywords: Iterable[str] = (),
              proposal: str | None = None) -> CodeframePoint:
    """A new pain point (accepting a proposal: its name and a few of its comments as examples).

    ``proposal`` is the accepted proposal's label, recorded so the screen stops offering it.
    """
    name = _check_name(survey, name)
    _check_room(survey)
    if theme not in THEMES:
        raise CodeframeError(f"unknown theme {theme!r}; use one of {', '.join(THEMES)}")
    point = CodeframePoint(survey_id=survey.id, name=name, theme=theme, keywords=list(keywords), hidden=False)
    db.session.add(point)
    for response in examples:
        if response.comment:
            _judge(point, "example", response.comment, response.id, user)
    db.session.flush()
    _record(survey, user, "add", point=name, examples=len(point.examples),
            **({"proposal": proposal} if proposal else {}))
    db.session.commit()
    return point


def rename_point(point: CodeframePoint, new_name: str, user: User | None = None) -> bool:
    """Rename ``point``; False (and nothing recorded) when the name is already that, e.g. a form sent twice."""
    survey = db.session.get(Survey, point.survey_id)
    new_name = _check_name(survey, new_name, keep=point)
    if new_name == point.name:
        return False
    old, point.name = point.name, new_name
    _record(survey, user, "rename", point=new_name, old_name=old)
    db.session.commit()
    return True


def set_hidden(point: CodeframePoint, hidden: bool, user: User | None = None) -> bool:
    """Hide or show ``point``; False (and nothing recorded) when it already was, e.g. a form sent twice."""
    if point.hidden == hidden:
        return False
    point.hidden = hidden
    _record(db.session.get(Survey, point.survey_id), user, "hide" if hidden else "show", point=point.name)
    db.session.commit()
    return True


def merge_points(into: CodeframePoint, others: list[CodeframePoint], user: User | None = None) -> None:
    """``others`` become part of ``into``: their examples, exclusions and keywords move, they go."""
    others = [p for p in others if p.id != into.id]
    if not others:
        raise CodeframeError("choose at least one other pain point to merge")
    if any(p.survey_id != into.survey_id for p in others):
        raise CodeframeError("only pain points of the same survey can be merged")
    keys = {(e.role, e.text_key) for e in into.examples}
    for other in others:
        for example in list(other.examples):
            if (example.role, example.text_key) not in keys:
                into.examples.append(CodeframeExample(role=example.role, text=example.text, text_key=example.text_key,
                                                      response_id=example.response_id, user_id=example.user_id,
                                                      superseded_at=example.superseded_at))
                keys.add((example.role, example.text_key))
        known = {k.casefold() for k in into.keywords}
        into.keywords = [*into.keywords, *(k for k in other.keywords if k.casefold() not in known)]
        db.session.delete(other)
    _record(db.session.get(Survey, into.survey_id), user, "merge", point=into.name, merged=[p.name for p in others])
    db.session.commit()


def split_point(point: CodeframePoint, new_name: str, example_ids: list[int], user: User | None = None,
                theme: str | None = None) -> CodeframePoint:
    """A new pain point taking some of ``point``'s examples (by example id)."""
    survey = db.session.get(Survey, point.survey_id)
    new_name = _check_name(survey, new_name)
    _check_room(survey)
    moving = [e for e in point.in_force("example") if e.id in set(example_ids)]
    if not moving:
        raise CodeframeError("choose the examples that belong to the new pain point")
    if len(moving) == len(point.in_force("example")):
        raise CodeframeError(f"leave at least one example with {point.name!r}, or rename it instead")
    new = CodeframePoint(survey_id=survey.id, name=new_name, theme=theme or point.theme, keywords=[], hidden=False)
    db.session.add(new)
    for example in moving:
        point.examples.remove(example)
        new.examples.append(CodeframeExample(role="example", text=example.text, text_key=example.text_key,
                                             response_id=example.response_id, user_id=example.user_id))
    db.session.flush()
    _record(survey, user, "split", point=point.name, new_point=new_name, examples=len(moving))
    db.session.commit()
    return new


def assign_comment(point: CodeframePoint, response: Response, user: User | None = None) -> None:
    """``response`` belongs to ``point``: it becomes an example (and is no longer excluded from it)."""
    if response.survey_id != point.survey_id:
        raise CodeframeError("that comment is not an answer to this survey")
    if not response.comment:
        raise CodeframeError("that answer has no comment")
    key = text_key(response.comment)
    for example in point.in_force("excluded"):
        if example.response_id == response.id or example.text_key == key:
            point.examples.remove(example)
    _judge(point, "example", response.comment, response.id, user)
    db.session.flush()
    _record(db.session.get(Survey, point.survey_id), user, "assign", point=point.name, response_id=response.id)
    db.session.commit()


def remove_comment(point: CodeframePoint, response: Response, user: User | None = None) -> None:
    """``response`` does not belong to ``point``: no longer an example, and never sorted into it again."""
    if response.survey_id != point.survey_id:
        raise CodeframeError("that comment is not an answer to this survey")
    key = text_key(response.comment or "")
    for example in point.in_force("example"):
        if example.response_id == response.id or example.text_key == key:
            point.examples.remove(example)
    if not any(e.response_id == response.id for e in point.in_force("excluded")):
        _judge(point, "excluded", response.comment or "", response.id, user)
    db.session.flush()
    _record(db.session.get(Survey, point.survey_id), user, "remove", point=point.name, response_id=response.id)
    db.session.commit()


def move_comment(source: CodeframePoint, target: CodeframePoint, response: Response,
                 user: User | None = None) -> None:
    remove_comment(source, response, user)
    assign_comment(target, response, user)


def dismiss_proposal(survey: Survey, label: str, terms: list[str], response_ids: list[int],
                     user: User | None = None) -> None:
    """Remember that this proposal is not wanted (a later one like it stays out)."""
    label = proposal_label(label)
    existing = db.session.scalar(sa.select(DismissedProposal).where(DismissedProposal.survey_id == survey.id,
                                                                    DismissedProposal.label == label))
    if existing is None:
        db.session.add(DismissedProposal(survey_id=survey.id, label=label, terms=list(terms),
                                         response_ids=sorted(set(response_ids)), user_id=user.id if user else None))
        _record(survey, user, "dismiss", proposal=label)
    db.session.commit()


def proposal_label(label: str) -> str:
    """A proposal's label as dismissals and acceptances store it (spaces squeezed, cut to a name's length)."""
    return " ".join(label.split())[:NAME_MAX]


def answered_proposals(survey: Survey, since: dt.datetime | None) -> set[str]:
    """Labels of proposals dismissed (ever) or accepted since ``since``: an analysis's proposals already decided.

    Accepting is only counted since the analysis that made the proposal: a later analysis sorts its
    comments into the new point, and should it propose that label again, that proposal is new.
    """
    decided = {d.label for d in dismissed_of(survey.id)}
    query = sa.select(CodeframeEdit).where(CodeframeEdit.survey_id == survey.id, CodeframeEdit.action == "add")
    if since is not None:
        query = query.where(CodeframeEdit.created_at >= since)
    decided.update(e.detail["proposal"] for e in db.session.scalars(query) if (e.detail or {}).get("proposal"))
    return decided


def dismissed_of(survey_id: int) -> list[DismissedProposal]:
    return list(db.session.scalars(sa.select(DismissedProposal).where(DismissedProposal.survey_id == survey_id)))
