"""A whole schema's catalog in one statement: every table and view, its columns, primary key,
row count, bytes and Time Travel retention.

Planning 300 tables with three catalog queries each costs 900 round trips of 0.1-1 s on the real
service. Here one statement answers for the schema: ``SHOW PRIMARY KEYS IN SCHEMA`` piped
(Snowflake's ``->>`` flow operator, which runs the chain as one statement) into a join of
``INFORMATION_SCHEMA.COLUMNS`` with ``INFORMATION_SCHEMA.TABLES``. Snowflake has no
information_schema view of key columns, so without the pipe it would take two statements; a
server that rejects the pipe (bare fakesnow) gets exactly those two.

Columns come from ``COLUMNS`` left-joined to ``TABLES`` so that a view whose ``TABLES`` row is
missing (fakesnow lists views only in ``COLUMNS``) is still seen, as kind ``VIEW``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from snowpg.errors import SourceError, SourceNotFound, TransientError
from snowpg.model import SourceColumn, SourceTable
from snowpg.snowflake import reader
from snowpg.snowflake.catalog import NOT_FOUND_HINT
from snowpg.snowflake.statements import quote_ident

log = logging.getLogger("snowpg.snowflake.schema_catalog")

_SHOW_KEYS = "SHOW PRIMARY KEYS IN SCHEMA {db}.{schema}"
_SELECT = (
    "SELECT c.table_schema, c.table_name, COALESCE(t.table_type, 'VIEW'), t.row_count, t.bytes,"
    " t.retention_time, c.column_name, c.data_type, c.numeric_precision, c.numeric_scale,"
    " c.character_maximum_length, c.is_nullable, c.ordinal_position{key_col}"
    " FROM {db}.INFORMATION_SCHEMA.COLUMNS c"
    " LEFT JOIN {db}.INFORMATION_SCHEMA.TABLES t"
    " ON t.table_schema = c.table_schema AND t.table_name = c.table_name"
    "{key_join}"
    " WHERE c.table_schema = %(schema)s{names}"
    " ORDER BY c.table_name, c.ordinal_position"
)
_PIPED_KEY_COL = ', pk."key_sequence"'
_PIPED_KEY_JOIN = (
    ' LEFT JOIN $1 pk ON pk."schema_name" = c.table_schema AND pk."table_name" = c.table_name'
    ' AND pk."column_name" = c.column_name'
)
PIPE = "\n->> "


@dataclass(frozen=True)
class SchemaCatalog:
    """What one catalog statement said about ``database.schema``; tables keyed by exact name."""

    database: str
    schema: str
    tables: dict[str, SourceTable]

    def names(self, *, views: bool = True) -> list[str]:
        return sorted(n for n, t in self.tables.items() if views or t.kind != "VIEW")

    def find(self, name: str) -> SourceTable:
        """``name`` exactly, else the one table matching it ignoring case; else SourceNotFound."""
        if name in self.tables:
            return self.tables[name]
        similar = [t for n, t in self.tables.items() if n.upper() == name.upper()]
        qualified = f"{self.database}.{self.schema}.{name}"
        if len(similar) == 1:
            return similar[0]
        if len(similar) > 1:
            names = ", ".join(t.qualified for t in similar)
            raise SourceError(
                f"table {qualified} matches several Snowflake tables that differ only in case: "
                f"{names}",
                hint="write the name exactly as Snowflake stores it",
            )
        raise SourceNotFound(
            f"table {qualified} not found in Snowflake", hint=NOT_FOUND_HINT, table=qualified
        )


def catalog_sql(
    database: str, schema: str, names: Sequence[str] | None = None, *, piped: bool = True
) -> tuple[str, dict[str, Any]]:
    """The one statement (or, ``piped=False``, the column query of the two) and its parameters.

    ``names`` limits it to those tables (compared ignoring case); None reads the whole schema.
    """
    params: dict[str, Any] = {"schema": schema}
    names_sql = ""
    if names is not None:
        placeholders = []
        for i, name in enumerate(names):
            params[f"n{i}"] = name.upper()
            placeholders.append(f"%(n{i})s")
        names_sql = f" AND UPPER(c.table_name) IN ({', '.join(placeholders) or 'NULL'})"
    select = _SELECT.format(
        db=quote_ident(database),
        key_col=_PIPED_KEY_COL if piped else "",
        key_join=_PIPED_KEY_JOIN if piped else "",
        names=names_sql,
    )
    if not piped:
        return select, params
    show = _SHOW_KEYS.format(db=quote_ident(database), schema=quote_ident(schema))
    return show + PIPE + select, params


def describe_schema(
    conn: Any, database: str, schema: str, names: Sequence[str] | None = None
) -> SchemaCatalog:
    """The catalog of ``database.schema`` (only ``names`` when given) in one statement.

    A schema named in lower case that Snowflake stores upper-case (``public``) costs a second
    statement, under the upper-case name.
    """
    try:
        found = _describe(conn, database, schema, names)
    except SourceNotFound:
        if schema == schema.upper():
            raise
        return _describe(conn, database, schema.upper(), names)
    if not found.tables and schema != schema.upper():
        return _describe(conn, database, schema.upper(), names)
    return found


def _describe(conn: Any, database: str, schema: str, names: Sequence[str] | None) -> SchemaCatalog:
    query, params = catalog_sql(database, schema, names)
    try:
        rows = reader.run_all(conn, query, params)
        keys = None
    except SourceError as exc:
        if isinstance(exc, TransientError) or _missing(exc):
            raise _not_found(database, schema, exc) from exc
        log.debug("the server rejected the piped catalog statement (%s); two statements", exc)
        rows, keys = _unpiped(conn, database, schema, names)
    if not rows:
        # Not an error by itself: an empty schema, or a schema named in another case.
        log.debug("no columns in %s.%s", database, schema)
    return SchemaCatalog(database, schema, tables_from_rows(rows, database, keys))


def _unpiped(
    conn: Any, database: str, schema: str, names: Sequence[str] | None
) -> tuple[list[tuple[Any, ...]], dict[tuple[str, str], int]]:
    query, params = catalog_sql(database, schema, names, piped=False)
    try:
        rows = reader.run_all(conn, query, params)
        shown = reader.run_dicts(
            conn, _SHOW_KEYS.format(db=quote_ident(database), schema=quote_ident(schema))
        )
    except SourceError as exc:
        if isinstance(exc, TransientError):
            raise
        raise _not_found(database, schema, exc) from exc
    return rows, key_positions(shown, database, schema)


def key_positions(
    shown: Iterable[dict[str, Any]], database: str, schema: str
) -> dict[tuple[str, str], int]:
    """``{(table, column): key_sequence}`` from ``SHOW PRIMARY KEYS`` rows of one schema.

    A table whose key columns all report one sequence (fakesnow says 1 for each) is numbered in
    the order SHOW listed them, which is the key's declaration order.
    """
    by_table: dict[str, list[tuple[str, int]]] = {}
    for r in shown:
        if str(r.get("database_name", database)).upper() != database.upper():
            continue  # fakesnow also lists same-named schemas of other databases
        if str(r.get("schema_name", schema)).upper() != schema.upper():
            continue
        entry = (str(r["column_name"]), int(r.get("key_sequence") or 0))
        by_table.setdefault(str(r["table_name"]), []).append(entry)
    out: dict[tuple[str, str], int] = {}
    for table, cols in by_table.items():
        if len(cols) > 1 and len({seq for _, seq in cols}) == 1:
            cols = [(name, i) for i, (name, _) in enumerate(cols, 1)]
        out.update({(table, name): seq for name, seq in cols})
    return out


def tables_from_rows(
    rows: Iterable[Sequence[Any]],
    database: str,
    keys: dict[tuple[str, str], int] | None = None,
) -> dict[str, SourceTable]:
    """Tables from catalog rows (see :data:`_SELECT`); the key sequence is the 14th column when
    the statement was piped, else looked up in ``keys``. Pure."""
    columns: dict[tuple[str, str], list[SourceColumn]] = {}
    info: dict[tuple[str, str], tuple[str, int | None, int | None, int | None]] = {}
    key_seq: dict[tuple[str, str], list[tuple[int, int, str]]] = {}
    for r in rows:
        ident = (str(r[0]), str(r[1]))
        info.setdefault(ident, (str(r[2]).upper(), _int(r[3]), _int(r[4]), _int(r[5])))
        col = SourceColumn(
            name=str(r[6]),
            data_type=str(r[7]).upper(),
            precision=_int(r[8]),
            scale=_int(r[9]),
            length=_int(r[10]),
            nullable=str(r[11]).upper() == "YES",
            position=int(r[12]),
        )
        columns.setdefault(ident, []).append(col)
        seq = _int(r[13]) if len(r) > 13 else (keys or {}).get((ident[1], col.name))
        if seq is not None:
            key_seq.setdefault(ident, []).append((seq, col.position, col.name))
    tables: dict[str, SourceTable] = {}
    for ident, cols in columns.items():
        kind, row_count, size, retention = info[ident]
        tables[ident[1]] = SourceTable(
            database=database,
            schema=ident[0],
            name=ident[1],
            columns=tuple(sorted(cols, key=lambda c: c.position)),
            # Ties on key_sequence keep column order (fakesnow reports 1 for every key column).
            primary_key=tuple(name for _, _, name in sorted(key_seq.get(ident, []))),
            row_count=row_count,
            kind="VIEW" if "VIEW" in kind else kind,
            bytes=size,
            retention_days=retention,
        )
    return tables


def _int(value: Any) -> int | None:
    return int(value) if value is not None and str(value) != "" else None


def _missing(exc: SourceError) -> bool:
    text = exc.message.lower()
    return "does not exist" in text or "not authorized" in text


def _not_found(database: str, schema: str, exc: SourceError) -> SourceError:
    if isinstance(exc, TransientError):
        return exc
    return SourceNotFound(
        f"schema {database}.{schema} not found in Snowflake ({exc.message})",
        hint=NOT_FOUND_HINT,
        table=f"{database}.{schema}",
    )
