"""``test-connections``: can snowpg reach Snowflake and each target database, and read/write?"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from snowpg.config import Settings, SourceConfig
from snowpg.errors import SnowpgError
from snowpg.logs import redact
from snowpg.postgres import connection
from snowpg.snowflake import session
from snowpg.snowflake.catalog import list_tables


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str


def check_connections(settings: Settings, sources: Sequence[SourceConfig]) -> list[CheckResult]:
    results: list[CheckResult] = []
    try:
        sf = session.connect(settings.snowflake)
        try:
            version = session.server_version(sf) or "?"
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
            conn = connection.connect(settings.postgres, src.target_pg_database)
            try:
                text = connection.server_version(conn)
                results.append(CheckResult(name, True, text.split(",")[0] if text else "ok"))
            finally:
                conn.close()
        except SnowpgError as exc:
            results.append(CheckResult(name, False, redact(str(exc))))
    return results
