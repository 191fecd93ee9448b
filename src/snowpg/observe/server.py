"""``snowpg serve``: a small read-only web server showing the status of migrations.

Standard library only (``http.server``). It reads ``migration_status`` on each request (at most
once a second, shared between clients) and never writes. Routes:

    GET /              the status page (HTML + inline JS that polls /api/status)
    GET /api/status    the same data as ``snowpg status --json``, plus recent runs
    GET /report        the HTML run report of the newest run of each source
    GET /healthz       "ok"

Bound to 127.0.0.1 by default, it needs no login. Bound to any other address it requires a token
(``--token`` or ``$SNOWPG_SERVE_TOKEN``, else a random one printed at start), given as
``?token=...`` or ``Authorization: Bearer ...``; the page passes it on to its API calls.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import json
import logging
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from snowpg.config import Settings, SourceConfig
from snowpg.errors import ConfigError, SnowpgError
from snowpg.logs import redact
from snowpg.observe import page, report_html
from snowpg.postgres import connection
from snowpg.status import collect
from snowpg.status.report import StatusReport

log = logging.getLogger("snowpg.observe")

TOKEN_ENV = "SNOWPG_SERVE_TOKEN"
# Several browsers polling every 2 s share one read of the status tables per second.
CACHE_SECONDS = 1.0
DEFAULT_REFRESH_MS = 2000


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def snapshot(settings: Settings, sources: list[SourceConfig]) -> dict[str, Any]:
    """The status of each source's newest run, and the recent runs of their databases."""
    out: dict[str, Any] = {"sources": [], "runs": [], "errors": []}
    runs_seen: set[str] = set()
    for src in sources:
        try:
            conn = connection.connect(settings.postgres, src.target_pg_database)
        except SnowpgError as exc:
            out["errors"].append(f"source {src.source_name}: {redact(str(exc))}")
            continue
        try:
            out["sources"].append(
                collect.read_status(conn, src.source_name, src.target_pg_database).to_json()
            )
            if src.target_pg_database not in runs_seen:
                runs_seen.add(src.target_pg_database)
                for r in collect.recent_runs(conn, 20):
                    out["runs"].append({**r, "target_database": src.target_pg_database})
        finally:
            conn.close()
    out["runs"].sort(key=lambda r: str(r["started_at"]), reverse=True)
    return out


def read_reports(
    settings: Settings, sources: list[SourceConfig], run_id: uuid.UUID | None = None
) -> list[StatusReport]:
    """Each source's report (of run ``run_id``, else its newest run), one connection a source."""
    out = []
    for src in sources:
        with contextlib.closing(
            connection.connect(settings.postgres, src.target_pg_database)
        ) as conn:
            out.append(collect.collect_status(conn, src, run_id))
    return out


def to_json(data: Any) -> str:
    return json.dumps(data, default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


@dataclass
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8765
    token: str | None = None
    refresh_ms: int = DEFAULT_REFRESH_MS


class _Cache:
    def __init__(self, load: Callable[[], dict[str, Any]]) -> None:
        self._load = load
        self._lock = threading.Lock()
        self._at = 0.0
        self._value: dict[str, Any] | None = None

    def get(self) -> dict[str, Any]:
        with self._lock:
            if self._value is None or time.monotonic() - self._at >= CACHE_SECONDS:
                self._value = self._load()
                self._at = time.monotonic()
            return self._value


class StatusServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        options: ServeOptions,
        load_status: Callable[[], dict[str, Any]],
        load_reports: Callable[[], list[StatusReport]],
    ) -> None:
        if not is_loopback(options.host) and not options.token:
            raise ConfigError(
                f"serve: binding to {options.host} needs a token",
                hint=f"pass --token or set {TOKEN_ENV}",
            )
        self.options = options
        self.cache = _Cache(load_status)
        self.load_reports = load_reports
        super().__init__((options.host, options.port), _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        shown = host if isinstance(host, str) else host.decode()
        url = f"http://{shown}:{port}/"
        return url + (f"?token={self.options.token}" if self.options.token else "")


def build_server(
    settings: Settings, sources: list[SourceConfig], options: ServeOptions
) -> StatusServer:
    if not is_loopback(options.host) and not options.token:
        options.token = secrets.token_urlsafe(18)
    return StatusServer(
        options,
        load_status=lambda: snapshot(settings, sources),
        load_reports=lambda: read_reports(settings, sources),
    )


class _Handler(BaseHTTPRequestHandler):
    server: StatusServer
    server_version = "snowpg-serve"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _authorized(self, query: dict[str, list[str]]) -> bool:
        token = self.server.options.token
        if not token:
            return True
        given = (query.get("token") or [""])[0]
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            given = auth[len("Bearer ") :]
        return hmac.compare_digest(given.encode(), token.encode())

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        if parts.path == "/healthz":
            self._send(HTTPStatus.OK, "text/plain; charset=utf-8", "ok")
            return
        if not self._authorized(query):
            self._send(HTTPStatus.UNAUTHORIZED, "text/plain; charset=utf-8", "token required")
            return
        try:
            if parts.path == "/":
                body = page.render_page(self.server.options.refresh_ms)
                self._send(HTTPStatus.OK, "text/html; charset=utf-8", body)
            elif parts.path == "/api/status":
                self._send(HTTPStatus.OK, "application/json", to_json(self.server.cache.get()))
            elif parts.path == "/report":
                html = report_html.render_report(self.server.load_reports())
                self._send(HTTPStatus.OK, "text/html; charset=utf-8", html)
            else:
                self._send(HTTPStatus.NOT_FOUND, "text/plain; charset=utf-8", "not found")
        except SnowpgError as exc:
            self._send(
                HTTPStatus.SERVICE_UNAVAILABLE, "text/plain; charset=utf-8", redact(str(exc))
            )

    def _refuse(self) -> None:
        self._send(HTTPStatus.METHOD_NOT_ALLOWED, "text/plain; charset=utf-8", "read-only")

    do_POST = do_PUT = do_DELETE = do_PATCH = _refuse

    def _send(self, status: HTTPStatus, content_type: str, body: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.end_headers()
        self.wfile.write(data)
