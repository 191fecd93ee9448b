"""The exceptions snowpg raises, and how callers tell a retryable failure from a final one.

    SnowpgError                 base; ``str(e)`` is one line a user can act on
    ├── ConfigError             the configuration or the command line is wrong       (terminal)
    ├── RunRefused              a run would duplicate or silently change data         (terminal)
    ├── SourceError             Snowflake rejected a request                          (terminal)
    │   ├── SourceUnavailable   network, throttling, expired session                  (transient)
    │   ├── SourceNotFound      a configured database, schema or table is not there   (terminal)
    │   └── SnapshotExpired     the run's Time Travel point is past a table's retention (terminal)
    ├── TargetError             PostgreSQL rejected a request                         (terminal)
    │   └── TargetUnavailable   connection lost, server restarting, deadlock          (transient)
    └── DataError               a value cannot be stored as it is                     (terminal)

``TransientError`` is a mixin: ``isinstance(e, TransientError)`` is the only retry test, so retries
follow the class and never match on message text. The Lambda handler raises these classes by
name, which is what Step Functions ``ErrorEquals`` sees.
"""

from __future__ import annotations


class SnowpgError(Exception):
    """Base of every error snowpg raises on purpose.

    The context fields are optional and kept as attributes so callers (status rows, logs, the CLI)
    can use them without parsing the message.
    """

    exit_code: int = 1

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        field: str | None = None,
        table: str | None = None,
        column: str | None = None,
        chunk_id: int | None = None,
    ) -> None:
        self.message = message
        self.hint = hint
        self.field = field
        self.table = table
        self.column = column
        self.chunk_id = chunk_id
        super().__init__(self.__str__())

    def __str__(self) -> str:
        return f"{self.message} — {self.hint}" if self.hint else self.message


class TransientError(SnowpgError):
    """Mixin for failures that may succeed when tried again (after a backoff)."""


class ConfigError(SnowpgError):
    """The configuration file, environment or command line is wrong; nothing was written."""

    exit_code = 2


class RunRefused(SnowpgError):
    """A run was refused because going on would duplicate or silently change data."""

    exit_code = 2


class SourceError(SnowpgError):
    """Snowflake rejected a request (unknown object, bad SQL, permissions)."""


class SourceUnavailable(SourceError, TransientError):
    """Snowflake could not be reached or asked us to slow down."""


class SourceNotFound(SourceError):
    """A database, schema or table the configuration names does not exist in Snowflake (or the
    role may not see it): a bad configuration, exit code 2 like :class:`ConfigError`."""

    exit_code = 2


class SnapshotExpired(SourceError):
    """Snowflake no longer holds a table as it was at the run's snapshot (Time Travel retention
    passed, or the table was re-created since): no chunk of it can be read at that point."""


class TargetError(SnowpgError):
    """PostgreSQL rejected a request (permissions, types, constraint violations)."""


class TargetUnavailable(TargetError, TransientError):
    """PostgreSQL could not be reached, restarted, or aborted us for a deadlock."""


class DataError(SnowpgError):
    """A source value cannot be stored in the target as it is."""


def is_transient(exc: BaseException) -> bool:
    """True when retrying the same work may succeed."""
    return isinstance(exc, TransientError)
