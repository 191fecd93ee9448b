"""Verify a run of one source: every completed chunk of every completed table, source vs target.

Reads both sides with bounded queries (one group of chunks at a time) and writes only the
``verified_at``, ``verify_status`` and ``verify_detail`` columns of the status rows, so it is safe
while other processes copy. Tables that are not complete are reported as not verified.

A verification resumes: with a ``deadline`` it stops between groups of chunks and reports how far
it got (``deadline_hit``); the next call continues the same pass and does not read again the
chunks the pass verified since their last copy (:mod:`snowpg.verify.progress`).
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import psycopg

from snowpg.checksum_spec import ChecksumSpec
from snowpg.config import Settings, SourceConfig
from snowpg.errors import RunRefused, SnowpgError
from snowpg.logs import redact
from snowpg.model import ChunkRange, Snapshot
from snowpg.plan import snapshot
from snowpg.postgres import connection
from snowpg.snowflake import session
from snowpg.status import schema as status_schema
from snowpg.status import store
from snowpg.status.rows import ChunkRow, TableRow
from snowpg.verify import compare, progress, specs
from snowpg.verify.compare import ERROR, MATCH, ChunkResult
from snowpg.verify.progress import Deadline
from snowpg.verify.report import NOT_VERIFIED, PARTIAL, TableResult, VerifyReport

log = logging.getLogger("snowpg.verify")


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


class _Sessions:
    """One Snowflake session at a time, opened only when a table has chunks to read, in that
    table's database and schema: the emulator defines its timestamp functions per database and
    fails on CAST(.. AS TIMESTAMP_NTZ) without one."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.conn: Any = None
        self.where: tuple[str, str] | None = None

    def get(self, where: tuple[str, str]) -> Any:
        if self.conn is None or self.where != where:
            self.close()
            self.conn = session.connect(self.settings.snowflake, database=where[0], schema=where[1])
            self.where = where
        return self.conn

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def verify_source(
    settings: Settings,
    source: SourceConfig,
    run: str | None = None,
    tables: Sequence[str] | None = None,
    on_table: Callable[[TableResult], None] | None = None,
    *,
    deadline: float | None = None,
    reverify: bool = False,
) -> VerifyReport:
    """Verify the run ``run`` (default: the newest) of ``source``; ``tables`` limits which.

    ``deadline`` (a ``time.monotonic()``): no group of chunks is started after it; the report
    then has ``deadline_hit`` and the tables left ``partial``, and the next call continues this
    pass. ``reverify``: start a new pass even if one is unfinished.
    """
    admin = connection.connect(settings.postgres, source.target_pg_database)
    sessions = _Sessions(settings)
    clock = Deadline(deadline)
    try:
        try:
            status_schema.ensure_schema(admin)  # adds the verify columns to an older schema
            run_id = _find_run(admin, source, run)
            point = snapshot.stored_point(settings, store.get_run(admin, run_id))
            rows = store.table_rows(admin, run_id)
            admin.commit()
            state = store.verify_pass(admin, run_id)
            pass_id, continued = progress.choose_pass(state, reverify, uuid.uuid4().hex)
            if not continued:
                store.set_verify_pass(admin, run_id, {"id": pass_id, "open": True})
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
            result = verify_table(
                lambda w=where: sessions.get(w),
                admin,
                row,
                clock=clock,
                pass_id=pass_id,
                point=point,
            )
            results.append(result)
            if on_table is not None:
                on_table(result)
        report = VerifyReport(source.source_name, run_id, results, clock.hit, continued)
        waiting = sum(t.status == NOT_VERIFIED for t in results)
        if progress.closes_pass(clock.hit, waiting):
            _record(
                admin, lambda c: store.set_verify_pass(c, run_id, {"id": pass_id, "open": False})
            )
        return report
    finally:
        admin.close()
        sessions.close()


