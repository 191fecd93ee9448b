"""A quick TCP check before the Snowflake driver's login, so a wrong host or port fails in
seconds with a line naming them, instead of after the driver's login retries (40 s and more).

Only a definite answer fails fast: a refused connection or an unknown host name. A slow network
(no answer within PROBE_TIMEOUT_S) is left to the driver and its own timeouts.
"""

from __future__ import annotations

import errno
import logging
import socket

from snowpg.errors import SourceUnavailable

log = logging.getLogger("snowpg.snowflake.reach")

PROBE_TIMEOUT_S = 5.0
# Proxies route the driver's traffic elsewhere: a direct probe would prove nothing.
PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy")


def endpoint(
    account: str, host: str | None, port: int | None, protocol: str | None
) -> tuple[str, int]:
    """The host and port the driver will connect to."""
    name = host or f"{account}.snowflakecomputing.com"
    default = 80 if (protocol or "https") == "http" else 443
    return name, port or default


def probe(account: str, host: str | None, port: int | None, protocol: str | None) -> None:
    """Raise SourceUnavailable at once if nothing listens at the Snowflake endpoint."""
    import os

    if any(os.environ.get(v) for v in PROXY_VARIABLES):
        return
    name, number = endpoint(account, host, port, protocol)
    where = f"{name}:{number}"
    hint = (
        "check snowflake.host / SNOWFLAKE_HOST, snowflake.port / SNOWFLAKE_PORT and the account "
        "name (snowflake.account / SNOWFLAKE_ACCOUNT)"
    )
    try:
        with socket.create_connection((name, number), timeout=PROBE_TIMEOUT_S):
            return
    except socket.gaierror as exc:
        raise SourceUnavailable(
            f"connecting to Snowflake {where}: unknown host ({exc.strerror})", hint=hint
        ) from None
    except ConnectionRefusedError:
        raise SourceUnavailable(
            f"connecting to Snowflake {where}: connection refused (nothing listens there)",
            hint=hint,
        ) from None
    except OSError as exc:
        if exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
            raise SourceUnavailable(
                f"connecting to Snowflake {where}: {exc.strerror}", hint=hint
            ) from None
        log.debug("Snowflake endpoint %s did not answer the probe: %s", where, exc)
