"""Verify a run of one source: every completed chunk of every completed table, source vs target.

Reads both sides with bounded queries (one chunk at a time) and writes only the ``verified_at``,
``verify_status`` and ``verify_detail`` columns of the status rows, so it is safe while other
processes copy. Tables that are not complete are reported as not verified.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from snowpg.checksum_spec import ChecksumSpec, VerifyColumn
from snowpg.config import Settings, SourceConfig
from snowpg.contract import TableContract
from snowpg.errors import RunRefused, SnowpgError
from snowpg.logs import redact
from snowpg.model import ChunkRange, Snapshot
from snowpg.plan import snapshot, watermark
from snowpg.postgres import connection
from snowpg.postgres.checksums import pg_window
from snowpg.snowflake import catalog, session
from snowpg.status import schema as status_schema
from snowpg.status import store
from snowpg.status.rows import TableRow
from snowpg.verify import compare
from snowpg.verify.compare import ERROR, MATCH, MISMATCH, ChunkResult

log = logging.getLogger("snowpg.verify")

NOT_VERIFIED = "not verified"


@dataclass
class TableResult:
    source_table: str
    target: str
    status: str  # match / mismatch / error / not verified
    chunks: list[ChunkResult] = field(default_factory=list)
    note: str | None = None
    seconds: float = 0.0

    @property
    def source_rows(self) -> int:
        return sum(c.source_rows for c in self.chunks)

    @property
    def target_rows(self) -> int:
        return sum(c.target_rows for c in self.chunks)

    @property
    def bad_chunks(self) -> list[ChunkResult]:
        return [c for c in self.chunks if c.status != MATCH]

    def detail(self) -> dict[str, Any]:
        return {
            "chunks": len(self.chunks),
            "mismatched_chunks": [c.chunk_id for c in self.chunks if c.status == MISMATCH],
            "error_chunks": [c.chunk_id for c in self.chunks if c.status == ERROR],
            "source_rows": self.source_rows,
            "target_rows": self.target_rows,
            "missing": sum(c.missing for c in self.chunks),
            "extra": sum(c.extra for c in self.chunks),
            "changed": sum(c.changed for c in self.chunks),
            "seconds": round(self.seconds, 3),
        }


@dataclass
class VerifyReport:
    source_name: str
    run_id: uuid.UUID
    tables: list[TableResult]

    @property
    def differences(self) -> int:
        return sum(
            c.missing + c.extra + c.changed + (c.status == MISMATCH and not c.keys)
            for t in self.tables
            for c in t.chunks
        )

    @property
    def exit_code(self) -> int:
        """0 all verified equal; 1 a difference or an error; 3 some table was not complete."""
        if any(t.status in (MISMATCH, ERROR) for t in self.tables):
            return 1
        if any(t.status == NOT_VERIFIED for t in self.tables):
            return 3
        return 0


def _find_run(admin: Any, source: SourceConfig, run: str | None) -> uuid.UUID:
    if run is not None:
        try:
            run_id = uuid.UUID(run)
        except ValueError as exc:
            raise RunRefused(f"--run {run!r} is not a run id (a UUID)") from exc
        if store.get_run(admin, run_id) is None:
            raise RunRefused(f"run {run_id} not found in migration_status.migration_runs")
        return run_id
    latest = store.latest_run_id(admin, source.source_name)
    if latest is None:
        raise RunRefused(
            f"source '{source.source_name}' has no run to verify in database "
            f"{source.target_pg_database}",
            hint="run snowpg migrate first",
        )
    return latest


def verify_source(
    settings: Settings,
    source: SourceConfig,
    run: str | None = None,
    tables: Sequence[str] | None = None,
    on_table: Callable[[TableResult], None] | None = None,
) -> VerifyReport:
    """Verify the run ``run`` (default: the newest) of ``source``; ``tables`` limits which."""
    admin = connection.connect(settings.postgres, source.target_pg_database)
    sf: Any = None
    sf_where: tuple[str, str] | None = None
    try:
        try:
            status_schema.ensure_schema(admin)  # adds the verify columns to an older schema
            run_id = _find_run(admin, source, run)
            point = snapshot.stored_point(settings, store.get_run(admin, run_id))
            rows = store.table_rows(admin, run_id)
            admin.commit()
        except psycopg.Error as exc:
            raise connection.translate_pg_error(
                exc, context=f"reading the runs of source {source.source_name}"
            ) from exc
        wanted = {t.upper() for t in tables} if tables else None
        results: list[TableResult] = []
        for row in rows:
            if wanted is not None and row.key.source_table.upper() not in wanted:
                continue
            where = (row.key.source_database, row.key.source_schema)
            if row.status == "completed" and (sf is None or sf_where != where):
                if sf is not None:
                    sf.close()
                    sf = None
                # Opened in the table's database and schema: the emulator defines its timestamp
                # functions per database and fails on CAST(.. AS TIMESTAMP_NTZ) without one.
                sf = session.connect(settings.snowflake, database=where[0], schema=where[1])
                sf_where = where
            result = verify_table(sf, admin, row, point)
            results.append(result)
            if on_table is not None:
                on_table(result)
        return VerifyReport(source.source_name, run_id, results)
    finally:
        admin.close()
        if sf is not None:
            sf.close()


def _spec(sf: Any, row: TableRow, point: Snapshot | None = None) -> ChecksumSpec:
    contract = TableContract.from_json(row.metadata)
    if contract is not None:
        src = contract.source
    else:  # a row written by a snowpg without load contracts
        log.debug("%s has no load contract; describing it in Snowflake", row.key.source_table)
        src = catalog.describe_table(
            sf, row.key.source_database, row.key.source_schema, row.key.source_table
        )
    src = snapshot.at_point(src, point)
    columns = []
    for s_name, t_name in row.metadata.get("columns") or []:
        col = src.column(s_name)
        if col is not None:
            columns.append(VerifyColumn(s_name, t_name, col.sql_type))
    return ChecksumSpec(
        source=src,
        source_filter=row.metadata.get("source_filter"),
        target_schema=row.target_schema,
        target_table=row.target_table,
        columns=tuple(columns),
    )


def _chunk_specs(
    spec: ChecksumSpec, row: TableRow
) -> tuple[ChecksumSpec, ChecksumSpec | None, int | None]:
    """The specs of an incremental table's window chunks and of its delete-check chunks (ids
    from the third value on); a full load's spec stands for every chunk.

    Window chunks hold the rows whose watermark is in the run's ``(low, high]``: the same window
    selects them in the target. Delete checks cover the whole key space under the table's own
    ``source_filter``; verification compares there the rows *outside* the window, so together
    the chunks compare every row of the table once. Rows flagged deleted in the target are left
    out, as they are gone from the source.
    """
    inc = row.metadata.get("incremental")
    if not inc:
        return spec, None, None
    window_spec = spec
    sf_window: str | None = None
    pg_win: sql.Composable | None = None
    win_params: tuple[Any, ...] = ()
    wm, wm_type = inc.get("watermark_column"), inc.get("watermark_type")
    if wm and wm_type:
        low, high = inc.get("low"), inc.get("high")
        sf_window = watermark.window_predicate(wm, str(wm_type), low, high)
        col = VerifyColumn(wm, spec.target_column(wm), str(wm_type))
        pg_win, params = pg_window(col, low, high)
        win_params = tuple(params)
        window_spec = dataclasses.replace(spec, target_filter=pg_win, target_params=win_params)
    delete_from = inc.get("delete_from")
    if delete_from is None:
        return window_spec, None, None
    # Delete checks: the rows outside the window (each row is compared once), without the rows
    # flagged deleted in the target. A NULL watermark is outside the window on both sides.
    sf_filter = watermark.combine_filters(
        inc.get("base_filter"), f"NOT COALESCE(({sf_window}), FALSE)" if sf_window else "FALSE"
    )
    pg_parts: list[sql.Composable] = []
    if sf_window:
        pg_parts.append(sql.SQL("({}) IS NOT TRUE").format(pg_win or sql.SQL("TRUE")))
    else:
        pg_parts.append(sql.SQL("FALSE"))
    flag = inc.get("flag_column")
    if flag:
        pg_parts.append(sql.SQL("NOT {}").format(sql.Identifier(flag)))
    delete_spec = dataclasses.replace(
        spec,
        source_filter=sf_filter,
        target_filter=sql.SQL(" AND ").join(pg_parts),
        target_params=win_params if sf_window else (),
    )
    return window_spec, delete_spec, int(delete_from)


def verify_table(
    sf: Any, pg: psycopg.Connection[Any], row: TableRow, point: Snapshot | None = None
) -> TableResult:
    """Verify every chunk of one table (read at the run's snapshot ``point``) and record the
    outcome in its status rows."""
    target = f"{row.target_schema}.{row.target_table}"
    result = TableResult(row.key.source_table, target, NOT_VERIFIED)
    if row.status != "completed":
        result.note = f"table status is {row.status}; only completed tables are verified"
        return result
    started = time.monotonic()
    extra = {"run_id": row.key.run_id, "table": row.key.source_table}
    try:
        spec = _spec(sf, row, point)
        chunks = store.list_chunks(pg, row.key)
        pg.commit()
    except (SnowpgError, psycopg.Error) as exc:
        result.status = ERROR
        result.note = _message(exc, f"preparing to verify {row.key.source_table}")
        return result
    ranges = {c.key.chunk_id: ChunkRange.from_json(c.chunk_range) for c in chunks}
    try:
        window_spec, delete_spec, delete_from = _chunk_specs(spec, row)
    except SnowpgError as exc:
        result.status = ERROR
        result.note = _message(exc, f"preparing to verify {row.key.source_table}")
        return result

    def spec_of(chunk_id: int) -> ChecksumSpec:
        if delete_spec is not None and delete_from is not None and chunk_id >= delete_from:
            return delete_spec
        return window_spec

    sums: dict[int, compare.Sums] = {}
    for group_spec in (window_spec, delete_spec):
        if group_spec is not None and not group_spec.has_json:
            mine = [(cid, r) for cid, r in ranges.items() if spec_of(cid) is group_spec]
            sums |= _group_sums(sf, pg, group_spec, mine)
    for chunk in chunks:
        rng = ranges[chunk.key.chunk_id]
        try:
            res = compare.verify_chunk(
                sf,
                pg,
                spec_of(chunk.key.chunk_id),
                chunk.key.chunk_id,
                rng,
                sums.get(chunk.key.chunk_id),
            )
        except (SnowpgError, psycopg.Error) as exc:
            status_schema.rollback_quietly(pg)
            what = f"verifying {row.key.source_table} chunk {chunk.key.chunk_id}"
            res = ChunkResult(chunk.key.chunk_id, ERROR, error=_message(exc, what))
        if res.status != MATCH:
            log.warning(
                "chunk %d: %s (%d source rows, %d target rows)",
                res.chunk_id,
                res.status,
                res.source_rows,
                res.target_rows,
                extra={**extra, "chunk_id": res.chunk_id},
            )
        _record(
            pg,
            functools.partial(
                store.mark_chunk_verified, key=chunk.key, status=res.status, detail=res.detail()
            ),
        )
        result.chunks.append(res)
    result.status = compare.table_status(result.chunks)
    result.seconds = time.monotonic() - started
    detail = result.detail()
    _record(pg, lambda c: store.mark_table_verified(c, row.key, result.status, detail))
    log.info(
        "verified %s: %s (%d chunks, %d rows)",
        row.key.source_table,
        result.status,
        len(result.chunks),
        result.source_rows,
        extra=extra,
    )
    return result


def _group_sums(
    sf: Any, pg: psycopg.Connection[Any], spec: ChecksumSpec, ranges: list[tuple[int, ChunkRange]]
) -> dict[int, compare.Sums]:
    """Checksums of the chunks, a group per query; a group that fails is left to per-chunk
    queries, so the error is reported on its chunk."""
    out: dict[int, compare.Sums] = {}
    step = compare.CHUNKS_PER_QUERY
    for i in range(0, len(ranges), step):
        group = ranges[i : i + step]
        try:
            out.update(compare.checksum_chunks(sf, pg, spec, group))
        except (SnowpgError, psycopg.Error) as exc:
            status_schema.rollback_quietly(pg)
            log.warning(
                "checksums of %d chunks in one query failed (%s); one by one", len(group), exc
            )
    return out


def _record(pg: psycopg.Connection[Any], write: Callable[[psycopg.Connection[Any]], None]) -> None:
    try:
        write(pg)
    except psycopg.Error as exc:
        status_schema.rollback_quietly(pg)
        raise connection.translate_pg_error(exc, context="recording a verification") from exc


def _message(exc: BaseException, context: str) -> str:
    if isinstance(exc, psycopg.Error):
        return str(connection.translate_pg_error(exc, context=context))
    return redact(f"{context}: {exc}")
