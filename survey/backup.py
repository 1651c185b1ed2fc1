"""Consistent copies of a live SQLite database, taken with SQLite's online backup API.

The copy is written next to its destination and renamed into place only when
complete, so a crash never leaves a half-written file that looks like a backup.
Answers keep arriving meanwhile: the copy is made in one step inside a single
read transaction, which in WAL mode sees one moment of the database and does
not block writers. (A copy made in small steps would restart every time a
writer changed the source, and on a busy site might never finish.)
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url


class BackupError(RuntimeError):
    pass


def sqlite_path(database_uri: str) -> Path:
    url = make_url(database_uri)
    if url.get_backend_name() != "sqlite":
        raise BackupError(
            f"flask backup copies SQLite databases; this site uses {url.get_backend_name()}. "
            "Back up PostgreSQL with pg_dump (see README, 'Running in production')."
        )
    if not url.database or url.database == ":memory:":
        raise BackupError("the database is in memory; there is nothing on disk to back up")
    return Path(url.database)


def backup_sqlite(source: Path, destination: Path) -> int:
    """Copy ``source`` to ``destination``; return the number of pages copied."""
    if not source.exists():
        raise BackupError(f"there is no database at {source}")
    destination = destination.resolve()
    if destination == source.resolve():
        raise BackupError("the backup must not overwrite the live database")
    if destination.is_dir():
        raise BackupError(f"{destination} is a folder; give a file name, e.g. {destination / 'rapport-backup.db'}")
    if not destination.parent.is_dir():
        raise BackupError(f"the folder {destination.parent} does not exist")
    partial = destination.with_name(f".{destination.name}.partial-{os.getpid()}")
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    try:
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst, pages=-1)
            dst.execute("PRAGMA journal_mode=DELETE")  # a backup is one self-contained file
            check = dst.execute("PRAGMA integrity_check").fetchone()[0]
            if check != "ok":
                raise BackupError(f"the copy failed its integrity check: {check}")
            pages = dst.execute("PRAGMA page_count").fetchone()[0]
        finally:
            dst.close()
        os.replace(partial, destination)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        src.close()
    return pages
