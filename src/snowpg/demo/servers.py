"""Local stand-ins for the two databases: a Snowflake stand-in and an embedded PostgreSQL.

Used by ``snowpg demo``, ``bench`` and the test suite, so all exercise the same wire paths a
production run does: the real Snowflake connector over HTTP, and libpq over a socket. The Snowflake
side is, by default, the wire-faithful stand-in (:mod:`snowpg.demo.standin`) in front of a
``fakesnow -s`` server; ``SNOWPG_TEST_SNOWFLAKE=fakesnow`` (or :func:`start_snowflake`'s
``plain=True``) selects the bare fakesnow server.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from snowpg.demo.fakesnow_env import fakesnow_python, server_env
from snowpg.errors import ConfigError
from snowpg.snowflake.session import version_options

# fakesnow answers within ~1-3 s of starting on a 2-core machine; allow for a loaded CI box.
FAKESNOW_START_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class FakesnowServer:
    """A running ``fakesnow -s`` process; stop() ends it."""

    port: int
    data_dir: Path
    process: subprocess.Popen[bytes]
    host: str = "localhost"

    def env(self) -> dict[str, str]:
        """The environment variables that point snowpg at this server."""
        return {
            "SNOWFLAKE_ACCOUNT": "fakesnow",
            "SNOWFLAKE_USER": "snowpg",
            "SNOWFLAKE_PASSWORD": "fakesnow-password",
            "SNOWFLAKE_WAREHOUSE": "DEMO_WH",
            "SNOWFLAKE_HOST": self.host,
            "SNOWFLAKE_PORT": str(self.port),
            "SNOWFLAKE_PROTOCOL": "http",
        }

    def connect(self, **kwargs: Any) -> Any:
        import snowflake.connector

        params: dict[str, Any] = {
            **version_options(),
            "user": "snowpg",
            "password": "fakesnow-password",
            "account": "fakesnow",
            "host": self.host,
            "port": self.port,
            "protocol": "http",
            "network_timeout": 60,
            "session_parameters": {"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False},
        }
        params.update(kwargs)
        return snowflake.connector.connect(**params)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _fakesnow_command() -> list[str]:
    return [str(fakesnow_python()), "-m", "fakesnow"]


def start_fakesnow(
    data_dir: Path, port: int | None = None, log_path: Path | None = None
) -> FakesnowServer:
    """Start a fakesnow server keeping its databases in ``data_dir`` and wait until it answers."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    log = open(log_path or data_dir / "fakesnow.log", "ab")  # noqa: SIM115 - lives with the process
    proc = subprocess.Popen(
        [*_fakesnow_command(), "-s", "-p", str(port), "-d", str(data_dir)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env=server_env(),
    )
    server = FakesnowServer(port=port, data_dir=data_dir, process=proc)
    deadline = time.monotonic() + FAKESNOW_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ConfigError(f"fakesnow server exited at start (see {data_dir / 'fakesnow.log'})")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return server
        time.sleep(0.2)
    server.stop()
    raise ConfigError(
        f"fakesnow server did not answer on port {port} within {FAKESNOW_START_TIMEOUT_S}s"
    )


STANDIN_ENV = "SNOWPG_TEST_SNOWFLAKE"


@dataclass
class StandinServer(FakesnowServer):
    """The wire stand-in (``port``) in front of a fakesnow server (``upstream``)."""

    upstream: FakesnowServer | None = None

    def control(self, **changes: Any) -> None:
        """Change the simulation (see ``StandinSettings``); ``reset=True`` restores the defaults."""
        import json
        import urllib.request

        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/standin/control",
            data=json.dumps(changes).encode(),
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            resp.read()

    def stats(self) -> dict[str, int]:
        import json
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/standin/stats", timeout=10) as r:
            return dict(json.loads(r.read()))

    def queries(self, since: int = 0) -> list[str]:
        """Texts of the queries the stand-in received after its ``stats()["queries"]`` was
        ``since`` (the last few thousand)."""
        import json
        import urllib.request

        url = f"http://127.0.0.1:{self.port}/standin/queries?since={since}"
        with urllib.request.urlopen(url, timeout=10) as r:
            return [str(q["sql"]) for q in json.loads(r.read())]

    def stop(self) -> None:
        super().stop()
        if self.upstream is not None:
            self.upstream.stop()


def start_standin(
    data_dir: Path, port: int | None = None, env: dict[str, str] | None = None
) -> StandinServer:
    """Start fakesnow and the wire stand-in in front of it; wait until the stand-in answers."""
    upstream = start_fakesnow(data_dir)
    port = port or free_port()
    log = open(data_dir / "standin.log", "ab")  # noqa: SIM115 - lives with the process
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "snowpg.demo.standin",
            "--upstream-port",
            str(upstream.port),
            "--port",
            str(port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, **(env or {})},
    )
    server = StandinServer(port=port, data_dir=data_dir, process=proc, upstream=upstream)
    deadline = time.monotonic() + FAKESNOW_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            upstream.stop()
            raise ConfigError(
                f"Snowflake stand-in exited at start (see {data_dir / 'standin.log'})"
            )
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return server
        time.sleep(0.1)
    server.stop()
    raise ConfigError(f"Snowflake stand-in did not answer on port {port}")


