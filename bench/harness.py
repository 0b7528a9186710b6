"""Run the benchmark: every scenario's systems, fresh, in interleaved rounds; print one table.

See bench/README.md for what is measured and how to read it.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import json
import os
import platform
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import report
from bench.load import Load, Loader, LoadError, LoadResult
from bench.procs import AVAILABLE, Cores, pin_self
from bench.report import Measurement
from bench.run_events import RPC_NAMES
from bench.scenarios import BY_KEY, SCENARIOS, Entry, Scenario
from bench.seed import Seeded, seed
from bench.systems import (
    PEER_VENVS,
    ROOT,
    STARTERS,
    Context,
    StartError,
    peer_missing,
    peer_python,
)

RESULTS = ROOT / "bench" / ".results"
STORES = ROOT / "bench" / ".store"
TOOLS = ROOT / ".tools" / "bin"
PEER_PACKAGES = {
    "langgraph": (
        "langgraph-cli",
        "langgraph-api",
        "langgraph-runtime-inmem",
        "langgraph",
        "grpcio",
        "uvicorn",
    ),
    "a2a": ("a2a-sdk", "grpcio", "protobuf", "SQLAlchemy", "aiosqlite"),
}


@dataclass(frozen=True)
class Settings:
    """How long, how hard and what to measure."""

    rounds: int = 3
    warmup: float = 2.0
    duration: float = 8.0
    concurrency: int = 64
    threads: int = 1_000_000
    messages: int = 10_000_000
    big_thread_messages: int = 500_000
    readers: str = "0,1,10,100,1000"
    words: int = 3000
    # The 1,000-reader target is met with several events per message; one event
    # per message (--rpc stream) is bounded by gRPC's per-message write and
    # cannot deliver 3,000,000 events within the budget (docs/performance.md).
    events_rpc: str = "batches"
    events_budget: float = 30.0
    events_max_seconds: float = 300.0


QUICK = Settings(
    rounds=1,
    warmup=0.5,
    duration=1.0,
    concurrency=16,
    threads=2_000,
    messages=20_000,
    big_thread_messages=5_000,
    readers="0,1,10",
    words=300,
    events_budget=8.0,
    events_max_seconds=60.0,
)


def note(text: str) -> None:
    """Progress, on stderr (stdout has the table)."""
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def slug(text: str) -> str:
    """Return a folder name for a label."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def run_side_by_side(
    loader: Loader, loads: Sequence[tuple[Load, str]], seconds: float
) -> LoadResult:
    """Run loads at the same time (one per server process), the calls in flight split among them."""
    share = max(1, loader.concurrency // len(loads))
    if len(loads) == 1:
        load, target = loads[0]
        return loader.run(load, target, seconds, share)
    with concurrent.futures.ThreadPoolExecutor(len(loads)) as pool:
        futures = [
            pool.submit(
                replace(loader, folder=loader.folder / str(i)).run, load, target, seconds, share
            )
            for i, (load, target) in enumerate(loads)
        ]
        return LoadResult.combine([future.result() for future in futures])


@dataclass(frozen=True)
class Bench:
    """One benchmark run: settings, where it works, the protosets, the seeded store."""

    settings: Settings
    folder: Path
    protosets: dict[str, Path]
    seeded: Seeded | None
    keep: bool

    def measure(self, scenario: Scenario, entry: Entry, round_number: int) -> Measurement:
        """Start the entry's system fresh, set up, warm up, measure, stop."""
        base = Measurement(scenario.key, entry.label, round_number)
        seconds = max(self.settings.duration, scenario.least_seconds)
        peer = PEER_VENVS.get(entry.system)
        if peer and (missing := peer_missing(peer)):
            return replace(base, failure=missing)
        if entry.large_store and self.seeded is None:
            return replace(base, failure="no large store")
        folder = self.folder / scenario.key / f"round-{round_number}" / slug(entry.label)
        folder.mkdir(parents=True)
        cores = Cores.split(2 if entry.system.endswith(" x2") else 1)
        database = Path(self.seeded.path) if entry.large_store and self.seeded else None
        try:
            running = STARTERS[entry.system](Context(folder, cores, database))
        except StartError as error:
            return replace(base, failure=f"did not start: {error}")
        try:
            loads = entry.prepare(
                running, self.seeded.extras() if entry.large_store and self.seeded else {}
            )
            (folder / "load").mkdir()
            for index in range(len(loads)):
                (folder / "load" / str(index)).mkdir()
            loader = Loader(folder / "load", cores.load, self.settings.concurrency, self.protosets)
            if self.settings.warmup > 0:
                run_side_by_side(loader, loads, self.settings.warmup)
            cpu_before = running.cpu_seconds()
            result = run_side_by_side(loader, loads, seconds)
            cpu = running.cpu_seconds() - cpu_before
            peak = running.peak_rss_bytes()
        except (LoadError, OSError, RuntimeError) as error:
            return replace(base, failure=f"{type(error).__name__}: {error}")
        finally:
            running.stop()
            if not self.keep:
                shutil.rmtree(folder, ignore_errors=True)
        if not result.calls:
            return replace(
                base,
                failure=f"no call completed in the {seconds:g}s measured"
                + (f" ({result.errors} failed: {result.error_sample})" if result.errors else ""),
            )
        return replace(
            base,
            calls_per_s=round(result.rate, 1),
            p50_ms=round(result.p50_ms, 2),
            p99_ms=round(result.p99_ms, 2),
            calls=result.calls,
            errors=result.errors,
            cpu_s_per_1k_calls=round(1000 * cpu / result.calls, 3) if result.calls else 0.0,
            peak_rss_mib=round(peak / report.MIB, 1),
            startup_s=round(running.startup_seconds, 3),
            error_sample=result.error_sample,
        )

    def scenario(self, scenario: Scenario) -> list[Measurement]:
        """Every round of a scenario, the order of its systems turned by one each round."""
        measured = []
        entries = scenario.entries
        for round_number in range(1, self.settings.rounds + 1):
            turn = (round_number - 1) % len(entries)
            for entry in (*entries[turn:], *entries[:turn]):
                result = self.measure(scenario, entry, round_number)
                measured.append(result)
                if result.failure:
                    note(
                        f"  {scenario.title} / {entry.label} #{round_number}: NOT MEASURED: "
                        f"{result.failure.splitlines()[0][:200]}"
                    )
                else:
                    failed = f", {result.errors} failed calls" if result.errors else ""
                    note(
                        f"  {scenario.title} / {entry.label} #{round_number}: "
                        f"{result.calls_per_s:,.0f} calls/s, p50 {result.p50_ms:.1f} ms, "
                        f"p99 {result.p99_ms:.1f} ms{failed}"
                    )
        return measured


def make_protosets(folder: Path) -> dict[str, Path]:
    """Describe Threadline's services (and the A2A peer's, when installed) for ghz."""
    protosets = {"threadline": folder / "threadline.protoset"}
    modules = ["threadline.v1.thread_pb2", "threadline.v1.message_pb2", "threadline.v1.run_pb2"]
    script = str(ROOT / "bench" / "protoset.py")
    subprocess.run([sys.executable, script, str(protosets["threadline"]), *modules], check=True)
    if not peer_missing("a2a"):
        protosets["a2a"] = folder / "a2a.protoset"
        subprocess.run(
            [str(peer_python("a2a")), script, str(protosets["a2a"]), "a2a.types.a2a_pb2"],
            check=True,
        )
    return protosets


def large_store(settings: Settings, stores: Path) -> Seeded:
    """Return the seeded store for these sizes: reused from `stores` when it is there."""
    name = (
        f"threads-{settings.threads}-messages-{settings.messages}"
        f"-big-{settings.big_thread_messages}"
    )
    path = stores / f"{name}.db"
    summary = stores / f"{name}.json"
    if path.exists() and summary.exists():
        try:
            seeded = Seeded(**json.loads(summary.read_text(encoding="utf-8")))
        except (ValueError, TypeError):
            pass
        else:
            note(f"reusing the seeded store {path} (seeded in {seeded.seconds}s)")
            return seeded
    for stale in stores.glob(f"{name}.*"):
        stale.unlink()
    note(f"seeding {settings.threads:,} threads and {settings.messages:,} messages ...")
    seeded = seed(path, settings.threads, settings.messages, settings.big_thread_messages)
    summary.write_text(json.dumps(asdict(seeded), indent=2) + "\n", encoding="utf-8")
    note(f"seeded in {seeded.seconds}s ({seeded.rows_per_second:,} rows/s): {seeded.check}")
    return seeded


def run_events(settings: Settings) -> dict[str, Any]:
    """One run's events to N readers: bench/run_events.py, readers on the load's cores."""
    cores = Cores.split()
    command = [
        sys.executable,
        str(ROOT / "bench" / "run_events.py"),
        "--json",
        "--readers",
        settings.readers,
        "--words",
        str(settings.words),
        "--rpc",
        settings.events_rpc,
        "--budget",
        f"{settings.events_budget:g}",
        "--max-seconds",
        f"{settings.events_max_seconds:g}",
        "--channels",
        "8",
    ]
    if cores.server:
        command += ["--server-cpus", ",".join(str(c) for c in cores.server)]
        command = ["taskset", "-c", ",".join(str(c) for c in cores.load), *command]
    # 1,000 readers are 1,000 calls in flight: above the server's default cap.
    env = {**os.environ, "THREADLINE_MAX_CONCURRENT_RPCS": "5000"}
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=settings.events_max_seconds + 300,
    )
    if done.returncode != 0:
        return {"failure": f"run_events.py exited {done.returncode}: {done.stderr[-2000:]}"}
    result: dict[str, Any] = json.loads(done.stdout)
    return result


