"""The unix socket the HTTP side calls the gRPC services through, in a folder of its own.

The folder is made by ``tempfile.mkdtemp``: mode 0700, so only the server's
user can reach the socket, and removed when the server stops. A server that
was killed (kill -9, a crash) cannot remove its folder; the next server to
start removes those of its user whose socket no one answers any more, so
they do not pile up in the temporary directory; only folders older than a
few minutes, so that one a server has just made (and will listen on once it
has opened its database) is never taken for dead.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
import time
from pathlib import Path

PREFIX = "threadline-gateway-"
SOCKET_NAME = "grpc.sock"
# A folder younger than this may belong to a server still starting up.
DEAD_AFTER_SECONDS = 600.0


def make() -> Path:
    """Return the path of a socket in a new private folder (after sweeping dead ones)."""
    _remove_dead()
    return Path(tempfile.mkdtemp(prefix=PREFIX)) / SOCKET_NAME


def remove(path: Path) -> None:
    """Remove the socket's folder."""
    shutil.rmtree(path.parent, ignore_errors=True)


def _remove_dead(now: float | None = None) -> None:
    oldest = (time.time() if now is None else now) - DEAD_AFTER_SECONDS
    for folder in Path(tempfile.gettempdir()).glob(PREFIX + "*"):
        with contextlib.suppress(OSError):
            status = folder.lstat()
            if folder.is_symlink() or status.st_uid != os.getuid() or status.st_mtime > oldest:
                continue
            if not _answers(folder / SOCKET_NAME):
                shutil.rmtree(folder, ignore_errors=True)


def _answers(path: Path) -> bool:
    """Whether a server listens on the socket (a missing one answers nothing)."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(1.0)
        probe.connect(str(path))
    except (ConnectionRefusedError, FileNotFoundError):
        return False
    except OSError:
        # Anything else (a timeout, a full backlog): leave it alone.
        return True
    finally:
        probe.close()
    return True
