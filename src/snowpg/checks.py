"""``test-connections``: can snowpg reach Snowflake and each target database, and read/write?"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from snowpg.config import Settings, SourceConfig
from snowpg.errors import SnowpgError
from snowpg.logs import redact


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str


def check_connections(settings: Settings, sources: Sequence[SourceConfig]) -> list[CheckResult]:
    from snowpg.source import connection as sf_connection
    from snowpg.source.catalog import list_tables
    from snowpg.target import connection as pg_connection

    results: list[CheckResult] = []
    try:
        sf = sf_connection.connect(settings.snowflake)
        try:
            cur = sf.cursor()
            cur.execute("SELECT CURRENT_VERSION()")
            row = cur.fetchone()
            version = row[0] if row else "?"
            for src in sources:
                tables = list_tables(sf, src.source_sf_database, src.source_sf_schema)
                n = (len(tables),)
                results.append(
                    CheckResult(
                        f"snowflake {src.source_sf_database}.{src.source_sf_schema}",
                        True,
                        f"{n[0] if n else 0} table(s) visible (Snowflake {version})",
                    )
                )
        finally:
            sf.close()
    except SnowpgError as exc:
        results.append(CheckResult("snowflake", False, redact(str(exc))))
    except Exception as exc:
        results.append(CheckResult("snowflake", False, redact(f"{type(exc).__name__}: {exc}")))

    for src in sources:
        name = f"postgres {settings.postgres.describe(src.target_pg_database)}"
        try:
            conn = pg_connection.connect(settings.postgres, src.target_pg_database)
            try:
                row = conn.execute("SELECT version()").fetchone()
                results.append(CheckResult(name, True, str(row[0]).split(",")[0] if row else "ok"))
            finally:
                conn.close()
        except SnowpgError as exc:
            results.append(CheckResult(name, False, redact(str(exc))))
    return results
