"""Security: identifiers that try SQL injection are loaded into exactly the right place, and
secrets (passwords, private keys, a DSN's password) never reach any output of a failing run:
stdout, stderr, and the status rows' ``error_message`` and ``metadata``."""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from psycopg import sql

from snowpg.demo.servers import free_port
from tests.fixtures.migration import make_config, run_cli, write_config

pytestmark = pytest.mark.integration

EVIL_TABLE = 'x"; DROP TABLE y; --'
EVIL_COLUMN = 'c"); DROP TABLE y; -- %(p0)s'
EVIL_SCHEMA = 'odd"schema; --'
EVIL_TARGET = EVIL_TABLE.lower()  # table names are lower-cased (identifier_case "lower")

PG_SECRET = "pg-Secret-4711-pass"
SF_SECRET = "sf-Secret-0815-pass"
PASSPHRASE = "key-Passphrase-2024"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def test_injection_names_load_into_exactly_the_named_table(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    cur = sf_conn.cursor()
    cur.execute("CREATE OR REPLACE TABLE Y (ID INT)")
    cur.execute("INSERT INTO Y VALUES (42)")
    cur.execute(
        f"CREATE OR REPLACE TABLE {_q(EVIL_TABLE)} (ID INT PRIMARY KEY, {_q(EVIL_COLUMN)} VARCHAR,"
        ' "select" INT, "%s" VARCHAR)'
    )
    for i in range(1, 6):
        cur.execute(f"INSERT INTO {_q(EVIL_TABLE)} VALUES ({i}, 'v''{i}\"; --', {i * 10}, '%')")
    cur.close()
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("CREATE TABLE public.y (id int)")
        conn.execute("INSERT INTO public.y VALUES (42)")
    config = make_config(
        sf_database,
        pg_database,
        # The evil column chunks the table, so its name reaches the boundary and chunk SQL.
        [{"source": EVIL_TABLE, "chunking_columns": [EVIL_COLUMN]}],
        target_schema=EVIL_SCHEMA,
        batch_size=2,
    )
    cfg = write_config(tmp_path / "c.json", config)

    planned = run_cli("plan", "--config", str(cfg), "--json", env=server_env)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    plan = json.loads(planned.stdout)
    plan = plan[0] if isinstance(plan, list) else plan
    assert plan["target"].endswith(f"{EVIL_SCHEMA}.{EVIL_TARGET}")
    assert [c["target"] for c in plan["columns"]] == ["id", EVIL_COLUMN, "select", "%s"]

    result = run_cli("migrate", "--config", str(cfg), env=server_env)
    assert result.returncode == 0, result.stdout + result.stderr

    with psycopg.connect(pg_dsn) as conn:
        rows = conn.execute(
            sql.SQL("SELECT id, {}, {}, {} FROM {}.{} ORDER BY id").format(
                sql.Identifier(EVIL_COLUMN),
                sql.Identifier("select"),
                sql.Identifier("%s"),
                sql.Identifier(EVIL_SCHEMA),
                sql.Identifier(EVIL_TARGET),
            )
        ).fetchall()
        assert rows == [(i, f"v'{i}\"; --", i * 10, "%") for i in range(1, 6)]
        assert conn.execute("SELECT id FROM public.y").fetchall() == [(42,)]
        tables = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema', 'migration_status')"
            " ORDER BY 1, 2"
        ).fetchall()
    assert tables == [(EVIL_SCHEMA, EVIL_TARGET), ("public", "y")]
    cur = sf_conn.cursor()
    cur.execute("SELECT ID FROM Y")
    assert cur.fetchall() == [(42,)]
    cur.close()


# --- secrets ------------------------------------------------------------------------------------


class _PasswordRejectingServer:
    """Speaks just enough of the PostgreSQL protocol to ask for a cleartext password and reject
    it with an error that *echoes the password back*, like a careless server or proxy might."""

    def __init__(self) -> None:
        self.port = free_port()
        self.received: list[bytes] = []
        self._sock = socket.create_server(("127.0.0.1", self.port))
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            with conn, contextlib.suppress(OSError):
                self._handle(conn)

    @staticmethod
    def _read(conn: socket.socket, n: int) -> bytes:
        data = b""
        while len(data) < n:
            part = conn.recv(n - len(data))
            if not part:
                raise OSError("closed")
            data += part
        return data

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        while True:  # SSLRequest / GSSENCRequest get "N", then the startup message follows
            (length,) = struct.unpack("!i", self._read(conn, 4))
            body = self._read(conn, length - 4)
            (code,) = struct.unpack("!i", body[:4])
            if code in (80877103, 80877104):
                conn.sendall(b"N")
                continue
            break
        conn.sendall(b"R" + struct.pack("!ii", 8, 3))  # AuthenticationCleartextPassword
        tag = self._read(conn, 1)
        (length,) = struct.unpack("!i", self._read(conn, 4))
        password = self._read(conn, length - 4).rstrip(b"\x00")
        self.received.append(tag + password)
        fields = (
            b"SFATAL\x00VFATAL\x00C28P01\x00M"
            + b'password authentication failed for user "loader" (password "'
            + password
            + b'")\x00\x00'
        )
        conn.sendall(b"E" + struct.pack("!i", len(fields) + 4) + fields)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()


