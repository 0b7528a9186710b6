"""The limit: an empty grpc.aio server with Threadline's services, answering canned messages.

Every method of Threadline's four services is served with a canned answer of
the right type and a realistic size, after decoding the request as a real
servicer does; nothing else happens. What Threadline reaches beside it is the
share of the Python gRPC runtime's own limit that its work leaves.

Usage: python -m bench.limit_server (prints "listening on 127.0.0.1:PORT").
"""

from __future__ import annotations

import asyncio

from bench.canned import SERVICES, generic_handler, serve


def main() -> None:
    """Serve until SIGTERM."""
    asyncio.run(serve([generic_handler(service) for service in SERVICES]))


if __name__ == "__main__":
    main()
