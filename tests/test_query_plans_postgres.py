"""Every statement of the PostgreSQL store is an index search on a realistic store (EXPLAIN).

The twin of tests/test_query_plans.py. A real server on a database of a
throwaway cluster serves the same workload (every kind of statement: threads,
messages, runs, events, workers, request ids, webhooks, the background jobs);
each statement the store sends through psycopg is recorded with its bound
parameters. Then the database is seeded to a realistic size (20,000
threads of 50 tenants, the workload's own tenant as big as the others,
50,000 messages and events, 20,000 runs, checkpoints and webhook
deliveries), ANALYZEd from every row, and each statement explained with
those parameters and ``enable_seqscan = off``: PostgreSQL plans by
statistics, so a plan on an empty database says little, and a sequential
scan that survives both proves that no index serves it.

Rules, as for SQLite:
- no sequential scan of a table (but the keys, all loaded into memory on
  purpose, and the one-row schema version);
- no index read whole (an index scan with no condition) unless the index is
  partial (its WHERE is the condition) or a LIMIT stops the ordered read
  (those are counted and printed);
- no sort of more than SORT_ROWS rows (the planner's estimate);
- a unique index is searched by all its columns, never by its tenant alone;
- the hot paths use the index written for them (EXPECTED);
- every statement names its tenant, or a row key a tenant's lookup gave, or
  is one of the background jobs' reads across tenants.

The one ordered read stopped by a LIMIT today: a tenant's newest webhook
deliveries (ListWebhookDeliveries with no filter), which the planner reads
backwards along the primary key, skipping other tenants' rows, when the
tenant holds its share of the table; for a tenant it sees as small it uses
webhook_deliveries_by_tenant.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from threadline_server.transport.server import ThreadlineServer

from tests.conftest import connect
from tests.test_query_plans import _workload, workload_settings

pytestmark = pytest.mark.api

STATEMENTS = {"SELECT", "INSERT", "UPDATE", "DELETE", "WITH"}
# Tables read whole on purpose: every key, into memory (store/postgres/keys.py); one row.
READ_WHOLE = {"keys", "schema_version"}
# A sort of more rows than this (estimated) is a sort of a table, not of a thread's page.
SORT_ROWS = 1_000
# The reads across tenants, for expiry, lease checks, recovery, webhooks and the store's upkeep.
ACROSS_TENANTS = (
    "WHERE r.status IN (1, 2, 7)",
    "WHERE r.status = 7 AND r.action_expires_at <= %s",
    "WHERE expire_at IS NOT NULL AND expire_at <= %s",
    "FROM webhook_deliveries WHERE next_attempt_at IS NOT NULL",
    "WHERE next_attempt_at IS NULL AND created_at < %s",
    "FROM request_ids WHERE created_at < %s",
    "FROM keys",
    "schema_version",
)
# Statements by a row key that a tenant-scoped lookup handed over.
BY_ROW_KEY = re.compile(r"WHERE (?:\w+\.)?(?:pk|thread_pk|webhook_pk) (?:= %s|= ANY|IN)")
# The plans the hot paths must have: a fragment of the statement, and the index it must use.
EXPECTED = {
    "FROM threads WHERE tenant_id = %s AND thread_id = %s": "threads_tenant_id_thread_id_key",
    "WHERE r.tenant_id = %s AND r.run_id = %s": "runs_tenant_id_run_id_key",
    "WHERE m.tenant_id = %s AND m.message_id = %s": "messages_tenant_id_message_id_key",
    "FROM messages AS m WHERE m.thread_pk = %s ORDER BY m.pk": "messages_by_thread",
    "FROM events AS e JOIN threads AS t ON t.pk = e.thread_pk WHERE e.run_id = %s": (
        "events_by_run"
    ),
    "FROM events AS e WHERE e.thread_pk = %s AND e.event_id > %s": "events_pkey",
    # A worker's claim.
    "AND r.status = 1 AND r.tenant_id = %s AND r.agent_id = %s": "runs_in_flight",
    "AND r.status = 2 AND (r.lease_id IS NULL": "runs_in_flight",
    "WHERE r.status = 7 AND r.action_expires_at <= %s": "runs_waiting",
    "WHERE r.thread_pk = %s ORDER BY r.pk DESC": "runs_by_thread",
    "WHERE expire_at IS NOT NULL AND expire_at <= %s": "threads_by_expiry",
    "AND user_id = %s AND is_default = 1": "threads_default",
    "FROM request_ids WHERE tenant_id = %s": "request_ids_tenant_id_method_request_id_key",
    "FROM request_ids WHERE created_at < %s": "request_ids_by_age",
    "WHERE c.thread_pk = %s AND c.run_id = %s": "checkpoints_by_run",
    "FROM checkpoints AS c WHERE c.thread_pk = %s ORDER BY c.pk DESC LIMIT 1": (
        "checkpoints_by_thread"
    ),
    "FROM webhooks WHERE tenant_id = %s AND webhook_id = %s": "webhooks_tenant_id_webhook_id_key",
    "AND next_attempt_at <= %s ORDER BY next_attempt_at": "webhook_deliveries_due",
    "WHERE next_attempt_at IS NULL AND created_at < %s": "webhook_deliveries_done",
    "WHERE tenant_id = %s AND delivery_id = %s": "webhook_deliveries_tenant_id_delivery_id_key",
    "WHERE d.tenant_id = %s AND d.run_id = %s ORDER BY": "webhook_deliveries_by_run",
    "WHERE d.webhook_pk = %s ORDER BY": "webhook_deliveries_by_webhook",
}

# Tenant of seeded row g: one in 50 is the workload's own tenant, so that the
# planner sees it as big as any other (a tiny tenant makes any index look fine).
TENANT = "CASE WHEN {g} % 50 = 0 THEN 'default' ELSE 'seed' || ({g} % 50) END"
THREADS = 20_000
# Row g of a child table belongs to seeded thread g % THREADS + 1.
OF_THREAD = (
    f" JOIN threads AS t ON t.tenant_id = {TENANT.format(g=f'(g % {THREADS} + 1)')}"
    f" AND t.thread_id = 'seed-' || (g % {THREADS} + 1)"
)
SEED = (
    (
        "INSERT INTO threads (tenant_id, thread_id, user_id, agent_id, external_ref, status,"
        " created_at, updated_at, last_activity_at, expire_at, message_count)"
        f" SELECT {TENANT.format(g='g')}, 'seed-' || g, 'user-' || (g % 997), 'agent-' || (g % 7),"
        " 'ref-' || g, 1, g, g, g, CASE WHEN g % 100 = 0 THEN 9e15::bigint END, 10"
        f" FROM generate_series(1, {THREADS}) AS g"
    ),
    (
        "INSERT INTO messages (tenant_id, thread_pk, message_id, role, parts, run_id,"
        " created_at, updated_at)"
        " SELECT t.tenant_id, t.pk, 'seedmsg-' || g, 1, '[]',"
        " CASE WHEN g % 4 = 0 THEN 'seedrun-' || (g / 4) ELSE '' END, g, g"
        f" FROM generate_series(1, 50000) AS g{OF_THREAD}"
    ),
    (
        "INSERT INTO runs (tenant_id, run_id, thread_pk, agent_id, status, multitask_strategy,"
        " max_iterations, created_at, ended_at, action_expires_at)"
        " SELECT t.tenant_id, 'seedrun-' || g, t.pk, t.agent_id,"
        " CASE g % 1000 WHEN 0 THEN 1 WHEN 1 THEN 2 WHEN 2 THEN 7 ELSE 3 END, 1, 10, g, g,"
        " CASE WHEN g % 1000 = 2 THEN 9e15::bigint END"
        f" FROM generate_series(1, 20000) AS g{OF_THREAD}"
    ),
    (
        "INSERT INTO events (thread_pk, event_id, tenant_id, run_id, type, payload, created_at)"
        " SELECT t.pk, g, t.tenant_id, 'seedrun-' || (g / 4), 'message.delta', ''::bytea, g"
        f" FROM generate_series(1, 50000) AS g{OF_THREAD}"
    ),
    (
        "INSERT INTO checkpoints (tenant_id, thread_pk, checkpoint_id, run_id, source, state,"
        " created_at)"
        " SELECT t.tenant_id, t.pk, 'seedckp-' || g, 'seedrun-' || g, 1, '{}', g"
        f" FROM generate_series(1, 20000) AS g{OF_THREAD}"
    ),
    (
        "INSERT INTO request_ids (tenant_id, method, request_id, fingerprint, thread_id,"
        " resource_id, created_at)"
        f" SELECT {TENANT.format(g='g')}, 'CreateThread', 'seedreq-' || g, ''::bytea, '', '',"
        " 9e15::bigint FROM generate_series(1, 20000) AS g"
    ),
    (
        "INSERT INTO webhooks (tenant_id, webhook_id, run_id, url, event_types, secret, created_at)"
        f" SELECT {TENANT.format(g='g')}, 'seedwh-' || g,"
        " CASE WHEN g % 2 = 0 THEN 'seedrun-' || g ELSE '' END, 'http://x', '[]', 's', g"
        " FROM generate_series(1, 2000) AS g"
    ),
    (
        "INSERT INTO webhook_deliveries (tenant_id, delivery_id, webhook_pk, thread_pk, run_id,"
        " status, next_attempt_at, body, record, created_at)"
        " SELECT t.tenant_id, 'seedwhd-' || g, w.pk, t.pk, 'seedrun-' || (g / 4), 2, NULL,"
        f" ''::bytea, ''::bytea, 9e15::bigint FROM generate_series(1, 20000) AS g{OF_THREAD}"
        " JOIN LATERAL (SELECT pk FROM webhooks WHERE tenant_id = t.tenant_id"
        " ORDER BY pk LIMIT 1 OFFSET g % 40) AS w ON true"
    ),
)


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Record every statement the store runs, with its first parameters.

    Every statement goes through an AsyncCursor's execute (a connection's
    execute makes one) or a server-side cursor's (reads that stop at a size).
    """
    seen: dict[str, Any] = {}

    def recording(original: Callable[..., Any]) -> Callable[..., Any]:
        async def record(self: Any, query: Any, params: Any = None, **kwargs: Any) -> Any:
            sql = query.decode() if isinstance(query, bytes) else str(query)
            if sql.lstrip().split(None, 1)[0].upper() in STATEMENTS:
                seen.setdefault(sql, params)
            return await original(self, query, params, **kwargs)

        return record

    for cursor in (psycopg.AsyncCursor, psycopg.AsyncServerCursor):
        monkeypatch.setattr(cursor, "execute", recording(cursor.execute))
    return seen


