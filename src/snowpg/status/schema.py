"""Create or upgrade the ``migration_status`` schema: idempotent and safe to run concurrently.

The DDL lives in ``schema.sql`` (package data). Its first part is the existing tool's contract
(three tables, three indexes) with ``IF NOT EXISTS`` added; snowpg's additions follow, additive
only.
The views come from :mod:`snowpg.status.views`, beside views of the same names another tool made.

Two processes starting at once both serialise on a transaction-level advisory lock, so the
``CREATE ... IF NOT EXISTS`` statements never race on the catalog. When everything is already in
place the script is not run at all: ``ALTER TABLE`` takes an ACCESS EXCLUSIVE lock even when it
changes nothing, and would queue behind (and then block) every worker holding a chunk row lock
in a long COPY transaction of another run. For the same reason a schema whose tables are current
but whose views are not gets only its views.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from importlib import resources
from typing import Any, LiteralString

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from snowpg.status import views
from snowpg.status.rows import TableKey

log = logging.getLogger("snowpg.status.schema")

SCHEMA = "migration_status"
SCHEMA_VERSION = f"{views.MARKER_PREFIX} v3"

# Two-int4 advisory keys live in a key space apart from the single-bigint keys the engine uses
# per source, so they cannot collide. 0x736E6F77 is "snow".
ADVISORY_KEY = (0x736E6F77, 1)

# Columns snowpg adds to the existing tool's tables; the script runs in one transaction, so their
# presence (with the indexes) proves it ran to the end.
ADDED_COLUMNS: dict[str, tuple[str, ...]] = {
    "migration_runs": ("source_name", "heartbeat_at"),
    "migration_table_status": (
        "estimated_rows",
        "chunking_method",
        "total_bytes",
        "verified_at",
        "verify_status",
        "verify_detail",
    ),
    "migration_chunk_status": (
        "lease_owner",
        "lease_backend_pid",
        "lease_expires_at",
        "estimated_rows",
        "bytes_copied",
        "duration_seconds",
        "attempts",
        "verified_at",
        "verify_status",
        "verify_detail",
    ),
}
INDEXES = (
    "idx_migration_runs_status",
    "idx_table_status_run_status",
    "idx_chunk_status_run_status",
    "idx_chunk_status_claim",
    "idx_migration_runs_source",
    "idx_chunk_status_claimable",
)


def schema_sql() -> bytes:
    """The DDL script shipped with the package."""
    return resources.files("snowpg.status").joinpath("schema.sql").read_bytes()


def present(conn: psycopg.Connection[Any]) -> bool:
    """True when ``migration_status.migration_runs`` exists (made by snowpg or by hand)."""
    cur = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{SCHEMA}.migration_runs",))
    row = cur.fetchone()
    return bool(row and row[0])


def has_snowpg_columns(conn: psycopg.Connection[Any]) -> bool:
    """True when the runs table has snowpg's ``source_name``: snowpg has upgraded the schema at
    least once, so it can hold snowpg's runs. A schema only the existing tool's file made has
    none."""
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = %s"
        " AND table_name = 'migration_runs' AND column_name = 'source_name')",
        (SCHEMA,),
    ).fetchone()
    return bool(row and row[0])


def _tables_current(conn: psycopg.Connection[Any]) -> bool:
    pairs = [(t, c) for t, cols in ADDED_COLUMNS.items() for c in cols]
    row = conn.execute(
        """
        SELECT
            (SELECT count(*) FROM pg_attribute a
               JOIN pg_class c ON c.oid = a.attrelid
               JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = %(schema)s AND NOT a.attisdropped AND a.attnum > 0
                AND (c.relname || '.' || a.attname) = ANY(%(columns)s)),
            (SELECT count(*) FROM pg_class c
               JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = %(schema)s AND c.relname = ANY(%(relations)s))
        """,
        {
            "schema": SCHEMA,
            "columns": [f"{t}.{c}" for t, c in pairs],
            "relations": [*ADDED_COLUMNS, *INDEXES],
        },
    ).fetchone()
    assert row is not None
    return bool(row[0] == len(pairs) and row[1] == len(ADDED_COLUMNS) + len(INDEXES))


def is_current(conn: psycopg.Connection[Any]) -> bool:
    """True when every table, column, index and view of this schema version exists."""
    return _tables_current(conn) and not views.pending(conn, SCHEMA_VERSION)


def ensure_schema(conn: psycopg.Connection[Any]) -> None:
    """Create or upgrade ``migration_status``; commits its own transaction.

    Needs CREATE on the database the first time (and ownership of the tables to upgrade a schema
    made from the existing tool's script); once the schema is current it only reads the catalog.
    """
    try:
        if is_current(conn):
            conn.commit()
            return
        conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", ADVISORY_KEY)
        # Another process may have finished the script while this one waited for the lock.
        if not _tables_current(conn):
            conn.execute(schema_sql())
            log.info("created or upgraded the %s schema (%s)", SCHEMA, SCHEMA_VERSION)
        kept = views.ensure_views(conn, SCHEMA_VERSION)
        if kept:
            log.info(
                "left the existing view(s) %s of %s as they are; snowpg's views are %s",
                ", ".join(kept),
                SCHEMA,
                ", ".join(v.own_name for v in views.VIEWS),
            )
        conn.commit()
    except BaseException:
        rollback_quietly(conn)
        raise


def upgrade_if_present(conn: psycopg.Connection[Any]) -> bool:
    """Bring an existing ``migration_status`` (snowpg's of an older version, or one made from
    the existing tool's DDL) up to date before anything reads it; commits. Creates nothing on a
    database without one, and returns whether there is one."""
    try:
        found = present(conn)
    finally:
        rollback_quietly(conn)
    if found:
        ensure_schema(conn)
    return found


# Query helpers shared by the modules that read and write the status rows -------------------

Conn = psycopg.Connection[Any]
MAX_ERROR_CHARS = 2000

_TABLE_WHERE = (
    " run_id = %(run)s AND source_database = %(db)s AND source_schema = %(sch)s"
    " AND source_table = %(tab)s "
)
# Named pieces every status query is formatted with (see q); only SQL text, never a value.
_PARTS: dict[str, sql.Composable] = {
    "runs": sql.Identifier(SCHEMA, "migration_runs"),
    "tables": sql.Identifier(SCHEMA, "migration_table_status"),
    "chunks": sql.Identifier(SCHEMA, "migration_chunk_status"),
    # Bound by key_params() (+ "id" for a chunk).
    "table_where": sql.SQL(_TABLE_WHERE),
    "chunk_where": sql.SQL(_TABLE_WHERE + " AND chunk_id = %(id)s "),
    # The owner of an in_progress chunk (alias c) is alive: lease running and backend connected.
    "alive": sql.SQL(
        " (coalesce(c.lease_expires_at >= (now() AT TIME ZONE 'UTC'), false)"
        " AND EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = c.lease_backend_pid)) "
    ),
    # Tables (alias t) in the order they were added: metadata.ordinal, see store.add_table.
    "ordinal": sql.SQL(
        " CASE WHEN jsonb_typeof(t.metadata -> 'ordinal') = 'number'"
        " THEN (t.metadata ->> 'ordinal')::numeric END "
    ),
    # The run (alias r, or the bare table) was not replaced by a fresh run; see ABANDONED.
    "not_abandoned": sql.SQL(
        " NOT (status = 'failed' AND coalesce(error_message, '') LIKE 'abandoned:%%') "
    ),
    "clear_lease": sql.SQL(
        " lease_owner = NULL, lease_backend_pid = NULL, lease_expires_at = NULL "
    ),
}


def q(text: LiteralString) -> sql.Composed:
    """``text`` with ``{runs}``, ``{tables}``, ``{chunks}``, ``{table_where}``, ... filled in."""
    return sql.SQL(text).format(**_PARTS)


def key_params(key: TableKey) -> dict[str, Any]:
    """Parameters for ``{table_where}``."""
    return {
        "run": key.run_id,
        "db": key.source_database,
        "sch": key.source_schema,
        "tab": key.source_table,
    }


def fetch_all(conn: Conn, query: sql.Composed, params: Any = None) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query, params)
        return cur.fetchall() if cur.description else []


def fetch_one(conn: Conn, query: sql.Composed, params: Any = None) -> dict[str, Any] | None:
    rows = fetch_all(conn, query, params)
    return rows[0] if rows else None


def rollback_quietly(conn: Conn) -> None:
    # If the connection is gone the original error is the one worth raising.
    with contextlib.suppress(psycopg.Error):
        conn.rollback()


@contextlib.contextmanager
def own_txn(conn: Conn) -> Iterator[None]:
    """Commit on success, roll back on any error (then re-raise)."""
    try:
        yield
    except BaseException:
        rollback_quietly(conn)
        raise
    conn.commit()


def clip(message: str | None) -> str | None:
    """A message cut to what a status row keeps."""
    return message[:MAX_ERROR_CHARS] if message is not None else None
