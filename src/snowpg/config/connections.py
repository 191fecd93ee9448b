"""How snowpg reaches its two databases: the ``snowflake`` and ``postgres`` settings."""

from __future__ import annotations

from typing import Any

from pydantic import Field, PrivateAttr, SecretStr, field_validator, model_validator

from snowpg.config.fields import NonEmpty, StrictModel, blank_to_none, problem
from snowpg.config.keys import load_private_key_der, normalize_key_text

SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


class SnowflakeSettings(StrictModel):
    account: NonEmpty
    user: NonEmpty
    password: SecretStr | None = None
    rsa_key: SecretStr | None = None
    rsa_key_passphrase: SecretStr | None = None
    warehouse: str | None = None
    role: str | None = None
    host: str | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    protocol: str = "https"
    _der: bytes | None = PrivateAttr(default=None)

    @field_validator("password", "rsa_key_passphrase", "warehouse", "role", "host", mode="before")
    @classmethod
    def _blank(cls, value: Any) -> Any:
        return blank_to_none(value)

    @field_validator("rsa_key", mode="before")
    @classmethod
    def _pem(cls, value: Any) -> Any:
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if not isinstance(value, str):
            return value
        if not value.strip():
            return None
        try:
            return normalize_key_text(value)
        except ValueError as exc:
            raise problem(str(exc)) from None

    @field_validator("protocol", mode="before")
    @classmethod
    def _protocol(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            return "https"
        if isinstance(value, str):
            if value.strip().lower() not in ("http", "https"):
                raise problem(
                    "snowflake.protocol must be 'https' (or 'http' for a local fakesnow server)"
                )
            return value.strip().lower()
        return value

    @model_validator(mode="after")
    def _credentials(self) -> SnowflakeSettings:
        if self.password is None and self.rsa_key is None:
            raise problem(
                "Snowflake credentials missing: set SNOWFLAKE_RSA_KEY (PEM private key) or "
                "SNOWFLAKE_PASSWORD, or snowflake.rsa_key / snowflake.password in config.json"
            )
        return self

    def private_key_der(self) -> bytes | None:
        """The RSA key as unencrypted PKCS8 DER (snowflake-connector's ``private_key``), or None."""
        if self.rsa_key is None:
            return None
        if self._der is None:
            passphrase = self.rsa_key_passphrase
            self._der = load_private_key_der(
                self.rsa_key.get_secret_value(),
                passphrase.get_secret_value() if passphrase is not None else None,
            )
        return self._der


class PostgresSettings(StrictModel):
    host: NonEmpty  # a host name, an IP address, or a unix-socket directory
    port: int = Field(default=5432, ge=1, le=65535)
    user: NonEmpty
    password: SecretStr | None = None
    sslmode: str | None = None
    connect_timeout: int = Field(default=10, ge=1)

    @field_validator("password", "sslmode", mode="before")
    @classmethod
    def _blank(cls, value: Any) -> Any:
        return blank_to_none(value)

    @field_validator("sslmode")
    @classmethod
    def _sslmode(cls, value: str | None) -> str | None:
        if value is not None and value.lower() not in SSL_MODES:
            raise problem(f"postgres.sslmode must be one of {', '.join(SSL_MODES)}")
        return value.lower() if value is not None else None

    def conninfo(self, dbname: str) -> str:
        """A libpq connection string for ``dbname``; it contains the password."""
        # Imported here (not snowpg): loading the config must not load the PostgreSQL driver,
        # so `snowpg --help` and a Lambda `status` call start fast.
        from psycopg.conninfo import make_conninfo

        params: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "dbname": dbname,
            "connect_timeout": self.connect_timeout,
        }
        if self.password is not None:
            params["password"] = self.password.get_secret_value()
        if self.sslmode is not None:
            params["sslmode"] = self.sslmode
        return make_conninfo(**params)

    def describe(self, dbname: str) -> str:
        """``user@host:port/dbname`` for messages; never the password."""
        return f"{self.user}@{self.host}:{self.port}/{dbname}"
