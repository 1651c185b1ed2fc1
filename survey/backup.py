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
        try:
            # Readable by its owner only, as the live database (survey.db): it holds every contact's
            # address, the comments and the password hashes, whatever the umask or the folder.
            os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            dst = sqlite3.connect(partial)
            dst.execute("PRAGMA user_version")  # opening is lazy: a folder we may not write in fails here
        except (sqlite3.Error, OSError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise BackupError(f"cannot write the backup in {destination.parent}: {reason} (is the folder "
                              "writable by this user, and is there room?); nothing was written") from None
        try:
            src.backup(dst, pages=-1)
            dst.execute("PRAGMA journal_mode=DELETE")  # a backup is one self-contained file
            check = dst.execute("PRAGMA integrity_check").fetchone()[0]
            if check != "ok":
                raise BackupError(f"the copy failed its integrity check: {check}")
            pages = dst.execute("PRAGMA page_count").fetchone()[0]
        except sqlite3.Error as exc:  # a full disk, or the live database locked past the timeout
            raise BackupError(f"the backup stopped: {exc}; nothing was written") from None
        finally:
            dst.close()
        try:
            os.replace(partial, destination)
        except OSError as exc:
            raise BackupError(f"cannot put the backup at {destination}: {exc.strerror or exc}; "
                              "nothing was written") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        src.close()
    return pages
