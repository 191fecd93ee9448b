"""The benchmark's report: result rows, the Markdown table, and what machine it ran on."""

from __future__ import annotations

import math
import os
import platform
from dataclasses import dataclass


@dataclass
class Row:
    name: str
    rows: int
    seconds: float
    rss_mb: float | None = None
    cpu_s: float | None = None
    note: str = ""
    startup_cpu_s: float | None = None  # the part of cpu_s spent before the migration started
    queries: int | None = None  # Snowflake queries the phase sent (the stand-in's counter)
    source_alone_s: float | None = None  # the same chunk queries fetched and discarded

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else math.nan

    @property
    def work_cpu_s(self) -> float | None:
        """CPU without interpreter start-up and imports (None when that was not measured)."""
        if self.cpu_s is None or self.startup_cpu_s is None:
            return None
        return self.cpu_s - self.startup_cpu_s

    @property
    def source_ratio(self) -> float | None:
        """rows/s over the rows/s of the same chunk queries fetched alone."""
        if not self.source_alone_s or self.seconds <= 0:
            return None
        return self.source_alone_s / self.seconds


def ceiling_rate(results: list[Row]) -> float:
    src = [r for r in results if r.name.startswith("source ceiling")]
    snk = [r for r in results if r.name.startswith("sink ceiling")]
    rates = [r.rows / r.seconds for r in src + snk if r.seconds > 0]
    return min(rates) if len(rates) == 2 else math.nan


def _per_million(value: float | None, rows: int) -> str:
    return f"{value / (rows / 1e6):.2f}" if value is not None and rows else ""


def table(results: list[Row], bytes_per_row: float) -> str:
    ceiling = ceiling_rate(results)
    mb = bytes_per_row / 1e6
    lines = [
        "| measurement | rows/s | MB/s | x ceiling | x source alone | peak RSS MB | CPU s/M rows "
        "| CPU s/M excl. start-up | queries/M rows | notes |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        rss = f"{r.rss_mb:.0f}" if r.rss_mb is not None else ""
        ratio = f"{r.source_ratio:.2f}" if r.source_ratio is not None else ""
        queries = f"{r.queries / (r.rows / 1e6):.0f}" if r.queries is not None and r.rows else ""
        lines.append(
            f"| {r.name} | {r.rate:,.0f} | {r.rate * mb:.1f} | {r.rate / ceiling:.2f} | {ratio} | "
            f"{rss} | {_per_million(r.cpu_s, r.rows)} | {_per_million(r.work_cpu_s, r.rows)} | "
            f"{queries} | {r.note} |"
        )
    return "\n".join(lines)


# The scale issue's acceptance targets for "snowpg default" (docs/benchmarks.md).
TARGET_SOURCE_RATIO = 0.7
TARGET_RSS_MB = 300.0
TARGET_CPU_S_PER_M = 3.0


def verdict(row: Row) -> str:
    """The acceptance figures of one snowpg row against the targets, one line each."""
    work = row.work_cpu_s
    cpu = work / (row.rows / 1e6) if work is not None and row.rows else math.nan
    ratio = row.source_ratio if row.source_ratio is not None else math.nan
    rss = row.rss_mb if row.rss_mb is not None else math.nan
    queries = row.queries / (row.rows / 1e6) if row.queries is not None and row.rows else math.nan

    def mark(ok: bool) -> str:
        return "met" if ok else "NOT met"

    return "\n".join(
        [
            f"{row.name}: {row.rate:,.0f} rows/s; source alone "
            f"{row.rows / row.source_alone_s if row.source_alone_s else math.nan:,.0f} rows/s",
            f"  x source alone  {ratio:.2f}  (target >= {TARGET_SOURCE_RATIO:g}: "
            f"{mark(ratio >= TARGET_SOURCE_RATIO)})",
            f"  peak RSS        {rss:.0f} MB  (target <= {TARGET_RSS_MB:g}: "
            f"{mark(rss <= TARGET_RSS_MB)})",
            f"  CPU s/M rows    {cpu:.2f}  excluding start-up "
            f"{row.startup_cpu_s if row.startup_cpu_s is not None else math.nan:.2f} s "
            f"(target <= {TARGET_CPU_S_PER_M:g}: {mark(cpu <= TARGET_CPU_S_PER_M)})",
            f"  queries/M rows  {queries:.0f}  ({row.queries} Snowflake queries)",
        ]
    )


def machine() -> str:
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} CPUs ({cpu}), {mem:.0f} GiB RAM, Python {platform.python_version()}"


def versions() -> str:
    """Versions of what the measured processes run (as the benchmark's own venv has them)."""
    from importlib import metadata

    names = ("snowflake-connector-python", "pyarrow", "psycopg", "numpy")
    found = []
    for name in names:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} missing")
    return ", ".join(found)


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg()) + f" (nproc {os.cpu_count()})"
