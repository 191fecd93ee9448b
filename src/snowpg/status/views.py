"""snowpg's monitoring views over ``migration_status``, beside views another tool made.

snowpg's two views always exist as ``v_snowpg_active_migrations`` and ``v_snowpg_table_progress``.
The names ``v_active_migrations`` and ``v_table_progress`` get the same definitions when they are
free or already snowpg's; a view of another tool under one of those names (the existing tool's
schema file makes both, with other columns) is left exactly as it is. PostgreSQL's
``CREATE OR REPLACE VIEW`` can only append columns, so neither tool could replace the other's
view without first dropping it; coexisting means both tools' views and DDL keep working.

A view is snowpg's when its comment carries the version marker, or (snowpg v2 commented only one
of its views) when it has no comment and exactly snowpg's columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, LiteralString

import psycopg
from psycopg import sql

VIEW_SCHEMA = "migration_status"
MARKER_PREFIX = "snowpg status schema"

_ACTIVE: LiteralString = """
CREATE OR REPLACE VIEW {name} AS
SELECT
    r.run_id,
    r.source_name,
    r.status,
    r.started_at,
    LOCALTIMESTAMP - r.started_at AS duration,
    coalesce(t.total_tables, 0) AS total_tables,
    coalesce(t.tables_in_progress, 0) AS tables_in_progress,
    coalesce(t.tables_failed, 0) AS tables_failed,
    coalesce(c.chunks_total, 0) AS chunks_total,
    coalesce(c.chunks_completed, 0) AS chunks_completed,
    coalesce(c.chunks_in_progress, 0) AS chunks_in_progress,
    coalesce(c.chunks_failed, 0) AS chunks_failed,
    coalesce(c.rows_copied, 0) AS rows_copied
FROM migration_status.migration_runs r
LEFT JOIN LATERAL (
    SELECT
        count(*) AS total_tables,
        count(*) FILTER (WHERE ts.status = 'in_progress') AS tables_in_progress,
        count(*) FILTER (WHERE ts.status = 'failed') AS tables_failed
    FROM migration_status.migration_table_status ts
    WHERE ts.run_id = r.run_id
) t ON true
LEFT JOIN LATERAL (
    SELECT
        count(*) AS chunks_total,
        count(*) FILTER (WHERE cs.status = 'completed') AS chunks_completed,
        count(*) FILTER (WHERE cs.status = 'in_progress') AS chunks_in_progress,
        count(*) FILTER (WHERE cs.status = 'failed') AS chunks_failed,
        sum(cs.rows_copied) FILTER (WHERE cs.status = 'completed') AS rows_copied
    FROM migration_status.migration_chunk_status cs
    WHERE cs.run_id = r.run_id
) c ON true
WHERE r.status IN ('running', 'partial')
"""

_PROGRESS: LiteralString = """
CREATE OR REPLACE VIEW {name} AS
SELECT
    t.run_id,
    t.source_name,
    t.source_database || '.' || t.source_schema || '.' || t.source_table AS source,
    t.target_database || '.' || t.target_schema || '.' || t.target_table AS target,
    t.status,
    coalesce(t.total_chunks, 0) AS total_chunks,
    coalesce(c.completed_chunks, 0) AS completed_chunks,
    coalesce(c.failed_chunks, 0) AS failed_chunks,
    coalesce(c.in_progress_chunks, 0) AS in_progress_chunks,
    CASE
        WHEN coalesce(t.total_chunks, 0) = 0 THEN
            CASE WHEN t.status = 'completed' THEN 100.0 ELSE 0.0 END
        ELSE round(100.0 * coalesce(c.completed_chunks, 0) / t.total_chunks, 1)
    END::numeric(4, 1) AS completion_pct,
    coalesce(t.total_rows_copied, 0) AS total_rows_copied,
    t.estimated_rows,
    t.started_at,
    t.completed_at,
    coalesce(t.completed_at, LOCALTIMESTAMP) - t.started_at AS duration
