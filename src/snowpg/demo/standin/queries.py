"""One query through the stand-in: hold it (latency, execution, timeouts), run it on fakesnow,
and shape the answer as the service sends it (chunks, encodings, session parameters, errors)."""

from __future__ import annotations

import base64
import gzip
import json
import re
import threading
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from snowpg.demo.standin import pipe
from snowpg.demo.standin.declared import declare
from snowpg.demo.standin.encode import Extras, encode_batch, from_ipc, split_rows, to_ipc
from snowpg.demo.standin.settings import DEFAULT_STATEMENT_TIMEOUT_S, StandinSettings

# The service's answers for a cancelled and a timed-out statement (sqlstate 57014, "query
# canceled"); the connector raises them as ProgrammingError with these errnos.
CANCELLED = ("000604", "SQL execution canceled")
TIMED_OUT = (
    "Statement reached its statement or warehouse timeout of {n} second(s) and was canceled."
)
QUEUED_TIMED_OUT = (
    "Statement reached its statement queued timeout of {n} second(s) and was canceled."
)
_ALTER_SET = re.compile(r"^\s*alter\s+session\s+set\s+(\w+)\s*=\s*(.+?)\s*;?\s*$", re.I | re.S)
_ROW_QUERY = re.compile(r"^\s*(\(\s*)*(select|with|show|describe|desc)\b", re.I)
_KEPT_QUERIES = 64
_LOGGED_QUERIES = 5000  # texts kept for GET /standin/queries (tests assert what was asked)

Upstream = Callable[[dict[str, Any]], dict[str, Any]]


def error_answer(code: str, message: str, query_id: str) -> dict[str, Any]:
    return {
        "data": {"errorCode": code, "sqlState": "57014", "queryId": query_id},
        "code": code,
        "message": message,
        "success": False,
    }


@dataclass
class Session:
    parameters: dict[str, Any] = field(default_factory=dict)


@dataclass
class Pending:
    """A query the stand-in is holding or running; ``done`` is set once ``answer`` is ready."""

    query_id: str
    request_id: str
    cancelled: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    answer: dict[str, Any] | None = None


def _param_value(value: str) -> Any:
    v = value.strip().strip("'\"")
    return v.upper() if v.upper() in {"TRUE", "FALSE", "JSON", "ARROW"} else v


