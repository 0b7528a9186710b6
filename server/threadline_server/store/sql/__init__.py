"""What the SQLite and PostgreSQL stores share: the rules written once.

Row converters, the statements that are the same on both databases (written
with ``?`` placeholders, translated once for PostgreSQL), and the
transaction's delegation. What differs by database (locks, claims,
connections and pools, the dialect's own SQL) stays in store/sqlite/ and
store/postgres/, each of which gives these modules a Session (session.py).
"""
