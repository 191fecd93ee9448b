"""Chunk metrics are a sink the faces install: the no-op base and the EMF sink."""

from __future__ import annotations

import io
import json

import pytest

from snowpg.copy.context import WorkerContext
from snowpg.observe import emf
from snowpg.sinks import MetricsSink

CHUNK = {
    "table": "ORDERS",
    "rows": 5,
    "bytes_": 10,
    "seconds": 0.25,
    "retries": 1,
    "run_id": "r-1",
    "chunk_id": 3,
}


def test_the_base_sink_ignores_chunks_and_is_the_workers_default() -> None:
    assert MetricsSink().chunk_copied(**CHUNK) is None  # type: ignore[arg-type,func-returns-value]
    metrics = WorkerContext.__dataclass_fields__["metrics"]
    assert metrics.default_factory is MetricsSink


def test_the_emf_sink_writes_one_line_per_chunk_when_enabled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(emf.LAMBDA_ENV, raising=False)
    monkeypatch.setenv(emf.ENABLE_ENV, "1")
    out = io.StringIO()
    sink: MetricsSink = emf.EmfMetrics(stream=out)
    sink.chunk_copied(**CHUNK)  # type: ignore[arg-type]
    [line] = [json.loads(x) for x in out.getvalue().splitlines()]
    assert line["table"] == "ORDERS" and line["ChunkRows"] == 5 and line["ChunkBytes"] == 10
    assert line["ChunkRetries"] == 1 and line["run_id"] == "r-1" and line["chunk_id"] == 3


def test_the_emf_sink_writes_nothing_outside_lambda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(emf.LAMBDA_ENV, raising=False)
    monkeypatch.delenv(emf.ENABLE_ENV, raising=False)
    out = io.StringIO()
    emf.EmfMetrics(stream=out).chunk_copied(**CHUNK)  # type: ignore[arg-type]
    assert out.getvalue() == ""
