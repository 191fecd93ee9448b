"""Bare fakesnow's NULL timestamps, documented against the emulator itself (the stand-in that the
rest of the suite uses sends NULL, as the service does: test_type_matrix.py)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from typing import Any

import pytest

pytestmark = pytest.mark.integration

EPOCH_NAIVE = dt.datetime(1970, 1, 1)


_EMULATOR_PROBE = """
import json, sys
import snowflake.connector
conn = snowflake.connector.connect(user="u", password="p", account="fakesnow", host="localhost",
    port=int(sys.argv[1]), protocol="http", network_timeout=60,
    session_parameters={"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False})
cur = conn.cursor()
for q in ("CREATE DATABASE IF NOT EXISTS TSN", "CREATE SCHEMA IF NOT EXISTS TSN.PUBLIC",
          "USE SCHEMA TSN.PUBLIC",
          "CREATE OR REPLACE TABLE TSNULL (ID INT, TS TIMESTAMP_NTZ, TM TIME, D DATE)",
          "INSERT INTO TSNULL (ID) VALUES (1)", "SELECT TS, TM, D, TS IS NULL FROM TSNULL"):
    cur.execute(q)
b = list(cur.fetch_arrow_batches())[0]
print(json.dumps([[b.column(i).null_count, str(b.column(i).to_pylist()[0])] for i in range(4)]))
"""


def test_emulator_null_timestamps_come_from_the_wire_not_from_snowpg(
    plain_fakesnow_server: Any,
) -> None:
    """Bare fakesnow (on purpose: this documents the emulator, which the stand-in corrects): the
    connector's Arrow for a NULL TIMESTAMP from it has no null, the epoch is the emulator's. A NULL
    TIME or DATE (no struct on the wire) arrives as a real Arrow null. Read with the fakesnow
    server's own environment (connector 4.x): connector 5.x cannot log in to bare fakesnow, which
    sends no master token."""
    from snowpg.demo.fakesnow_env import fakesnow_python, server_env

    out = subprocess.run(
        [str(fakesnow_python()), "-c", _EMULATOR_PROBE, str(plain_fakesnow_server.port)],
        env=server_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    (ts_nulls, ts), (tm_nulls, _), (d_nulls, _), (_, is_null) = json.loads(out.stdout)
    assert is_null == "True"
    assert ts_nulls == 0 and ts == str(EPOCH_NAIVE)  # the emulator bug
    assert tm_nulls == 1 and d_nulls == 1
