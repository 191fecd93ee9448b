"""How one chunk's rows get into the target: one strategy per chunk kind, chosen once per table.

* :class:`CopyIntoTarget`: a full load (or an incremental one into an empty target) COPYs the
  chunk straight into the target table;
* :class:`StageAndMerge`: an incremental chunk is COPYed into a staging table and merged into the
  target by its keys (:mod:`snowpg.copy.upsert`);
* :class:`DeleteCheck`: a delete-check chunk of an incremental table removes (or flags) the
  target rows of its key range the source no longer has.

:func:`table_copy` picks a table's strategies from its :class:`~snowpg.copy.job.TableJob`; the
worker asks the result for the strategy of each chunk it claimed. A strategy runs inside the
chunk's transaction, after the worker locked the chunk's status row, and neither commits nor rolls
back: the worker commits the rows together with the chunk's ``completed`` mark.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import psycopg

from snowpg.copy import binary_plan, upsert, writer
from snowpg.copy.binary_plan import CopyEncoding, EncodingChoice
from snowpg.copy.job import TableJob
from snowpg.model import ChunkRange
from snowpg.postgres import ddl, introspect, watchdog
from snowpg.snowflake import reader, statements
from snowpg.status import keyreport, store

log = logging.getLogger("snowpg.copy")

# Opens (or reuses) the worker's Snowflake connection; called when the chunk is read.
SnowflakeConnect = Callable[[], Any]


class ChunkCopy(Protocol):
    """Writes one chunk into the target in the caller's open transaction."""

    def copy(
        self,
        conn: psycopg.Connection[Any],
        snowflake: SnowflakeConnect,
        guard: watchdog.Guard,
        rng: ChunkRange,
    ) -> writer.CopyResult: ...


class _RowsCopy:
    """Reads a chunk's rows from Snowflake and COPYs them, in the table's copy encoding."""

    def __init__(self, job: TableJob) -> None:
        self.job = job
        self._lock = threading.Lock()
        self._encoding: EncodingChoice | None = None

    def copy(
        self,
        conn: psycopg.Connection[Any],
        snowflake: SnowflakeConnect,
        guard: watchdog.Guard,
        rng: ChunkRange,
    ) -> writer.CopyResult:
        job = self.job
        query, params = statements.select_chunk_sql(
            job.source, job.source_columns, job.source_filter, rng
        )
        table_encoding = self.encoding(conn)
        schema, table = self.copy_into(conn)
        copy_stmt = ddl.copy_from_stdin(
            schema, table, job.target_columns, table_encoding.encoding.value
        )
        batches = guard.kicking(reader.read_chunk(snowflake(), query, params))
        with conn.cursor() as cur:
            result = writer.write_batches(
                cur,
                copy_stmt,
                batches,
                nul_policy=job.nul_policy,
                json_columns=job.json_columns,
                encoding=table_encoding.encoding,
                binary_kinds=table_encoding.kinds or (),
            )
        if result.nul_fixed:  # counted in the chunk's transaction, so never twice on a retry
            store.add_nul_fixed(conn, job.key, result.nul_fixed)
        self.after_copy(conn)
        return result

    def copy_into(self, conn: psycopg.Connection[Any]) -> tuple[str, str]:
        """The table the chunk's COPY writes into."""
        return self.job.target_schema, self.job.target_table

    def after_copy(self, conn: psycopg.Connection[Any]) -> None:
        """What follows the COPY in the chunk's transaction (nothing for a plain COPY)."""

    def encoding(self, conn: psycopg.Connection[Any]) -> EncodingChoice:
        """The table's copy encoding (binary encoders from the target column types), planned once.

        A table with a column binary COPY cannot write, or with ``copy_format`` "csv", is copied
        with CSV, and the log says why.
        """
        job = self.job
        with self._lock:
            known = self._encoding
        if known is not None:
            return known
        if job.copy_format == "csv":
            plan = EncodingChoice.csv('copy_format is "csv"')
        else:
            plan = binary_plan.plan_kinds(_column_pairs(conn, job))
        with self._lock:
            if self._encoding is None:
                if plan.encoding is CopyEncoding.CSV:
                    extra = {"table": job.display_name}
                    if job.copy_format == "csv":
                        msg = 'table %s is copied with CSV COPY (copy_format "csv")'
                        log.info(msg, job.display_name, extra=extra)
                    else:
                        msg = "table %s is copied with CSV COPY instead of binary: %s"
                        log.warning(msg, job.display_name, plan.reason, extra=extra)
                self._encoding = plan
            return self._encoding


