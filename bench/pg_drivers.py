"""A short micro-benchmark of the two maintained asyncio PostgreSQL drivers, psycopg 3 and asyncpg.

What the store does most: a small write transaction (lock a row, bump a
counter, insert a row) and a read by key, from 8 concurrent tasks through
each driver's own pool, on a throwaway cluster (tests/pgcluster.py). Prints
operations per second of each and their ratio, measured in the same run.
asyncpg is not a dependency: ``pip install asyncpg`` to run this.

    .venv/bin/python bench/pg_drivers.py
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg  # type: ignore[import-not-found,import-untyped,unused-ignore]
import psycopg
from psycopg_pool import AsyncConnectionPool

from tests import pgcluster

TASKS = 8
OPERATIONS = 1500
SETUP = (
    "CREATE TABLE t (pk bigint PRIMARY KEY, seq bigint NOT NULL DEFAULT 0);"
    "CREATE TABLE e (pk bigint, n bigint, payload bytea, PRIMARY KEY (pk, n));"
    "INSERT INTO t (pk) SELECT g FROM generate_series(1, 64) AS g;"
)


async def _psycopg(url: str) -> float:
    async with AsyncConnectionPool(url, min_size=TASKS, max_size=TASKS, open=False) as pool:
        await pool.open(wait=True)

        async def worker(index: int) -> None:
            for n in range(OPERATIONS // TASKS):
                key = (index * 7 + n) % 64 + 1
                async with pool.connection() as connection, connection.transaction():
                    cursor = await connection.execute(
                        "UPDATE t SET seq = seq + 1 WHERE pk = %s RETURNING seq", (key,)
                    )
                    row = await cursor.fetchone()
                    assert row is not None  # noqa: S101 - a benchmark's own check
                    await connection.execute(
                        "INSERT INTO e VALUES (%s, %s, %s)", (key, row[0], b"x" * 200)
                    )
                async with pool.connection() as connection:
                    await (
                        await connection.execute("SELECT seq FROM t WHERE pk = %s", (key,))
                    ).fetchone()

        started = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(TASKS)))
        return 2 * (OPERATIONS // TASKS) * TASKS / (time.perf_counter() - started)


async def _asyncpg(url: str) -> float:
    pool: Any = await asyncpg.create_pool(url, min_size=TASKS, max_size=TASKS)
    try:

        async def worker(index: int) -> None:
            for n in range(OPERATIONS // TASKS):
                key = (index * 7 + n) % 64 + 1
                async with pool.acquire() as connection, connection.transaction():
                    seq = await connection.fetchval(
                        "UPDATE t SET seq = seq + 1 WHERE pk = $1 RETURNING seq", key
                    )
                    await connection.execute(
                        "INSERT INTO e VALUES ($1, $2, $3)", key, seq, b"x" * 200
                    )
                async with pool.acquire() as connection:
                    await connection.fetchval("SELECT seq FROM t WHERE pk = $1", key)

        started = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(TASKS)))
        return 2 * (OPERATIONS // TASKS) * TASKS / (time.perf_counter() - started)
    finally:
        await pool.close()


def main() -> None:
    """Run both on fresh databases of one throwaway cluster; print the rates and their ratio."""
    cluster = pgcluster.start()
    try:
        rates = {}
        for name, run in (
            ("psycopg", _psycopg),
            ("asyncpg", _asyncpg),
            ("psycopg again", _psycopg),
        ):
            url = cluster.create_database()
            with psycopg.connect(url, autocommit=True) as connection:
                connection.execute(SETUP.encode())
            rates[name] = asyncio.run(run(url))
            print(f"{name}: {rates[name]:.0f} operations/s")  # noqa: T201 - a benchmark reports
        best_psycopg = max(rates["psycopg"], rates["psycopg again"])
        print(f"asyncpg / psycopg: {rates['asyncpg'] / best_psycopg:.2f}")  # noqa: T201
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
