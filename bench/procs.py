"""Processes the benchmark starts: pinned to cores, and what they cost (CPU time, peak memory).

Linux only, like ``taskset``: CPU time and memory come from /proc, summed over
a process and its descendants (a server that forks workers is measured whole).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KIB = 1024
# The cores this process could use when it started, before it pinned itself
# to the load's cores.
AVAILABLE = tuple(sorted(os.sched_getaffinity(0)))
# Pinning needs taskset and something to choose between.
CAN_PIN = shutil.which("taskset") is not None and len(AVAILABLE) > 1


@dataclass(frozen=True)
class Cores:
    """Which cores the servers run on and which the load runs on (empty: not pinned)."""

    server: tuple[int, ...]
    load: tuple[int, ...]

    @staticmethod
    def split(servers: int = 1) -> Cores:
        """Give each of `servers` server processes a core and the load the rest, when enough.

        With fewer than servers + 1 cores, the servers still get one core each
        (when there are that many) and the load is not pinned; with one core
        nothing is pinned.
        """
        available = AVAILABLE
        if not CAN_PIN:
            return Cores((), ())
        if len(available) > servers:
            return Cores(available[:servers], available[servers:])
        if len(available) == servers:
            return Cores(available, ())
        return Cores((), ())

    def server_core(self, index: int = 0) -> tuple[int, ...]:
        """Return the core of the index-th server process (empty: not pinned)."""
        return (self.server[index],) if index < len(self.server) else ()


def pinned(command: Sequence[str], cores: Sequence[int]) -> list[str]:
    """Return the command run under ``taskset`` on these cores (as is when none)."""
    if not cores:
        return list(command)
    return ["taskset", "-c", ",".join(str(c) for c in cores), *command]


def pin_self(cores: Sequence[int]) -> None:
    """Move this process (the orchestrator, a load client) onto these cores."""
    if cores:
        os.sched_setaffinity(0, set(cores))


def descendants(pid: int) -> list[int]:
    """Return the pid and every living descendant's pid."""
    found = [pid]
    index = 0
    while index < len(found):
        current = found[index]
        index += 1
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                children = Path(f"/proc/{current}/task/{task}/children").read_text()
            except OSError:
                continue
            found += [int(child) for child in children.split()]
    return found


def cpu_seconds(pid: int) -> float:
    """Return the user+system CPU time of a process tree, reaped children included."""
    total = 0
    for member in descendants(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the command name: utime, stime, cutime, cstime are fields 14-17 (1-based).
        total += sum(int(value) for value in fields[11:15])
    return total / CLOCK_TICKS


def peak_rss_bytes(pid: int) -> int:
    """Return the sum of each living tree member's peak resident memory (VmHWM)."""
    total = 0
    for member in descendants(pid):
        try:
            status = Path(f"/proc/{member}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1]) * PAGE_KIB
    return total


@dataclass
class Child:
    """A started process whose output goes to a log file, stopped as a group."""

    process: subprocess.Popen[bytes]
    log_path: Path
    started: float

    @staticmethod
    def start(
        command: Sequence[str],
        log_path: Path,
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Child:
        """Start a command in a session of its own (so its whole tree can be stopped)."""
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                list(command),
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=cwd,
                env=dict(env) if env is not None else None,
                start_new_session=True,
            )
        return Child(process, log_path, time.perf_counter())

    @property
    def pid(self) -> int:
        """The process id."""
        return self.process.pid

    def log(self) -> str:
        """Return what the process has written so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def alive(self) -> bool:
        """Tell whether the process is still running."""
        return self.process.poll() is None

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM the process group, SIGKILL it if it does not end in time; return the code."""
        if self.alive():
            self._signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            return self.process.wait()

    def _signal(self, signum: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)
