"""A worker's two connections, PostgreSQL (status and data) and Snowflake, and their retries.

Status operations reconnect with exponential backoff while PostgreSQL is unavailable; a healthy
PostgreSQL connection is kept across chunks, since its backend pid marks the worker's claims as
alive (``snowpg.status.store``). The PostgreSQL session also holds the worker's query slot while
it reads a chunk from Snowflake (:mod:`snowpg.status.slots`): if the session ends, so does the
slot, and the worker takes one again before its next query.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
from psycopg import pq

from snowpg.copy.context import WorkerContext
from snowpg.errors import TransientError
from snowpg.postgres import connection, watchdog
from snowpg.snowflake import session
from snowpg.status import slots

T = TypeVar("T")

# Longest pause between retries of one chunk; the exponential series is capped here.
MAX_BACKOFF_S = 30.0
# A worker waiting for a query slot tries again after about this long (0.5-1.5x, jittered).
SLOT_POLL_S = 0.2


class WorkerConnections:
    """Opens each connection on first use and again after it broke."""

    def __init__(self, ctx: WorkerContext) -> None:
        self.ctx = ctx
        self._pg: psycopg.Connection[Any] | None = None
        self._sf: Any = None
        # The query slot this worker holds, and the PostgreSQL connection whose session holds it.
        self._slot: int | None = None
        self._slot_conn: psycopg.Connection[Any] | None = None

    # connections -------------------------------------------------------------------------
    def pg(self) -> psycopg.Connection[Any]:
        if self._pg is None or self._pg.closed or self._pg.broken:
            self._close_pg()
            self._pg = connection.connect(
                self.ctx.settings.postgres,
                self.ctx.target_database,
                application_name="snowpg-worker",
            )
        return self._pg

    def sf(self) -> Any:
        if self._sf is None or self._sf.is_closed():
            self._sf = session.connect(
                self.ctx.settings.snowflake,
                database=self.ctx.source_database,
                schema=self.ctx.source_schema,
            )
        return self._sf

    def _close_pg(self) -> None:
        if self._pg is not None:
            with contextlib.suppress(Exception):
                self._pg.close()
            self._pg = None

    def _close_sf(self) -> None:
        if self._sf is not None:
            with contextlib.suppress(Exception):
                self._sf.close()
            self._sf = None

    def close(self) -> None:
        self._close_pg()
        self._close_sf()

    # query slots --------------------------------------------------------------------------
    def _holds_query_slot(self) -> bool:
        conn = self._slot_conn
        return (
            self._slot is not None
            and conn is not None
            and conn is self._pg
            and not conn.closed
            and not conn.broken
        )

    def _take_query_slot(self, until: float | None) -> bool:
        """Hold one of the run's query slots, waiting for one with no transaction open; True at
        once when the run has no cap. False when ``until`` (``time.monotonic()``) passed or the
        process is stopping (Ctrl-C) before a slot was free."""
        ctx = self.ctx
        if ctx.query_slots <= 0 or self._holds_query_slot():
            return True
        self._slot = self._slot_conn = None
        start = random.randrange(ctx.query_slots)  # spreads the workers over the slots
        while True:
            conn, slot = self._with_pg_retry(
                lambda c: (c, slots.try_take(c, ctx.run_id, ctx.query_slots, start)),
                "taking a Snowflake query slot",
            )
            if slot is not None:
                self._slot, self._slot_conn = slot, conn
                return True
            pause = SLOT_POLL_S * (0.5 + random.random())
            if until is not None:
                left = until - time.monotonic()
                if left <= 0:
                    return False
                pause = min(pause, left)
            if ctx.stop.wait(pause):
                return False

    def _free_query_slot_in_txn(self, conn: psycopg.Connection[Any]) -> None:
        """Give the slot back inside the open data transaction (its query's rows are all read);
        errors propagate like any other of the transaction."""
        if self._holds_query_slot() and self._slot_conn is conn and self._slot is not None:
            slots.give_back(conn, self.ctx.run_id, self._slot)
        self._slot = self._slot_conn = None

    def _free_query_slot(self) -> None:
        """Give the slot back, if held; quiet (closing the session frees it too)."""
        conn, slot = self._slot_conn, self._slot
        held = self._holds_query_slot()
        self._slot = self._slot_conn = None
        if not held or conn is None or slot is None:
            return  # no slot, or its session ended and took the slot with it
        try:
            if conn.info.transaction_status == pq.TransactionStatus.INERROR:
                conn.rollback()
            if conn.info.transaction_status == pq.TransactionStatus.IDLE:
                slots.give_back_now(conn, self.ctx.run_id, slot)
            else:
                slots.give_back(conn, self.ctx.run_id, slot)
        except psycopg.Error:
            self._close_pg()

    def _with_pg_retry(
        self,
        fn: Callable[[psycopg.Connection[Any]], T],
        what: str,
        stall_seconds: float | None = None,
    ) -> T:
        """Run a status operation, reconnecting with backoff when PostgreSQL is unavailable."""
        attempts = self.ctx.settings.max_retry_attempts
        for attempt in range(attempts + 1):
            try:
                conn = self.pg()
                with watchdog.guard(conn, what, stall_seconds):
                    return fn(conn)
            except psycopg.Error as exc:
                err = connection.translate_pg_error(exc, context=what)
                self._reset_pg()
                if not isinstance(err, TransientError) or attempt >= attempts:
                    raise err from exc
                self._sleep_backoff(attempt)
            except TransientError:
                self._reset_pg()
                if attempt >= attempts:
                    raise
                self._sleep_backoff(attempt)
            except BaseException:
                self._reset_pg()
                raise
        raise AssertionError("unreachable")

    def _reset_pg(self) -> None:
        """Roll back; keep a healthy connection (its backend pid marks our claims as alive)."""
        if self._pg is None:
            return
        if self._pg.closed or self._pg.broken:
            self._close_pg()
            return
        try:
            self._pg.rollback()
        except psycopg.Error:
            self._close_pg()

    def _sleep_backoff(self, attempt: int) -> None:
        base = self.ctx.settings.retry_backoff_seconds
        delay = min(MAX_BACKOFF_S, base * (2**attempt))
        time.sleep(delay * (0.5 + random.random() / 2))
