"""Time Travel in Snowflake: take a run's snapshot point, and read tables' retention.

The point is Snowflake's own clock (``CURRENT_TIMESTAMP()``), never the client's, so a run's
``AT(TIMESTAMP => ...)`` never names a moment the service has not reached yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from snowpg.errors import SourceError
from snowpg.model import Snapshot
from snowpg.snowflake import reader, statements

_RETENTION_SQL = (
    "SELECT table_name, retention_time FROM {db}.INFORMATION_SCHEMA.TABLES"
    " WHERE table_schema = %(schema)s AND table_name IN ({names})"
)


def take_snapshot(sf: Any) -> Snapshot:
    """The run's point: Snowflake's clock now (UTC)."""
    value = reader.run_scalar(sf, statements.snapshot_point_sql(), {})
    if value is None:
        raise SourceError("Snowflake returned no CURRENT_TIMESTAMP() for the run's snapshot")
    return Snapshot(str(value))


def retention_days(sf: Any, database: str, schema: str, tables: Sequence[str]) -> dict[str, int]:
    """``DATA_RETENTION_TIME_IN_DAYS`` of each named table of one schema, in one query.

    Only for tables whose retention the catalog did not give or no longer covers the run (the
    user may have raised it since): a table missing from the answer is left out.
    """
    if not tables:
        return {}
    params: dict[str, Any] = {"schema": schema}
    names = []
    for i, name in enumerate(tables):
        params[f"t{i}"] = name
        names.append(f"%(t{i})s")
    query = _RETENTION_SQL.format(db=statements.quote_ident(database), names=", ".join(names))
    return {
        str(name): int(days) for name, days in reader.run_all(sf, query, params) if days is not None
    }
