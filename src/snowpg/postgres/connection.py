"""Open PostgreSQL connections, and turn driver errors into snowpg's terminal/transient errors.

This is the only module that opens target connections. Every connection has TCP keepalives, so a
peer that vanished (a failover, a NAT idle timeout on Lambda) is noticed in about a minute instead
of a COPY hanging until the Lambda times out.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.conninfo import make_conninfo

from snowpg.errors import ConfigError, SnowpgError, TargetError, TargetUnavailable
from snowpg.logs import redact

if TYPE_CHECKING:
    from snowpg.config.connections import PostgresSettings

# Idle seconds before the first probe, seconds between probes, probes before giving up:
# a dead peer is detected after about 30 + 3 * 10 = 60 s. tcp_user_timeout (ms) bounds data
# sent but never acknowledged the same way. A peer that acknowledges but never answers is cut by
# snowpg.postgres.watchdog.
KEEPALIVE_OPTIONS: dict[str, int] = {
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
    "tcp_user_timeout": 60_000,
}

# SQLSTATEs worth retrying: the server went away or restarted, or aborted our transaction because
# of a concurrent one. Class 08 (connection exceptions) is matched by prefix.
TRANSIENT_SQLSTATES = frozenset(
    {
        "40001",  # serialization_failure
        "40P01",  # deadlock_detected
        "53300",  # too_many_connections: other clients (or our own workers) will go away
        "57P01",  # admin_shutdown
        "57P02",  # crash_shutdown
        "57P03",  # cannot_connect_now (starting up, recovering)
        "57P05",  # idle_session_timeout
    }
)

# Server refusals at connection time that pass: 57P03 cannot_connect_now, 57P01, 53300.
_TRANSIENT_FATAL_TEXTS = (
    "the database system is starting up",
    "the database system is shutting down",
    "the database system is in recovery mode",
    "the database system is not yet accepting connections",
    "the database system is not accepting connections",
    "sorry, too many clients already",
    "remaining connection slots are reserved",
)

_LOGIN_HINT = (
    "check POSTGRES_USER, POSTGRES_PASSWORD and the database name, and that pg_hba.conf lets "
    "this client in"
)

_CONNECT_HINT = (
    "check POSTGRES_HOST and POSTGRES_PORT and that the server is up; on AWS Lambda check the "
    "function's VPC subnets and that the database's security group allows it"
)


def connect(
    pg: PostgresSettings,
    dbname: str,
    *,
    autocommit: bool = False,
    application_name: str = "snowpg",
) -> psycopg.Connection[Any]:
    """A connection to ``dbname``; raises TargetUnavailable / TargetError naming the server."""
    try:
        conninfo = make_conninfo(
            pg.conninfo(dbname), application_name=application_name, **KEEPALIVE_OPTIONS
        )
        return psycopg.connect(conninfo, autocommit=autocommit)
    except psycopg.Error as exc:
        raise _connect_error(exc, pg.describe(dbname)) from exc


def server_version(conn: psycopg.Connection[Any]) -> str | None:
    """The server's ``version()`` text (``PostgreSQL 16.4 on x86_64-pc-linux-gnu, ...``)."""
    row = conn.execute("SELECT version()").fetchone()
    return str(row[0]) if row else None


def _connect_error(exc: psycopg.Error, where: str) -> SnowpgError:
    err = translate_pg_error(exc, context=f"cannot connect to PostgreSQL {where}")
    if exc.sqlstate is not None or not isinstance(exc, psycopg.OperationalError):
        return err
    # libpq gives no SQLSTATE for errors during connection set-up, only the server's text. A FATAL
    # from the server means it was reached and refused us (login, database, pg_hba), which a retry
    # will not fix, unless it is one of the restart/overload refusals below.
    text = str(exc)
    missing = re.search(r'database "([^"]+)" does not exist', text)
    if "FATAL:" in text and missing:
        name = missing.group(1)
        return ConfigError(
            f"target database {name} does not exist on PostgreSQL {where}",
            hint=f"create it first (CREATE DATABASE {quote_ident_pg(name)};): snowpg creates "
            "schemas and tables inside it, never the database",
            field="target_pg_database",
        )
    if "FATAL:" in text and not any(m in text for m in _TRANSIENT_FATAL_TEXTS):
        return TargetError(err.message, hint=_LOGIN_HINT)
    return TargetUnavailable(err.message, hint=_CONNECT_HINT)


def quote_ident_pg(name: str) -> str:
    """``name`` as a PostgreSQL identifier in a hint (quoted unless plain lower case)."""
    if re.fullmatch(r"[a-z_][a-z0-9_$]*", name):
        return name
    return '"' + name.replace('"', '""') + '"'


def is_transient_sqlstate(sqlstate: str | None) -> bool:
    return sqlstate is not None and (sqlstate.startswith("08") or sqlstate in TRANSIENT_SQLSTATES)


def translate_pg_error(exc: BaseException, *, context: str) -> SnowpgError:
    """``exc`` as TargetUnavailable (worth retrying) or TargetError; the message is redacted.

    The message is ``context: <first line of the driver message> (SQLSTATE xxxxx)``.
    """
    if isinstance(exc, SnowpgError):
        return exc
    sqlstate: str | None = getattr(exc, "sqlstate", None)
    lines = redact(str(exc)).strip().splitlines()
    detail = lines[0].strip() if lines else type(exc).__name__
    message = f"{context}: {detail}"
    if sqlstate:
        message += f" (SQLSTATE {sqlstate})"
    if is_transient_sqlstate(sqlstate):
        return TargetUnavailable(message)
    # Without a SQLSTATE an OperationalError is the connection itself failing: refused, reset,
    # timed out, closed under us. A server-reported error (e.g. 55P03 lock_not_available or
    # 57014 query_canceled) has one and is final for us.
    if sqlstate is None and isinstance(exc, psycopg.OperationalError | OSError | TimeoutError):
        return TargetUnavailable(message)
    if sqlstate == UNIQUE_VIOLATION:
        return _duplicate_key_error(exc, message)
    return TargetError(message)


UNIQUE_VIOLATION = "23505"

_DUPLICATE_KEY_HINT = (
    "Snowflake does not enforce PRIMARY KEY or UNIQUE, so the source may hold several rows with "
    "one key; drop the target's primary key or unique index{on} and run again, or drop the "
    "target table and let snowpg create it (it loads every row and reports the duplicates), or "
    "set uniqueness_columns to upsert on the key (one row per key is kept)"
)


def _duplicate_key_error(exc: BaseException, message: str) -> TargetError:
    """A chunk that broke a unique key of the target: say which, why, and what to do."""
    diag = getattr(exc, "diag", None)
    detail = getattr(diag, "message_detail", None)  # "Key (id)=(7) already exists."
    constraint = getattr(diag, "constraint_name", None)
    table = getattr(diag, "table_name", None)
    schema = getattr(diag, "schema_name", None)
    if detail:
        message += f": {redact(detail).strip()}"
    where = f"{schema}.{table}" if schema and table else table
    on = f" ({constraint}" + (f" on {where}" if where else "") + ")" if constraint else ""
    return TargetError(message, hint=_DUPLICATE_KEY_HINT.format(on=on))
