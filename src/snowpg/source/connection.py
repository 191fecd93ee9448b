"""Open a Snowflake session with the settings snowpg always wants.

The only module that calls ``snowflake.connector.connect``. Every session runs in UTC (so
TIMESTAMP_LTZ values and ``CONVERT_TIMEZONE`` are unambiguous), is tagged ``snowpg`` in Snowflake's
query history, and fails fast instead of retrying a broken request for the driver's default day.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Protocol

from snowpg.logs import register_secrets
from snowpg.source import reach
from snowpg.source.errors import translate_sf_error

if TYPE_CHECKING:
    from pydantic import SecretStr
    from snowflake.connector import SnowflakeConnection

log = logging.getLogger("snowpg.source.connection")

# Upper bound for one request's retries (seconds). The connector's default keeps retrying a
# failing request for a very long time; a chunk query that cannot finish in 5 minutes of network
# trouble is better retried as a whole by snowpg's own backoff.
NETWORK_TIMEOUT_S = 300
LOGIN_TIMEOUT_S = 60

SESSION_PARAMETERS: dict[str, Any] = {
    "CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False,
    "TIMEZONE": "UTC",
    "QUERY_TAG": "snowpg",
}


class SnowflakeSettingsLike(Protocol):
    """What :func:`connect` reads from ``snowpg.config.schema.SnowflakeSettings``."""

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
        "network_timeout": NETWORK_TIMEOUT_S,
        "login_timeout": LOGIN_TIMEOUT_S,
    }
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
