"""Source keys Snowflake does not enforce: a created table gets its key only after its load.

Snowflake accepts two rows with one PRIMARY KEY value, so snowpg creates a target table without
its key (bulk COPY into a table without a unique index is also faster) and records what is owed in
the table's status metadata (``deferred_key``, written with the table in :func:`prepare_table`'s
transaction). When the table's last chunk completes, :func:`finish_keys` runs in the transaction
that marks the table completed (``run.prepare.finish_table``), so a crash before that commit leaves
the table open and the next run's finish does it again:

* an upserted (incremental) table first keeps one row per upsert key — the greatest watermark,
  ties broken by the row's text — and gets the unique index later upserts need; the rows dropped
  are counted in ``metadata.deduplicated``;
* then the primary key: added when the rows allow it; otherwise a plain index on the key columns
  takes its place and ``metadata.duplicate_keys`` names the columns, the duplicated values, the
  rows beyond one per value and a few examples. Nothing is deleted for a full load.
"""

from __future__ import annotations

import logging
from typing import Any

from snowpg.model import TablePlan
from snowpg.postgres import keys
from snowpg.status import store
from snowpg.status.keyreport import describe_duplicates, keep_rule
from snowpg.status.rows import TableRow

log = logging.getLogger("snowpg.run.keys")


def deferred_key(plan: TablePlan) -> dict[str, Any] | None:
    """What a table snowpg creates is owed after its load, or None when it is owed nothing."""
    if not plan.create_target:
        return None
    inc = plan.incremental or {}
    upsert_keys = list(inc.get("target_keys") or ())
    if not plan.target_primary_key and not upsert_keys:
        return None
    to_target = {m.source: m.target for m in plan.mappings}
    wm = inc.get("watermark_column")
    return {
        "primary_key": list(plan.target_primary_key),
        "upsert_keys": upsert_keys,
        "watermark": to_target.get(wm) if wm else None,
        "done": False,
    }


def finish_keys(conn: Any, row: TableRow) -> None:
    """Give a completed table the key it is owed; in the caller's (the finishing) transaction."""
    owed = row.metadata.get("deferred_key")
    if row.status != "completed" or not isinstance(owed, dict) or owed.get("done"):
        return
    schema, table = row.target_schema, row.target_table
    name = f"{schema}.{table}"
    extra = {"table": row.key.source_table}
    patch: dict[str, Any] = {"deferred_key": {**owed, "done": True}}
    upsert_keys = list(owed.get("upsert_keys") or ())
    pk = list(owed.get("primary_key") or ())
    if upsert_keys:
        dropped = keys.drop_duplicates(conn, schema, table, upsert_keys, owed.get("watermark"))
        if dropped.extra_rows:
            patch["deduplicated"] = {
                "columns": upsert_keys,
                "key_values": dropped.key_values,
                "dropped_rows": dropped.extra_rows,
                "rule": keep_rule(owed.get("watermark")),
            }
            log.warning(
                "%s: the source held %d duplicated value(s) of upsert key (%s); kept one row "
                "each (%s), dropped %d row(s)",
                name,
                dropped.key_values,
                ", ".join(upsert_keys),
                keep_rule(owed.get("watermark")),
                dropped.extra_rows,
                extra=extra,
            )
        if sorted(upsert_keys) != sorted(pk):
            keys.create_unique_index(conn, schema, table, upsert_keys)
    if pk:
        if keys.add_primary_key(conn, schema, table, pk):
            log.info("added primary key (%s) to %s", ", ".join(pk), name, extra=extra)
        else:
            found = keys.find_duplicates(conn, schema, table, pk)
            index = keys.create_key_index(conn, schema, table, pk)
            patch["duplicate_keys"] = {
                "columns": pk,
                "key_values": found.key_values,
                "extra_rows": found.extra_rows,
                "null_key_rows": found.null_key_rows,
                "samples": [list(s) for s in found.samples],
                "index": index,
            }
            log.warning(
                "%s: Snowflake does not enforce primary key (%s) and the source breaks it: "
                "%s; loaded every row with a non-unique index %s instead of the primary key",
                name,
                ", ".join(pk),
                describe_duplicates(patch["duplicate_keys"]),
                index,
                extra=extra,
            )
    store.update_table_metadata(conn, row.key, patch)
