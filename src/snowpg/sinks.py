"""Where the run reports what happens to its chunks. The faces install a sink (the CLI draws
progress bars from a ``ProgressSink``, Lambda publishes a ``MetricsSink``'s chunk metrics); the
run and its workers only call them, from worker threads."""

from __future__ import annotations

from typing import Any


class ProgressSink:
    """Receives progress events; this base class ignores them. Called from worker threads."""

    def chunk_completed(self, table: str, rows: int, bytes_: int) -> None: ...

    def chunk_failed(self, table: str, chunk_id: int, error: str) -> None: ...

    def chunk_retried(self, table: str, chunk_id: int, error: str) -> None: ...


class MetricsSink:
    """Receives one measurement per copied chunk; this base class ignores them.

    A face installs one that publishes them (CloudWatch EMF lines: ``snowpg.observe.emf``).
    Called from worker threads.
    """

    def chunk_copied(
        self,
        *,
        table: str,
        rows: int,
        bytes_: int,
        seconds: float,
        retries: int,
        run_id: Any,
        chunk_id: int,
    ) -> None: ...