def start_snowflake(
    data_dir: Path, *, plain: bool | None = None, latency_s: float | None = None
) -> FakesnowServer:
    """The stand-in by default; bare fakesnow if ``plain`` or ``SNOWPG_TEST_SNOWFLAKE=fakesnow``.

    ``latency_s`` is the stand-in's per-query compile+queue time (``SNOWPG_STANDIN_LATENCY_S``).
    """
    if plain is None:
        plain = os.environ.get(STANDIN_ENV, "standin").lower() == "fakesnow"
    if plain:
        return start_fakesnow(data_dir)
    env = {"SNOWPG_STANDIN_LATENCY_S": str(latency_s)} if latency_s is not None else None
    return start_standin(data_dir, env=env)


@dataclass
class LocalPostgres:
    """Connection facts for a PostgreSQL server (embedded or given by DSN)."""

    host: str
    port: int
    user: str
    password: str
    dbname: str
    stop_callback: Any = None

    def dsn(self, dbname: str | None = None) -> str:
        from psycopg.conninfo import make_conninfo

        return make_conninfo(
            host=self.host,
            port=str(self.port),
            user=self.user,
            password=self.password or None,
            dbname=dbname or self.dbname,
        )

    def env(self) -> dict[str, str]:
        env = {
            "POSTGRES_HOST": self.host,
            "POSTGRES_PORT": str(self.port),
            "POSTGRES_USER": self.user,
            "POSTGRES_PASSWORD": self.password,
        }
        return env

    def stop(self) -> None:
        if self.stop_callback is not None:
            self.stop_callback()


def postgres_from_dsn(dsn: str) -> LocalPostgres:
    from psycopg.conninfo import conninfo_to_dict

    if dsn.startswith(("postgresql://", "postgres://")):
        u = urlparse(dsn)
        q = parse_qs(u.query)
        return LocalPostgres(
            host=(q.get("host") or [u.hostname or "localhost"])[0],
            port=int((q.get("port") or [str(u.port or 5432)])[0]),
            user=u.username or "postgres",
            password=u.password or "",
            dbname=(u.path or "/postgres").lstrip("/") or "postgres",
        )
    d = conninfo_to_dict(dsn)
    return LocalPostgres(
        host=str(d.get("host", "localhost")),
        port=int(str(d.get("port", 5432))),
        user=str(d.get("user", "postgres")),
        password=str(d.get("password", "")),
        dbname=str(d.get("dbname", "postgres")),
    )


def start_embedded_postgres(data_dir: Path, keep_running: bool = False) -> LocalPostgres:
    """Start (or reuse) a private PostgreSQL cluster in ``data_dir`` from the pgserver wheel."""
    try:
        import pgserver
    except ImportError as exc:
        raise ConfigError(
            "the embedded PostgreSQL (pgserver) is not installed",
            hint="install the demo extras: pip install 'snowpg[demo]'",
        ) from exc
    os.environ.setdefault("XDG_RUNTIME_DIR", str(data_dir.parent))
    data_dir.mkdir(parents=True, exist_ok=True)
    get_server = pgserver.get_server  # type: ignore[attr-defined]
    server = get_server(str(data_dir), cleanup_mode=None if keep_running else "stop")
    pg = postgres_from_dsn(server.get_uri())
    pg.stop_callback = server.cleanup
    return pg


def stop_embedded_postgres(data_dir: Path) -> None:
    """Stop the cluster a kept demo left running in ``data_dir``."""
    import pgserver  # the demo extra; present whenever a cluster was started here

    pgserver.get_server(str(data_dir), cleanup_mode="stop").cleanup()  # type: ignore[attr-defined]