@pytest.fixture
async def workload_done(postgres_url: str, statements: dict[str, Any]) -> str:
    """Run the SQLite test's workload on a PostgreSQL server; yield its database's URL."""
    server = ThreadlineServer(workload_settings(postgres_url))
    port = await server.start()
    client = connect(f"127.0.0.1:{port}")
    try:
        await _workload(server, client)
    finally:
        await client.channel.close(None)
        await server.stop(grace=1.0)
    return postgres_url


def _nodes(plan: dict[str, Any], parent: dict[str, Any] | None = None) -> Iterator[Any]:
    """Yield (node, parent) for every node of a JSON plan."""
    yield plan, parent
    for child in plan.get("Plans", []):
        yield from _nodes(child, plan)


def _problems(sql: str, plan: dict[str, Any], partial: set[str], unique: set[str]) -> list[str]:
    found = []
    for node, parent in _nodes(plan):
        kind = node["Node Type"]
        index = node.get("Index Name", "")
        where = f"{kind} on {node.get('Relation Name', index)}"
        if kind == "Seq Scan" and node["Relation Name"] not in READ_WHOLE:
            found.append(f"sequential scan: {where}")
        stopped_by_limit = parent is not None and parent["Node Type"] == "Limit"
        if (
            "Index" in kind
            and "Index Cond" not in node
            and index not in partial
            and not stopped_by_limit
        ):
            found.append(f"index read whole: {where} {index}")
        if kind == "Sort" and max(c["Plan Rows"] for c in node["Plans"]) > SORT_ROWS:
            found.append(f"sort of {node['Plans'][0]['Plan Rows']} rows: {node['Sort Key']}")
        condition = node.get("Index Cond", "")
        if index in unique and "tenant_id = " in condition and " AND " not in condition:
            found.append(f"unique index by its tenant alone: {index} {condition}")
    for fragment, expected in EXPECTED.items():
        if fragment in sql and expected not in {n.get("Index Name") for n, _ in _nodes(plan)}:
            found.append(f"expected {expected}")
    if not (
        sql.startswith("INSERT")
        or " FROM " not in sql
        or "tenant_id = %s" in sql
        or BY_ROW_KEY.search(sql)
        or any(fragment in sql for fragment in ACROSS_TENANTS)
    ):
        found.append("names no tenant and no row key")
    return found