class QueryRunner:
    """Runs queries for the HTTP handler; all shared state sits here, behind one lock."""

    def __init__(self, settings: StandinSettings, base_url: str) -> None:
        self.settings = settings
        self.base_url = base_url
        self.lock = threading.Lock()
        self.sessions: dict[str, Session] = {}
        self.pending: dict[str, Pending] = {}
        self.by_request: dict[str, Pending] = {}
        self.chunks: OrderedDict[str, list[bytes]] = OrderedDict()
        self.stats: dict[str, int] = {
            "queries": 0,
            "chunks_served": 0,
            "remote_chunks": 0,
            "cancelled": 0,
            "timed_out": 0,
            "in_progress_answers": 0,
        }
        self.log: deque[tuple[int, str]] = deque(maxlen=_LOGGED_QUERIES)

    # -- session parameters -------------------------------------------------------------
    def effective(self, token: str, name: str) -> Any:
        session = self.sessions.get(token)
        if session is not None and name in session.parameters:
            return session.parameters[name]
        return self.settings.account_parameters.get(name)

    def login(self, token: str, session_parameters: dict[str, Any]) -> list[dict[str, Any]]:
        """Remember the session; the parameters the login answer reports (account defaults
        overridden by what the client set at connect, as the service does)."""
        params = {k.upper(): v for k, v in session_parameters.items()}
        with self.lock:
            self.sessions[token] = Session(params)
        merged = {**self.settings.account_parameters, **params}
        return [{"name": k, "value": v} for k, v in merged.items()]

    # -- one query ------------------------------------------------------------------------
    def _sleep(self, pending: Pending, simulated_s: float) -> bool:
        """Hold for ``simulated_s``; False when the client cancelled meanwhile."""
        return not pending.cancelled.wait(max(0.0, simulated_s) * self.settings.time_scale)

    def _one_shot(self, patterns: list[str], sql: str) -> bool:
        with self.lock:
            for p in patterns:
                if re.search(p, sql, re.I | re.S):
                    patterns.remove(p)
                    return True
        return False

    def _timeout(self, token: str, name: str) -> float:
        raw = self.effective(token, name)
        value = float(raw) if raw not in (None, "") else 0.0
        return value if value > 0 else DEFAULT_STATEMENT_TIMEOUT_S

    def run(self, pending: Pending, token: str, body: dict[str, Any], upstream: Upstream) -> None:
        try:
            pending.answer = self._run(pending, token, body, upstream)
        except Exception as exc:  # a stand-in bug answers like the service's internal error
            pending.answer = error_answer("000603", f"stand-in failure: {exc}", pending.query_id)
        finally:
            with self.lock:
                self.by_request.pop(pending.request_id, None)
            pending.done.set()

    def _run(
        self, pending: Pending, token: str, body: dict[str, Any], upstream: Upstream
    ) -> dict[str, Any]:
        s = self.settings
        sql = str(body.get("sqlText", ""))
        qid = pending.query_id
        with self.lock:
            self.stats["queries"] += 1
            self.log.append((self.stats["queries"], sql))
        if self._one_shot(s.queued_timeout_once, sql):
            n = int(self._timeout(token, "STATEMENT_QUEUED_TIMEOUT_IN_SECONDS"))
            self.stats["timed_out"] += 1
            return error_answer("000630", QUEUED_TIMED_OUT.format(n=n), qid)
        if self._one_shot(s.cancel_once, sql):
            self.stats["cancelled"] += 1
            return error_answer(*CANCELLED, qid)
        hold = s.latency_s
        if _ROW_QUERY.match(sql):
            hold += s.execution_s
        for pattern, seconds in list(s.hold.items()):
            if re.search(pattern, sql, re.I | re.S):
                hold += seconds
        limit = self._timeout(token, "STATEMENT_TIMEOUT_IN_SECONDS")
        if not self._sleep(pending, min(hold, limit)):
            self.stats["cancelled"] += 1
            return error_answer(*CANCELLED, qid)
        if hold > limit:
            self.stats["timed_out"] += 1
            return error_answer("000630", TIMED_OUT.format(n=int(limit)), qid)
        answer = pipe.run(body, upstream)
        if pending.cancelled.is_set():
            self.stats["cancelled"] += 1
            return error_answer(*CANCELLED, qid)
        if answer.get("success") and (m := _ALTER_SET.match(sql)):
            with self.lock:
                session = self.sessions.setdefault(token, Session())
                session.parameters[m.group(1).upper()] = _param_value(m.group(2))
        return self._shape(answer, token, qid)

    def _shape(self, answer: dict[str, Any], token: str, qid: str) -> dict[str, Any]:
        data = answer.get("data")
        if not answer.get("success") or not isinstance(data, dict):
            return answer
        data["queryId"] = qid
        tz = self.effective(token, "TIMEZONE")
        if tz:
            data["parameters"] = [
                p for p in data.get("parameters") or [] if p.get("name") != "TIMEZONE"
            ] + [{"name": "TIMEZONE", "value": tz}]
        rowset = data.get("rowsetBase64")
        if data.get("queryResultFormat") != "arrow" or not rowset or not self.settings.reshape:
            return answer
        table = from_ipc(base64.b64decode(rowset))
        table, data["rowtype"] = declare(table, data.get("rowtype") or [], self.settings.types)
        fmt = str(self.effective(token, "PYTHON_CONNECTOR_QUERY_RESULT_FORMAT") or "ARROW")
        if fmt.upper() == "JSON":
            data.pop("rowsetBase64")
            data["queryResultFormat"] = "json"
            cols = [c.to_pylist() for c in table.columns]
            data["rowset"] = [
                [None if v is None else str(v) for v in row] for row in zip(*cols, strict=True)
            ]
            return answer
        extras = Extras(self.settings.nanos, self.settings.offsets, self.settings.numbers)
        parts = [encode_batch(b, extras) for b in split_rows(table, self.settings.chunk_bytes)]
        data["rowsetBase64"] = base64.b64encode(to_ipc(parts[0])).decode()
        if len(parts) > 1:
            blobs, infos = [], []
            for i, part in enumerate(parts[1:]):
                ipc = to_ipc(part)
                gz = gzip.compress(ipc, compresslevel=1)
                blobs.append(gz)
                infos.append(
                    {
                        "url": f"{self.base_url}/standin/chunks/{qid}/{i}",
                        "rowCount": part.num_rows,
                        "uncompressedSize": len(ipc),
                        "compressedSize": len(gz),
                    }
                )
            with self.lock:
                self.chunks[qid] = blobs
                self.stats["remote_chunks"] += len(blobs)
                while len(self.chunks) > _KEPT_QUERIES:
                    self.chunks.popitem(last=False)
            data["chunks"] = infos
        return answer

    # -- the HTTP handler's entry points ----------------------------------------------------
    def start(
        self, token: str, request_id: str, body: dict[str, Any], upstream: Upstream
    ) -> Pending:
        pending = Pending(query_id=str(uuid.uuid4()), request_id=request_id)
        with self.lock:
            self.pending[pending.query_id] = pending
            if request_id:
                self.by_request[request_id] = pending
        threading.Thread(
            target=self.run, args=(pending, token, body, upstream), daemon=True
        ).start()
        return pending

    def wait(self, pending: Pending) -> dict[str, Any]:
        """The answer, or "in progress" with a result URL once the service would have said so."""
        if pending.done.wait(self.settings.in_progress_after_s * self.settings.time_scale):
            with self.lock:
                self.pending.pop(pending.query_id, None)
            assert pending.answer is not None
            return pending.answer
        with self.lock:
            self.stats["in_progress_answers"] += 1
        return {
            "data": {
                "queryId": pending.query_id,
                "getResultUrl": f"/queries/{pending.query_id}/result",
            },
            "code": "333333",
            "message": "Query execution in progress.",
            "success": True,
        }

    def poll(self, query_id: str) -> dict[str, Any]:
        with self.lock:
            pending = self.pending.get(query_id)
        if pending is None:
            return error_answer("000709", f"Statement {query_id} not found", query_id)
        return self.wait(pending)

    def abort(self, request_id: str) -> bool:
        with self.lock:
            pending = self.by_request.get(request_id)
        if pending is None:
            return False
        pending.cancelled.set()
        return True

    def chunk(self, query_id: str, index: int) -> bytes | None:
        with self.lock:
            blobs = self.chunks.get(query_id)
            if blobs is None or not 0 <= index < len(blobs):
                return None
            self.stats["chunks_served"] += 1
            return blobs[index]

    def queries_json(self, since: int) -> bytes:
        """The logged query texts numbered above ``since`` (``stats["queries"]`` counts them)."""
        with self.lock:
            return json.dumps([{"n": n, "sql": t} for n, t in self.log if n > since]).encode()

    def stats_json(self) -> bytes:
        with self.lock:
            return json.dumps(dict(self.stats)).encode()
