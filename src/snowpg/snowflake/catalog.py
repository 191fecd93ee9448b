"""What Snowflake says a table looks like: columns, primary key, approximate row count.

Names are matched exactly first. Snowflake stores unquoted names upper-case, so a configuration
that says ``dimpayer`` for ``DIMPAYER`` is accepted when exactly one table matches ignoring case.
The information_schema filters travel as bound parameters; only the database name is spliced in
(quoted), because ``INFORMATION_SCHEMA`` lives inside each database.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from snowpg.errors import ConfigError, SourceError, SourceNotFound, TransientError
from snowpg.model import SourceColumn, SourceTable
from snowpg.snowflake import reader
from snowpg.snowflake.statements import qualified, quote_ident

NOT_FOUND_HINT = "check `source`, `source_sf_database`, `source_sf_schema` and the role's grants"

_COLUMNS_SQL = (
    "SELECT table_schema, table_name, column_name, data_type, numeric_precision, numeric_scale,"
    " character_maximum_length, is_nullable, ordinal_position"
    " FROM {db}.INFORMATION_SCHEMA.COLUMNS WHERE {match}"
    " ORDER BY table_schema, table_name, ordinal_position"
)
# Plain equality lets Snowflake prune the information_schema scan; the case-insensitive form is
# only tried when the exact name finds nothing.
_EXACT = "table_schema = %(schema)s AND table_name = %(table)s"
_ANY_CASE = "UPPER(table_schema) = UPPER(%(schema)s) AND UPPER(table_name) = UPPER(%(table)s)"
_ROW_COUNT_SQL = (
    "SELECT row_count FROM {db}.INFORMATION_SCHEMA.TABLES"
    " WHERE table_schema = %(schema)s AND table_name = %(table)s"
)
_TABLES_SQL = (
    "SELECT table_schema, table_name FROM {db}.INFORMATION_SCHEMA.TABLES"
    " WHERE UPPER(table_schema) = UPPER(%(schema)s) AND table_type IN ('BASE TABLE', 'VIEW')"
    " ORDER BY table_name"
)


def _int_or_none(value: Any) -> int | None:
    return int(value) if value is not None else None


def _pick_exact(
    wanted: tuple[str, str], found: Sequence[tuple[str, str]], what: str
) -> tuple[str, str] | None:
    if wanted in found:
        return wanted
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        names = ", ".join(".".join(f) for f in found)
        raise SourceError(
            f"{what} matches several Snowflake tables that differ only in case: {names}",
            hint="write the name exactly as Snowflake stores it",
        )
    return None


def describe_table(conn: Any, database: str, schema: str, table: str) -> SourceTable:
    """Columns (in position order), primary key and row count of ``database.schema.table``."""
    name = f"{database}.{schema}.{table}"
    params = {"schema": schema, "table": table}
    try:
        rows = reader.run_all(
            conn, _COLUMNS_SQL.format(db=quote_ident(database), match=_EXACT), params
        )
        if not rows:
            query = _COLUMNS_SQL.format(db=quote_ident(database), match=_ANY_CASE)
            rows = reader.run_all(conn, query, params)
    except SourceError as exc:
        if isinstance(exc, TransientError):
            raise
        # Typically "Database 'X' does not exist or not authorized".
        raise SourceNotFound(
            f"table {name} not found in Snowflake ({exc.message})", hint=NOT_FOUND_HINT, table=name
        ) from exc
    found = sorted({(str(r[0]), str(r[1])) for r in rows})
    picked = _pick_exact((schema, table), found, f"table {name}")
    if picked is None:
        raise SourceNotFound(
            f"table {name} not found in Snowflake", hint=NOT_FOUND_HINT, table=name
        )
    real_schema, real_table = picked
    columns = tuple(
        SourceColumn(
            name=str(r[2]),
            data_type=str(r[3]).upper(),
            precision=_int_or_none(r[4]),
            scale=_int_or_none(r[5]),
            length=_int_or_none(r[6]),
            nullable=str(r[7]).upper() == "YES",
            position=int(r[8]),
        )
        for r in rows
        if (str(r[0]), str(r[1])) == picked
    )
    return SourceTable(
        database=database,
        schema=real_schema,
        name=real_table,
        columns=columns,
        primary_key=primary_key(conn, database, real_schema, real_table),
        row_count=_row_count(conn, database, real_schema, real_table),
    )


def primary_key(conn: Any, database: str, schema: str, table: str) -> tuple[str, ...]:
    """Primary key column names in key order (empty when the table declares none)."""
    rows = reader.run_dicts(
        conn, f"SHOW PRIMARY KEYS IN TABLE {qualified(database, schema, table)}"
    )
    # Keep only this table's rows: fakesnow also lists same-named tables of other databases.
    rows = [
        r
        for r in rows
        if str(r.get("database_name", database)).upper() == database.upper()
        and str(r.get("schema_name", schema)).upper() == schema.upper()
        and str(r.get("table_name", table)).upper() == table.upper()
    ]
    # sorted() is stable: rows sharing a key_sequence keep Snowflake's order (fakesnow reports 1
    # for every column of a composite key, in declaration order).
    rows = sorted(rows, key=lambda r: int(r.get("key_sequence") or 0))
    return tuple(str(r["column_name"]) for r in rows)


def _row_count(conn: Any, database: str, schema: str, table: str) -> int | None:
    value = reader.run_scalar(
        conn, _ROW_COUNT_SQL.format(db=quote_ident(database)), {"schema": schema, "table": table}
    )
    return _int_or_none(value)


def list_tables(conn: Any, database: str, schema: str) -> list[str]:
    """Names of the tables and views the role can see in ``database.schema``."""
    rows = reader.run_all(conn, _TABLES_SQL.format(db=quote_ident(database)), {"schema": schema})
    exact = [str(r[1]) for r in rows if r[0] == schema]
    return exact if exact else [str(r[1]) for r in rows]


def check_columns_exist(table: SourceTable, names: Sequence[str], what: str) -> None:
    """Raise ``ConfigError`` for the first of ``names`` that ``table`` lacks.

    ``what`` names the configuration field, e.g. "chunking_columns of table DIMPAYER".
    """
    for name in names:
        if table.column(name) is not None:
            continue
        similar = [c.name for c in table.columns if c.name.upper() == name.upper()]
        hint = (
            f"did you mean {similar[0]}? Column names are case-sensitive as Snowflake stores them"
            if similar
            else "columns: " + ", ".join(c.name for c in table.columns[:30])
        )
        raise ConfigError(
            f"column {name} named in {what} is not in Snowflake table {table.qualified}",
            hint=hint,
            field=what,
            table=table.qualified,
            column=name,
        )
