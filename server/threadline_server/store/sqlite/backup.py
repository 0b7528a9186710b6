"""A consistent copy of a database while a server writes to it.

SQLite's backup API, from a read-only connection of its own, in one step:
one read transaction, so the copy is the database as of one instant (every
transaction committed before it began, none after). In WAL mode a reader
never blocks the server's writer and the writer never blocks it, so the
server goes on serving; and a read-only connection can neither write nor
checkpoint, so it stays clear of SQLite's WAL-reset bug (connection.py).

The copy is written beside the target as ``<target>.partial``, switched to
a rollback journal (one self-contained file), checked with
``PRAGMA integrity_check``, synced, and only then renamed into place.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote


@dataclass(frozen=True)
class Backup:
    """What a backup made."""

    target: Path
    bytes: int
    integrity: str


class BackupError(Exception):
    """The backup could not be made; nothing was left at the target."""


def backup(database: str | Path, target: str | Path) -> Backup:
    """Copy database to target (which must not exist), consistent as of one instant."""
    source_path = Path(database)
    target_path = Path(target)
    if not source_path.is_file():
        raise BackupError(f"{source_path} is not a database file")
    if target_path.exists():
        raise BackupError(f"{target_path} exists; a backup never overwrites a file")
    partial = target_path.with_name(target_path.name + ".partial")
    partial.unlink(missing_ok=True)
    source = sqlite3.connect(f"file:{quote(str(source_path.resolve()))}?mode=ro", uri=True)
    try:
        source.execute("PRAGMA busy_timeout = 10000")
        copy = sqlite3.connect(partial, isolation_level=None)
        try:
            # pages=-1: every page in one step, inside one read transaction.
            source.backup(copy, pages=-1)
            copy.execute("PRAGMA journal_mode = DELETE")
            integrity = str(copy.execute("PRAGMA integrity_check").fetchone()[0])
        finally:
            copy.close()
    except sqlite3.Error as error:
        partial.unlink(missing_ok=True)
        raise BackupError(f"backup of {source_path} failed: {error}") from error
    finally:
        source.close()
    if integrity != "ok":
        partial.unlink(missing_ok=True)
        raise BackupError(f"the copy of {source_path} failed integrity_check: {integrity}")
    descriptor = os.open(partial, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    partial.rename(target_path)
    return Backup(target_path, target_path.stat().st_size, integrity)