@pytest.fixture
def rejecting_pg() -> Iterator[_PasswordRejectingServer]:
    server = _PasswordRejectingServer()
    yield server
    server.stop()


def _pem(passphrase: str | None) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase.encode())
        if passphrase
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    ).decode()


def _secret_fragments(env: dict[str, str]) -> list[str]:
    """Every secret value in ``env``, plus each long line of a PEM and the DSN form."""
    out = []
    for name in ("POSTGRES_PASSWORD", "SNOWFLAKE_PASSWORD", "SNOWFLAKE_RSA_KEY_PASSPHRASE"):
        if env.get(name):
            out.append(env[name])
    pem = env.get("SNOWFLAKE_RSA_KEY", "")
    out += [line for line in pem.replace("\\n", "\n").splitlines() if len(line) >= 16]
    if env.get("POSTGRES_PASSWORD"):
        out.append(f":{env['POSTGRES_PASSWORD']}@")
        out.append(f"password={env['POSTGRES_PASSWORD']}")
    return out


def _status_text(dsn: str) -> str:
    """Every error_message and metadata of migration_status, as one text."""
    parts: list[str] = []
    with psycopg.connect(dsn) as conn:
        found = conn.execute("SELECT to_regclass('migration_status.migration_runs')").fetchone()
        if not found or found[0] is None:
            return ""
        for table in ("migration_runs", "migration_table_status", "migration_chunk_status"):
            cols = [
                r[0]
                for r in conn.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = "
                    "'migration_status' AND table_name = %s AND column_name IN "
                    "('error_message', 'metadata', 'chunk_range')",
                    (table,),
                ).fetchall()
            ]
            for col in cols:
                q = sql.SQL("SELECT {}::text FROM migration_status.{}").format(
                    sql.Identifier(col), sql.Identifier(table)
                )
                parts += [str(r[0]) for r in conn.execute(q).fetchall()]
    return "\n".join(parts)


def _assert_no_secret(text: str, env: dict[str, str], what: str) -> None:
    # Also with all whitespace removed: rich wraps long lines, which could split a secret.
    joined = "".join(text.split())
    leaked = [s for s in _secret_fragments(env) if s in text or "".join(s.split()) in joined]
    assert not leaked, f"{what} leaks {len(leaked)} secret fragment(s): {leaked[0][:6]}..."


# Each CLI start costs seconds on a small machine: the default run tries the two commands that
# connect first; the slow suite adds the others.
COMMANDS_AGAINST_BAD_PG = [
    ["migrate"],
    ["test-connections"],
    pytest.param(["plan"], marks=pytest.mark.slow),
    pytest.param(["status", "--source", "src"], marks=pytest.mark.slow),
]


@pytest.mark.parametrize("command", COMMANDS_AGAINST_BAD_PG, ids=lambda c: c[0])
def test_bad_postgres_password_is_not_echoed(
    command: list[str],
    sf_conn: Any,
    sf_database: str,
    server_env: dict[str, str],
    rejecting_pg: _PasswordRejectingServer,
    tmp_path: Path,
) -> None:
    cur = sf_conn.cursor()
    cur.execute("CREATE OR REPLACE TABLE T (ID INT)")
    cur.close()
    env = {
        **server_env,
        "SNOWFLAKE_PASSWORD": SF_SECRET,
        "POSTGRES_HOST": "127.0.0.1",
        "POSTGRES_PORT": str(rejecting_pg.port),
        "POSTGRES_USER": "loader",
        "POSTGRES_PASSWORD": PG_SECRET,
        "POSTGRES_CONNECT_TIMEOUT": "5",
    }
    cfg = write_config(
        tmp_path / "c.json", make_config(sf_database, "db", [{"source": "T"}], max_retry_attempts=0)
    )
    verbose = ["-v"] if command == ["migrate"] else []  # debug logging: the most output
    result = run_cli(*command, "--config", str(cfg), *verbose, env=env)
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    _assert_no_secret(out, env, " ".join(command))
    # The password really went to the server (so the path under test ran) ...
    assert any(PG_SECRET.encode() in r for r in rejecting_pg.received)
    # ... and the user learns what failed.
    assert "password authentication failed" in " ".join(out.split())  # rich wraps lines


