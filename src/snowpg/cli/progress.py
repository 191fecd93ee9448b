"""Progress display for ``snowpg migrate``: bars on a terminal, plain log lines otherwise."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from snowpg.sinks import ProgressSink

log = logging.getLogger("snowpg.progress")

# Plain (non-terminal) progress logs at most one line per table in this many seconds.
PLAIN_INTERVAL_S = 5.0


class RowsColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        total = f"{int(task.total):,}" if task.total else "?"
        return Text(f"{int(task.completed):,}/{total} rows", style="progress.download")


class RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} rows/s" if speed else "- rows/s", style="progress.data.speed")


class TableProgress:
    """Per-table totals shared by both displays."""

    def __init__(self, estimated: int, done: int) -> None:
        self.estimated = estimated
        self.done = done
        self.failed_chunks = 0
        self.retries = 0


class BarsProgress(ProgressSink):
    """A rich progress bar per table (rows, rows/s, ETA)."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description}", justify="left"),
            BarColumn(bar_width=30),
            TextColumn("{task.percentage:>5.1f}%"),
            RowsColumn(),
            RateColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[note]}", style="yellow"),
            console=console,
            transient=False,
        )
        self.tasks: dict[str, TaskID] = {}
        self.tables: dict[str, TableProgress] = {}
        self._lock = threading.Lock()

    def add_table(self, name: str, estimated: int, done: int) -> None:
        with self._lock:
            self.tables[name] = TableProgress(estimated, done)
            self.tasks[name] = self.progress.add_task(
                name, total=max(estimated, done, 1), completed=done, note=""
            )

    def __enter__(self) -> BarsProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.stop()

    def chunk_completed(self, table: str, rows: int, bytes_: int) -> None:
        with self._lock:
            t = self.tables.get(table)
            task = self.tasks.get(table)
            if t is None or task is None:
                return
            t.done += rows
            total = max(t.estimated, t.done, 1)
            self.progress.update(task, completed=t.done, total=total)

    def chunk_failed(self, table: str, chunk_id: int, error: str) -> None:
        with self._lock:
            t = self.tables.get(table)
            if t is None:
                return
            t.failed_chunks += 1
            self.progress.update(self.tasks[table], note=f"{t.failed_chunks} chunk(s) failed")

    def chunk_retried(self, table: str, chunk_id: int, error: str) -> None:
        with self._lock:
            t = self.tables.get(table)
            if t is None:
                return
            t.retries += 1
            self.progress.update(
                self.tasks[table], note=f"{t.retries} retr{'y' if t.retries == 1 else 'ies'}"
            )

    def finish(self) -> None:
        with self._lock:
            for name, task in self.tasks.items():
                t = self.tables[name]
                self.progress.update(task, total=max(t.done, 1) if t.failed_chunks == 0 else None)


class PlainProgress(ProgressSink):
    """Log lines for logs and pipes: one line per table every few seconds and at each failure."""

    def __init__(self) -> None:
        self.tables: dict[str, TableProgress] = {}
        self._last: dict[str, float] = {}
        self._start = time.monotonic()
        self._lock = threading.Lock()

    def add_table(self, name: str, estimated: int, done: int) -> None:
        self.tables[name] = TableProgress(estimated, done)

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def chunk_completed(self, table: str, rows: int, bytes_: int) -> None:
        with self._lock:
            t = self.tables.get(table)
            if t is None:
                return
            t.done += rows
            now = time.monotonic()
            if now - self._last.get(table, 0.0) < PLAIN_INTERVAL_S and t.done < t.estimated:
                return
            self._last[table] = now
            rate = t.done / max(now - self._start, 1e-6)
        log.info(
            "%s: %s/%s rows (%.0f rows/s)",
            table,
            f"{t.done:,}",
            f"{t.estimated:,}",
            rate,
            extra={"table": table},
        )

    def chunk_failed(self, table: str, chunk_id: int, error: str) -> None:
        log.error("%s: chunk %d failed: %s", table, chunk_id, error, extra={"table": table})

    def chunk_retried(self, table: str, chunk_id: int, error: str) -> None:
        return None

    def finish(self) -> None:
        return None
