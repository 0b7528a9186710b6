"""Helpers for tests with tenants and API keys: make keys, send them, run `threadline keys`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from threadline_server import key_secret
from threadline_server.domain.keys import Scope, create_key
from threadline_server.store.sqlite.keys import SqliteKeyAdmin

Metadata = tuple[tuple[str, str], ...]


async def make_key(database: Path, tenant: str, scope: str, *, note: str = "") -> str:
    """Make a key in the database (as `threadline keys create` does) and return it."""
    secret = key_secret.KeySecretFile(key_secret.default_path(str(database))).read_or_create()
    admin = await SqliteKeyAdmin.open(str(database))
    try:
        key, _ = await create_key(admin, secret, tenant=tenant, scope=Scope.parse(scope), note=note)
    finally:
        await admin.close()
    return key


async def revoke_key(database: Path, key: str) -> None:
    """Revoke a key in the database (as `threadline keys revoke` does)."""
    admin = await SqliteKeyAdmin.open(str(database))
    try:
        assert await admin.revoke(key.split("_")[1], 1) is not None
    finally:
        await admin.close()


def bearer(key: str | None) -> Metadata:
    """The gRPC metadata that carries a key (none for None)."""
    return () if key is None else (("authorization", f"Bearer {key}"),)


def keys_command(database: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m threadline_server keys ARGUMENTS --database DATABASE`."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "threadline_server",
            "keys",
            *arguments,
            "--database",
            str(database),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
