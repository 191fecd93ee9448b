"""The settings model: what a config.json may say, its defaults and its cross-field rules.

Validators raise ``PydanticCustomError("snowpg", ...)`` with a message a user can act on;
``snowpg.config.load`` turns pydantic's ValidationError into one ConfigError line.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from snowpg.errors import ConfigError
from snowpg.model import parse_nul_policy
from snowpg.names import shorten
from snowpg.sqltext import PG_MAX_IDENTIFIER_BYTES, filter_problem

# Documented in docs/configuration.md; compared lower-case.
CHUNKING_COLUMN_TYPES = (
    "varchar", "varchar_numeric", "text", "string", "char", "uuid",
    "int", "integer", "bigint", "smallint", "number", "numeric", "decimal", "float", "double",
    "date", "timestamp", "timestamp_ntz", "timestamp_ltz", "timestamp_tz", "datetime",
)  # fmt: skip
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

NonEmpty = Annotated[str, Field(min_length=1)]
ColumnList = Annotated[list[NonEmpty], Field(min_length=1)]


def _problem(message: str) -> PydanticCustomError:
    return PydanticCustomError("snowpg", message)


def _blank_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def _scalar_kinds(annotation: Any) -> set[type]:
    """The plain scalar types a field annotation admits (``int | None`` -> {int, NoneType})."""
    args = get_args(annotation)
    if get_origin(annotation) is Annotated:
        return _scalar_kinds(args[0])
    if args and get_origin(annotation) in (Union, UnionType):
        return set().union(*(_scalar_kinds(a) for a in args))
    return {annotation} if isinstance(annotation, type) else set()


def _too_long(value: str | None, what: str) -> str | None:
    if value is not None and len(value.encode("utf-8")) > PG_MAX_IDENTIFIER_BYTES:
        raise _problem(
            f"{what} {value!r} is {len(value.encode('utf-8'))} bytes; PostgreSQL names are at "
            f"most {PG_MAX_IDENTIFIER_BYTES} bytes (longer ones are cut silently): choose a "
            "shorter name"
        )
    return value


class _Model(BaseModel):
    # hide_input_in_errors keeps secrets out of ValidationError text if one escapes translation.
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    @field_validator("*", mode="before")
    @classmethod
    def _strict_scalars(cls, value: Any, info: ValidationInfo) -> Any:
        """true/false only for booleans, and no booleans for numbers (pydantic's lax mode takes
        ``"yes"`` as true and ``true`` as 1); numbers written as strings stay accepted."""
        if value is None or info.field_name is None:
            return value
        kinds = _scalar_kinds(cls.model_fields[info.field_name].annotation)
        if bool in kinds and not isinstance(value, bool):
            raise PydanticCustomError("bool_type", "Input should be true or false")
        if kinds & {int, float} and bool not in kinds and isinstance(value, bool):
            kind = "int_type" if int in kinds else "float_type"
            raise PydanticCustomError(kind, "Input should be a number")
        return value


class SnowflakeSettings(_Model):
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
        return _blank_to_none(value)

    @field_validator("rsa_key", mode="before")
    @classmethod
    def _pem(cls, value: Any) -> Any:
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if not isinstance(value, str):
            return value
        if not value.strip():
            return None
        from snowpg.config.keys import normalize_key_text

        try:
            return normalize_key_text(value)
        except ValueError as exc:
            raise _problem(str(exc)) from None

    @field_validator("protocol", mode="before")
    @classmethod
    def _protocol(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            return "https"
        if isinstance(value, str):
            if value.strip().lower() not in ("http", "https"):
                raise _problem(
                    "snowflake.protocol must be 'https' (or 'http' for a local fakesnow server)"
                )
            return value.strip().lower()
        return value

    @model_validator(mode="after")
    def _credentials(self) -> SnowflakeSettings:
        if self.password is None and self.rsa_key is None:
            raise _problem(
                "Snowflake credentials missing: set SNOWFLAKE_RSA_KEY (PEM private key) or "
                "SNOWFLAKE_PASSWORD, or snowflake.rsa_key / snowflake.password in config.json"
            )
        return self

    def private_key_der(self) -> bytes | None:
        """The RSA key as unencrypted PKCS8 DER (snowflake-connector's ``private_key``), or None."""
        if self.rsa_key is None:
            return None
        if self._der is None:
            # Imported here: load.py imports this module to build Settings.
            from snowpg.config.load import load_private_key_der

            passphrase = self.rsa_key_passphrase
            self._der = load_private_key_der(
                self.rsa_key.get_secret_value(),
                passphrase.get_secret_value() if passphrase is not None else None,
            )
        return self._der


class PostgresSettings(_Model):
    host: NonEmpty  # a host name, an IP address, or a unix-socket directory
    port: int = Field(default=5432, ge=1, le=65535)
    user: NonEmpty
    password: SecretStr | None = None
    sslmode: str | None = None
    connect_timeout: int = Field(default=10, ge=1)

    @field_validator("password", "sslmode", mode="before")
    @classmethod
    def _blank(cls, value: Any) -> Any:
        return _blank_to_none(value)

    @field_validator("sslmode")
    @classmethod
    def _sslmode(cls, value: str | None) -> str | None:
        if value is not None and value.lower() not in SSL_MODES:
            raise _problem(f"postgres.sslmode must be one of {', '.join(SSL_MODES)}")
        return value.lower() if value is not None else None

    def conninfo(self, dbname: str) -> str:
        """A libpq connection string for ``dbname``; it contains the password."""
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


class TableConfig(_Model):
    enabled: bool = True
    source: NonEmpty
    target: NonEmpty | None = None
    source_filter: str | None = None
    chunking_columns: ColumnList | None = None
    chunking_column_types: list[str] | None = None
    # The existing tool's source -> target column renames (plan/columns.py applies them).
    column_mapping: dict[NonEmpty, NonEmpty] | None = None
    uniqueness_columns: ColumnList | None = None
    source_watermark: str | None = None
    target_watermark: str | None = None
    truncate_onstart: bool = False
    disable_index: bool = False
    parallel_threads: int | None = Field(default=None, ge=1, le=64)
    batch_size: int | None = Field(default=None, ge=1)
    max_chunk_mb: float | None = Field(default=None, gt=0)
    insert_only_mode: bool | None = None
    nul_policy: str | None = None  # U+0000 in text: "fail" | "strip" | "replace:<char>"
    copy_format: Literal["auto", "csv"] | None = None
    _identifier_case: str = PrivateAttr(default="lower")  # set from Settings.identifier_case
    # Incremental loads (docs/incremental.md): remove or flag target rows gone from the source.
    detect_deletes: bool = False
    delete_mode: Literal["delete", "flag"] = "delete"
    deleted_flag_column: str | None = None

    @field_validator(
        "source_filter",
        "source_watermark",
        "target_watermark",
        "deleted_flag_column",
        mode="before",
    )
    @classmethod
    def _blank(cls, value: Any) -> Any:
        return _blank_to_none(value)

    @field_validator("target", "target_watermark", "deleted_flag_column")
    @classmethod
    def _pg_name(cls, value: str | None, info: ValidationInfo) -> str | None:
        return _too_long(value, str(info.field_name))

    @field_validator("source_filter")
    @classmethod
    def _filter(cls, value: str | None) -> str | None:
        problem = filter_problem(value) if value is not None else None
        if problem is not None:
            raise _problem(
                f"source_filter {value!r} cannot be used: {problem}; write one condition "
                "whose parentheses balance, without comments or ';'"
            )
        return value

    @field_validator("source", mode="before")
    @classmethod
    def _quoted_source(cls, value: Any) -> Any:
        # The existing tool's configs write a lower-case Snowflake table as "\"name\"": the
        # quoted identifier, matched exactly (catalog.describe_table tries the exact name first).
        if isinstance(value, str):
            text = value.strip()
            if len(text) > 2 and text[0] == text[-1] == '"':
                return text[1:-1].replace('""', '"')
        return value

    @field_validator("nul_policy")
    @classmethod
    def _nul_policy(cls, value: str | None) -> str | None:
        return _check_nul_policy(value) if value is not None else None

    @field_validator(
        "chunking_columns", "chunking_column_types", "uniqueness_columns", mode="before"
    )
    @classmethod
    def _empty_list(cls, value: Any) -> Any:
        return None if value == [] else value

    @field_validator("chunking_column_types")
    @classmethod
    def _types(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        bad = [v for v in value if v.lower() not in CHUNKING_COLUMN_TYPES]
        if bad:
            raise _problem(
                f"unknown chunking column type {bad[0]!r}; "
                f"use one of {', '.join(CHUNKING_COLUMN_TYPES)}"
            )
        return [v.lower() for v in value]

    @model_validator(mode="after")
    def _chunking(self) -> TableConfig:
        cols, types = self.chunking_columns, self.chunking_column_types
        if cols is not None and len(set(cols)) != len(cols):
            raise _problem(f"chunking_columns of table {self.source} name a column twice: {cols}")
        if types is not None and cols is None:
            raise _problem(
                f"table {self.source} has chunking_column_types but no chunking_columns; "
                "add chunking_columns or remove chunking_column_types"
            )
        if types is not None and cols is not None and len(types) != len(cols):
            raise _problem(
                f"table {self.source} has {len(cols)} chunking_columns but {len(types)} "
                "chunking_column_types; give one type per chunking column (same order)"
            )
        if self.delete_mode == "flag" and self.deleted_flag_column is None:
            raise _problem(
                f'table {self.source} has "delete_mode": "flag" but no deleted_flag_column; '
                "name the boolean target column that marks deleted rows"
            )
        return self

    @property
    def target_name(self) -> str:
        """``target``, else the source name lower-cased (``identifier_case`` "lower") or exact
        ("preserve"); shortened to 63 bytes with a hash suffix if longer (docs/types.md)."""
        if self.target is not None:
            return self.target
        name = self.source if self._identifier_case == "preserve" else self.source.lower()
        return shorten(name, full_name=self.source)


def _check_nul_policy(value: str) -> str:
    try:
        parse_nul_policy(value)
    except ConfigError as exc:
        raise _problem(f"{exc.message}; {exc.hint}") from None
    return value


def _split_names(names: Sequence[str] | str | None) -> list[str]:
    if names is None:
        return []
    items = names.split(",") if isinstance(names, str) else list(names)
    return [n.strip() for n in items if n and n.strip()]


def _match(name: str, candidates: Sequence[str]) -> str | None:
    """The candidate equal to ``name``, else the one equal ignoring case, else None."""
    if name in candidates:
        return name
    folded = [c for c in candidates if c.lower() == name.lower()]
    return folded[0] if folded else None


class SourceConfig(_Model):
    source_name: NonEmpty
    enabled: bool = True
    source_sf_database: NonEmpty
    source_sf_schema: NonEmpty
    target_pg_database: NonEmpty
    target_pg_schema: NonEmpty
    tables: Annotated[list[TableConfig], Field(min_length=1)]

    @field_validator("target_pg_database", "target_pg_schema")
    @classmethod
    def _pg_name(cls, value: str, info: ValidationInfo) -> str:
        _too_long(value, str(info.field_name))
        return value

    def target_clash(self) -> str | None:
        """Two tables loading into one PostgreSQL table, as a message, else None. Settings asks
        once every table knows its ``identifier_case``, which decides the default target names."""
        seen: dict[str, str] = {}
        for t in self.tables:
            if t.target_name in seen:
                return (
                    f"source {self.source_name!r}: tables {seen[t.target_name]} and {t.source} "
                    f"both load into {self.target_pg_schema}.{t.target_name}; "
                    "give one of them another 'target'"
                )
            seen[t.target_name] = t.source
        return None

    def table(self, name: str) -> TableConfig:
        """The table whose ``source`` is ``name`` (exact, then ignoring case)."""
        found = _match(name, [t.source for t in self.tables])
        if found is None:
            raise ConfigError(
                f"unknown table {name!r} in source {self.source_name!r}; "
                f"known tables: {', '.join(t.source for t in self.tables)}",
                table=name,
            )
        return next(t for t in self.tables if t.source == found)

    def select_tables(self, tables_filter: Sequence[str] | str | None) -> list[TableConfig]:
        """Enabled tables, in config order, limited to the source names in ``tables_filter``.

        An empty filter means every enabled table. Naming an unknown or a disabled table is an
        error, so a typo never silently migrates nothing.
        """
        wanted = _split_names(tables_filter)
        if not wanted:
            return [t for t in self.tables if t.enabled]
        chosen: set[str] = set()
        for name in wanted:
            table = self.table(name)
            if not table.enabled:
                raise ConfigError(
                    f"table {table.source!r} of source {self.source_name!r} is disabled; "
                    'set "enabled": true for it in config.json or leave it out of the filter',
                    table=table.source,
                )
            chosen.add(table.source)
        return [t for t in self.tables if t.enabled and t.source in chosen]


class Settings(_Model):
    snowflake: SnowflakeSettings
    postgres: PostgresSettings
    parallel_threads: int = Field(default=4, ge=1, le=64)
    batch_size: int = Field(default=20_000, ge=1)
    # Chunks hold fewer than batch_size rows when their rows would exceed this (plan/sizing.py).
    max_chunk_mb: float = Field(default=8, gt=0)
    max_retry_attempts: int = Field(default=3, ge=0)
    lambda_timeout_buffer_seconds: int = Field(default=90, ge=0)
    insert_only_mode: bool = False
    lease_seconds: int = Field(default=300, ge=1)
    retry_backoff_seconds: float = Field(default=1.0, ge=0)
    log_level: str = "INFO"
    migration_version: str | None = None
    nul_policy: str = "fail"  # a table may override
    # "auto": binary COPY where every column has a binary encoder, else CSV; "csv": always CSV.
    copy_format: Literal["auto", "csv"] = "auto"
    # "lower": names without lower-case letters become lower-case; "preserve": exact names.
    identifier_case: Literal["lower", "preserve"] = "lower"
    sources: Annotated[list[SourceConfig], Field(min_length=1)]

    @field_validator("log_level", mode="before")
    @classmethod
    def _level(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        level = value.strip().upper()
        level = "WARNING" if level == "WARN" else level
        if level not in LOG_LEVELS:
            raise _problem(f"log_level {value!r} is not one of {', '.join(LOG_LEVELS)}")
        return level

    @field_validator("nul_policy")
    @classmethod
    def _nul_policy(cls, value: str) -> str:
        return _check_nul_policy(value)

    @field_validator("migration_version", mode="before")
    @classmethod
    def _version(cls, value: Any) -> Any:
        return _blank_to_none(value)

    @model_validator(mode="after")
    def _table_names(self) -> Settings:
        for i, src in enumerate(self.sources):
            for t in src.tables:
                t._identifier_case = self.identifier_case
            clash = src.target_clash()
            if clash is not None:
                raise _problem(f"sources[{i}]: {clash}")
        return self

    @model_validator(mode="after")
    def _unique_sources(self) -> Settings:
        seen: set[str] = set()
        for s in self.sources:
            if s.source_name.lower() in seen:
                raise _problem(f"source_name {s.source_name!r} is used by two sources; rename one")
            seen.add(s.source_name.lower())
        return self

    def source(self, name: str) -> SourceConfig:
        found = _match(name, [s.source_name for s in self.sources])
        if found is None:
            known = ", ".join(s.source_name for s in self.sources)
            raise ConfigError(
                f"unknown source {name!r}; known sources: {known}", field="source_name"
            )
        return next(s for s in self.sources if s.source_name == found)

    def select_sources(self, names: str | Sequence[str] | None) -> list[SourceConfig]:
        """Named sources (enabled or not) in the order given; with no names, the enabled ones."""
        wanted = _split_names(names)
        if not wanted:
            return [s for s in self.sources if s.enabled]
        out: list[SourceConfig] = []
        for name in wanted:
            src = self.source(name)
            if src not in out:
                out.append(src)
        return out

    def threads_for(self, table: TableConfig) -> int:
        return (
            table.parallel_threads if table.parallel_threads is not None else self.parallel_threads
        )

    def batch_size_for(self, table: TableConfig) -> int:
        return table.batch_size if table.batch_size is not None else self.batch_size

    def max_chunk_mb_for(self, table: TableConfig) -> float:
        return table.max_chunk_mb if table.max_chunk_mb is not None else self.max_chunk_mb

    def insert_only_for(self, table: TableConfig) -> bool:
        return (
            table.insert_only_mode if table.insert_only_mode is not None else self.insert_only_mode
        )

    def nul_policy_for(self, table: TableConfig) -> str:
        return table.nul_policy if table.nul_policy is not None else self.nul_policy

    def copy_format_for(self, table: TableConfig) -> str:
        return table.copy_format if table.copy_format is not None else self.copy_format

    def target_table_name(self, table: TableConfig) -> str:
        """The PostgreSQL table name: ``target``, else the source name under ``identifier_case``."""
        table._identifier_case = self.identifier_case
        return table.target_name

    def secrets(self) -> list[str]:
        """Every secret value, for ``snowpg.logs.register_secrets``."""
        values = [
            self.snowflake.password,
            self.snowflake.rsa_key,
            self.snowflake.rsa_key_passphrase,
            self.postgres.password,
        ]
        return [v.get_secret_value() for v in values if v is not None]

    def config_hash(self, source: SourceConfig) -> str:
        """sha256 hex over the fields of ``source`` that shape its data (docs/configuration.md)."""
        from snowpg.config.load import config_hash

        return config_hash(self, source)
