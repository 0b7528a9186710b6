"""A throwaway PostgreSQL cluster for the tests: initdb into a temporary folder, stopped at the end.

The cluster listens on a free port of 127.0.0.1 and on a unix socket in its
own folder; every test gets a database of its own (CREATE DATABASE), so no
test touches a database it did not create. initdb refuses to run as root:
then the cluster's files belong to the ``postgres`` user (Debian makes it)
and its commands run as that user. The binaries are found on PATH or in
Debian's /usr/lib/postgresql/<version>/bin.

Under pytest-xdist every worker starts a cluster of its own, each in a
folder of its own inside one folder of the test run (``PARENT_VARIABLE``
names it), so that the run's end can stop any cluster a dead worker left.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

# The user the cluster's superuser is named after, and runs as when we are root.
_SUPERUSER = "postgres"
_names = itertools.count()
# The environment variable naming the folder the clusters of one test run go in.
PARENT_VARIABLE = "THREADLINE_TEST_PG_PARENT"
# Tries to start on a free port: between choosing a port and binding it,
# another process (another worker's server, a client's connection) may take it.
_START_ATTEMPTS = 3


def find_bin_dir() -> Path | None:
    """Return the folder with initdb and pg_ctl, or None when PostgreSQL is not installed."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).resolve().parent
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
    )
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Cluster:
    """A running throwaway cluster."""

    folder: Path
    port: int
    bin_dir: Path
    as_user: str | None

    def _command(self, *args: str) -> list[str]:
        if self.as_user is None:
            return list(args)
        return ["runuser", "-u", self.as_user, "--", *args]

    def url(self, database: str = "postgres") -> str:
        """Return the URL of one of the cluster's databases (over TCP on 127.0.0.1)."""
        return f"postgresql://{_SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """Create a fresh database; return its URL."""
        import psycopg  # noqa: PLC0415 - the tests of SQLite alone need no driver

        name = f"t{os.getpid()}_{next(_names)}"
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {name}".encode())
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop a database made by create_database (its connections are ended first)."""
        import psycopg  # noqa: PLC0415 - the tests of SQLite alone need no driver

        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)".encode())

    def stop(self) -> None:
        """Stop the cluster at once and remove its files."""
        subprocess.run(
            self._command(
                str(self.bin_dir / "pg_ctl"),
                "-D",
                str(self.folder / "data"),
                "-m",
                "immediate",
                "stop",
            ),
            check=False,
            capture_output=True,
        )
        shutil.rmtree(self.folder, ignore_errors=True)


def _as_user() -> str | None:
    """The user the cluster runs as: ``postgres`` when we are root (initdb refuses root)."""
    return _SUPERUSER if os.geteuid() == 0 else None


def make_parent() -> Path:
    """Make the folder one test run's clusters go in (which the postgres user may enter)."""
    parent = Path(tempfile.mkdtemp(prefix="threadline-pg-"))
    parent.chmod(0o711)
    return parent


def stop_all(parent: Path) -> None:
    """Stop every cluster still running in a test run's folder, then remove the folder."""
    bin_dir = find_bin_dir()
    for pid_file in parent.glob("*/data/postmaster.pid"):
        if bin_dir is not None:
            Cluster(pid_file.parent.parent, 0, bin_dir, _as_user()).stop()
    shutil.rmtree(parent, ignore_errors=True)


def start(name: str = "main") -> Cluster:
    """initdb a cluster into a temporary folder and start it on a free port.

    The folder is in the test run's folder when PARENT_VARIABLE names one;
    its name starts with name (the pytest-xdist worker's id).
    """
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL is not installed (no initdb)")
    parent = os.environ.get(PARENT_VARIABLE) or None
    folder = Path(tempfile.mkdtemp(prefix=f"{name}-" if parent else "threadline-pg-", dir=parent))
    as_user = _as_user()
    if as_user is not None:
        entry = pwd.getpwnam(as_user)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    cluster = Cluster(folder, 0, bin_dir, as_user)
    data = folder / "data"
    subprocess.run(
        cluster._command(
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-U",
            _SUPERUSER,
            "-A",
            "trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale",
            "C",
        ),
        check=True,
        capture_output=True,
    )
    attempts_left = _START_ATTEMPTS
    while (failure := _pg_ctl_start(cluster, _free_port())) is not None:
        attempts_left -= 1
        if "could not bind" not in failure or not attempts_left:
            cluster.stop()
            raise RuntimeError(f"pg_ctl start failed: {failure}")
    return cluster


def _pg_ctl_start(cluster: Cluster, port: int) -> str | None:
    """Start the cluster on port; return why it failed (pg_ctl's output and the log), or None."""
    cluster.port = port
    data = cluster.folder / "data"
    log_path = cluster.folder / "server.log"
    log_path.unlink(missing_ok=True)
    options = (
        f"-p {cluster.port} -k {cluster.folder} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300 "
        "-c shared_buffers=32MB"
    )
    result = subprocess.run(
        cluster._command(
            str(cluster.bin_dir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(log_path),
            "-w",
            "start",
        ),
        check=False,
        capture_output=True,
    )
    if result.returncode == 0:
        return None
    log = log_path.read_text(errors="replace") if log_path.exists() else ""
    return f"{result.stderr.decode(errors='replace')} {log}"