# -- versions and machine -----------------------------------------------------------------


def git_revision() -> str:
    """Return the Threadline commit, with a note when the tree has uncommitted changes."""
    git = ["git", "--no-optional-locks", "-C", str(ROOT)]
    try:
        commit = subprocess.run(
            [*git, "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + (" (with uncommitted changes)" if dirty else "")


def tool_version(name: str) -> str:
    """Return a Go tool's pinned version, from the stamp scripts/tools.sh leaves beside it."""
    stamps = sorted(TOOLS.glob(f".{name}-v*"))
    return stamps[-1].name.removeprefix(f".{name}-") if stamps else "unknown"


def peer_versions(peer: str) -> dict[str, str]:
    """Return the versions of a peer's packages, read in its own environment."""
    if peer_missing(peer):
        return {"missing": peer_missing(peer)}
    code = (
        "import importlib.metadata as m, json, sys, sqlite3; v = {}\n"
        "for n in sys.argv[1:]:\n"
        "    try: v[n] = m.version(n)\n"
        "    except m.PackageNotFoundError: pass\n"
        "v['python'] = sys.version.split()[0]; v['sqlite'] = sqlite3.sqlite_version\n"
        "print(json.dumps(v))"
    )
    done = subprocess.run(
        [str(peer_python(peer)), "-c", code, *PEER_PACKAGES[peer]],
        capture_output=True,
        text=True,
        check=True,
    )
    versions: dict[str, str] = json.loads(done.stdout)
    return versions


def versions() -> dict[str, Any]:
    """Every version this run used."""
    ours = {}
    for name in ("threadline", "grpcio", "protobuf", "aiosqlite", "aiohttp"):
        try:
            ours[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            ours[name] = "missing"
    return {
        "threadline_commit": git_revision(),
        **ours,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "ghz": tool_version("ghz"),
        "vegeta": tool_version("vegeta"),
        "peers": {peer: peer_versions(peer) for peer in PEER_PACKAGES},
    }


def machine() -> dict[str, Any]:
    """Describe the machine: processor, cores, memory, kernel, and how busy it was."""
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    memory = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
    cores = Cores.split()
    return {
        "cpu": model,
        "cores": len(AVAILABLE),
        "memory_gib": round(int(memory) / 1024 / 1024, 1),
        "kernel": platform.release(),
        "server_cores": list(cores.server),
        "load_cores": list(cores.load),
        "load_average_1min_before": round(os.getloadavg()[0], 2),
    }


# -- the command --------------------------------------------------------------------------


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Threadline beside the gRPC runtime's limit, a naive durable server, "
        "LangGraph's dev server and the A2A SDK, in one run (bench/README.md).",
    )
    parser.add_argument("--quick", action="store_true", help="every scenario briefly (1-3 min)")
    parser.add_argument(
        "--scenarios",
        default="all",
        help="comma-separated scenario keys, 'events' and 'large' included (default all): "
        + ", ".join([s.key for s in SCENARIOS] + ["events"]),
    )
    parser.add_argument("--rounds", type=int, help="rounds of each scenario (default 3; quick 1)")
    parser.add_argument("--duration", type=float, help="seconds measured per system and round")
    parser.add_argument("--warmup", type=float, help="seconds of load before measuring")
    parser.add_argument("--concurrency", type=int, help="calls in flight (default 64; quick 16)")
    parser.add_argument("--threads", type=int, help="threads in the large store (default 1M)")
    parser.add_argument("--messages", type=int, help="messages in the large store (default 10M)")
    parser.add_argument("--big-thread-messages", type=int, help="messages of its biggest thread")
    parser.add_argument("--readers", help="reader counts for the events scenario")
    parser.add_argument("--words", type=int, help="events of the run the readers follow")
    parser.add_argument(
        "--store-dir",
        type=Path,
        default=STORES,
        help="where seeded large stores are kept and reused (default bench/.store)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=RESULTS,
        help="where results.json, table.md and chart.png go (default bench/.results)",
    )
    parser.add_argument("--chart", type=Path, help="the chart's path (default OUT/chart.png)")
    parser.add_argument("--keep", action="store_true", help="keep each system's folder and logs")
    return parser.parse_args(argv)


def settings_from(arguments: argparse.Namespace) -> Settings:
    """Return the settings: quick or full, then each option given."""
    chosen = QUICK if arguments.quick else Settings()
    for name in (
        "rounds",
        "duration",
        "warmup",
        "concurrency",
        "threads",
        "messages",
        "big_thread_messages",
        "readers",
        "words",
    ):
        value = getattr(arguments, name)
        if value is not None:
            chosen = replace(chosen, **{name: value})
    return chosen


def selected(text: str) -> tuple[list[Scenario], bool]:
    """Return the scenarios named (keys; 'large': the large-store ones), and whether events run."""
    if text == "all":
        return list(SCENARIOS), True
    names = {name.strip() for name in text.split(",") if name.strip()}
    unknown = names - set(BY_KEY) - {"events", "large"}
    if unknown:
        raise SystemExit(f"unknown scenarios: {', '.join(sorted(unknown))}")
    chosen = [s for s in SCENARIOS if s.key in names or ("large" in names and "large" in s.tags)]
    return chosen, "events" in names


def check_tools() -> None:
    """Fail early, and say how to fix it, when the load tools are missing."""
    missing = [name for name in ("ghz", "vegeta") if not (TOOLS / name).exists()]
    if missing:
        raise SystemExit(f"{', '.join(missing)} missing from .tools/bin: run `make tools`")


def main(argv: Sequence[str] | None = None) -> None:
    """Run the benchmark; print the table; save JSON, Markdown and the chart."""
    arguments = parse(argv)
    settings = settings_from(arguments)
    scenarios, with_events = selected(arguments.scenarios)
    check_tools()
    cores = Cores.split()
    pin_self(cores.load)
    started = time.perf_counter()
    about: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python -m bench", *(argv if argv is not None else sys.argv[1:])]),
        "machine": machine(),
        "versions": versions(),
        "settings": asdict(settings),
    }
    note(f"server on cores {list(cores.server) or 'any'}, load on {list(cores.load) or 'any'}")
    with tempfile.TemporaryDirectory(prefix="threadline-bench-") as work:
        folder = Path(work)
        seeded = None
        if any(entry.large_store for s in scenarios for entry in s.entries):
            seeded = large_store(settings, arguments.store_dir)
        bench = Bench(settings, folder, make_protosets(folder), seeded, arguments.keep)
        measurements: list[Measurement] = []
        for scenario in scenarios:
            note(f"{scenario.title}:")
            measurements += bench.scenario(scenario)
        if arguments.keep:
            note(f"kept {folder}")
            shutil.copytree(folder, arguments.out / "systems", dirs_exist_ok=True)
    events = {}
    if with_events:
        note(f"events of one run to {settings.readers} readers (bench/run_events.py) ...")
        events = run_events(settings)
    about["machine"]["load_average_1min_after"] = round(os.getloadavg()[0], 2)
    about["total_seconds"] = round(time.perf_counter() - started, 1)
    rows = {scenario.key: report.aggregate(scenario, measurements) for scenario in scenarios}
    lines = render(about, scenarios, rows, events, seeded)
    sys.stdout.write("\n".join(lines) + "\n")
    arguments.out.mkdir(parents=True, exist_ok=True)
    (arguments.out / "table.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    document = {
        **about,
        "scenarios": report.as_json(scenarios, rows, measurements),
        "events": events,
        "large_store": asdict(seeded) if seeded else None,
    }
    (arguments.out / "results.json").write_text(
        json.dumps(document, indent=2) + "\n", encoding="utf-8"
    )
    chart_path = arguments.chart or arguments.out / "chart.png"
    why_not = report.chart(
        scenarios,
        rows,
        chart_path,
        f"Threadline {about['versions']['threadline_commit']}, {about['date']}",
    )
    note(why_not or f"chart: {chart_path}")
    note(f"results: {arguments.out / 'results.json'}")


def describe(about: dict[str, Any]) -> list[str]:
    """Return the run's particulars: when, the command, the machine, every version, the load."""
    settings, box, ours = about["settings"], about["machine"], about["versions"]
    peers = "; ".join(
        f"{peer}: " + ", ".join(f"{name} {version}" for name, version in found.items())
        for peer, found in ours["peers"].items()
    )
    return [
        f"Threadline benchmark, {about['date']}, {about['total_seconds']}s: `{about['command']}`",
        "",
        (
            f"Machine: {box['cpu']}, {box['cores']} cores, {box['memory_gib']} GiB, Linux "
            f"{box['kernel']}; server on cores {box['server_cores'] or 'any'}, load on "
            f"{box['load_cores'] or 'any'}; 1-minute load average "
            f"{box['load_average_1min_before']} before, {box['load_average_1min_after']} after."
        ),
        (
            f"Versions: Threadline {ours['threadline_commit']}, Python {ours['python']}, "
            f"grpcio {ours['grpcio']}, protobuf {ours['protobuf']}, aiosqlite {ours['aiosqlite']}, "
            f"SQLite {ours['sqlite']}, ghz {ours['ghz']}, vegeta {ours['vegeta']}; {peers}."
        ),
        (
            f"Each system started fresh for each scenario and round; {settings['rounds']} "
            f"round(s), medians; {settings['warmup']:g}s warm-up, then {settings['duration']:g}s "
            f"measured at {settings['concurrency']} calls in flight."
        ),
        "",
    ]


def render(
    about: dict[str, Any],
    scenarios: Sequence[Scenario],
    rows: dict[str, list[report.Row]],
    events: dict[str, Any],
    seeded: Seeded | None,
) -> list[str]:
    """Return the whole printed result: the run's particulars, the tables, the notes."""
    lines = describe(about)
    if scenarios:
        lines += report.table(scenarios, rows)
        lines.append("")
        lines += [f"- {s.title}: {s.note}" for s in scenarios if s.note]
        lines += [
            f"- {s.title} / {row.label}: {row.errors} failed calls, e.g. {row.error_sample[:200]}"
            for s in scenarios
            for row in rows[s.key]
            if row.errors
        ]
    if seeded is not None:
        size = seeded.bytes / report.MIB
        lines.append(
            f"- Large store: {seeded.threads:,} threads, {seeded.messages:,} messages (the "
            f"biggest thread {seeded.big_thread_messages:,}), {size:,.0f} MiB, seeded by "
            f"`python -m bench.seed` in {seeded.seconds}s ({seeded.rows_per_second:,} rows/s)."
        )
    if events:
        words = about["settings"]["words"]
        rpc = RPC_NAMES[about["settings"]["events_rpc"]]
        lines += [
            "",
            (
                f"Events of one echo run ({words} words, one event each) to concurrent "
                f"{rpc} readers (bench/run_events.py):"
            ),
            "",
        ]
        if "failure" in events:
            lines.append(f"not measured: {events['failure'][:500]}")
        else:
            lines += report.events_table(events)
            if events.get("skipped_reader_counts"):
                lines.append(f"skipped for lack of time: {events['skipped_reader_counts']} readers")
    return lines
