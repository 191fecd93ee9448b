"""Plan a run's tables, get their targets ready, and put their indexes back afterwards.

Planning checks every selected table before anything is written (``plan.preflight``). Preparing
one table is one transaction: create (or truncate) the table, save and drop its secondary indexes,
and record the table, its contract and its chunks in ``migration_status``. A crash leaves either
all of that or none of it, so a resumed run never truncates twice or forgets an index. A table
whose chunks are all done is finished: its status closed, its saved indexes recreated and, for a
table snowpg created, its source key added (``snowpg.run.keys``: Snowflake does not enforce keys).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from psycopg import sql

from snowpg.config import Settings, SourceConfig, TableConfig
from snowpg.contract import SavedIndex, TableContract
from snowpg.model import TablePlan
from snowpg.plan import planner, preflight
from snowpg.postgres import ddl, introspect, merge
from snowpg.run import keys
from snowpg.snowflake.session import connect
from snowpg.status import store
from snowpg.status.rows import TableKey, TableRow

log = logging.getLogger("snowpg.run.prepare")


def plan_tables(
    settings: Settings, source: SourceConfig, tables: list[TableConfig], admin: Any
) -> dict[str, TablePlan]:
    """Plan every table in Snowflake; one error naming every problem if any table has one."""
    if not tables:
        return {}
    sf = connect(
        settings.snowflake, database=source.source_sf_database, schema=source.source_sf_schema
    )
    try:
        checked = preflight.check_tables(
            tables, lambda t: planner.plan_table(settings, source, t, sf, admin), admin
        )
    finally:
        sf.close()
    checked.raise_if_any()
    return checked.plans


def prepare_tables(
    admin: Any, run_id: uuid.UUID, plans: dict[str, TablePlan], first_ordinal: int
) -> None:
    """Prepare each planned table in its own transaction, numbering them from ``first_ordinal``."""
    for ordinal, (name, plan) in enumerate(plans.items(), first_ordinal):
        prepare_table(admin, run_id, plan, ordinal)
        log.info(
            "planned %s: %d chunk(s), ~%d rows (%s)",
            name,
            len(plan.chunks),
            plan.estimated_rows,
            plan.chunking_method,
            extra={"table": name},
        )
        for note in plan.notes:
            log.warning("%s: %s", name, note, extra={"table": name})


def prepare_table(conn: Any, run_id: uuid.UUID, plan: TablePlan, ordinal: int) -> TableKey:
    """Create/truncate the target, drop secondary indexes, record table and chunks; one txn."""
    schema, table = plan.target_schema, plan.target_table
    with conn.cursor() as cur:
        cur.execute(ddl.create_schema(schema))
        owed = keys.deferred_key(plan)
        if plan.create_target:
            # Without its key: Snowflake does not enforce it (run.keys adds it after the load).
            cols = [(m.target, m.pg_type, True) for m in plan.mappings]
            cur.execute(ddl.create_table(schema, table, cols))
        elif plan.truncate_onstart:
            cur.execute(ddl.truncate_table(schema, table))
        saved: list[SavedIndex] = []
        if plan.disable_index:
            for idx in introspect.secondary_indexes(conn, schema, table):
                saved.append(SavedIndex(idx.name, idx.definition))
                cur.execute(ddl.drop_index(schema, idx.name))
        if plan.incremental is not None:
            merge.prepare_target(conn, plan, unique_index=owed is None)
        contract = TableContract.from_plan(plan, tuple(saved))
        key = store.add_table(
            conn,
            run_id=run_id,
            source_name=plan.source_name,
            source_database=plan.source.database,
            source_schema=plan.source.schema,
            source_table=plan.source.name,
            target_database=plan.target_database,
            target_schema=schema,
            target_table=table,
            chunks=[(c.chunk_id, c.range.to_json(), c.estimated_rows) for c in plan.chunks],
            estimated_rows=plan.estimated_rows,
            chunking_method=plan.chunking_method,
            metadata={
                "ordinal": ordinal,
                **contract.to_json(),
                **({"deferred_key": owed} if owed else {}),
            },
        )
        if saved:
            store.set_indexes_disabled(conn, key, contract.to_json()["saved_indexes"])
    conn.commit()
    if saved:
        log.info(
            "dropped %d secondary index(es) on %s.%s for the load; saved to restore",
            len(saved),
            schema,
            table,
            extra={"table": plan.source.name},
        )
    return key


def finish_table(conn: Any, key: TableKey) -> None:
    """Close a table whose chunks are all done; restore its indexes. Own transaction."""
    row = store.finish_table(conn, key)
    if row.status == "completed" and row.indexes_disabled and not row.indexes_restored:
        made = restore_indexes(conn, row)
        log.info("restored %d index(es) on %s.%s", made, row.target_schema, row.target_table)
    keys.finish_keys(conn, row)
    conn.commit()


def restore_indexes(conn: Any, row: TableRow) -> int:
    """Recreate the saved indexes of a completed table; in the caller's transaction."""
    saved = row.metadata.get("saved_indexes") or []
    existing = {
        i.name for i in introspect.secondary_indexes(conn, row.target_schema, row.target_table)
    }
    made = 0
    with conn.cursor() as cur:
        for idx in saved:
            if idx["name"] in existing:
                continue
            # The definition is PostgreSQL's own pg_get_indexdef() output saved before the drop.
            cur.execute(sql.SQL(idx["definition"]))
            made += 1
    store.set_indexes_restored(conn, row.key)
    return made