FROM migration_status.migration_table_status t
LEFT JOIN LATERAL (
    SELECT
        count(*) FILTER (WHERE cs.status = 'completed') AS completed_chunks,
        count(*) FILTER (WHERE cs.status = 'failed') AS failed_chunks,
        count(*) FILTER (WHERE cs.status = 'in_progress') AS in_progress_chunks
    FROM migration_status.migration_chunk_status cs
    WHERE (cs.run_id, cs.source_database, cs.source_schema, cs.source_table)
        = (t.run_id, t.source_database, t.source_schema, t.source_table)
) c ON true
"""


@dataclass(frozen=True)
class ViewDef:
    own_name: str  # always snowpg's
    shared_name: str  # snowpg's unless another tool's view already has the name
    create: LiteralString  # CREATE OR REPLACE VIEW {name} AS ...
    columns: tuple[str, ...]  # what the definition yields, in order


VIEWS = (
    ViewDef(
        "v_snowpg_active_migrations",
        "v_active_migrations",
        _ACTIVE,
        ("run_id", "source_name", "status", "started_at", "duration", "total_tables",
         "tables_in_progress", "tables_failed", "chunks_total", "chunks_completed",
         "chunks_in_progress", "chunks_failed", "rows_copied"),
    ),
    ViewDef(
        "v_snowpg_table_progress",
        "v_table_progress",
        _PROGRESS,
        ("run_id", "source_name", "source", "target", "status", "total_chunks",
         "completed_chunks", "failed_chunks", "in_progress_chunks", "completion_pct",
         "total_rows_copied", "estimated_rows", "started_at", "completed_at", "duration"),
    ),
)  # fmt: skip


@dataclass(frozen=True)
class Found:
    """A relation of migration_status under one of the views' names."""

    kind: str  # pg_class.relkind: 'v' for a view
    comment: str | None
    columns: tuple[str, ...]


def _found(conn: psycopg.Connection[Any]) -> dict[str, Found]:
    names = [n for v in VIEWS for n in (v.own_name, v.shared_name)]
    rows = conn.execute(
        """
        SELECT c.relname, c.relkind::text, obj_description(c.oid, 'pg_class'),
               array(SELECT a.attname::text FROM pg_attribute a
                      WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                      ORDER BY a.attnum)
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %s AND c.relname = ANY(%s)
        """,
        (VIEW_SCHEMA, names),
    ).fetchall()
    return {r[0]: Found(r[1], r[2], tuple(r[3])) for r in rows}


def is_snowpgs(found: Found, view: ViewDef) -> bool:
    if found.kind != "v":
        return False
    if found.comment is None:  # snowpg v2 left v_active_migrations without a comment
        return found.columns == view.columns
    return found.comment.startswith(MARKER_PREFIX)


def to_create(found: dict[str, Found], marker: str) -> list[tuple[ViewDef, str]]:
    """The (view, name) pairs to create or replace so every snowpg view carries ``marker``;
    pure. A name held by another tool's view (or any other relation) is never in the list."""
    out: list[tuple[ViewDef, str]] = []
    for view in VIEWS:
        for name in (view.own_name, view.shared_name):
            have = found.get(name)
            if have is None or (is_snowpgs(have, view) and have.comment != marker):
                out.append((view, name))
    return out


def foreign(found: dict[str, Found]) -> list[str]:
    """The shared names held by a relation that is not snowpg's view; pure."""
    return [
        v.shared_name
        for v in VIEWS
        if v.shared_name in found and not is_snowpgs(found[v.shared_name], v)
    ]


def pending(conn: psycopg.Connection[Any], marker: str) -> list[tuple[ViewDef, str]]:
    """What :func:`ensure_views` would create; caller txn (reads the catalog only)."""
    return to_create(_found(conn), marker)


def ensure_views(conn: psycopg.Connection[Any], marker: str) -> list[str]:
    """Create or replace snowpg's views and mark them; caller txn. Returns the shared names
    left to another tool's views."""
    found = _found(conn)
    for view, name in to_create(found, marker):
        ident = sql.Identifier(VIEW_SCHEMA, name)
        conn.execute(sql.SQL(view.create).format(name=ident))
        conn.execute(sql.SQL("COMMENT ON VIEW {} IS {}").format(ident, sql.Literal(marker)))
    return foreign(found)
