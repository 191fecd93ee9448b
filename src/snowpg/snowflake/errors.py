"""Snowflake driver errors turned into snowpg's error tree: transient (retry) or terminal.

Order of the tests in :func:`translate_sf_error`, first match wins:

1. authentication (bad password, bad or mismatched key pair)      -> ``SourceError`` + key hint
2. network, timeouts, HTTP 429/5xx, expired session, errnos below -> ``SourceUnavailable``
3. Time Travel point out of retention ``000707``                  -> ``SnapshotExpired``
4. anything else (bad SQL, unknown object ``002003``, grants)     -> ``SourceError``

The connector reuses errno 250001 both for "could not reach the backend" (an ``OperationalError``)
and for a rejected login (a plain ``DatabaseError``), so the class decides between 1 and 2 there.
"""

from __future__ import annotations

import socket
from typing import Any

from snowpg.errors import SnapshotExpired, SnowpgError, SourceError, SourceUnavailable
from snowpg.logs import redact

# Server/driver codes that mean "the session or the network failed, the request itself is fine".
TRANSIENT_ERRNOS: frozenset[int] = frozenset(
    {
        6,  # 000006 invalid response (connector 5.x: a response cut mid-body)
        604,  # 000604 SQL execution canceled (a client cancel, a timer, a dropped session)
        630,  # 000630 statement (or statement queued) timeout reached on the server
        250001,  # could not connect to the backend (OperationalError only; see module docstring)
        250002,  # connection is closed
        250003,  # failed to execute request (network)
        250005,  # failed to reach the server
        251011,  # connection timeout
        251012,  # retryable HTTP code exhausted
        252007,  # failed to renew the session
        252010,  # result chunk download failed
        252013,  # incomplete result chunk
        390111,  # session no longer exists
        390112,  # session expired
        390114,  # authentication (master) token expired
        390115,  # master token invalid (session dropped server side)
        # HTTP status codes the connector reports as errno 290000 + status
        290429,
        290500,
        290502,
        290503,
        290504,
    }
)

# Login rejected: wrong password, unknown user, JWT signed with a key Snowflake does not know.
AUTH_ERRNOS: frozenset[int] = frozenset(
    {390100, 390101, 390144, 394300, 394301, 394302, 394303, 394304, 394305, 394306}
)
_INVALID_PRIVATE_KEY = 251008
_AUTH_SQLSTATE = "28000"

_TRANSIENT_CLASS_NAMES = frozenset(
    {
        "OperationalError",
        "InterfaceError",
        "ServiceUnavailableError",
        "TooManyRequests",
        "GatewayTimeoutError",
        "BadGatewayError",
        "InternalServerError",
        "RequestTimeoutError",
        "OtherHTTPRetryableError",
        "RequestExceedMaxRetryError",
        "TokenExpiredError",
        # requests / urllib3
        "ConnectionError",
        "ConnectTimeout",
        "ReadTimeout",
        "Timeout",
        "ChunkedEncodingError",
        "ProtocolError",
        "NewConnectionError",
        "MaxRetryError",
        "ReadTimeoutError",
        "ConnectTimeoutError",
    }
)

# Network failures in connector 5.x's login errors ("HTTP request failed after retries ...
# Connection refused (os error 111)").
_NETWORK_MARKERS = (
    "connection refused",
    "http request failed",
    "os error",
    "timed out",
    "dns error",
    "connection reset",
)

# "Time travel data is not available for table T. The requested time is either beyond the allowed
# time travel period or before the object creation time." (Snowflake docs, AT | BEFORE)
TIME_TRAVEL_ERRNO = 707
SNAPSHOT_HINT = (
    "the run reads every table at its snapshot (docs/design.md, Snapshot): start a fresh run "
    "(--no-resume), or before the next run raise the table's retention with ALTER TABLE <table> "
    'SET DATA_RETENTION_TIME_IN_DAYS = <days>; "snapshot": "none" in config.json reads the live '
    "tables instead"
)

KEY_HINT = (
    "check SNOWFLAKE_USER and the credentials; an RSA key must be a PKCS8 PEM "
    "(-----BEGIN PRIVATE KEY-----) whose public half is set on the user, and in an environment "
    "variable its line breaks may be written as \\n"
)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return redact(text.splitlines()[0].strip())


def _errno(exc: BaseException) -> int | None:
    value: Any = getattr(exc, "errno", None)
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _class_names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def _is_auth_failure(exc: BaseException, errno: int | None, text: str) -> bool:
    if errno in AUTH_ERRNOS or errno == _INVALID_PRIVATE_KEY:
        return True
    if getattr(exc, "sqlstate", None) == _AUTH_SQLSTATE:
        return True
    lowered = text.lower()
    if "jwt token is invalid" in lowered or "incorrect username or password" in lowered:
        return True
    # A rejected login is a plain DatabaseError with 250001; "backend unreachable" is Operational
    # on 4.x, while 5.x raises a DatabaseError 250001 for both: its text tells them apart.
    if any(marker in lowered for marker in _NETWORK_MARKERS):
        return False
    names = _class_names(exc)
    return errno == 250001 and "DatabaseError" in names and "OperationalError" not in names


def _is_transient(exc: BaseException, errno: int | None) -> bool:
    if isinstance(exc, ConnectionError | TimeoutError | socket.gaierror):
        return True
    if errno == 250001 and any(m in str(exc).lower() for m in _NETWORK_MARKERS):
        return True
    if errno is not None and errno in TRANSIENT_ERRNOS:
        return True
    return bool(_class_names(exc) & _TRANSIENT_CLASS_NAMES)


def translate_sf_error(exc: BaseException, *, context: str) -> SnowpgError:
    """A snowpg error for ``exc`` raised by the connector while ``context`` (e.g. "reading X").

    The message is ``context`` plus the redacted first line of the driver's message.
    """
    if isinstance(exc, SnowpgError):
        return exc
    text = str(exc)
    errno = _errno(exc)
    message = f"{context}: {_first_line(exc)}"
    if _is_auth_failure(exc, errno, text):
        return SourceError(
            f"{context}: Snowflake rejected the login ({_first_line(exc)})", hint=KEY_HINT
        )
    if errno == TIME_TRAVEL_ERRNO:
        return SnapshotExpired(message, hint=SNAPSHOT_HINT)
    if _is_transient(exc, errno):
        return SourceUnavailable(message, hint="Snowflake could not be reached; retry later")
    return SourceError(message)
