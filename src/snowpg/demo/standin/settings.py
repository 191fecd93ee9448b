"""What the stand-in simulates, read from ``SNOWPG_STANDIN_*`` environment variables.

All durations are *simulated* seconds; ``time_scale`` real seconds elapse per simulated second, so
a test can hold a query for "301 s" in 3 real seconds. A test changes them at run time through the
stand-in's ``POST /standin/control`` endpoint (see :mod:`snowpg.demo.standin.control`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

# The service answers a query-request after at most ~45 s with "query in progress" (333333)
# and the connector then polls the result URL (connector network.py, QUERY_IN_PROGRESS_CODE).
IN_PROGRESS_AFTER_S = 45.0
# Snowflake's default STATEMENT_TIMEOUT_IN_SECONDS is two days.
DEFAULT_STATEMENT_TIMEOUT_S = 172800.0


@dataclass
class StandinSettings:
    latency_s: float = 0.0  # per query: compilation + queueing
    execution_s: float = 0.0  # per query that returns rows: extra execution time
    time_scale: float = 1.0  # real seconds per simulated second
    chunk_bytes: int = 8 * 1024 * 1024  # a result chunk's size (fakesnow's encoding)
    # False: pass fakesnow's answers on as they are (one inline rowset, its own encodings), so a
    # connector that needs the login fields the stand-in adds (5.x) can still read them
    reshape: bool = True
    in_progress_after_s: float = IN_PROGRESS_AFTER_S
    # account-level parameter defaults, applied to every session that does not set them
    account_parameters: dict[str, Any] = field(default_factory=dict)
    # one-shot faults, by a regular expression on the SQL text: hold (simulated s), cancel, queued
    hold: dict[str, float] = field(default_factory=dict)
    cancel_once: list[str] = field(default_factory=list)
    queued_timeout_once: list[str] = field(default_factory=list)
    # nanoseconds fakesnow cannot store: {column: {stored microseconds: nanoseconds 0-999}}
    # (TIMESTAMP_*: epoch microseconds; TIME: microseconds since midnight)
    nanos: dict[str, dict[int, int]] = field(default_factory=dict)
    # TIMESTAMP_TZ offsets fakesnow drops: {column: {epoch microseconds: offset minutes}}
    offsets: dict[str, dict[int, int]] = field(default_factory=dict)
    # NUMBER(38,0) values past int64: {column: {placeholder fakesnow stores: exact integer text}}
    numbers: dict[str, dict[int, str]] = field(default_factory=dict)
    # types fakesnow lacks, declared on VARCHAR columns: {column: "GEOGRAPHY" | "VECTOR(FLOAT, n)"}
    types: dict[str, str] = field(default_factory=dict)
    # Time Travel retention (real seconds, not scaled): an AT(TIMESTAMP => t) older than this is
    # refused with the service's 000707; the clause itself is stripped before fakesnow sees it.
    retention_s: float = 86400.0
    # primary keys declared in the catalog only, not enforced, as Snowflake keeps them (fakesnow
    # enforces a key it is given): {table: [column, ...]} answers SHOW PRIMARY KEYS IN TABLE
    primary_keys: dict[str, list[str]] = field(default_factory=dict)
    # the queries counted in flight (stats in_flight / max_in_flight), by a regular expression
    # on the SQL text; empty: every query
    in_flight_pattern: str = ""

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> StandinSettings:
        env = dict(os.environ if env is None else env)
        s = cls()
        s.latency_s = float(env.get("SNOWPG_STANDIN_LATENCY_S", s.latency_s))
        s.execution_s = float(env.get("SNOWPG_STANDIN_EXECUTION_S", s.execution_s))
        s.time_scale = float(env.get("SNOWPG_STANDIN_TIME_SCALE", s.time_scale))
        s.chunk_bytes = int(env.get("SNOWPG_STANDIN_CHUNK_BYTES", s.chunk_bytes))
        if raw := env.get("SNOWPG_STANDIN_ACCOUNT_PARAMETERS"):
            s.account_parameters = {k.upper(): v for k, v in json.loads(raw).items()}
        return s

    def update(self, changes: dict[str, Any]) -> None:
        """Apply a control request: scalar settings replace, dicts merge, lists extend."""
        for key, value in changes.items():
            if not hasattr(self, key):
                raise KeyError(key)
            current = getattr(self, key)
            if key in ("nanos", "offsets", "numbers"):
                cast = str if key == "numbers" else int
                for col, table in value.items():
                    current.setdefault(col, {}).update({int(k): cast(v) for k, v in table.items()})
            elif key == "account_parameters":
                self.account_parameters.update({k.upper(): v for k, v in value.items()})
            elif isinstance(current, dict):
                current.update(value)
            elif isinstance(current, list):
                current.extend(value)
            else:
                setattr(self, key, type(current)(value))

    def reset(self) -> None:
        fresh = StandinSettings.from_env()
        self.__dict__.update(fresh.__dict__)
