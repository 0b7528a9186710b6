"""The SQLite store: the embedded default, one file, one writer."""

from threadline_server.store.sqlite.store import SqliteStore

__all__ = ["SqliteStore"]
