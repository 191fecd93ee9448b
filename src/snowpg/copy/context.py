"""What the workers of one process share: the run, its tables' jobs and strategies, the sinks."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from snowpg.config import Settings
from snowpg.copy.job import TableJob
from snowpg.copy.strategies import CopyStrategies, table_copy
from snowpg.sinks import MetricsSink, ProgressSink
from snowpg.status.rows import TableKey


@dataclass
class WorkerContext:
    settings: Settings
    run_id: Any
    target_database: str
    source_database: str
    source_schema: str
    jobs: Mapping[TableKey, TableJob]
    table_limits: Mapping[TableKey, int]
    deadline: float | None  # time.monotonic() after which no new chunk is claimed
    stop: threading.Event
    progress: ProgressSink
    on_table_chunk_done: Callable[[Any, TableKey], None]
    # Per-chunk metrics; the faces install a publishing sink (snowpg.observe.emf.EmfMetrics).
    metrics: MetricsSink = field(default_factory=MetricsSink)
    # The run's cap on chunk queries in flight over all its processes (snowpg.status.slots);
    # 0: no cap.
    query_slots: int = 0
    # Chunks of each table this process is copying right now; table_limits cap them per process
    # (per-table parallel_threads is a per-invocation setting, as in the existing tool system).
    inflight: dict[TableKey, int] = field(default_factory=dict)
    claim_lock: threading.Lock = field(default_factory=threading.Lock)
    # Set when the run was replaced by a fresh run (its status turned 'failed' under us).
    abandoned: threading.Event = field(default_factory=threading.Event)
    # Tables Snowflake no longer holds at the run's snapshot: none of their chunks is claimed again.
    expired: set[TableKey] = field(default_factory=set)
    # Each table's copy strategies, chosen once when the context is made (snowpg.copy.strategies).
    copies: dict[TableKey, CopyStrategies] = field(init=False)

    def __post_init__(self) -> None:
        self.copies = {key: table_copy(job) for key, job in self.jobs.items()}
