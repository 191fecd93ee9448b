"""Copy jobs from the run's status rows: what each worker needs to know about each table.

A table's job is built from its status row and the load contract written there when the table was
prepared, so a resumed run describes nothing in Snowflake again. Only a row written by a snowpg
without load contracts is described in Snowflake, as before. A table this invocation was not
asked to copy, or one already done, gets no job and a thread limit of 0.
"""

from __future__ import annotations

import logging
from typing import Any

from snowpg import typefamilies
from snowpg.config import Settings, SourceConfig, TableConfig
from snowpg.contract import TableContract
from snowpg.copy import upsert
from snowpg.copy.job import TableJob
from snowpg.model import Snapshot, SourceTable, TablePlan
from snowpg.plan.snapshot import at_point
from snowpg.snowflake import catalog, session
from snowpg.status.rows import TableKey, TableRow

log = logging.getLogger("snowpg.run.jobs")


def jobs_for(
    settings: Settings,
    source: SourceConfig,
    selected: list[TableConfig],
    rows: list[TableRow],
    plans: dict[str, TablePlan],
    point: Snapshot | None = None,
) -> tuple[dict[TableKey, TableJob], dict[TableKey, int]]:
    """The job of every table still to copy, and every table's thread limit; every job reads
    its table at the run's snapshot ``point`` (None: the live table)."""
    wanted = {t.source: t for t in selected} | {t.source.upper(): t for t in selected}
    jobs: dict[TableKey, TableJob] = {}
    limits: dict[TableKey, int] = {}
    sf = None
    try:
        for row in rows:
            table_cfg = wanted.get(row.key.source_table)
            if table_cfg is None or row.status in ("completed", "skipped"):
                limits[row.key] = 0
                continue
            plan = plans.get(table_cfg.source)
            contract = TableContract.from_json(row.metadata)
            if plan is not None:
                src = plan.source
            elif contract is not None:
                src = contract.source
            else:
                if sf is None:
                    sf = session.connect(
                        settings.snowflake,
                        database=source.source_sf_database,
                        schema=source.source_sf_schema,
                    )
                src = _describe(sf, row)
            jobs[row.key] = _job(settings, table_cfg, row, at_point(src, point))
            limits[row.key] = settings.threads_for(table_cfg)
    finally:
        if sf is not None:
            sf.close()
    return jobs, limits


def _describe(sf: Any, row: TableRow) -> SourceTable:
    """A row written by a snowpg without load contracts: describe its table as before."""
    log.debug(
        "%s has no load contract in its status row; describing it in Snowflake",
        row.key.source_table,
        extra={"table": row.key.source_table},
    )
    return catalog.describe_table(
        sf, row.key.source_database, row.key.source_schema, row.key.source_table
    )


def _job(settings: Settings, table_cfg: TableConfig, row: TableRow, src: SourceTable) -> TableJob:
    pairs = row.metadata.get("columns") or []
    # Arrow batches carry Snowflake's column names, so JSON columns are named that way.
    json_cols = tuple(
        s
        for s, _t in pairs
        if (c := src.column(s)) is not None and typefamilies.is_json_type(c.data_type)
    )
    return TableJob(
        key=row.key,
        source=src,
        source_columns=tuple(s for s, _t in pairs),
        target_schema=row.target_schema,
        target_table=row.target_table,
        target_columns=tuple(t for _s, t in pairs),
        json_columns=json_cols,
        nul_policy=settings.nul_policy_for(table_cfg),
        copy_format=settings.copy_format_for(table_cfg),
        source_filter=row.metadata.get("source_filter"),
        display_name=row.key.source_table,
        upsert=upsert.spec_from_metadata(row.metadata),
    )
