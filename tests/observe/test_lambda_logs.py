"""Lambda-style output of a real migration: JSON log lines with context keys, EMF chunk metrics,
and no secret anywhere — even when PostgreSQL's own error message carries one."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from snowpg import logs
from snowpg.config import load_settings
from snowpg.observe import emf
from snowpg.run.migrate import migrate_source
from tests.fixtures.migration import create_mixed_table, make_config, write_config

pytestmark = pytest.mark.integration

KEYS = {"timestamp", "level", "logger", "message", "run_id", "source_name", "table", "chunk_id",
        "aws_request_id"}  # fmt: skip


@pytest.fixture
def lambda_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """JSON log lines into a buffer, as the Lambda handler configures them; restored after."""
    logger = logging.getLogger("snowpg")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "snowpg-worker")
    monkeypatch.delenv(emf.ENABLE_ENV, raising=False)
    buf = io.StringIO()
    logs.configure("DEBUG", json_lines=True, stream=buf)
    try:
        yield buf
    finally:
        logs.clear_context()
        logger.handlers[:] = saved[0]
        logger.setLevel(saved[1])
        logger.propagate = saved[2]


def test_lambda_log_lines_are_json_with_context_and_no_secrets(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
    lambda_logging: io.StringIO,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pg_password = server_env["POSTGRES_PASSWORD"]
    sf_password = server_env["SNOWFLAKE_PASSWORD"]
    assert len(sf_password) >= 4
    secrets = [s for s in (pg_password, sf_password) if s]
    create_mixed_table(sf_conn, "ORDERS", 3000)
    with psycopg.connect(pg_dsn) as conn:
        # A permanent failure whose PostgreSQL message quotes a password, on chunk 2 only.
        conn.execute(
            'CREATE TABLE public.orders (id numeric(38,0), "Payer Id" varchar(30), '
            "amount numeric(12,2), qty numeric(38,0), ratio double precision, flag boolean, "
            "d date, ts timestamp, tsz timestamptz, doc jsonb, blob bytea, note text)"
        )
        conn.execute(
            "CREATE FUNCTION public.leak() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF NEW.id = 1500 THEN RAISE EXCEPTION 'leaked %', '{sf_password}' "
            "USING ERRCODE = '23514'; END IF; RETURN NEW; END $$"
        )
        conn.execute(
            "CREATE TRIGGER leak BEFORE INSERT ON public.orders FOR EACH ROW "
            "EXECUTE FUNCTION public.leak()"
        )
    cfg = write_config(
        tmp_path / "c.json",
        make_config(sf_database, pg_database, [{"source": "ORDERS"}], batch_size=1000),
    )
    settings = load_settings(cfg)
    logs.register_secrets(settings.secrets())
    source = settings.sources[0]
    logs.set_context(aws_request_id="0f3c-req-42", source_name=source.source_name)

    summary = migrate_source(settings, source, metrics=emf.EmfMetrics())  # as the handler does
    logging.getLogger("snowpg.test").warning(
        "connecting to postgresql://snowpg:%s@db:5432/x password=%s", sf_password, sf_password
    )

    assert summary.exit_code == 1  # chunk 2 failed for good; chunks 1 and 3 were copied
    lines = [json.loads(line) for line in lambda_logging.getvalue().splitlines()]
    assert len(lines) >= 5
    for line in lines:
        assert set(line) >= KEYS, line
        assert line["aws_request_id"] == "0f3c-req-42" and line["source_name"] == "src"
        assert line["level"] in ("DEBUG", "INFO", "WARNING", "ERROR")
    chunk_lines = [x for x in lines if x["chunk_id"] is not None]
    assert {x["table"] for x in chunk_lines} == {"ORDERS"}
    assert {x["run_id"] for x in chunk_lines} == {str(summary.run_id)}
    failed = [x for x in chunk_lines if x["level"] == "ERROR"]
    assert [x["chunk_id"] for x in failed] == [2] and "leaked ***" in failed[0]["message"]
    copied = [x for x in chunk_lines if x["message"].startswith("chunk copied")]
    assert sorted(x["chunk_id"] for x in copied) == [1, 3] and all(x["rows"] for x in copied)

    # EMF: one metric line per copied chunk on stdout, as CloudWatch Logs expects it.
    out = capsys.readouterr().out
    metrics = [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]
    assert sorted(m["chunk_id"] for m in metrics) == [1, 3]
    for m in metrics:
        [directive] = m["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "snowpg"
        assert ["source_name", "table"] in directive["Dimensions"]
        names = {d["Name"] for d in directive["Metrics"]}
        assert names == {"ChunkRows", "ChunkBytes", "ChunkSeconds", "ChunkRetries"}
        assert all(n in m for n in names)  # every declared metric has a value
        assert m["source_name"] == "src" and m["table"] == "ORDERS" and m["ChunkBytes"] > 0
        assert m["ChunkRetries"] == 0 and m["run_id"] == str(summary.run_id)
    assert sum(m["ChunkRows"] for m in metrics) == 2000

    everything = lambda_logging.getvalue() + out
    for secret in secrets:
        assert secret not in everything
    with psycopg.connect(pg_dsn) as conn:
        errors = conn.execute(
            "SELECT string_agg(coalesce(error_message, ''), ' ') FROM migration_status.migration_chunk_status"
        ).fetchone()
    assert errors is not None and sf_password not in errors[0] and "leaked ***" in errors[0]


def test_emf_is_off_outside_lambda_unless_enabled() -> None:
    assert not emf.enabled({})
    assert emf.enabled({"AWS_LAMBDA_FUNCTION_NAME": "f"})
    assert emf.enabled({"SNOWPG_EMF": "1"})
    assert not emf.enabled({"AWS_LAMBDA_FUNCTION_NAME": "f", "SNOWPG_EMF": "0"})
    line = emf.chunk_metric(
        source_name="s", table="T", rows=5, bytes_=10, seconds=0.5, retries=1, timestamp_ms=7
    )
    assert line["_aws"]["Timestamp"] == 7 and line["ChunkRows"] == 5