def verify_table(
    sf: Any,
    pg: psycopg.Connection[Any],
    row: TableRow,
    *,
    clock: Deadline | None = None,
    pass_id: str | None = None,
    point: Snapshot | None = None,
) -> TableResult:
    """Verify the chunks of one table that need it (read at the run's snapshot ``point``) and
    record the outcome in its status rows.

    ``sf`` is a Snowflake connection or a callable that opens one (only called when a chunk is
    read). The table's own outcome is recorded once every chunk has a valid verification.
    ``pass_id``: the verification pass (None: a new one, every chunk is read).
    """
    clock = clock or Deadline()
    pass_id = pass_id or uuid.uuid4().hex
    target = f"{row.target_schema}.{row.target_table}"
    result = TableResult(row.key.source_table, target, NOT_VERIFIED)
    if row.status != "completed":
        result.note = f"table status is {row.status}; only completed tables are verified"
        return result
    started = time.monotonic()
    extra = {"run_id": row.key.run_id, "table": row.key.source_table}
    try:
        chunks = store.list_chunks(pg, row.key)
        pg.commit()
    except psycopg.Error as exc:
        result.status = ERROR
        result.note = _message(exc, f"preparing to verify {row.key.source_table}")
        return result
    todo, kept = progress.split(chunks, pass_id)
    result.total_chunks = len(chunks)
    result.chunks = kept
    if todo and clock.allows(time.monotonic()):
        conn = _connection(sf)
        try:
            spec_of = _spec_of(conn, row, point)
        except SnowpgError as exc:
            result.status = ERROR
            result.note = _message(exc, f"preparing to verify {row.key.source_table}")
            return result
        new = _verify_chunks(conn, pg, row, todo, spec_of, clock, pass_id)
        result.chunks = sorted([*kept, *new], key=lambda c: c.chunk_id)
        result.verified_now = len(new)
        for res in new:
            if res.status != MATCH:
                log.warning(
                    "chunk %d: %s (%d source rows, %d target rows)",
                    res.chunk_id,
                    res.status,
                    res.source_rows,
                    res.target_rows,
                    extra={**extra, "chunk_id": res.chunk_id},
                )
    result.seconds = time.monotonic() - started
    verified = len(result.chunks) - sum(c.status == ERROR for c in result.chunks)
    if len(result.chunks) < len(chunks):
        result.status = PARTIAL
        result.note = f"{len(chunks) - len(result.chunks)} chunk(s) left for the next call"
        return result
    result.status = compare.table_status(result.chunks)
    if result.verified_now or row.verify_status is None:
        detail = result.detail()
        _record(pg, lambda c: store.mark_table_verified(c, row.key, result.status, detail))
    log.info(
        "verified %s: %s (%d chunks, %d now, %d rows)",
        row.key.source_table,
        result.status,
        verified,
        result.verified_now,
        result.source_rows,
        extra=extra,
    )
    return result


def _connection(sf: Any) -> Any:
    return sf() if callable(sf) else sf


def _spec_of(sf: Any, row: TableRow, point: Snapshot | None) -> Callable[[int], ChecksumSpec]:
    """The spec of each chunk id of the table (an incremental run's delete checks differ)."""
    spec = specs.table_spec(sf, row, point)
    window_spec, delete_spec, delete_from = specs.chunk_specs(spec, row)

    def spec_of(chunk_id: int) -> ChecksumSpec:
        if delete_spec is not None and delete_from is not None and chunk_id >= delete_from:
            return delete_spec
        return window_spec

    return spec_of


def _verify_chunks(
    sf: Any,
    pg: psycopg.Connection[Any],
    row: TableRow,
    todo: list[ChunkRow],
    spec_of: Callable[[int], ChecksumSpec],
    clock: Deadline,
    pass_id: str,
) -> list[ChunkResult]:
    """Verify ``todo`` a unit at a time while the deadline allows; record each chunk."""
    out: list[ChunkResult] = []
    for group_spec, unit in _units(todo, spec_of):
        if not clock.allows(time.monotonic()):
            break
        t0 = time.monotonic()
        ranges = [(c.key.chunk_id, ChunkRange.from_json(c.chunk_range)) for c in unit]
        sums = {} if group_spec.has_json else _group_sums(sf, pg, group_spec, ranges)
        for chunk, (chunk_id, rng) in zip(unit, ranges, strict=True):
            try:
                res = compare.verify_chunk(sf, pg, group_spec, chunk_id, rng, sums.get(chunk_id))
            except (SnowpgError, psycopg.Error) as exc:
                status_schema.rollback_quietly(pg)
                what = f"verifying {row.key.source_table} chunk {chunk_id}"
                res = ChunkResult(chunk_id, ERROR, error=_message(exc, what))
            detail = res.detail() | {
                progress.STAMP_KEY: progress.copy_stamp(chunk),
                progress.PASS_KEY: pass_id,
            }
            _record(
                pg,
                functools.partial(
                    store.mark_chunk_verified, key=chunk.key, status=res.status, detail=detail
                ),
            )
            out.append(res)
        clock.took(time.monotonic() - t0)
    return out


def _units(
    todo: list[ChunkRow], spec_of: Callable[[int], ChecksumSpec]
) -> Iterator[tuple[ChecksumSpec, list[ChunkRow]]]:
    """The chunks in units of work: up to CHUNKS_PER_QUERY chunks of one spec (one checksum
    query per side), or a single chunk when its rows are hashed on the client (JSON)."""
    by_spec: dict[int, tuple[ChecksumSpec, list[ChunkRow]]] = {}
    for c in todo:
        s = spec_of(c.key.chunk_id)
        by_spec.setdefault(id(s), (s, []))[1].append(c)
    for s, chunks in by_spec.values():
        step = 1 if s.has_json else compare.CHUNKS_PER_QUERY
        for i in range(0, len(chunks), step):
            yield s, chunks[i : i + step]


def _group_sums(
    sf: Any, pg: psycopg.Connection[Any], spec: ChecksumSpec, ranges: list[tuple[int, ChunkRange]]
) -> dict[int, compare.Sums]:
    """Checksums of a group of chunks in one query per side; a group that fails is left to
    per-chunk queries, so the error is reported on its chunk."""
    try:
        return compare.checksum_chunks(sf, pg, spec, ranges)
    except (SnowpgError, psycopg.Error) as exc:
        status_schema.rollback_quietly(pg)
        log.warning("checksums of %d chunks in one query failed (%s); one by one", len(ranges), exc)
        return {}


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