def _limited_whole_reads(plan: dict[str, Any], partial: set[str]) -> list[str]:
    """Return the indexes read in order with no condition until a LIMIT stops the read."""
    return [
        str(node["Index Name"])
        for node, parent in _nodes(plan)
        if "Index" in node["Node Type"]
        and "Index Cond" not in node
        and node.get("Index Name") not in partial
        and parent is not None
        and parent["Node Type"] == "Limit"
    ]


def _outline(plan: dict[str, Any]) -> str:
    """Return a plan as one short line per node."""
    lines = []
    for node, _ in _nodes(plan):
        where = " ".join(
            str(node[key]) for key in ("Relation Name", "Index Name", "Index Cond") if key in node
        )
        lines.append(f"{node['Node Type']} {where} (rows {node['Plan Rows']})")
    return "\n    ".join(lines)


# Seeding and ANALYZE take 5 to 30 s on a shared 2-core machine.
@pytest.mark.timeout(180)
async def test_every_statement_is_an_index_search_on_a_realistic_store(
    workload_done: str, statements: dict[str, Any], counts: Callable[[str], None]
) -> None:
    started = time.monotonic()
    explained: dict[str, dict[str, Any]] = {}
    with psycopg.connect(workload_done, autocommit=True) as connection:
        seeded = sum(connection.execute(seed.encode()).rowcount for seed in SEED)
        # Statistics from every row (a sample of 300 x the target), not a random
        # sample: the same plans every run.
        connection.execute(b"SET default_statistics_target = 1000")
        connection.execute(b"ANALYZE")
        seconds = time.monotonic() - started
        indexes = connection.execute(
            b"SELECT i.relname, x.indisunique, x.indpred IS NOT NULL FROM pg_index AS x"
            b" JOIN pg_class AS i ON i.oid = x.indexrelid JOIN pg_namespace AS n"
            b" ON n.oid = i.relnamespace WHERE n.nspname = 'public'"
        ).fetchall()
        unique = {name for name, is_unique, _ in indexes if is_unique}
        partial = {name for name, _, is_partial in indexes if is_partial}
        connection.execute(b"SET enable_seqscan = off")
        for sql, params in statements.items():
            (row,) = connection.execute(
                ("EXPLAIN (FORMAT JSON) " + sql).encode(), params
            ).fetchall()
            explained[sql] = row[0][0]["Plan"]
    problems = {
        sql: found
        for sql, plan in explained.items()
        if (found := _problems(sql, plan, partial, unique))
    }
    covered = [f for f in EXPECTED if any(f in sql for sql in explained)]
    limited = [i for plan in explained.values() for i in _limited_whole_reads(plan, partial)]
    counts(
        f"query plans (postgres): {len(explained)} statements explained on "
        f"{seeded:,} seeded rows (seeded and analyzed in {seconds:.1f} s), "
        f"{len(covered)}/{len(EXPECTED)} expected plans seen, {len(limited)} ordered "
        f"index reads stopped by a LIMIT {sorted(limited)}, {len(problems)} problems"
    )
    assert not problems, "\n\n".join(
        f"{sql}\n  plan:\n    {_outline(explained[sql])}\n  " + "\n  ".join(found)
        for sql, found in problems.items()
    )
    assert covered == list(EXPECTED), f"statements never run: {set(EXPECTED) - set(covered)}"


