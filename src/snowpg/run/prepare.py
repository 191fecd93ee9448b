"""Plan a run's tables, get their targets ready, and put their indexes back afterwards.

Every selected table is checked before anything is written (``plan.source_plan``); then each
table is planned and prepared in turn, so a deadline can stop planning between two tables and a
later call continues with the next one. Preparing one table is one transaction: create (or
truncate) the table, save and drop its secondary indexes, and record the table, its contract and
its chunks in ``migration_status``. A crash leaves either all of that or none of it, so a resumed
run never truncates twice or forgets an index. A table whose chunks are all done is finished: its
status closed and its saved indexes recreated.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence
from typing import Any

from psycopg import sql

from snowpg.config import TableConfig
from snowpg.contract import SavedIndex, TableContract
from snowpg.model import TablePlan
from snowpg.plan.source_plan import SourcePlanner
from snowpg.postgres import ddl, introspect, merge
from snowpg.status import store
from snowpg.status.rows import TableKey, TableRow

log = logging.getLogger("snowpg.run.prepare")


def plan_and_prepare(
    planner: SourcePlanner,
    admin: Any,
    run_id: uuid.UUID,
    tables: Sequence[TableConfig],
    first_ordinal: int,
    deadline: float | None,
) -> dict[str, TablePlan]:
    """Plan and prepare ``tables`` one by one, each committed as soon as it is planned.

    Stops before the next table once ``deadline`` (time.monotonic()) has passed; the tables
    left are planned by a later call of the same run, which never describes a planned table
    again. Returns the plans made.
    """
    plans: dict[str, TablePlan] = {}
    for ordinal, table in enumerate(tables, first_ordinal):
        if deadline is not None and time.monotonic() >= deadline:
            log.info(
                "planning stopped at the deadline: %d of %d table(s) left for the next call",
                len(tables) - len(plans),
                len(tables),
            )
            break
        plan = planner.plan(table)
        admin.rollback()  # planning read the target's catalog; prepare_table opens its own txn
        prepare_table(admin, run_id, plan, ordinal)
        plans[table.source] = plan
        log.info(
            "planned %s: %d chunk(s), ~%d rows (%s)",
            table.source,
            len(plan.chunks),
            plan.estimated_rows,
            plan.chunking_method,
            extra={"table": table.source},
        )
        for note in plan.notes:
            log.warning("%s: %s", table.source, note, extra={"table": table.source})
    return plans


def prepare_table(conn: Any, run_id: uuid.UUID, plan: TablePlan, ordinal: int) -> TableKey:
    """Create/truncate the target, drop secondary indexes, record table and chunks; one txn."""
    schema, table = plan.target_schema, plan.target_table
    with conn.cursor() as cur:
        cur.execute(ddl.create_schema(schema))
        if plan.create_target:
            cols = [(m.target, m.pg_type, True) for m in plan.mappings]
            cur.execute(ddl.create_table(schema, table, cols, plan.target_primary_key))
        elif plan.truncate_onstart:
            cur.execute(ddl.truncate_table(schema, table))
        saved: list[SavedIndex] = []
        if plan.disable_index:
            for idx in introspect.secondary_indexes(conn, schema, table):
                saved.append(SavedIndex(idx.name, idx.definition))
                cur.execute(ddl.drop_index(schema, idx.name))
        if plan.incremental is not None:
            merge.prepare_target(conn, plan)
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
            metadata={"ordinal": ordinal, **contract.to_json()},
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
