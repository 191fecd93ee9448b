"""What verification compares of one table of a run: its checksum spec, and the specs of an
incremental run's window and delete-check chunks. Reads Snowflake only for a status row written
by a snowpg without load contracts.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from psycopg import sql

from snowpg.checksum_spec import ChecksumSpec, VerifyColumn
from snowpg.contract import TableContract
from snowpg.model import Snapshot
from snowpg.plan import snapshot, watermark
from snowpg.postgres.checksums import pg_window
from snowpg.snowflake import catalog
from snowpg.status.rows import TableRow

log = logging.getLogger("snowpg.verify")


def table_spec(sf: Any, row: TableRow, point: Snapshot | None = None) -> ChecksumSpec:
    """What to compare of ``row``'s table, its source read at the run's snapshot ``point``."""
    contract = TableContract.from_json(row.metadata)
    if contract is not None:
        src = contract.source
    else:  # a row written by a snowpg without load contracts
        log.debug("%s has no load contract; describing it in Snowflake", row.key.source_table)
        src = catalog.describe_table(
            sf, row.key.source_database, row.key.source_schema, row.key.source_table
        )
    src = snapshot.at_point(src, point)
    columns = []
    for s_name, t_name in row.metadata.get("columns") or []:
        col = src.column(s_name)
        if col is not None:
            columns.append(VerifyColumn(s_name, t_name, col.sql_type))
    return ChecksumSpec(
        source=src,
        source_filter=row.metadata.get("source_filter"),
        target_schema=row.target_schema,
        target_table=row.target_table,
        columns=tuple(columns),
    )


def chunk_specs(
    spec: ChecksumSpec, row: TableRow
) -> tuple[ChecksumSpec, ChecksumSpec | None, int | None]:
    """The specs of an incremental table's window chunks and of its delete-check chunks (ids
    from the third value on); a full load's spec stands for every chunk.

    Window chunks hold the rows whose watermark is in the run's ``(low, high]``: the same window
    selects them in the target. Delete checks cover the whole key space under the table's own
    ``source_filter``; verification compares there the rows *outside* the window, so together
    the chunks compare every row of the table once. Rows flagged deleted in the target are left
    out, as they are gone from the source.
    """
    inc = row.metadata.get("incremental")
    if not inc:
        return spec, None, None
    window_spec = spec
    sf_window: str | None = None
    pg_win: sql.Composable | None = None
    win_params: tuple[Any, ...] = ()
    wm, wm_type = inc.get("watermark_column"), inc.get("watermark_type")
    if wm and wm_type:
        low, high = inc.get("low"), inc.get("high")
        sf_window = watermark.window_predicate(wm, str(wm_type), low, high)
        col = VerifyColumn(wm, spec.target_column(wm), str(wm_type))
        pg_win, params = pg_window(col, low, high)
        win_params = tuple(params)
        window_spec = dataclasses.replace(spec, target_filter=pg_win, target_params=win_params)
    delete_from = inc.get("delete_from")
    if delete_from is None:
        return window_spec, None, None
    # Delete checks: the rows outside the window (each row is compared once), without the rows
    # flagged deleted in the target. A NULL watermark is outside the window on both sides.
    sf_filter = watermark.combine_filters(
        inc.get("base_filter"), f"NOT COALESCE(({sf_window}), FALSE)" if sf_window else "FALSE"
    )
    pg_parts: list[sql.Composable] = []
    if sf_window:
        pg_parts.append(sql.SQL("({}) IS NOT TRUE").format(pg_win or sql.SQL("TRUE")))
    else:
        pg_parts.append(sql.SQL("FALSE"))
    flag = inc.get("flag_column")
    if flag:
        pg_parts.append(sql.SQL("NOT {}").format(sql.Identifier(flag)))
    delete_spec = dataclasses.replace(
        spec,
        source_filter=sf_filter,
        target_filter=sql.SQL(" AND ").join(pg_parts),
        target_params=win_params if sf_window else (),
    )
    return window_spec, delete_spec, int(delete_from)