class CopyIntoTarget(_RowsCopy):
    """COPY the chunk's rows straight into the target table."""


class StageAndMerge(_RowsCopy):
    """COPY the chunk's rows into a staging table, then merge them into the target by key."""

    def __init__(self, job: TableJob, spec: upsert.UpsertSpec) -> None:
        super().__init__(job)
        self.spec = spec

    def copy_into(self, conn: psycopg.Connection[Any]) -> tuple[str, str]:
        return upsert.copy_target(conn, self.spec, self.job.target_schema, self.job.target_table)

    def after_copy(self, conn: psycopg.Connection[Any]) -> None:
        job = self.job
        dropped = upsert.drop_duplicates(conn, self.spec)
        if dropped.extra_rows:  # in the chunk's transaction: counted once, whatever retries
            wm = self.spec.watermark_target
            store.add_metadata_counts(
                conn,
                job.key,
                "deduplicated",
                {"key_values": dropped.key_values, "dropped_rows": dropped.extra_rows},
                {"columns": list(self.spec.target_keys), "rule": keyreport.keep_rule(wm)},
            )
            log.warning(
                "%s: %d staged row(s) shared an upsert key with another (Snowflake does not "
                "enforce keys); kept one per key (%s)",
                job.display_name,
                dropped.extra_rows,
                keyreport.keep_rule(wm),
                extra={"table": job.display_name},
            )
        upsert.merge_chunk(conn, self.spec, job.target_schema, job.target_table, job.target_columns)


@dataclass(frozen=True)
class DeleteCheck:
    """Remove (or flag) the target rows of the chunk's key range that the source no longer has."""

    job: TableJob
    spec: upsert.UpsertSpec

    def copy(
        self,
        conn: psycopg.Connection[Any],
        snowflake: SnowflakeConnect,
        guard: watchdog.Guard,
        rng: ChunkRange,
    ) -> writer.CopyResult:
        job = self.job
        return upsert.delete_chunk(
            conn, snowflake(), self.spec, job.source, job.target_schema, job.target_table, rng
        )


@dataclass(frozen=True)
class CopyStrategies:
    """The strategies of one table's chunks: its rows' strategy and, maybe, its delete checks."""

    rows: ChunkCopy
    delete_check: ChunkCopy | None = None
    delete_from: int | None = None  # chunk ids from here on are delete checks

    def for_chunk(self, chunk_id: int) -> ChunkCopy:
        if self.delete_check is None or self.delete_from is None or chunk_id < self.delete_from:
            return self.rows
        return self.delete_check


def table_copy(job: TableJob) -> CopyStrategies:
    """Choose a table's strategies, once: plain COPY, or staging + merge and delete checks."""
    spec = job.upsert
    if spec is None:
        return CopyStrategies(CopyIntoTarget(job))
    rows: ChunkCopy = StageAndMerge(job, spec) if spec.merges else CopyIntoTarget(job)
    if spec.delete_from is None:
        return CopyStrategies(rows)
    return CopyStrategies(rows, DeleteCheck(job, spec), spec.delete_from)


def _column_pairs(conn: psycopg.Connection[Any], job: TableJob) -> list[binary_plan.ColumnPair]:
    """Each loaded column with its Snowflake type and its target's PostgreSQL type."""
    target = introspect.table_columns(conn, job.target_schema, job.target_table) or []
    pg_types = {c.name: c.pg_type for c in target}
    pairs = []
    for src_name, tgt_name in zip(job.source_columns, job.target_columns, strict=True):
        col = job.source.column(src_name)
        pairs.append(
            binary_plan.ColumnPair(
                name=tgt_name,
                source_type=col.data_type if col is not None else "",
                source_scale=col.scale if col is not None else None,
                pg_type=pg_types.get(tgt_name, "missing"),
            )
        )
    return pairs
