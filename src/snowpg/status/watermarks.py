"""The high-water marks ``migration_status`` records: the ``high`` of a table's last run.

A completed incremental run stores its window in the table row's ``metadata -> 'incremental'``;
the next run of the same table and watermark column starts where it ended.
"""

from __future__ import annotations

from typing import Any

RECORDED_HIGH = """
    SELECT metadata -> 'incremental' ->> 'high'
      FROM migration_status.migration_table_status
     WHERE source_name = %s AND source_table = %s AND status = 'completed'
       AND metadata -> 'incremental' ->> 'watermark_column' = %s
       AND metadata -> 'incremental' ->> 'high' IS NOT NULL
     ORDER BY completed_at DESC NULLS LAST
     LIMIT 1
"""


def recorded_high(pg: Any, source_name: str, source_table: str, column: str) -> str | None:
    """The ``high`` of the table's last completed incremental run; None when there is none
    (or no ``migration_status`` schema yet)."""
    exists = pg.execute("SELECT to_regclass('migration_status.migration_table_status')").fetchone()
    if not exists or exists[0] is None:
        return None
    row = pg.execute(RECORDED_HIGH, (source_name, source_table, column)).fetchone()
    return None if row is None else str(row[0])
