"""Property-based tests for the CSV feedback parser."""

import csv
import datetime as dt
import io

from hypothesis import given, settings
from hypothesis import strategies as st

from survey.importer import ImportError_, detect_date_format, parse_feedback_csv

texts = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=80)


def to_csv(rows):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "score", "text"])
    writer.writerows(rows)
    return io.StringIO(out.getvalue(), newline="")


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10**6), st.one_of(st.none(), st.integers(-5, 15)), texts), max_size=30))
def test_every_line_is_either_a_row_or_a_problem(records):
    rows = [(str(i), "" if s is None else str(s), t) for i, s, t in records]
    parsed = parse_feedback_csv(to_csv(rows), text_col="text", score_col="score", id_col="id", scale=(0, 10))
    assert len(parsed.rows) + len(parsed.problems) == len(rows)
    for row in parsed.rows:
        assert row.score is None or 0 <= row.score <= 10
        assert row.text is not None or row.score is not None
    ids = [row.external_id for row in parsed.rows]
    assert len(ids) == len(set(ids))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.dates(min_value=dt.date(1900, 1, 1)), min_size=1, max_size=20))
def test_iso_dates_are_never_ambiguous(dates):
    assert detect_date_format([d.isoformat() for d in dates]) == "%Y-%m-%d"


@settings(max_examples=100, deadline=None)
@given(st.lists(st.dates(min_value=dt.date(1900, 1, 1)), min_size=1, max_size=20))
def test_slash_dates_parse_as_one_format_or_are_refused(dates):
    values = [d.strftime("%d/%m/%Y") for d in dates]
    try:
        fmt = detect_date_format(values)
    except ImportError_ as exc:
        assert all(d.day <= 12 for d in dates) and "ambiguous" in str(exc)
    else:
        assert fmt == "%d/%m/%Y"
