"""The load: ghz for gRPC, vegeta for HTTP, the bench driver for calls that chain.

Each runs as its own process, pinned to the load's cores, for a fixed time at
a fixed number of calls in flight, and reports the same few numbers.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.procs import AVAILABLE, CAN_PIN, pinned

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / ".tools" / "bin"
# The calls ghz has in flight when its time is up end with one of these
# (it closes the connection under them): they are not failures.
ENDED_BY_GHZ = ("use of closed network connection", "context canceled", "code = Canceled")


@dataclass(frozen=True)
class LoadResult:
    """What one load run measured."""

    calls: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    error_sample: str = ""

    @property
    def rate(self) -> float:
        """Successful calls per second."""
        return self.calls / self.seconds if self.seconds > 0 else 0.0

    @staticmethod
    def combine(parts: Sequence[LoadResult]) -> LoadResult:
        """Merge loads that ran side by side: calls add up; p50 is the mean, p99 the worst."""
        return LoadResult(
            calls=sum(p.calls for p in parts),
            errors=sum(p.errors for p in parts),
            seconds=max(p.seconds for p in parts),
            p50_ms=statistics.fmean(p.p50_ms for p in parts),
            p99_ms=max(p.p99_ms for p in parts),
            error_sample=next((p.error_sample for p in parts if p.error_sample), ""),
        )


@dataclass(frozen=True)
class GrpcLoad:
    """A unary gRPC call ghz repeats; data may use ghz's templates ({{.RequestNumber}})."""

    call: str
    data: dict[str, Any]
    protoset: str = "threadline"


@dataclass(frozen=True)
class HttpLoad:
    """An HTTP request vegeta repeats."""

    method: str
    path: str
    body: dict[str, Any] | None = None


@dataclass(frozen=True)
class DriverLoad:
    """A chain of calls the bench driver repeats (see bench/driver.py)."""

    flow: str
    options: dict[str, str] = field(default_factory=dict)


Load = GrpcLoad | HttpLoad | DriverLoad


@dataclass(frozen=True)
class Loader:
    """How loads are run: where the tools are, the cores, the calls in flight."""

    folder: Path
    cores: tuple[int, ...]
    concurrency: int
    protosets: dict[str, Path]
    ghz: Path = TOOLS / "ghz"
    vegeta: Path = TOOLS / "vegeta"

    def run(self, load: Load, target: str, seconds: float, concurrency: int = 0) -> LoadResult:
        """Run one load against a target (host:port, or an http:// base) for `seconds`."""
        concurrency = concurrency or self.concurrency
        if isinstance(load, GrpcLoad):
            return self._ghz(load, target, seconds, concurrency)
        if isinstance(load, HttpLoad):
            return self._vegeta(load, target, seconds, concurrency)
        return self._driver(load, target, seconds, concurrency)

    @property
    def where(self) -> tuple[int, ...]:
        """The load's cores; every core when it has none of its own (not the caller's only)."""
        return self.cores or (AVAILABLE if CAN_PIN else ())

    def _go_env(self) -> dict[str, str]:
        return {**os.environ, "GOMAXPROCS": str(max(1, len(self.where) or os.cpu_count() or 1))}

    def _ghz(self, load: GrpcLoad, target: str, seconds: float, concurrency: int) -> LoadResult:
        output = self.folder / "ghz.json"
        command = [
            str(self.ghz),
            "--insecure",
            "--protoset",
            str(self.protosets[load.protoset]),
            "--call",
            load.call,
            "--data",
            json.dumps(load.data),
            "--concurrency",
            str(concurrency),
            "--connections",
            "1",
            "--duration",
            f"{seconds:g}s",
            "--timeout",
            "30s",
            "--format",
            "json",
            "--output",
            str(output),
            target,
        ]
        _run(pinned(command, self.where), self._go_env(), seconds)
        report = json.loads(output.read_text(encoding="utf-8"))
        return ghz_result(report)

    def _vegeta(self, load: HttpLoad, base: str, seconds: float, concurrency: int) -> LoadResult:
        target: dict[str, Any] = {"method": load.method, "url": base + load.path}
        if load.body is not None:
            target["body"] = _base64(json.dumps(load.body).encode())
            target["header"] = {"Content-Type": ["application/json"]}
        targets = self.folder / "targets.json"
        targets.write_text(json.dumps(target) + "\n", encoding="utf-8")
        results = self.folder / "vegeta.bin"
        attack = [
            str(self.vegeta),
            "attack",
            "-format=json",
            f"-targets={targets}",
            "-rate=0",
            f"-workers={concurrency}",
            f"-max-workers={concurrency}",
            f"-duration={seconds:g}s",
            "-timeout=30s",
            f"-output={results}",
        ]
        _run(pinned(attack, self.where), self._go_env(), seconds)
        report_command = [str(self.vegeta), "report", "-type=json", str(results)]
        printed = _run(report_command, self._go_env(), 0)
        return vegeta_result(json.loads(printed))

    def _driver(
        self, load: DriverLoad, target: str, seconds: float, concurrency: int
    ) -> LoadResult:
        command = [
            sys.executable,
            "-m",
            "bench.driver",
            load.flow,
            target,
            "--concurrency",
            str(concurrency),
            "--seconds",
            f"{seconds:g}",
        ]
        for name, value in load.options.items():
            command += [f"--{name}", value]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        printed = _run(pinned(command, self.where), env, seconds)
        return LoadResult(**json.loads(printed))


def _run(command: Sequence[str], env: dict[str, str], seconds: float) -> str:
    """Run a load tool; return its standard output; fail loudly with its error output."""
    done = subprocess.run(
        list(command),
        capture_output=True,
        text=True,
        env=env,
        timeout=seconds + 120,
        check=False,
        cwd=ROOT,
    )
    if done.returncode != 0:
        raise LoadError(f"{Path(command[0]).name} exited {done.returncode}: {done.stderr[-2000:]}")
    return done.stdout


class LoadError(RuntimeError):
    """A load tool failed to run (not: some calls failed)."""


def _base64(data: bytes) -> str:
    import base64  # noqa: PLC0415 - only vegeta's JSON targets need it

    return base64.b64encode(data).decode()


def ghz_result(report: dict[str, Any]) -> LoadResult:
    """Read ghz's JSON report: OK calls, and the errors that are not the run's end."""
    codes: dict[str, int] = report.get("statusCodeDistribution") or {}
    errors: dict[str, int] = report.get("errorDistribution") or {}
    failures = {
        message: count
        for message, count in errors.items()
        if not any(marker in message for marker in ENDED_BY_GHZ)
    }
    percentiles = {
        int(item["percentage"]): item["latency"] / 1e6
        for item in report.get("latencyDistribution") or []
    }
    return LoadResult(
        calls=codes.get("OK", 0),
        errors=sum(failures.values()),
        seconds=report["total"] / 1e9,
        p50_ms=percentiles.get(50, 0.0),
        p99_ms=percentiles.get(99, 0.0),
        error_sample=next(iter(failures), ""),
    )


def vegeta_result(report: dict[str, Any]) -> LoadResult:
    """Read vegeta's JSON report (times in nanoseconds)."""
    requests = int(report["requests"])
    calls = round(requests * float(report["success"]))
    latencies = report["latencies"]
    seconds = (report["duration"] + report.get("wait", 0)) / 1e9
    errors: list[str] = report.get("errors") or []
    return LoadResult(
        calls=calls,
        errors=requests - calls,
        seconds=seconds,
        p50_ms=latencies["50th"] / 1e6,
        p99_ms=latencies["99th"] / 1e6,
        error_sample=errors[0] if errors else "",
    )
