"""Cutover: how far each incremental table is behind, and incremental runs until it is close enough.

The *lag* of a table is its source high-water mark (the largest ``source_watermark`` in Snowflake
now) minus its target high-water mark (what the next run would start from: ``max``
``target_watermark`` in the target, else the ``high`` of the last completed run). It is in seconds
for timestamp and date watermarks and in the column's own units for numbers.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from snowpg.config import Settings, SourceConfig
from snowpg.errors import ConfigError
from snowpg.plan import watermark
from snowpg.postgres import connection
from snowpg.run.migrate import migrate_source
from snowpg.run.options import MigrateOptions
from snowpg.sinks import MetricsSink
from snowpg.snowflake import catalog, session
from snowpg.snowflake.watermarks import high_watermark
from snowpg.typefamilies import family

log = logging.getLogger("snowpg.sync")

_LAG_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$", re.IGNORECASE)
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


@dataclass(frozen=True)
class TableLag:
    source_table: str
    target: str
    watermark_column: str | None
    source_high: str | None  # largest source watermark now
    target_high: str | None  # where the next run starts
    lag: float | None  # seconds (time watermarks) or units (numbers); None = unknown/never loaded

    @property
    def lag_text(self) -> str:
        if self.watermark_column is None:
            return "n/a (no watermark)"
        if self.lag is None:
            return "not loaded yet"
        return f"{self.lag:g}"


@dataclass
class SyncResult:
    rounds: int
    lags: list[TableLag]
    exit_code: int
    summaries: list[Any] = field(default_factory=list)

    @property
    def caught_up(self) -> bool:
        return self.exit_code == 0


def parse_lag(text: str) -> float:
    """``"60s"``, ``"5m"``, ``"2h"``, ``"1d"``, ``"500ms"`` or a plain number (seconds or units)."""
    m = _LAG_RE.match(text)
    if m is None:
        raise ConfigError(
            f"--until-lag {text!r} is not a duration; write e.g. 60s, 5m, 2h or a number",
            field="until_lag",
        )
    return float(m.group(1)) * _UNITS[(m.group(2) or "s").lower()]


def _as_point(text: str, sql_type: str) -> datetime | date | Decimal | None:
    kind = family(sql_type)
    try:
        if kind == "timestamp":
            return datetime.fromisoformat(text.strip()[:26])
        if kind == "date":
            return date.fromisoformat(text.strip()[:10])
        return Decimal(text)
    except (ValueError, InvalidOperation):
        return None


def lag_between(source_high: str | None, target_high: str | None, sql_type: str) -> float | None:
    """``source_high - target_high`` (never negative); 0 when the source has no watermark."""
    if source_high is None:
        return 0.0
    if target_high is None:
        return None
    hi, lo = _as_point(source_high, sql_type), _as_point(target_high, sql_type)
    if isinstance(hi, datetime) and isinstance(lo, datetime):
        return max(0.0, (hi - lo).total_seconds())
    if isinstance(hi, date) and isinstance(lo, date):
        return max(0.0, float((hi - lo).days * 86400))
    if isinstance(hi, Decimal) and isinstance(lo, Decimal):
        return max(0.0, float(hi - lo))
    return None


def table_lags(
    settings: Settings, source: SourceConfig, tables_filter: Sequence[str] | str | None = None
) -> list[TableLag]:
    """Source and target high-water marks and the lag of each selected table (reads only)."""
    tables = [t for t in source.select_tables(tables_filter) if t.source_watermark]
    out: list[TableLag] = []
    if not tables:
        return out
    sf = session.connect(
        settings.snowflake, database=source.source_sf_database, schema=source.source_sf_schema
    )
    pg = connection.connect(settings.postgres, source.target_pg_database)
    try:
        for t in tables:
            assert t.source_watermark is not None
            src = catalog.describe_table(
                sf, source.source_sf_database, source.source_sf_schema, t.source
            )
            catalog.check_columns_exist(
                src, [t.source_watermark], f"source_watermark of table {t.source}"
            )
            col = src.column(t.source_watermark)
            assert col is not None
            high = high_watermark(sf, src, t.source_watermark, t.source_filter)
            low = watermark.current_low(pg, source, t, src.name)
            pg.rollback()
            out.append(
                TableLag(
                    source_table=t.source,
                    target=f"{source.target_pg_schema}.{t.target_name}",
                    watermark_column=t.source_watermark,
                    source_high=high,
                    target_high=low,
                    lag=lag_between(high, low, col.sql_type),
                )
            )
    finally:
        sf.close()
        pg.close()
    return out


def within(lags: Sequence[TableLag], limit: float) -> bool:
    return all(lag.lag is not None and lag.lag <= limit for lag in lags)


def sync_source(
    settings: Settings,
    source: SourceConfig,
    *,
    until_lag: float | None = None,
    max_rounds: int = 10,
    tables_filter: Sequence[str] | str | None = None,
    run_once: Callable[[], Any] | None = None,
    pause_seconds: float = 0.0,
    metrics: MetricsSink | None = None,
) -> SyncResult:
    """Run incremental runs until every table's lag is at most ``until_lag`` (one run if None).

    ``run_once`` performs one run and returns its summary (with ``exit_code``); by default
    :func:`snowpg.run.migrate.migrate_source`. Exit code: 0 caught up, 1 a run failed, 3 still
    behind after ``max_rounds`` runs.
    """
    if run_once is None:

        def run_once() -> Any:
            options = MigrateOptions(tables_filter=tables_filter)
            return migrate_source(settings, source, options, metrics=metrics)

    summaries: list[Any] = []
    lags: list[TableLag] = []
    for round_no in range(1, max(1, max_rounds) + 1):
        summary = run_once()
        summaries.append(summary)
        lags = table_lags(settings, source, tables_filter)
        worst = max((lag.lag for lag in lags if lag.lag is not None), default=0.0)
        log.info("sync round %d of %s: largest lag %g", round_no, source.source_name, worst)
        if summary.exit_code != 0:
            return SyncResult(round_no, lags, summary.exit_code, summaries)
        if until_lag is None or within(lags, until_lag):
            return SyncResult(round_no, lags, 0, summaries)
        time.sleep(pause_seconds)
    return SyncResult(max(1, max_rounds), lags, 3, summaries)
