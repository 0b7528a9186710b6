"""The PostgreSQL store: one database that several Threadline processes share.

Needs the ``postgres`` extra (psycopg 3 and its pool): ``pip install 'threadline[postgres]'``.
"""

from threadline_server.store.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
