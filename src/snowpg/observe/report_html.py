"""The run report as one self-contained HTML file (``snowpg report --html FILE``).

Everything is inline (CSS, an SVG chart), nothing is fetched, so the file can be attached to a
change ticket and opened anywhere. Every value from the status tables is HTML-escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape
from typing import Any

from snowpg.observe.fmt import human_bytes, human_duration, human_rate
from snowpg.status.report import ChunkIssue, StatusReport, TableStatus

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1d232b}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 6px}h3{font-size:14px}
table{border-collapse:collapse;margin:6px 0 12px}th,td{padding:4px 10px;border:1px solid #d8dde3;
text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}th{background:#f3f5f7}
.completed{color:#1a7f37}.failed{color:#cf222e}.partial{color:#9a6700}.running{color:#0969da}
.muted{color:#6e7781}.err{color:#cf222e;max-width:640px}
"""


def _e(value: Any) -> str:
    return escape("" if value is None else str(value))


def _num(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _when(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return _e(value or "-")


def _table_row(t: TableStatus) -> str:
    chunks = f"{t.chunks_completed}/{t.chunks_total}"
    if t.chunks_failed:
        chunks += f" ({t.chunks_failed} failed)"
    cells = [
        ("", _e(t.source_table)),
        ("", _e(t.target)),
        ("", f"<span class='{_e(t.status)}'>{_e(t.status)}</span>"),
        ("num", _e(chunks)),
        ("num", _num(t.rows_copied)),
        ("num", _e(human_bytes(t.bytes_copied))),
        ("num", _e(human_duration(t.seconds))),
        ("num", _e(human_rate(t.average_rows_per_second))),
        ("num", str(t.retries)),
        ("", _e(t.verification or "not verified")),
        ("err", _e(t.error_message or "")),
    ]
    tds = "".join(
        f"<td class='{cls}' data-field='{field}'>{v}</td>"
        for (cls, v), field in zip(cells, _FIELDS, strict=True)
    )
    return f"<tr data-table='{_e(t.source_table)}'>{tds}</tr>"


_HEADERS = (
    "table",
    "target",
    "status",
    "chunks",
    "rows",
    "bytes",
    "duration",
    "rows/s",
    "retries",
    "verification",
    "error",
)
_FIELDS = (
    "table",
    "target",
    "status",
    "chunks",
    "rows",
    "bytes",
    "seconds",
    "rate",
    "retries",
    "verification",
    "error",
)


def _issues(title: str, issues: Sequence[ChunkIssue]) -> str:
    if not issues:
        return ""
    rows = "".join(
        f"<tr><td>{_e(c.source_table)}</td><td class='num'>{c.chunk_id}</td>"
        f"<td class='num'>{c.retry_count}</td><td class='err'>{_e(c.error_message or '')}</td></tr>"
        for c in issues
    )
    return (
        f"<h3>{_e(title)} ({len(issues)})</h3><table><tr><th>table</th><th>chunk</th>"
        f"<th>retries</th><th>error</th></tr>{rows}</table>"
    )


def svg_chart(points: Sequence[tuple[float, float]], width: int = 640, height: int = 140) -> str:
    """Throughput over time as an inline SVG polyline; empty string without data."""
    if not points:
        return ""
    pad = 28
    max_x = max(1.0, points[-1][0])
    max_y = max(1.0, *(p[1] for p in points))
    coords = " ".join(
        f"{pad + (width - 2 * pad) * x / max_x:.1f},"
        f"{height - pad - (height - 2 * pad) * y / max_y:.1f}"
        for x, y in points
    )
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' role='img'"
        f" aria-label='throughput over time'><polyline points='{coords}' fill='none'"
        f" stroke='#2f7de1' stroke-width='2'/><text x='{pad}' y='14' font-size='11'>"
        f"{max_y:,.0f} rows/s</text><text x='{width - pad}' y='{height - 8}' font-size='11'"
        f" text-anchor='end'>{_e(human_duration(max_x))}</text></svg>"
    )


def _source(r: StatusReport) -> str:
    if r.run_id is None:
        return (
            f"<h2>source {_e(r.source_name)}</h2><p class='muted'>no run recorded in "
            f"{_e(r.target_database)}</p>"
        )
    header = "".join(f"<th>{h}</th>" for h in _HEADERS)
    body = "".join(_table_row(t) for t in r.tables)
    facts = [
        ("status", f"<span class='{_e(r.run_status)}'>{_e(r.run_status)}</span>"),
        ("target database", _e(r.target_database)),
        ("started", _when(r.started_at)),
        ("completed", _when(r.completed_at)),
        ("duration", _e(human_duration(r.seconds))),
        ("rows copied", _num(r.rows_copied)),
        ("bytes copied", _e(human_bytes(r.bytes_copied))),
        ("average rows/s", _e(human_rate(r.rows_per_second))),
        ("retries", str(r.retries)),
    ]
    if r.error_message:
        facts.append(("error", f"<span class='err'>{_e(r.error_message)}</span>"))
    fact_rows = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in facts)
    return (
        f"<h2 data-source='{_e(r.source_name)}'>source {_e(r.source_name)} — run "
        f"<code>{_e(r.run_id)}</code></h2><table>{fact_rows}</table>"
        f"<table data-tables='{_e(r.source_name)}'><tr>{header}</tr>{body}</table>"
        f"{svg_chart(r.throughput)}"
        f"{_issues('failed chunks', r.failed_chunks)}{_issues('stuck chunks', r.stuck_chunks)}"
    )


def render_report(reports: Sequence[StatusReport], generated: datetime | None = None) -> str:
    when = (generated or datetime.now().astimezone()).strftime("%Y-%m-%d %H:%M:%S %Z")
    sources = "".join(_source(r) for r in reports)
    return (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<title>snowpg run report</title>"
        f"<style>{STYLE}</style></head><body>"
        f"<h1>snowpg run report</h1><p class='muted'>generated {_e(when)} from "
        "migration_status</p>"
        f"{sources}</body></html>\n"
    )
