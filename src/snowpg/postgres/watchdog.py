"""Bound every wait on PostgreSQL: a connection that makes no progress for too long is cut.

TCP keepalives and ``tcp_user_timeout`` (snowpg.postgres.connection) catch a peer that vanished
from the network. They do not catch a server that keeps the TCP connection but stops answering
(a frozen host, a stopped backend, a storage stall): the kernel still acknowledges, and libpq waits
forever. The watchdog does: a guarded operation that sees no progress for ``stall_seconds``
has its socket shut down, so the blocked call fails at once with a connection error, which the
worker treats as transient (roll back, reconnect, retry with backoff).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

log = logging.getLogger("snowpg.postgres.watchdog")

T = TypeVar("T")

# A chunk's PostgreSQL work (claim, COPY of one Arrow batch, commit) takes seconds; five minutes
# without progress means the server stopped answering. SNOWPG_PG_STALL_SECONDS overrides it.
DEFAULT_STALL_SECONDS = 300.0
# Finishing a table builds its key and restored indexes: one statement that reports nothing for
# as long as the sort of the whole table takes (minutes for 10^8 rows), so it gets longer.
INDEX_BUILD_STALL_SECONDS = 3600.0
_CHECK_EVERY_S = 0.5


def stall_seconds() -> float:
    text = os.environ.get("SNOWPG_PG_STALL_SECONDS", "").strip()
    try:
        return float(text) if text else DEFAULT_STALL_SECONDS
    except ValueError:
        return DEFAULT_STALL_SECONDS


@dataclass
class Guard:
    """One guarded operation on one connection; :meth:`kick` records progress."""

    conn: Any
    seconds: float
    what: str
    deadline: float = 0.0
    fired: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def kick(self) -> None:
        with self._lock:
            self.deadline = time.monotonic() + self.seconds

    def kicking(self, items: Iterator[T]) -> Iterator[T]:
        """``items``, recording progress as each one arrives."""
        for item in items:
            self.kick()
            yield item
            del item  # a batch of a chunk is not held while the next one is read


class _Watchdog:
    def __init__(self) -> None:
        self._by_id: dict[int, Guard] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, guard: Guard) -> None:
        with self._lock:
            self._by_id[id(guard)] = guard
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._watch, name="snowpg-pg-watchdog", daemon=True
                )
                self._thread.start()

    def remove(self, guard: Guard) -> None:
        with self._lock:
            self._by_id.pop(id(guard), None)

    def _watch(self) -> None:
        while True:
            time.sleep(_CHECK_EVERY_S)
            now = time.monotonic()
            with self._lock:
                due = [g for g in self._by_id.values() if not g.fired and now >= g.deadline]
            for guard in due:
                guard.fired = True
                _cut(guard)


_watchdog = _Watchdog()


def _cut(guard: Guard) -> None:
    log.warning(
        "PostgreSQL made no progress for %.0fs while %s; cutting the connection to retry",
        guard.seconds,
        guard.what,
    )
    with contextlib.suppress(Exception):
        fd = guard.conn.fileno()
        # A duplicate of libpq's socket: shutdown() acts on the connection both share, and
        # closing the duplicate leaves libpq's own descriptor for libpq to close.
        with socket.socket(fileno=os.dup(fd)) as sock:
            sock.shutdown(socket.SHUT_RDWR)


@contextlib.contextmanager
def guard(conn: Any, what: str, seconds: float | None = None) -> Iterator[Guard]:
    """Guard the operations on ``conn`` in the block; progress is recorded with ``kick()``."""
    g = Guard(conn, seconds if seconds is not None else stall_seconds(), what)
    g.kick()
    _watchdog.add(g)
    try:
        yield g
    finally:
        _watchdog.remove(g)
