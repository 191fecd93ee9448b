"""Where the run reports what happens to its chunks. The faces install a sink (the CLI draws
progress bars from it); the run and its workers only call it, from worker threads."""

from __future__ import annotations


class ProgressSink:
    """Receives progress events; this base class ignores them. Called from worker threads."""

    def chunk_completed(self, table: str, rows: int, bytes_: int) -> None: ...

    def chunk_failed(self, table: str, chunk_id: int, error: str) -> None: ...

    def chunk_retried(self, table: str, chunk_id: int, error: str) -> None: ...
