"""Open a Snowflake session with the settings snowpg always wants.

The only module that calls ``snowflake.connector.connect``. Every session pins the parameters whose
account-level defaults would change what snowpg reads (docs/design.md, "Session parameters"), is
tagged ``snowpg`` in Snowflake's query history, reads NUMBER as exact decimals, and bounds time in
the right place: a stalled socket by ``socket_timeout`` on the client, a long or queued statement
by ``STATEMENT_TIMEOUT_IN_SECONDS`` / ``STATEMENT_QUEUED_TIMEOUT_IN_SECONDS`` on the server.

``network_timeout`` is deliberately not set: the connector arms a timer of that many seconds on
every ``execute`` which *cancels the query* (error 000604), queue time included (connector
``cursor.py``, ``_TrackedQueryCancellationTimer``), so a chunk query that legitimately runs or
queues longer than it would fail on every attempt.
"""

from __future__ import annotations

import functools
import logging
import os
from typing import TYPE_CHECKING, Any, Protocol

from snowpg.logs import register_secrets
from snowpg.snowflake import reach
from snowpg.snowflake.errors import translate_sf_error

if TYPE_CHECKING:
    from pydantic import SecretStr
    from snowflake.connector import SnowflakeConnection

log = logging.getLogger("snowpg.snowflake.session")

LOGIN_TIMEOUT_S = 60
# A socket that delivers nothing for this long is dead: the request fails (transient) and is
# retried by snowpg's backoff. It bounds one read, not a query: a running query answers "in
# progress" every ~45 s and the connector polls.
SOCKET_TIMEOUT_S = 120
# Server-side bounds of one statement: six hours running, one hour queued. Either ends the
# statement with 000630, which snowpg retries like any transient failure.
STATEMENT_TIMEOUT_S = 6 * 3600
STATEMENT_QUEUED_TIMEOUT_S = 3600

SESSION_PARAMETERS: dict[str, Any] = {
    "CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False,
    "QUERY_TAG": "snowpg",
    # fetch_arrow_batches raises on a JSON result; an account default of JSON would break reads
    "PYTHON_CONNECTOR_QUERY_RESULT_FORMAT": "ARROW",
    # TIMESTAMP_LTZ values and CONVERT_TIMEZONE in chunk predicates must mean UTC
    "TIMEZONE": "UTC",
    # snowpg quotes catalog names exactly; TRUE would fold quoted identifiers to upper case
    "QUOTED_IDENTIFIERS_IGNORE_CASE": False,
    # chunk bounds and watermarks are sent as ISO text and cast in SQL
    "TIMESTAMP_INPUT_FORMAT": "AUTO",
    "BINARY_OUTPUT_FORMAT": "HEX",
    "GEOGRAPHY_OUTPUT_FORMAT": "GeoJSON",
    # a chunk query whose client died must not keep a warehouse busy
    "ABORT_DETACHED_QUERY": True,
    "STATEMENT_TIMEOUT_IN_SECONDS": STATEMENT_TIMEOUT_S,
    "STATEMENT_QUEUED_TIMEOUT_IN_SECONDS": STATEMENT_QUEUED_TIMEOUT_S,
}


class SnowflakeSettingsLike(Protocol):
    """What :func:`connect` reads from ``snowpg.config.connections.SnowflakeSettings``."""

    @property
    def account(self) -> str: ...
    @property
    def user(self) -> str: ...
    @property
    def password(self) -> SecretStr | None: ...
    @property
    def warehouse(self) -> str | None: ...
    @property
    def role(self) -> str | None: ...
    @property
    def host(self) -> str | None: ...
    @property
    def port(self) -> int | None: ...
    @property
    def protocol(self) -> str | None: ...

    def private_key_der(self) -> bytes | None: ...


@functools.cache
def connector_major() -> int:
    """The installed snowflake-connector-python's major version (0 when unknown)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return int(version("snowflake-connector-python").split(".")[0])
    except (PackageNotFoundError, ValueError):
        return 0


def version_options() -> dict[str, Any]:
    """Options only some connector versions know. 5.x asks (with a FutureWarning) whether logout
    should wait for running async queries: snowpg runs none, so a session always logs out."""
    if connector_major() >= 5:
        return {"enable_server_session_keep_alive_auto_detection": False}
    return {}


def socket_timeout_s() -> int:
    """``SOCKET_TIMEOUT_S``, or ``SNOWPG_SF_SOCKET_TIMEOUT_SECONDS`` when set (tests, slow
    links); whole seconds, as connector 5.x requires."""
    text = os.environ.get("SNOWPG_SF_SOCKET_TIMEOUT_SECONDS", "").strip()
    try:
        return max(1, int(float(text))) if text else SOCKET_TIMEOUT_S
    except ValueError:
        return SOCKET_TIMEOUT_S


def connection_params(
    sf: SnowflakeSettingsLike, *, database: str | None = None, schema: str | None = None
) -> dict[str, Any]:
    """Keyword arguments for ``snowflake.connector.connect`` (contains secrets; never log it)."""
    params: dict[str, Any] = {
        "account": sf.account,
        "user": sf.user,
        "application": "snowpg",
        "session_parameters": dict(SESSION_PARAMETERS),
        "client_session_keep_alive": False,
        "login_timeout": LOGIN_TIMEOUT_S,
        "socket_timeout": socket_timeout_s(),
        # FIXED columns with a scale arrive as scaled integers; without this the connector turns
        # them into float64 (connector CArrowTableIterator, convertScaledFixedNumberColumn).
        "arrow_number_to_decimal": True,
    }
    params.update(version_options())
    key = sf.private_key_der()
    if key is not None:
        params["private_key"] = key
    elif sf.password is not None:
        params["password"] = sf.password.get_secret_value()
    optional = {
        "warehouse": sf.warehouse,
        "role": sf.role,
        "host": sf.host,
        "port": sf.port,
        "protocol": sf.protocol,
        "database": database,
        "schema": schema,
    }
    params.update({k: v for k, v in optional.items() if v not in (None, "")})
    return params


def connect(
    sf: SnowflakeSettingsLike, *, database: str | None = None, schema: str | None = None
) -> SnowflakeConnection:
    """A new Snowflake connection; raises ``SourceError``/``SourceUnavailable`` on failure."""
    import snowflake.connector

    if sf.password is not None:
        register_secrets([sf.password.get_secret_value()])
    params = connection_params(sf, database=database, schema=schema)
    where = f"{sf.host}:{sf.port}" if sf.host else f"account {sf.account}"
    log.debug("connecting to Snowflake %s as %s", where, sf.user)
    reach.probe(sf.account, sf.host, sf.port, sf.protocol)  # wrong host/port: fail in seconds
    try:
        return snowflake.connector.connect(**params)
    except Exception as exc:  # every driver failure becomes a snowpg error
        raise translate_sf_error(
            exc, context=f"connecting to Snowflake {where} as user {sf.user}"
        ) from exc


def server_version(conn: SnowflakeConnection) -> str | None:
    """The account's Snowflake version (``CURRENT_VERSION()``), e.g. ``8.40.1``."""
    cur = conn.cursor()
    cur.execute("SELECT CURRENT_VERSION()")
    row = cur.fetchone()
    return str(row[0]) if row else None
