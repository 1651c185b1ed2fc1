"""Label a CSV file of comments, streaming.

Rows are read with :mod:`csv`, labelled ``batch_size`` at a time and written
straight out, so memory stays flat whatever the file size. Four columns are
added: ``sentiment``, ``sentiment_proba``, ``theme``, ``theme_proba``.

The user's columns are never overwritten. A labelled file (the common case
when checking a model) already has ``sentiment`` and ``theme``: the model's
labels then go under ``model_sentiment``, ``model_sentiment_proba``,
``model_theme``, ``model_theme_proba`` (:func:`output_columns`), so the two
can be compared side by side. If those names are taken as well, or an
explicit ``prefix`` collides, :class:`ColumnClash` refuses the file before
anything is written.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import gc
from pathlib import Path

from analysis.labels import LABELS

OUT_COLUMNS = ("sentiment", "sentiment_proba", "theme", "theme_proba")
#: Prefix of the model's columns when the input already has a column of the plain name.
CLASH_PREFIX = "model_"


class ColumnClash(ValueError):
    """The input already has columns under every name the labels could be written to."""


def output_columns(header: list[str], prefix: str | None = None) -> list[str]:
    """Names for the four label columns that collide with none of ``header``.

    ``prefix=None``: the plain names, or :data:`CLASH_PREFIX` + name when any
    plain name is taken. An explicit prefix (``""`` included) is used as given.
    Raises :class:`ColumnClash` naming the taken columns when nothing fits.
    """
    taken = set(header)
    candidates = [prefix] if prefix is not None else ["", CLASH_PREFIX]
    for pre in candidates:
        names = [pre + name for name in OUT_COLUMNS]
        if not taken.intersection(names):
            return names
    clashing = [n for n in (p + name for p in candidates for name in OUT_COLUMNS) if n in taken]
    raise ColumnClash(
        f"the file already has column(s) {', '.join(clashing)}; the model's labels would "
        f"overwrite them. Rename those columns or choose another prefix for the labels "
        f"(--prefix)")


class UnreadableCsv(ValueError):
    """The file cannot be read as CSV from ``line`` on (a quote left open, a field over the csv limit)."""

    def __init__(self, reason: str, line: int, read_to: int):
        super().__init__(reason)
        self.reason, self.line, self.read_to = reason, line, read_to


class ColumnNotFound(KeyError):
    """The text column is not in the CSV header."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


def classify_csv(in_path, out_path, text_col: str, labeller, batch_size: int = 2000,
                 prefix: str | None = None, delimiter: str = ",") -> int:
    """Write ``in_path`` to ``out_path`` with label columns added; return the row count.

    ``delimiter`` separates the fields of both files (a semicolon file stays one).
    Raises :class:`ColumnNotFound` (naming the columns that exist) when
    ``text_col`` is missing, :class:`ColumnClash` when the label columns
    would overwrite the user's (see :func:`output_columns`),
    :class:`UnreadableCsv` where the file stops being CSV and ``ValueError``
    for an empty file.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    s_lab, t_lab = LABELS["sentiment"], LABELS["theme"]
    n_rows = 0
    with open(in_path, "rb") as peek:  # a file saved with a BOM (Excel's "CSV UTF-8") is written back with one
        out_encoding = "utf-8-sig" if peek.read(3) == codecs.BOM_UTF8 else "utf-8"
    with open(in_path, encoding="utf-8-sig", newline="") as fin, \
            open(out_path, "w", encoding=out_encoding, newline="") as fout:
        # strict: a quote left open is an error, not the rest of the file labelled as one comment
        reader = csv.reader(fin, delimiter=delimiter, strict=True)
        rows = _rows(reader)
        header = next(rows, None)
        if header is None:
            raise ValueError(f"the file is empty: expected a header row with {text_col!r}")
        if text_col not in header:
            raise ColumnNotFound(
                f"column {text_col!r} not found in {Path(in_path).name}; "
                f"columns are: {', '.join(header)}"
            )
        col = header.index(text_col)
        names = output_columns(header, prefix)
        out_header = list(header) + names
        out_idx = list(range(len(header), len(out_header)))
        n_in, blanks = len(header), [""] * len(names)
        writer = csv.writer(fout, delimiter=delimiter)
        writer.writerow(out_header)

        def flush(rows):
            texts = [r[col] if col < len(r) else "" for r in rows]
            with _no_gc():
                sent, theme, _ = labeller.comment_probs(texts)
            s_arg, t_arg = sent.argmax(1), theme.argmax(1)
            s_p = sent.max(1).round(4).tolist()
            t_p = theme.max(1).round(4).tolist()
            i0, i1, i2, i3 = out_idx
            for k, row in enumerate(rows):
                if len(row) == n_in:
                    row.extend(blanks)
                else:  # ragged: pad to the header, keep any extra cells after the labels
                    row.extend([""] * (n_in - len(row)))
                    row[n_in:n_in] = blanks
                row[i0] = s_lab[s_arg[k]]
                row[i1] = s_p[k]
                row[i2] = t_lab[t_arg[k]]
                row[i3] = t_p[k]
            writer.writerows(rows)

        batch = []
        for row in rows:
            batch.append(row)
            if len(batch) >= batch_size:
                flush(batch)
                n_rows += len(batch)
                batch = []
        if batch:
            flush(batch)
            n_rows += len(batch)
    return n_rows


def _rows(reader):
    """The reader's rows; a csv.Error becomes :class:`UnreadableCsv` naming the line the row starts on."""
    while True:
        start = reader.line_num + 1
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise UnreadableCsv(str(exc), start, reader.line_num) from None


@contextlib.contextmanager
def _no_gc():
    """Pause the cyclic garbage collector while one batch is labelled.

    A batch allocates hundreds of thousands of short-lived lists and strings
    (none of them cyclic); collections triggered by that churn walk the large
    token caches and cost 5-8% of the run. The previous state is restored.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