def _scan(kind: str, relation: str, index: str = "", cond: str = "") -> dict[str, Any]:
    node = {"Node Type": kind, "Relation Name": relation, "Plan Rows": 1}
    if index:
        node["Index Name"] = index
    if cond:
        node["Index Cond"] = cond
    return node


def test_the_rules_catch_what_they_are_for() -> None:
    """The checks above fail on the plans of the mistakes they are written for."""
    partial, unique = {"runs_in_flight"}, {"runs_tenant_id_run_id_key"}
    sql = "SELECT 1 FROM runs AS r WHERE r.tenant_id = %s AND r.run_id = %s"
    assert _problems(sql, _scan("Seq Scan", "runs"), partial, unique)
    assert _problems(sql, _scan("Index Scan", "runs", "runs_by_thread"), partial, unique)
    assert _problems(
        sql,
        _scan("Index Scan", "runs", "runs_tenant_id_run_id_key", "(tenant_id = 'a'::text)"),
        partial,
        unique,
    )
    big_sort = {
        "Node Type": "Sort",
        "Sort Key": ["pk"],
        "Plan Rows": 10,
        "Plans": [
            _scan("Index Scan", "runs", "runs_by_thread", "(thread_pk = 1)") | {"Plan Rows": 50_000}
        ],
    }
    assert _problems("SELECT 1 FROM runs WHERE thread_pk = %s", big_sort, partial, unique)
    assert _problems(
        "SELECT 1 FROM threads WHERE thread_id = %s", _scan("Result", ""), partial, unique
    )
    good = _scan(
        "Index Scan", "runs", "runs_tenant_id_run_id_key", "((tenant_id = 'a') AND (run_id = 'r'))"
    )
    assert not _problems(sql + " AND (t.expire_at IS NULL)", good, partial, unique)
