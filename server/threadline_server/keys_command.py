"""``threadline keys create|list|revoke``: API keys, in the database a server uses.

It may run while a server serves that database: a key it makes works at
once, and a key it revokes is refused from its next call. It writes one
small statement at a time and never checkpoints (see
store.sqlite.connection.open_side_writer).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from threadline_server import config
from threadline_server.domain import keys
from threadline_server.key_secret import KeySecretFile
from threadline_server.store import choice
from threadline_server.store.base import KeyAdmin
from threadline_server.store.sqlite.keys import SqliteKeyAdmin

LIST_COLUMNS = ("KEY_ID", "TENANT", "SCOPE", "CREATED", "REVOKED", "NOTE")
LIST_WIDTHS = (16, 16, 5, 20, 20, 0)


def add_parser(commands: Any) -> None:
    """Add ``keys`` and its three actions to the command's subparsers."""
    parser = commands.add_parser(
        "keys",
        help="make, list and revoke API keys in the database a server uses",
        description="API keys, in the database given; it may run beside a server that "
        "serves it (a revoked key is refused from its next call).",
    )
    actions = parser.add_subparsers(dest="keys_command", required=True)
    create = actions.add_parser("create", help="make a key and print it, once")
    create.add_argument("--tenant", required=True, help="the tenant the key acts for")
    create.add_argument(
        "--scope",
        required=True,
        choices=[scope.label for scope in keys.Scope],
        help="read: reads only; write: also changes; admin: also the worker service",
    )
    create.add_argument("--note", default="", help="what the key is for, shown by list")
    listing = actions.add_parser("list", help="list every key (never the keys themselves)")
    revoke = actions.add_parser("revoke", help="revoke a key: refused from its next call")
    revoke.add_argument("key_id", metavar="KEY_ID", help="the key's id, as list shows it")
    for action in (create, listing, revoke):
        config.add_arguments(action, only=("database", "key_secret_file"))


def _time(micros: int | None) -> str:
    if micros is None:
        return "-"
    return datetime.fromtimestamp(micros / 1e6, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _row(values: tuple[str, ...]) -> str:
    return "  ".join(value.ljust(width) for value, width in zip(values, LIST_WIDTHS, strict=True))


async def _create(admin: KeyAdmin, arguments: argparse.Namespace, secret_path: str) -> None:
    secret = KeySecretFile(secret_path).read_or_create()
    key, record = await keys.create_key(
        admin,
        secret,
        tenant=arguments.tenant,
        scope=keys.Scope.parse(arguments.scope),
        note=arguments.note,
    )
    # The key alone on stdout, so that KEY=$(threadline keys create ...) works.
    sys.stdout.write(key + "\n")
    sys.stderr.write(
        f"key {record.key_id} of tenant {record.tenant} ({record.scope}): "
        "keep it now, it is not shown again\n"
    )


async def _list(admin: KeyAdmin) -> None:
    lines = [_row(LIST_COLUMNS)]
    lines += [
        _row(
            (
                record.key_id,
                record.tenant,
                record.scope,
                _time(record.created_at),
                _time(record.revoked_at),
                record.note,
            )
        ).rstrip()
        for record in await admin.list()
    ]
    sys.stdout.write("\n".join(lines) + "\n")


async def _revoke(admin: KeyAdmin, arguments: argparse.Namespace) -> int:
    key_id = keys.key_id_named(arguments.key_id)
    revoked = await admin.revoke(key_id, keys.now_us())
    if revoked is None:
        sys.stderr.write(f"threadline keys: no key {key_id}\n")
        return 1
    sys.stdout.write(f"revoked key {revoked.key_id} of tenant {revoked.tenant}\n")
    return 0


@contextlib.asynccontextmanager
async def open_admin(database: str) -> AsyncIterator[KeyAdmin]:
    """Open the key writes of a --database value: a SQLite file or a PostgreSQL URL.

    The command's one way in to either store (the tests make their keys
    through it too). PostgreSQL's admin migrates the database first and
    announces each change to the servers (NOTIFY threadline_keys).
    """
    if choice.is_postgres(database):
        from threadline_server.store.postgres.store import key_admin  # noqa: PLC0415 - only when asked for

        async with key_admin(database) as pg_admin:
            yield pg_admin
        return
    admin = await SqliteKeyAdmin.open(choice.sqlite_path(database))
    try:
        yield admin
    finally:
        await admin.close()


async def run(arguments: argparse.Namespace, settings: config.Settings) -> int:
    """Carry out one keys action; return the exit status."""
    if choice.is_postgres(settings.database):
        try:
            from threadline_server.store.postgres import store  # noqa: F401, PLC0415 - only when asked for
        except ImportError:
            sys.stderr.write("threadline keys: pip install 'threadline[postgres]'\n")
            return 1
    elif (
        arguments.keys_command != "create"
        and not Path(  # noqa: ASYNC240 - one stat before anything runs
            choice.sqlite_path(settings.database)
        ).exists()
    ):
        sys.stderr.write(f"threadline keys: no database at {settings.database}\n")
        return 1
    async with open_admin(settings.database) as admin:
        return await _act(admin, arguments, settings)


async def _act(admin: KeyAdmin, arguments: argparse.Namespace, settings: config.Settings) -> int:
    try:
        if arguments.keys_command == "create":
            await _create(admin, arguments, settings.key_secret_path)
        elif arguments.keys_command == "list":
            await _list(admin)
        else:
            return await _revoke(admin, arguments)
    except ValueError as error:
        sys.stderr.write(f"threadline keys: {error}\n")
        return 2
    return 0
