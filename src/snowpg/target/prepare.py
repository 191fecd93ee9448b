"""Get a target table ready for a run, and put its indexes back afterwards.

Preparation of one table is one transaction: create (or truncate) the table, save and drop its
secondary indexes, and record the table and its chunks in ``migration_status``. A crash leaves
either all of that or none of it, so a resumed run never truncates twice or forgets an index.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from psycopg import sql

from snowpg.contract import SavedIndex, TableContract
from snowpg.errors import RunRefused
from snowpg.model import TablePlan
from snowpg.status import store
from snowpg.status.rows import TableKey, TableRow
from snowpg.target import catalog, ddl, merge

log = logging.getLogger("snowpg.target")


def refuse_if_not_empty(conn: Any, plan: TablePlan) -> None:
    """Truncation protection: a fresh load into a table that has rows would duplicate them."""
    if plan.create_target or plan.truncate_onstart:
        return
    with conn.cursor() as cur:
        cur.execute(ddl.table_has_rows(plan.target_schema, plan.target_table))
        row = cur.fetchone()
    conn.rollback()
    if row and row[0]:
        name = f"{plan.target_schema}.{plan.target_table}"
        raise RunRefused(
            f"target table {name} already has rows; a fresh load would duplicate them",
            hint=(
                f'set "truncate_onstart": true for table {plan.source.name}, empty {name} '
                "yourself, or leave it out with --tables"
            ),
            table=plan.source.name,
        )


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
            for idx in catalog.secondary_indexes(conn, schema, table):
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


def restore_indexes(conn: Any, row: TableRow) -> int:
    """Recreate the saved indexes of a completed table; in the caller's transaction."""
    saved = row.metadata.get("saved_indexes") or []
    existing = {
        i.name for i in catalog.secondary_indexes(conn, row.target_schema, row.target_table)
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
