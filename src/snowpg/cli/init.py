"""``snowpg init``: write a config.json for a Snowflake schema, one explicit entry per table."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from snowpg import logs
from snowpg.cli.common import StderrAtWriteTime, out_console
from snowpg.errors import ConfigError

if TYPE_CHECKING:
    from snowpg.plan.suggest import Suggestion


def init_command(
    database: Annotated[str, typer.Option("--database", "-d", help="Snowflake database to read")],
    schema: Annotated[str, typer.Option("--schema", help="Snowflake schema to read")],
    target_database: Annotated[
        str | None,
        typer.Option(
            "--target-database", help="PostgreSQL database (default: --database lower-cased)"
        ),
    ] = None,
    target_schema: Annotated[
        str | None,
        typer.Option("--target-schema", help="PostgreSQL schema (default: --schema lower-cased)"),
    ] = None,
    source_name: Annotated[
        str | None,
        typer.Option("--source-name", help="the source's name (default: --schema lower-cased)"),
    ] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="file to write")] = Path(
        "config.json"
    ),
    force: Annotated[bool, typer.Option("--force", help="overwrite --output if it exists")] = False,
    include_views: Annotated[
        bool, typer.Option("--include-views", help="write entries for views too")
    ] = False,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="take the snowflake (and postgres) blocks from this file (default: environment)",
        ),
    ] = None,
) -> None:
    """Write a config.json listing every table of a Snowflake schema, with keys and chunking."""
    from snowpg.config.load import load_snowflake_settings
    from snowpg.plan import suggest
    from snowpg.snowflake import session
    from snowpg.snowflake.schema_catalog import describe_schema

    logs.configure("WARNING", json_lines=False, stream=StderrAtWriteTime())
    if output.exists() and not force:
        raise ConfigError(
            f"{output} already exists", hint="pass --force to overwrite it, or --output PATH"
        )
    sf, blocks = load_snowflake_settings(config)
    conn = session.connect(sf, database=database, schema=schema)
    with contextlib.closing(conn):
        catalog = describe_schema(conn, database, schema)
    views = [t for t in catalog.tables.values() if t.kind == "VIEW"]
    tables = [t for t in catalog.tables.values() if t.kind != "VIEW" or include_views]
    where = f"{catalog.database}.{catalog.schema}"
    if not tables:
        hint = "pass --include-views to copy its views" if views else "check the names"
        raise ConfigError(f"no table in Snowflake schema {where}", hint=hint, field="schema")
    suggestions = suggest.suggest(tables)
    document = suggest.config_for(
        suggestions,
        source_name=source_name or catalog.schema.lower(),
        database=catalog.database,
        schema=catalog.schema,
        target_database=target_database or database.lower(),
        target_schema=target_schema or catalog.schema.lower(),
        connections=blocks,
    )
    try:
        output.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    except OSError as exc:
        raise ConfigError(
            f"cannot write {output}: {exc.strerror}", hint="choose another --output path"
        ) from None
    for s in suggestions:
        out_console.print(_line(s), highlight=False, markup=False)
    skipped = [v.name for v in views if not include_views]
    if skipped:
        out_console.print(
            f"{len(skipped)} view(s) skipped (--include-views to copy them): {', '.join(skipped)}",
            highlight=False,
            markup=False,
        )
    if not blocks:
        out_console.print(
            "connections: none written; snowpg takes them from the SNOWFLAKE_* and POSTGRES_* "
            "environment variables",
            highlight=False,
            markup=False,
        )
    out_console.print(
        f"wrote {output}: {len(suggestions)} table(s) of {where}; check it with "
        f"`snowpg validate --config {output}`",
        highlight=False,
        markup=False,
    )


def _line(s: Suggestion) -> str:
    t = s.table
    rows = f"{t.row_count:,} rows" if t.row_count is not None else "rows unknown"
    size = f"{t.bytes / 1e6:,.1f} MB" if t.bytes is not None else "size unknown"
    key = f"key {', '.join(s.key)} ({s.key_source})" if s.key else f"key {s.key_source}"
    batch = f"batch_size {s.batch_size:,}" if s.batch_size else "default batch_size"
    chunks = f", ~{s.chunks:,} chunk(s)" if s.chunks is not None else ""
    kind = " [view]" if t.kind == "VIEW" else ""
    return f"{t.name}{kind} -> {s.target}: {rows}, {size}, {key}, {batch}{chunks}"
