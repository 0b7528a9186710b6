"""SQLite failures a client can retry, as the domain's DatabaseUnavailableError.

SQLITE_BUSY and SQLITE_LOCKED (another process holds the database past the
busy timeout), SQLITE_IOERR (the disk failed a read or a write), SQLITE_FULL
and SQLITE_CANTOPEN: the statement did nothing, the transaction rolled back,
and the same call may succeed a moment later. Everything else (a constraint,
a bad statement) is a bug and stays what it is.
"""

from __future__ import annotations

import sqlite3

from threadline_server.errors import DatabaseUnavailableError

# Primary result codes (the low byte of an extended code); sqlite3 names them.
_RETRYABLE = {
    sqlite3.SQLITE_BUSY: "the database is locked by another process",
    sqlite3.SQLITE_LOCKED: "the database is locked",
    sqlite3.SQLITE_IOERR: "a disk I/O error",
    sqlite3.SQLITE_FULL: "the disk is full",
    sqlite3.SQLITE_CANTOPEN: "the database file cannot be opened",
}
# The RetryInfo hint: about one busy timeout's worth, never less than a second.
_MIN_RETRY_AFTER = 1.0


def unavailable(error: BaseException, *, busy_timeout: float) -> DatabaseUnavailableError | None:
    """Return the domain error for a retryable SQLite failure, or None for any other."""
    if not isinstance(error, sqlite3.OperationalError):
        return None
    code = getattr(error, "sqlite_errorcode", None)
    if code is None:
        return None
    problem = _RETRYABLE.get(code & 0xFF)
    if problem is None:
        return None
    return DatabaseUnavailableError(problem, retry_after=max(_MIN_RETRY_AFTER, busy_timeout))
