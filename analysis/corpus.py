"""Load and check the labelled training corpus (``models/corpus/*.csv``).

Each file has the columns ``text,sentiment,theme`` with labels from the
codebook. Loading validates every label (a typo in one row fails loudly with
the file and line), drops exact and near duplicates (same text once
normalised: case, punctuation, whitespace, handles, URLs, numbers) so the
held-out split cannot contain a copy of a training row, and computes a
SHA-256 checksum of the rows kept, which goes into the model metadata and the
model version.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from analysis.labels import LABELS
from analysis.model_store import DEFAULT_MODEL_DIR
from analysis.text import normalise

DEFAULT_CORPUS_DIR = DEFAULT_MODEL_DIR / "corpus"
REQUIRED_COLUMNS = ("text", "sentiment", "theme")


class CorpusError(ValueError):
    """A corpus file is missing, malformed, or has a label outside the codebook."""


@dataclass
class Corpus:
    """Deduplicated corpus rows plus what the model metadata needs."""

    texts: list[str]
    sentiment: list[str]
    theme: list[str]
    files: list[str]
    checksum: str
    duplicates_dropped: int = 0
    conflicts: int = 0  # duplicates whose labels disagreed with the kept row
    rows_per_file: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.texts)

    def labels(self, task: str) -> list[str]:
        return self.sentiment if task == "sentiment" else self.theme

    def counts(self) -> dict[str, dict[str, int]]:
        """Rows per label for each task (for the metadata)."""
        return {task: dict(sorted(Counter(self.labels(task)).items())) for task in LABELS}


_KEY_DROP = re.compile(r"[^\w ]+|\d+|\b(?:URL|USER|EMAIL|PHONE)\b")


def dedup_key(text: str) -> str:
    """Key under which two texts count as (near) duplicates."""
    return " ".join(_KEY_DROP.sub(" ", normalise(text)).lower().split())


def resolve_paths(paths) -> list[Path]:
    """Expand directories to their ``*.csv`` files; sort for a stable order."""
    out: list[Path] = []
    for p in [paths] if isinstance(paths, (str, Path)) else paths:
        p = Path(p)
        if p.is_dir():
            out.extend(sorted(p.glob("*.csv")))
        elif p.exists():
            out.append(p)
        else:
            raise CorpusError(f"corpus path not found: {p}")
    if not out:
        raise CorpusError(f"no corpus CSV files in {[str(p) for p in paths]}")
    return sorted(set(out), key=lambda p: (p.name, str(p)))


def load_corpus(paths=DEFAULT_CORPUS_DIR) -> Corpus:
    """Read, validate and deduplicate corpus CSV files (a dir, a file or a list)."""
    files = resolve_paths(paths)
    texts, sents, themes = [], [], []
    seen: dict[str, tuple[str, str]] = {}
    dropped = conflicts = 0
    per_file: dict[str, int] = {}
    for path in files:
        kept = 0
        with open(path, encoding="utf-8-sig", newline="") as fh:
            # strict: a quote left open is an error, not the rest of the file read as one text
            reader = csv.DictReader(fh, strict=True)
            header = _read_or_explain(path, lambda: reader.fieldnames)
            missing = [c for c in REQUIRED_COLUMNS if c not in (header or ())]
            if missing:
                raise CorpusError(f"{path}: missing column(s) {missing}; "
                                  f"expected {list(REQUIRED_COLUMNS)} separated by commas; "
                                  f"the header is {', '.join(header or []) or 'empty'}")
            twice = [c for c in REQUIRED_COLUMNS if header.count(c) > 1]
            if twice:
                raise CorpusError(f"{path}:1: column(s) {twice} appear more than once")
            for line, row in _rows(path, reader):
                text = (row["text"] or "").strip()
                s = (row["sentiment"] or "").strip().lower()
                t = (row["theme"] or "").strip().lower()
                if not text:
                    raise CorpusError(f"{path}:{line}: empty text")
                if s not in LABELS["sentiment"]:
                    raise CorpusError(f"{path}:{line}: sentiment {s!r} not in "
                                      f"{LABELS['sentiment']}")
                if t not in LABELS["theme"]:
                    raise CorpusError(f"{path}:{line}: theme {t!r} not in {LABELS['theme']}")
                key = dedup_key(text)
                if key in seen:
                    dropped += 1
                    conflicts += seen[key] != (s, t)
                    continue
                seen[key] = (s, t)
                texts.append(text)
                sents.append(s)
                themes.append(t)
                kept += 1
        per_file[path.name] = kept
    if not texts:
        raise CorpusError(f"no labelled rows in {[str(p) for p in files]}: each file has only its header")
    return Corpus(
        texts=texts, sentiment=sents, theme=themes,
        files=[p.name for p in files],
        checksum=checksum_rows(texts, sents, themes),
        duplicates_dropped=dropped, conflicts=conflicts, rows_per_file=per_file,
    )


def _rows(path: Path, reader):
    """``(line the row starts on, row)``; the file's own faults become CorpusError naming the line."""
    while True:
        start = reader.line_num + 1
        row = _read_or_explain(path, lambda: next(reader, None), start)
        if row is None:
            return
        yield start, row


def _read_or_explain(path: Path, read, start: int = 1):
    """``read()``, with a file that is not UTF-8 or not CSV explained as a CorpusError with the line."""
    try:
        return read()
    except UnicodeDecodeError:
        with open(path, "rb") as fh:
            line = next((n for n, raw in enumerate(fh, 1) if not _is_utf8(raw)), None)
        raise CorpusError(f"{path}:{line}: not UTF-8 text; save the file as CSV UTF-8") from None
    except csv.Error as exc:
        raise CorpusError(f"{path}:{start}: not readable as CSV from this line ({exc}): "
                          "is a quote left open?") from None


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def checksum_rows(texts, sentiments, themes) -> str:
    """SHA-256 over the kept rows (text, sentiment, theme), in load order."""
    h = hashlib.sha256()
    for row in zip(texts, sentiments, themes):
        h.update("\t".join(row).replace("\n", " ").encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()
