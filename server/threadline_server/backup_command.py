"""``threadline backup PATH``: a consistent copy of the database, while a server serves it."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from threadline_server import config
from threadline_server.store.sqlite.backup import BackupError, backup


def add_parser(commands: Any) -> None:
    """Add ``backup`` to the command's subparsers."""
    parser = commands.add_parser(
        "backup",
        help="copy the database to a new file, consistent as of one instant, while a server "
        "may serve it",
        description="Copy the database (SQLite's backup API, from a read-only connection: "
        "it never blocks the server) to PATH, a new file, then check it with "
        "integrity_check.",
    )
    parser.add_argument("path", metavar="PATH", help="the new file (it must not exist)")
    config.add_arguments(parser, only=("database",))


def run(arguments: argparse.Namespace, settings: config.Settings) -> int:
    """Make the backup; print what was made. Returns the exit status."""
    try:
        made = backup(settings.database, arguments.path)
    except BackupError as error:
        sys.stderr.write(f"threadline backup: {error}\n")
        return 1
    sys.stdout.write(
        f"{settings.database} -> {made.target}: {made.bytes} bytes, "
        f"integrity_check {made.integrity}\n"
    )
    return 0
