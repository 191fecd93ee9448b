"""A worker's two connections, PostgreSQL (status and data) and Snowflake, and their retries.

Status operations reconnect with exponential backoff while PostgreSQL is unavailable; a healthy
PostgreSQL connection is kept across chunks, since its backend pid marks the worker's claims as
alive (``snowpg.status.store``).
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg

from snowpg.copy.context import WorkerContext
from snowpg.errors import TransientError
from snowpg.postgres import connection, watchdog
from snowpg.snowflake import session

T = TypeVar("T")

# Longest pause between retries of one chunk; the exponential series is capped here.
MAX_BACKOFF_S = 30.0


class WorkerConnections:
    """Opens each connection on first use and again after it broke."""

    def __init__(self, ctx: WorkerContext) -> None:
        self.ctx = ctx
        self._pg: psycopg.Connection[Any] | None = None
        self._sf: Any = None

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