def test_failing_chunk_that_echoes_data_leaks_no_secret(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
) -> None:
    # The data itself holds the secrets, and PostgreSQL's error quotes the bad value: the chunk's
    # error_message must still not contain them.
    cur = sf_conn.cursor()
    cur.execute("CREATE OR REPLACE TABLE LEAKY (ID INT PRIMARY KEY, N VARCHAR)")
    cur.execute(f"INSERT INTO LEAKY VALUES (1, '{PG_SECRET}'), (2, '{SF_SECRET}'), (3, '7')")
    cur.close()
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("CREATE TABLE public.leaky (id int, n int)")
    env = {**server_env, "SNOWFLAKE_PASSWORD": SF_SECRET, "POSTGRES_PASSWORD": PG_SECRET}
    cfg = write_config(
        tmp_path / "c.json",
        make_config(
            sf_database, pg_database, [{"source": "LEAKY"}], batch_size=1, max_retry_attempts=1
        ),
    )
    result = run_cli("migrate", "--config", str(cfg), "-v", env=env)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "invalid input syntax for type integer" in out  # the error did quote the data
    _assert_no_secret(out, env, "migrate output")
    status = _status_text(pg_dsn)
    assert "invalid input syntax" in status
    _assert_no_secret(status, env, "migration_status rows")


@pytest.mark.parametrize(
    "case",
    [
        "wrong passphrase",
        pytest.param("no passphrase", marks=pytest.mark.slow),
        pytest.param("corrupt key", marks=pytest.mark.slow),
    ],
)
def test_bad_rsa_keys_fail_in_one_line_without_key_material(
    case: str, server_env: dict[str, str], sf_database: str, pg_database: str, tmp_path: Path
) -> None:
    cfg = write_config(
        tmp_path / "c.json", make_config(sf_database, pg_database, [{"source": "T"}])
    )
    base = {k: v for k, v in server_env.items() if k != "SNOWFLAKE_PASSWORD"}
    good = _pem(PASSPHRASE)
    broken = good.splitlines()
    broken[5] = broken[5][::-1]  # a corrupted body line
    cases = {
        "wrong passphrase": {
            "SNOWFLAKE_RSA_KEY": good,
            "SNOWFLAKE_RSA_KEY_PASSPHRASE": "nope-nope",
        },
        "no passphrase": {"SNOWFLAKE_RSA_KEY": good},
        "corrupt key": {
            "SNOWFLAKE_RSA_KEY": "\\n".join(broken),
            "SNOWFLAKE_RSA_KEY_PASSPHRASE": PASSPHRASE,
        },
    }
    env = {**base, **cases[case], "POSTGRES_PASSWORD": PG_SECRET}
    for command in ("test-connections", "migrate"):
        result = run_cli(command, "--config", str(cfg), env=env)
        out = result.stdout + result.stderr
        if command == "migrate":  # a ConfigError: exit 2 and one line on stderr
            assert result.returncode == 2, f"{case} {command}: {out}"
            lines = [line for line in result.stderr.splitlines() if line.strip()]
        else:  # one FAILED line per check, exit 1
            assert result.returncode == 1, f"{case} {command}: {out}"
            lines = [line for line in out.splitlines() if "snowflake" in line]
        assert len(lines) == 1 and "rsa_key" in lines[0], out
        _assert_no_secret(out, env, f"{case} {command}")
        _assert_no_secret(out, {"SNOWFLAKE_RSA_KEY_PASSPHRASE": PASSPHRASE}, case)


def test_encrypted_key_with_passphrase_reaches_the_server(
    server_env: dict[str, str], sf_database: str, pg_database: str, tmp_path: Path
) -> None:
    """fakesnow accepts any credentials, so this proves the key was decrypted and handed to the
    connector (as DER) without an error, and that nothing of it is printed."""
    cfg = write_config(
        tmp_path / "c.json", make_config(sf_database, pg_database, [{"source": "T"}])
    )
    env = {k: v for k, v in server_env.items() if k != "SNOWFLAKE_PASSWORD"}
    env |= {
        "SNOWFLAKE_RSA_KEY": _pem(PASSPHRASE).replace("\n", "\\n"),
        "SNOWFLAKE_RSA_KEY_PASSPHRASE": PASSPHRASE,
    }
    result = run_cli("test-connections", "--config", str(cfg), env=env)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "ok" in out.lower()
    _assert_no_secret(out, env, "test-connections")
