"""The stand-in's HTTP side: a threaded reverse proxy in front of ``fakesnow -s``.

Login, query, result-poll and abort requests are handled by :class:`QueryRunner`; result chunks are
served from ``/standin/chunks/<query id>/<n>`` as the raw gzip blobs cloud storage serves (no
``Content-Encoding`` header); ``POST /standin/control`` changes the simulation (and
``{"reset_max_in_flight": true}`` restarts the in-flight high-water mark), ``GET
/standin/stats`` reports counters, ``GET /standin/queries?since=N`` the texts of the queries
numbered above N. Everything else is forwarded to fakesnow unchanged.

Run: ``python -m snowpg.demo.standin --upstream-port N [--port M]``.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import logging
import re
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from snowpg.demo.standin.queries import QueryRunner
from snowpg.demo.standin.settings import StandinSettings

log = logging.getLogger("snowpg.demo.standin")
_TOKEN = re.compile(r'Token="([^"]*)"')
_HOP_HEADERS = {"host", "content-length", "connection", "transfer-encoding", "content-encoding"}
UPSTREAM_TIMEOUT_S = 3600.0


class StandinServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, upstream_port: int, settings: StandinSettings) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.upstream_port = upstream_port
        self.settings = settings
        self.runner = QueryRunner(settings, f"http://127.0.0.1:{self.server_address[1]}")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: StandinServer

    def log_message(self, format: str, *args: Any) -> None:
        log.debug(format, *args)

    # -- plumbing -------------------------------------------------------------------------
    def _body(self) -> bytes:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        return raw

    def _json_body(self, raw: bytes) -> dict[str, Any]:
        if self.headers.get("Content-Encoding") == "gzip":
            raw = gzip.decompress(raw)
        return dict(json.loads(raw or b"{}"))

    def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _send_json(self, obj: Any, status: int = 200) -> None:
        self._send(status, json.dumps(obj).encode())

    def _forward(
        self,
        method: str,
        raw: bytes,
        path: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes, str]:
        conn = http.client.HTTPConnection(
            "127.0.0.1", self.server.upstream_port, timeout=UPSTREAM_TIMEOUT_S
        )
        try:
            if headers is None:
                headers = self._upstream_headers()
            body = raw if method != "GET" else None
            conn.request(method, path or self.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            if resp.getheader("Content-Encoding") == "gzip":
                data = gzip.decompress(data)
            return resp.status, data, resp.getheader("Content-Type") or "application/json"
        finally:
            conn.close()

    def _upstream_headers(self) -> dict[str, str]:
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS}
        if self.headers.get("Content-Encoding") == "gzip":
            headers["Content-Encoding"] = "gzip"
        return headers

    def _upstream_json(self) -> Callable[[dict[str, Any]], dict[str, Any]]:
        """A function running a query body on fakesnow, bound to *this* request's path and
        headers: it runs on another thread while this connection already serves the next one."""
        path, headers = self.path, self._upstream_headers()
        gzipped = self.headers.get("Content-Encoding") == "gzip"

        def run(body: dict[str, Any]) -> dict[str, Any]:
            raw = json.dumps(body).encode()
            if gzipped:
                raw = gzip.compress(raw, compresslevel=1)
            status, data, _ = self._forward("POST", raw, path, headers)
            try:
                return dict(json.loads(data))
            except ValueError:
                return {
                    "success": False,
                    "code": "000603",
                    "message": f"HTTP {status}",
                    "data": None,
                }

        return run

    def _token(self) -> str:
        m = _TOKEN.search(self.headers.get("Authorization") or "")
        return m.group(1) if m else ""

    # -- routes ---------------------------------------------------------------------------
    def do_GET(self) -> None:
        path = urlparse(self.path).path
        runner = self.server.runner
        if path == "/standin/stats":
            self._send(200, runner.stats_json())
        elif path == "/standin/queries":
            since = parse_qs(urlparse(self.path).query).get("since", ["0"])[0]
            self._send(200, runner.queries_json(int(since)))
        elif path.startswith("/standin/chunks/"):
            _, _, _, qid, index = path.split("/")
            blob = runner.chunk(qid, int(index))
            if blob is None:
                self._send(404, b"no such chunk", "text/plain")
            else:
                self._send(200, blob, "application/octet-stream")
        elif m := re.fullmatch(r"/queries/([^/]+)/result", path):
            self._send_json(runner.poll(m.group(1)))
        else:
            status, data, ctype = self._forward("GET", b"")
            self._send(status, data, ctype)

    def do_POST(self) -> None:
        url = urlparse(self.path)
        raw = self._body()
        runner = self.server.runner
        if url.path == "/standin/control":
            change = self._json_body(raw)
            if change.pop("reset", False):
                self.server.settings.reset()
            if change.pop("reset_max_in_flight", False):
                runner.reset_max_in_flight()
            try:
                self.server.settings.update(change)
            except KeyError as exc:
                self._send_json({"error": f"unknown setting {exc}"}, 400)
                return
            self._send_json({"ok": True})
        elif m := re.fullmatch(r"/queries/([^/]+)/result", url.path):
            self._send_json(runner.poll(m.group(1)))  # the connector polls with GET or POST
        elif url.path == "/session/v1/login-request":
            self._login(raw)
        elif url.path == "/queries/v1/query-request":
            body = self._json_body(raw)
            request_id = (parse_qs(url.query).get("requestId") or [""])[0]
            pending = runner.start(self._token(), request_id, body, self._upstream_json())
            self._send_json(runner.wait(pending))
        elif url.path == "/queries/v1/abort-request":
            body = self._json_body(raw)
            runner.abort(str(body.get("requestId", "")))
            self._send_json({"data": None, "success": True, "code": None, "message": None})
        else:
            status, data, ctype = self._forward("POST", raw)
            self._send(status, data, ctype)

    def _login(self, raw: bytes) -> None:
        body = self._json_body(raw)
        status, data, ctype = self._forward("POST", raw)
        try:
            answer = json.loads(data)
            token = answer["data"]["token"]
        except (ValueError, KeyError, TypeError):
            self._send(status, data, ctype)
            return
        session_params = (body.get("data") or {}).get("SESSION_PARAMETERS") or {}
        reported = self.server.runner.login(token, session_params)
        names = {p["name"] for p in reported}
        # The service also sends a master token (to renew the session) and token lifetimes;
        # connector 5.x refuses a login answer without them.
        answer["data"].setdefault("masterToken", f"master-{token}")
        answer["data"].setdefault("validityInSeconds", 3600)
        answer["data"].setdefault("masterValidityInSeconds", 14400)
        answer["data"].setdefault("sessionId", abs(hash(token)) % 10**12)
        answer["data"]["parameters"] = [
            p for p in answer["data"].get("parameters") or [] if p.get("name") not in names
        ] + reported
        self._send_json(answer, status)


def serve(port: int, upstream_port: int, settings: StandinSettings | None = None) -> StandinServer:
    return StandinServer(port, upstream_port, settings or StandinSettings.from_env())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Snowflake wire stand-in in front of fakesnow")
    parser.add_argument("--upstream-port", type=int, required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, help="per-query compile+queue seconds")
    parser.add_argument("--execution", type=float, help="per-query execution seconds")
    args = parser.parse_args(argv)
    settings = StandinSettings.from_env()
    if args.latency is not None:
        settings.latency_s = args.latency
    if args.execution is not None:
        settings.execution_s = args.execution
    server = serve(args.port, args.upstream_port, settings)
    print(f"snowpg stand-in listening on 127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()
