"""The results: medians over rounds, ratios, the printed table, the JSON and the chart."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.scenarios import Scenario

MIB = 1024 * 1024


@dataclass(frozen=True)
class Measurement:
    """One entry of one scenario in one round (failure says why there is no number)."""

    scenario: str
    label: str
    round: int
    calls_per_s: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    calls: int = 0
    errors: int = 0
    cpu_s_per_1k_calls: float = 0.0
    peak_rss_mib: float = 0.0
    startup_s: float = 0.0
    error_sample: str = ""
    failure: str = ""


@dataclass(frozen=True)
class Row:
    """An entry's medians over its rounds, and its ratios."""

    label: str
    rounds: int
    calls_per_s: float
    p50_ms: float
    p99_ms: float
    cpu_s_per_1k_calls: float
    peak_rss_mib: float
    startup_s: float
    errors: int
    of_baseline: float | None
    threadline_over_this: float | None
    failure: str = ""
    error_sample: str = ""


def _median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0


def aggregate(scenario: Scenario, measurements: Sequence[Measurement]) -> list[Row]:
    """Return a row per entry: medians of its successful rounds, ratios of the medians."""
    medians: dict[str, dict[str, Any]] = {}
    for entry in scenario.entries:
        own = [m for m in measurements if m.scenario == scenario.key and m.label == entry.label]
        good = [m for m in own if not m.failure]
        medians[entry.label] = {
            "rounds": len(good),
            "calls_per_s": _median([m.calls_per_s for m in good]),
            "p50_ms": _median([m.p50_ms for m in good]),
            "p99_ms": _median([m.p99_ms for m in good]),
            "cpu_s_per_1k_calls": _median([m.cpu_s_per_1k_calls for m in good]),
            "peak_rss_mib": _median([m.peak_rss_mib for m in good]),
            "startup_s": _median([m.startup_s for m in good]),
            "errors": sum(m.errors for m in good),
            "failure": next((m.failure for m in own if m.failure), "") if not good else "",
            "error_sample": next((m.error_sample for m in good if m.error_sample), ""),
        }
    baseline = medians.get(scenario.baseline, {}).get("calls_per_s", 0.0)
    subject = medians[scenario.subject.label]["calls_per_s"]
    rows = []
    for label, values in medians.items():
        rate = values["calls_per_s"]
        rows.append(
            Row(
                label=label,
                of_baseline=rate / baseline if baseline and rate else None,
                threadline_over_this=(
                    subject / rate if rate and subject and label != scenario.subject.label else None
                ),
                **values,
            )
        )
    return rows


def _number(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _ratio(value: float | None, percent: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value:.0%}" if percent else f"{value:.2f}×"


HEADER = (
    "| scenario | system | calls/s | p50 ms | p99 ms | server CPU s / 1k calls | "
    "peak RSS MiB | start s | of baseline | Threadline ÷ this | failed calls |"
)


def table(scenarios: Sequence[Scenario], rows: dict[str, list[Row]]) -> list[str]:
    """Return the main table, in Markdown, one line per entry."""
    lines = [HEADER, "|" + "---|" * (HEADER.count("|") - 1)]
    for scenario in scenarios:
        for index, row in enumerate(rows[scenario.key]):
            title = scenario.title if index == 0 else ""
            if row.failure:
                cells = [title, row.label, f"not measured: {row.failure.splitlines()[0][:120]}"]
                lines.append("| " + " | ".join(cells + [""] * 8) + " |")
                continue
            cells = [
                title,
                row.label + (" (baseline)" if row.label == scenario.baseline else ""),
                _number(row.calls_per_s),
                _number(row.p50_ms),
                _number(row.p99_ms),
                f"{row.cpu_s_per_1k_calls:.2f}",
                f"{row.peak_rss_mib:.0f}",
                f"{row.startup_s:.2f}",
                _ratio(row.of_baseline, percent=True),
                _ratio(row.threadline_over_this),
                str(row.errors) if row.errors else "",
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return lines


EVENTS_HEADER = (
    "| readers | events | write ev/s | write ÷ no readers | delivered ev/s (all readers) | "
    "per reader ÷ write | latency p50 ms | latency p99 ms | server RSS MiB (peak) | "
    "every reader got every event |"
)


def events_table(events: dict[str, Any]) -> list[str]:
    """One run's events to N readers (from bench/run_events.py)."""
    rows: list[dict[str, Any]] = events.get("rows", [])
    alone = next((r["write_events_per_s"] for r in rows if r["readers"] == 0), 0.0)
    lines = [EVENTS_HEADER, "|" + "---|" * (EVENTS_HEADER.count("|") - 1)]
    for row in rows:
        readers = row["readers"]
        cut = " (cut)" if row.get("cut_by_budget") else ""
        cells = [
            str(readers),
            f"{row['events_written']}{cut}",
            _number(row["write_events_per_s"]),
            _ratio(row["write_events_per_s"] / alone, percent=True) if alone else "—",
            _number(row.get("delivery_events_per_s", 0.0)) if readers else "—",
            f"{row['per_reader_over_write']:.2f}" if readers else "—",
            _number(row.get("latency_ms_p50", 0.0)) if readers else "—",
            _number(row.get("latency_ms_p99", 0.0)) if readers else "—",
            f"{row.get('server_rss_mib', 0):.0f} ({row.get('server_peak_rss_mib', 0):.0f})",
            ("yes" if row.get("all_readers_got_every_event") else "NO") if readers else "—",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def as_json(
    scenarios: Sequence[Scenario], rows: dict[str, list[Row]], measurements: Sequence[Measurement]
) -> list[dict[str, Any]]:
    """Every scenario with its rows (medians, ratios) and every round's measurement."""
    return [
        {
            "key": scenario.key,
            "title": scenario.title,
            "baseline": scenario.baseline,
            "note": scenario.note,
            "rows": [asdict(row) for row in rows[scenario.key]],
            "rounds": [asdict(m) for m in measurements if m.scenario == scenario.key],
        }
        for scenario in scenarios
    ]


def chart(scenarios: Sequence[Scenario], rows: dict[str, list[Row]], path: Path, title: str) -> str:
    """Draw calls/s per system for each scenario into a PNG; return '' or why not."""
    try:
        import matplotlib as mpl  # noqa: PLC0415 - optional: the bench extra

        mpl.use("Agg")
        import matplotlib.pyplot as plt  # noqa: PLC0415
    except ImportError:
        return "no chart: matplotlib is missing (pip install -e '.[bench]')"
    count = len(scenarios)
    columns = 3 if count > 4 else count
    lines = -(-count // columns)
    figure, axes = plt.subplots(lines, columns, figsize=(5 * columns, 2.6 * lines), squeeze=False)
    for index, scenario in enumerate(scenarios):
        axis = axes[index // columns][index % columns]
        measured = [row for row in rows[scenario.key] if not row.failure]
        labels = [row.label.replace("Threadline, ", "").replace(" (limit)", "") for row in measured]
        values = [row.calls_per_s for row in measured]
        colours = [
            "#1f6feb" if row.label == scenario.subject.label else "#9aa4ae" for row in measured
        ]
        axis.barh(labels[::-1], values[::-1], color=colours[::-1])
        axis.set_title(scenario.title, fontsize=9)
        axis.tick_params(labelsize=7)
        axis.set_xlabel("calls/s", fontsize=7)
    for index in range(count, lines * columns):
        axes[index // columns][index % columns].axis("off")
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return ""
