"""Chunk metrics as CloudWatch Embedded Metric Format (EMF) lines.

An EMF line is a JSON log line whose ``_aws`` member tells CloudWatch Logs to extract metrics from
it; in Lambda, anything written to stdout becomes such a log event, so dashboards and alarms need
no agent and no extra API call. Metrics are emitted when running in Lambda
(``AWS_LAMBDA_FUNCTION_NAME`` is set) or when ``SNOWPG_EMF=1``; elsewhere nothing is written.

Namespace ``snowpg``; dimensions ``[source_name]`` and ``[source_name, table]``; metrics
``ChunkRows`` (Count), ``ChunkBytes`` (Bytes), ``ChunkSeconds`` (Seconds), ``ChunkRetries``
(Count). ``run_id`` and ``chunk_id`` ride along as properties (searchable, not dimensions: a
dimension per run would create a new metric per run).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from typing import Any, TextIO

from snowpg import logs
from snowpg.sinks import MetricsSink

NAMESPACE = "snowpg"
ENABLE_ENV = "SNOWPG_EMF"
LAMBDA_ENV = "AWS_LAMBDA_FUNCTION_NAME"

METRICS = (
    ("ChunkRows", "Count"),
    ("ChunkBytes", "Bytes"),
    ("ChunkSeconds", "Seconds"),
    ("ChunkRetries", "Count"),
)

# Worker threads share stdout; one lock keeps each JSON line whole.
_write_lock = threading.Lock()


def enabled(env: dict[str, str] | None = None) -> bool:
    """True in Lambda, or when ``SNOWPG_EMF`` is 1/true/yes; ``SNOWPG_EMF=0`` turns it off."""
    env = dict(os.environ) if env is None else env
    flag = env.get(ENABLE_ENV, "").strip().lower()
    if flag in ("0", "false", "no", "off"):
        return False
    return flag in ("1", "true", "yes", "on") or bool(env.get(LAMBDA_ENV))


def chunk_metric(
    *,
    source_name: str,
    table: str,
    rows: int,
    bytes_: int,
    seconds: float,
    retries: int,
    run_id: Any = None,
    chunk_id: int | None = None,
    timestamp_ms: int | None = None,
) -> dict[str, Any]:
    """The EMF object for one completed chunk."""
    return {
        "_aws": {
            "Timestamp": timestamp_ms if timestamp_ms is not None else int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [["source_name"], ["source_name", "table"]],
                    "Metrics": [{"Name": n, "Unit": u} for n, u in METRICS],
                }
            ],
        },
        "source_name": source_name,
        "table": table,
        "ChunkRows": rows,
        "ChunkBytes": bytes_,
        "ChunkSeconds": round(seconds, 3),
        "ChunkRetries": retries,
        "run_id": str(run_id) if run_id is not None else None,
        "chunk_id": chunk_id,
    }


def emit_chunk(
    *,
    table: str,
    rows: int,
    bytes_: int,
    seconds: float,
    retries: int,
    run_id: Any = None,
    chunk_id: int | None = None,
    source_name: str | None = None,
    stream: TextIO | None = None,
) -> bool:
    """Write one EMF line for a completed chunk if metrics are enabled; True if written.

    ``source_name`` defaults to the one bound with :func:`snowpg.logs.set_context`.
    """
    if not enabled():
        return False
    name = source_name or str(logs.get_context().get("source_name") or "unknown")
    line = json.dumps(
        chunk_metric(
            source_name=name,
            table=table,
            rows=rows,
            bytes_=bytes_,
            seconds=seconds,
            retries=retries,
            run_id=run_id,
            chunk_id=chunk_id,
        ),
        default=str,
    )
    out = stream or sys.stdout
    with _write_lock:
        out.write(line + "\n")
        out.flush()
    return True


class EmfMetrics(MetricsSink):
    """The metrics sink that writes each copied chunk as one EMF line (see :func:`emit_chunk`).

    As :func:`emit_chunk`, it writes only in Lambda or with ``SNOWPG_EMF=1``, and to ``stream``
    (stdout when None) when it does.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

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
    ) -> None:
        emit_chunk(
            table=table,
            rows=rows,
            bytes_=bytes_,
            seconds=seconds,
            retries=retries,
            run_id=run_id,
            chunk_id=chunk_id,
            stream=self._stream,
        )
