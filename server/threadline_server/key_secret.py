"""The secret API keys are hashed with, kept in a file outside the database.

Only HMAC-SHA256(secret, key) is stored for each key, so whoever can read or
write the database (a stolen backup, a mistaken SQL statement) can neither
check a guessed key nor add a key of their own without this file too. It is
made on first use, 32 random bytes in hex, readable by its owner alone
(0600), and back it up with the database: keys made with a lost secret can
never be checked again (make new ones).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

SECRET_BYTES = 32
SUFFIX = ".key-secret"


# The default secret file of a PostgreSQL database, in the working directory
# (a URL names no folder): every process of one service must read the same secret.
POSTGRES_DEFAULT = "threadline" + SUFFIX


def default_path(database: str) -> str:
    """Return where the secret of a database's keys lives unless told otherwise."""
    if database.startswith(("postgresql://", "postgres://")):
        return POSTGRES_DEFAULT
    return database.removeprefix("sqlite:") + SUFFIX


class KeySecretFile:
    """Reads (and on the keys command's first use, makes) the secret file; keeps it once read."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self._secret: bytes | None = None

    def read(self) -> bytes | None:
        """Return the secret, or None while the file does not exist."""
        if self._secret is None and self.path.exists():
            self._secret = self._parse(self.path.read_text(encoding="ascii"))
        return self._secret

    def read_or_create(self) -> bytes:
        """Return the secret, making the file first if there is none."""
        secret = self.read()
        if secret is not None:
            return secret
        fresh = secrets.token_bytes(SECRET_BYTES).hex() + "\n"
        # Written under a temporary name, then linked into place: a second
        # command doing the same at once finds the file made, whole, and uses it.
        temporary = self.path.with_name(f".{self.path.name}.{secrets.token_hex(8)}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "w", encoding="ascii") as file:
                file.write(fresh)
                file.flush()
                os.fsync(file.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(temporary, self.path)
        finally:
            temporary.unlink(missing_ok=True)
        secret = self.read()
        if secret is None:  # pragma: no cover - the link above or another's made it
            raise FileNotFoundError(self.path)
        return secret

    def _parse(self, text: str) -> bytes:
        try:
            secret = bytes.fromhex(text.strip())
        except ValueError:
            secret = b""
        if len(secret) < SECRET_BYTES:
            raise ValueError(
                f"{self.path} does not hold a key secret ({SECRET_BYTES * 2} hex digits)"
            )
        return secret
