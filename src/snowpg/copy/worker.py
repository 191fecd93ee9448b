"""One worker: claim a chunk, read it from Snowflake, COPY it, mark it done — in one transaction.

The chunk's rows and its ``completed`` status commit together, so a chunk is either fully in the
target and marked done, or absent and claimable again. While the data transaction is open the
chunk's status row stays locked (``lock_claim``), so no other worker can take it over even if the
lease runs out; if this process dies, PostgreSQL rolls the transaction back and frees the row.

A chunk's path: claim it (``_claim``), copy it in one transaction (``_copy_once``: lock its
status row, write it with its table's strategy from :mod:`snowpg.copy.strategies`, mark it
completed, commit), then count and report it (``_copied``) — or retry it while its error is
transient (``_retry_later``) and fail it for good after that (``_fail``). The connections and
their reconnect-with-backoff live in :mod:`snowpg.copy.connections`.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import psycopg

from snowpg.copy import writer
from snowpg.copy.connections import WorkerConnections
from snowpg.copy.context import WorkerContext
from snowpg.copy.job import TableJob, WorkerStats
from snowpg.errors import DataError, SnapshotExpired, SnowpgError, TransientError
from snowpg.logs import redact
from snowpg.model import ChunkRange
from snowpg.postgres import connection, watchdog
from snowpg.snowflake.errors import translate_sf_error
from snowpg.status import store
from snowpg.status.rows import ClaimedChunk

log = logging.getLogger("snowpg.copy")

# Locking our own claimed chunk can meet another worker's momentary claim-scan lock; try again
# this many times, this far apart, before deciding the claim was lost.
LOCK_CLAIM_TRIES = 5
LOCK_CLAIM_PAUSE_S = 0.1
# How often an idle worker looks again for claimable chunks while others are still copying.
IDLE_POLL_S = 0.5


class Worker(WorkerConnections):
    """Copies chunks until none is left, the deadline passes, or ``stop`` is set."""

    def __init__(self, ctx: WorkerContext, worker_id: str) -> None:
        super().__init__(ctx)
        self.worker_id = worker_id
        self.stats = WorkerStats()
        self.deadline_reached = False

    # main loop ---------------------------------------------------------------------------
    def run(self) -> WorkerStats:
        try:
            while not self.ctx.stop.is_set():
                if self.ctx.deadline is not None and time.monotonic() >= self.ctx.deadline:
                    self.deadline_reached = True
                    break
                # Slot first, then claim: a claim's lease never runs while its worker waits.
                if not self._take_query_slot(self.ctx.deadline):
                    self.deadline_reached = not self.ctx.stop.is_set()
                    break
                claim = self._claim()
                if claim is None:
                    self._free_query_slot()
                    if self._others_still_working():
                        time.sleep(IDLE_POLL_S)
                        continue
                    break
                try:
                    self._process(claim)
                finally:
                    self._release_slot(claim)
                    self._free_query_slot()
        finally:
            self.close()
        return self.stats

    def _claim(self) -> ClaimedChunk | None:
        ctx = self.ctx
        with ctx.claim_lock:
            # A limit of 0 keeps a table out of this claim: not selected, or at its thread cap.
            closed = {k: 0 for k, cap in ctx.table_limits.items() if ctx.inflight.get(k, 0) >= cap}
            closed.update({k: 0 for k in ctx.expired})
            claim = self._with_pg_retry(
                lambda conn: store.claim_chunk(
                    conn, ctx.run_id, self.worker_id, ctx.settings.lease_seconds, closed
                ),
                "claiming a chunk",
            )
            if claim is not None:
                ctx.inflight[claim.key.table] = ctx.inflight.get(claim.key.table, 0) + 1
        return claim

    def _release_slot(self, claim: ClaimedChunk) -> None:
        with self.ctx.claim_lock:
            self.ctx.inflight[claim.key.table] = max(
                0, self.ctx.inflight.get(claim.key.table, 1) - 1
            )

    def _others_still_working(self) -> bool:
        """True while a chunk of this process's tables is pending or being copied elsewhere."""
        abandoned, tables = self._with_pg_retry(
            lambda conn: (
                store.run_abandoned(conn, self.ctx.run_id),
                store.table_rows(conn, self.ctx.run_id),
            ),
            "reading table progress",
        )
        self.pg().rollback()
        if abandoned:  # replaced by a fresh run: no chunk of it is claimable
            self.ctx.abandoned.set()
            return False
        for row in tables:
            if row.key not in self.ctx.jobs or self.ctx.table_limits.get(row.key, 1) <= 0:
                continue
            if row.key in self.ctx.expired:
                continue
            if row.total_chunks - row.completed_chunks - row.failed_chunks > 0:
                return True
        return False

    # one chunk ---------------------------------------------------------------------------
    def _process(self, claim: ClaimedChunk) -> None:
        """Copy one claimed chunk, again while its errors are transient; then done or failed."""
        job = self.ctx.jobs.get(claim.key.table)
        if job is None:  # a chunk of a table this process was not asked to copy
            self._with_pg_retry(lambda c: store.release_chunk(c, claim), "releasing a chunk")
            return
        retries = claim.retry_count  # recorded over the run's life, as the status row counts
        # Each claim gets the full budget: a chunk a rerun reopened after it exhausted its
        # retries is retried again, not failed at its first transient error.
        used = 0
        extra = {
            "run_id": self.ctx.run_id,
            "table": job.display_name,
            "chunk_id": claim.key.chunk_id,
        }
        while True:
            if not self._take_query_slot(self._slot_wait_end()):
                self._give_back(claim, extra)
                return
            started = time.monotonic()
            try:
                with watchdog.guard(self.pg(), f"copying {job.display_name}") as guard:
                    result = self._copy_once(claim, job, guard)
            except store.RunAbandoned as exc:
                self._stop_abandoned(exc, extra)
                return
            except (_LostClaim, store.LostClaim):
                self._claim_lost(claim, job, extra)
                return
            except Exception as exc:
                err = self._classify(exc, job, claim)
                self._rollback_quietly()
                message = redact(str(err))
                if isinstance(err, TransientError) and used < self.ctx.settings.max_retry_attempts:
                    used += 1
                    retries = self._retry_later(claim, job, message, retries, used, extra)
                    continue
                self._fail(claim, job, message, extra)
                if isinstance(err, SnapshotExpired):
                    with self.ctx.claim_lock:  # its other chunks would fail the same way
                        self.ctx.expired.add(claim.key.table)
                return
            self._copied(claim, job, result, time.monotonic() - started, retries, extra)
            return

    def _slot_wait_end(self) -> float:
        """How long a worker holding a claim may wait for a query slot: until the run's deadline,
        and half its lease (extended when the claim was made or its retry recorded), so the
        lease never runs out while it waits."""
        end = time.monotonic() + self.ctx.settings.lease_seconds / 2
        return end if self.ctx.deadline is None else min(end, self.ctx.deadline)

    def _give_back(self, claim: ClaimedChunk, extra: dict[str, Any]) -> None:
        """No query slot came free in time (or the process is stopping): the chunk goes back to
        pending for any worker of the run."""
        self._with_pg_retry(lambda c: store.release_chunk(c, claim), "releasing a chunk")
        if self.ctx.deadline is not None and time.monotonic() >= self.ctx.deadline:
            self.deadline_reached = True
        log.info("no Snowflake query slot came free in time; chunk handed back", extra=extra)

    def _stop_abandoned(self, exc: store.RunAbandoned, extra: dict[str, Any]) -> None:
        """The run was replaced by a fresh one: this process stops."""
        self._rollback_quietly()
        self.ctx.abandoned.set()
        self.ctx.stop.set()
        log.warning("%s; this process stops", exc.message, extra=extra)

    def _claim_lost(self, claim: ClaimedChunk, job: TableJob, extra: dict[str, Any]) -> None:
        """Our lock on the chunk failed: it was committed by us already, or taken over."""
        self._rollback_quietly()
        mine = self._with_pg_retry(
            lambda c: store.committed_by(c, claim), "reading a chunk's outcome"
        )
        self._rollback_quietly()
        if mine is not None:
            # An earlier attempt's COMMIT went through but its reply was lost.
            self.stats.chunks_completed += 1
            self.stats.rows += mine
            self.ctx.progress.chunk_completed(job.display_name, mine, 0)
            log.info(
                "chunk was already committed by this worker (the reply to its COMMIT "
                "was lost); not copied again",
                extra=extra,
            )
            self._after_chunk(claim)
            return
        self.stats.lost_claims += 1
        log.info("chunk taken over by another worker; moving on", extra=extra)

    def _retry_later(
        self,
        claim: ClaimedChunk,
        job: TableJob,
        message: str,
        retries: int,
        used: int,
        extra: dict[str, Any],
    ) -> int:
        """Record a transient failure, wait out the backoff; the chunk's retry count after it."""
        before = retries
        retries = self._with_pg_retry(
            lambda conn: store.record_retry(conn, claim, message, self.ctx.settings.lease_seconds),
            "recording a retry",
        )
        # Counted as the status row counts it: not when the claim was gone.
        self.stats.retries += 1 if retries > before else 0
        retries = max(retries, before + 1)
        self.ctx.progress.chunk_retried(job.display_name, claim.key.chunk_id, message)
        log.warning(
            "chunk failed (%s), retry %d of %d after backoff",
            message,
            used,
            self.ctx.settings.max_retry_attempts,
            extra=extra,
        )
        self._sleep_backoff(used - 1)
        return retries

    def _fail(
        self, claim: ClaimedChunk, job: TableJob, message: str, extra: dict[str, Any]
    ) -> None:
        """The chunk failed for good: marked failed; the run goes on with the others."""
        self._with_pg_retry(lambda conn: store.fail_chunk(conn, claim, message), "failing a chunk")
        self.stats.chunks_failed += 1
        self.stats.errors.append(f"{job.display_name} chunk {claim.key.chunk_id}: {message}")
        self.ctx.progress.chunk_failed(job.display_name, claim.key.chunk_id, message)
        log.error("chunk failed for good: %s", message, extra=extra)
        self._after_chunk(claim)

    def _copied(
        self,
        claim: ClaimedChunk,
        job: TableJob,
        result: writer.CopyResult,
        seconds: float,
        retries: int,
        extra: dict[str, Any],
    ) -> None:
        """The chunk is committed: count it, report it to the sinks, maybe finish its table."""
        if claim.planned_rows and result.rows > claim.planned_rows:
            log.warning(
                "chunk %d of %s read %d rows where planning counted %d: the source table "
                "gained rows since it was planned, or its source_filter matches more",
                claim.key.chunk_id,
                job.display_name,
                result.rows,
                claim.planned_rows,
                extra=extra,
            )
        self.stats.chunks_completed += 1
        self.stats.rows += result.rows
        self.stats.bytes += result.bytes
        self.ctx.progress.chunk_completed(job.display_name, result.rows, result.bytes)
        log.debug(
            "chunk copied: %d rows in %.2fs",
            result.rows,
            seconds,
            extra={**extra, "rows": result.rows, "seconds": round(seconds, 3)},
        )
        self.ctx.metrics.chunk_copied(
            table=job.display_name,
            rows=result.rows,
            bytes_=result.bytes,
            seconds=seconds,
            retries=retries,
            run_id=self.ctx.run_id,
            chunk_id=claim.key.chunk_id,
        )
        self._after_chunk(claim)

    def _after_chunk(self, claim: ClaimedChunk) -> None:
        try:
            self._with_pg_retry(
                lambda c: self.ctx.on_table_chunk_done(c, claim.key.table),
                "finishing a table",
                watchdog.INDEX_BUILD_STALL_SECONDS,
            )
        except SnowpgError as exc:
            # The chunk itself is committed; the table is finished again by the run's final sweep.
            log.warning("could not finish table yet: %s", exc)

    def _lock_own_claim(self, conn: psycopg.Connection[Any], claim: ClaimedChunk) -> None:
        """Lock our chunk's status row for the data transaction, or raise _LostClaim.

        Another worker's claim scan may hold the row lock for a few milliseconds (a row it locked
        and then rejected on recheck), so a failed NOWAIT is tried again before giving up.
        """
        for attempt in range(LOCK_CLAIM_TRIES):
            if store.lock_claim(conn, claim, self.worker_id, self.ctx.settings.lease_seconds):
                return
            conn.rollback()
            if attempt + 1 < LOCK_CLAIM_TRIES:
                time.sleep(LOCK_CLAIM_PAUSE_S)
        raise _LostClaim()

    def _copy_once(
        self, claim: ClaimedChunk, job: TableJob, guard: watchdog.Guard
    ) -> writer.CopyResult:
        """In one transaction: lock the chunk, write it with its strategy, mark it done, commit."""
        conn = self.pg()
        started = time.monotonic()
        self._lock_own_claim(conn, claim)
        rng = ChunkRange.from_json(claim.chunk_range)
        strategy = self.ctx.copies[job.key].for_chunk(claim.key.chunk_id)
        result = strategy.copy(conn, self.sf, guard, rng)
        self._free_query_slot_in_txn(conn)  # the chunk's rows are all read from Snowflake
        return self._complete(conn, claim, result, started)

    def _complete(
        self,
        conn: psycopg.Connection[Any],
        claim: ClaimedChunk,
        result: writer.CopyResult,
        started: float,
    ) -> writer.CopyResult:
        store.complete_chunk(
            conn,
            claim,
            rows_copied=result.rows,
            bytes_copied=result.bytes,
            duration_seconds=time.monotonic() - started,
        )
        conn.commit()
        return result

    def _classify(self, exc: BaseException, job: TableJob, claim: ClaimedChunk) -> SnowpgError:
        where = f"table {job.display_name} chunk {claim.key.chunk_id}"
        if isinstance(exc, DataError):
            return DataError(f"{where}: {exc}", table=job.display_name, chunk_id=claim.key.chunk_id)
        if isinstance(exc, psycopg.Error):
            # The PostgreSQL connection is kept unless it is broken (see _reset_pg).
            return connection.translate_pg_error(exc, context=f"writing {where}")
        if isinstance(exc, SnowpgError):
            if isinstance(exc, TransientError):
                self._close_sf()
            return exc
        mod = type(exc).__module__
        if mod.startswith(("snowflake", "requests", "urllib3")) or isinstance(exc, OSError):
            self._close_sf()
            return translate_sf_error(exc, context=f"reading {where}")
        return SnowpgError(f"{where}: unexpected {type(exc).__name__}: {redact(str(exc))}")

    def _rollback_quietly(self) -> None:
        self._reset_pg()
        self._free_query_slot()


class _LostClaim(Exception):
    """The chunk's lease moved to another worker before this one locked it."""
