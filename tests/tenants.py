"""Helpers for tests with tenants and API keys: make keys, send them, run `threadline keys`.

Keys are made through the keys command's own way in to the store
(``keys_command.open_admin``), so a test's keys are made in a SQLite file or
a PostgreSQL database exactly as ``threadline keys create --database ...``
makes them. A SQLite file's key secret lies beside it by default; a
PostgreSQL URL names no folder, so give ``secret`` (and the same file to the
server, ``Settings(key_secret_file=...)``) to keep it in the test's tmp_path.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from threadline_server import key_secret
from threadline_server import keys_command as keys_cli
from threadline_server.domain.keys import Scope, create_key
from threadline_server.store import choice

Metadata = tuple[tuple[str, str], ...]


def secret_path(database: Path | str, secret: Path | None) -> str:
    """Return the key secret file of a database: the one given, or a SQLite file's default."""
    if secret is not None:
        return str(secret)
    if choice.is_postgres(str(database)):
        # The default, ./threadline.key-secret, is outside the test's folder.
        raise ValueError("give the key secret file of a PostgreSQL database")
    return key_secret.default_path(str(database))


async def make_key(
    database: Path | str, tenant: str, scope: str, *, note: str = "", secret: Path | None = None
) -> str:
    """Make a key in the database (as `threadline keys create` does) and return it."""
    secret_bytes = key_secret.KeySecretFile(secret_path(database, secret)).read_or_create()
    async with keys_cli.open_admin(str(database)) as admin:
        key, _ = await create_key(
            admin, secret_bytes, tenant=tenant, scope=Scope.parse(scope), note=note
        )
    return key


async def revoke_key(database: Path | str, key: str) -> None:
    """Revoke a key in the database (as `threadline keys revoke` does)."""
    async with keys_cli.open_admin(str(database)) as admin:
        assert await admin.revoke(key.split("_")[1], 1) is not None


def bearer(key: str | None) -> Metadata:
    """The gRPC metadata that carries a key (none for None)."""
    return () if key is None else (("authorization", f"Bearer {key}"),)


def keys_command(database: Path | str, *arguments: str) -> subprocess.CompletedProcess[str]:
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
