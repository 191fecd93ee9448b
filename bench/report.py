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


def ceiling_rate(results: list[Row]) -> float:
    src = [r for r in results if r.name.startswith("source ceiling")]
    snk = [r for r in results if r.name.startswith("sink ceiling")]
    rates = [r.rows / r.seconds for r in src + snk if r.seconds > 0]
    return min(rates) if len(rates) == 2 else math.nan


def table(results: list[Row], bytes_per_row: float) -> str:
    ceiling = ceiling_rate(results)
    mb = bytes_per_row / 1e6
    lines = [
        "| measurement | rows/s | MB/s | x ceiling | peak RSS MB | CPU s/M rows | notes |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        rate = r.rows / r.seconds if r.seconds > 0 else math.nan
        rss = f"{r.rss_mb:.0f}" if r.rss_mb is not None else ""
        cpu = f"{r.cpu_s / (r.rows / 1e6):.2f}" if r.cpu_s is not None else ""
        lines.append(
            f"| {r.name} | {rate:,.0f} | {rate * mb:.1f} | {rate / ceiling:.2f} | {rss} | "
            f"{cpu} | {r.note} |"
        )
    return "\n".join(lines)


def machine() -> str:
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} CPUs ({cpu}), {mem:.0f} GiB RAM, Python {platform.python_version()}"


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg()) + f" (nproc {os.cpu_count()})"
