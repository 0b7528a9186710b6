"""The ``threadline`` command: ``serve [flags]``, ``keys ...``, ``backup PATH``, ``migrate``."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence

from threadline_server import __version__, backup_command, config, keys_command
from threadline_server.observability import logs, traces
from threadline_server.store import choice
from threadline_server.store.base import SchemaTooNewError
from threadline_server.transport.server import ThreadlineServer


async def serve(settings: config.Settings) -> None:
    """Run the server until SIGTERM or SIGINT, then drain within the grace period.

    SIGHUP loads the TLS files again.
    """
    server = ThreadlineServer(settings, tracing=traces.from_environment())
    # Handlers first: a SIGTERM that arrives while the server starts (right
    # after it logged "listening", say) must drain it, not kill the process.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    # SIGHUP reloads the TLS certificate (and never ends the process).
    loop.add_signal_handler(signal.SIGHUP, server.reload_tls)
    await server.start()
    try:
        waiter = asyncio.create_task(server.wait())
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
    finally:
        await server.stop()


async def migrate(database: str) -> int:
    """Apply the migrations a database lacks (``threadline migrate``); return the exit status."""
    try:
        version, applied = await choice.migrate(database)
    except SchemaTooNewError as error:
        sys.stderr.write(f"threadline migrate: {error}\n")
        return 1
    for name in applied:
        sys.stdout.write(f"applied {name}\n")
    sys.stdout.write(f"schema version {version}\n")
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``threadline`` command and ``python -m threadline_server``."""
    parser = argparse.ArgumentParser(
        prog="threadline",
        description="Threadline: threads, messages and agent runs over gRPC and HTTP/JSON.",
    )
    parser.add_argument("--version", action="version", version=f"threadline {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve", help="run the gRPC server and its HTTP/JSON side")
    config.add_arguments(serve_parser)
    keys_command.add_parser(commands)
    migrate_parser = commands.add_parser(
        "migrate", help="bring the database's schema up to date, then exit"
    )
    config.add_arguments(migrate_parser, only=("database",))
    backup_command.add_parser(commands)
    arguments = parser.parse_args(argv)
    settings = config.load(arguments)
    if arguments.command == "keys":
        sys.exit(asyncio.run(keys_command.run(arguments, settings)))
    if arguments.command == "migrate":
        sys.exit(asyncio.run(migrate(settings.database)))
    if arguments.command == "backup":
        sys.exit(backup_command.run(arguments, settings))
    logs.configure(settings.log_level, settings.log_format)
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
