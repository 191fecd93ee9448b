"""Reading config.json: JSON parsing, environment, validation, one-line errors, config hashing."""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from snowpg.config.compat import drop_ignored_keys
from snowpg.config.env import (
    CONFIG_PATH_ENV,
    POSTGRES_ENV,
    SNOWFLAKE_ENV,
    Provenance,
    apply_env_fallbacks,
    format_path,
    join_problems,
    substitute,
)
from snowpg.config.schema import Settings, SourceConfig
from snowpg.errors import ConfigError
from snowpg.logs import register_secrets

DEFAULT_CONFIG_PATH = "config.json"

# Bumped when the hashed shape changes, so an old run is never matched by accident.
_HASH_VERSION = 1

# Required connection fields get a message naming the environment variable as well as the key.
_REQUIRED_HINTS: dict[tuple[str | int, ...], str] = {
    ("snowflake", "account"): (
        f"Snowflake account missing: set {SNOWFLAKE_ENV['account']} or snowflake.account in "
        "config.json (e.g. xy12345.eu-west-1)"
    ),
    ("snowflake", "user"): (
        f"Snowflake user missing: set {SNOWFLAKE_ENV['user']} or snowflake.user in config.json"
    ),
    ("postgres", "host"): (
        f"PostgreSQL host missing: set {POSTGRES_ENV['host']} (host name or unix-socket directory) "
        "or postgres.host in config.json"
    ),
    ("postgres", "user"): (
        f"PostgreSQL user missing: set {POSTGRES_ENV['user']} or postgres.user in config.json"
    ),
}

_EXPECTED: dict[str, str] = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "a string",
    "list_type": "a list",
    "model_type": "an object",
    "model_attributes_type": "an object",
    "dict_type": "an object",
}


def load_settings(
    path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> Settings:
    """Settings from ``path`` (else $SNOWPG_CONFIG, else ./config.json) and ``env``.

    ``env`` defaults to ``os.environ``.
    """
    environ: Mapping[str, str] = os.environ if env is None else env
    if path is None:
        path = environ.get(CONFIG_PATH_ENV) or DEFAULT_CONFIG_PATH
    p = Path(path)
    hint = f"pass --config PATH or set {CONFIG_PATH_ENV} to the config file"
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"config file {p} not found", hint=hint, field="config") from None
    except IsADirectoryError:
        raise ConfigError(f"config path {p} is a directory, not a file", hint=hint) from None
    except OSError as e:
        raise ConfigError(f"cannot read config file {p}: {e.strerror}", hint=hint) from None
    return parse_settings(raw, environ, origin=str(p))


def parse_settings(
    data: str | bytes | Mapping[str, Any], env: Mapping[str, str], origin: str = "config.json"
) -> Settings:
    """Settings from JSON text or already-parsed data; every problem is one ConfigError line."""
    raw = _parse_json(data, origin) if isinstance(data, str | bytes) else data
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{origin}: the top level must be a JSON object {{...}}")
    substituted, from_refs = substitute(drop_ignored_keys(raw), env, origin)
    merged, from_env = apply_env_fallbacks(substituted, env)
    try:
        settings = Settings.model_validate(merged)
    except ValidationError as e:
        raise _translate(e, {**from_refs, **from_env}, origin) from None
    register_secrets(settings.secrets())
    return settings


def _parse_json(data: str | bytes, origin: str) -> Any:
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise ConfigError(f"{origin}: not UTF-8 text (bad byte at offset {e.start})") from None

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise ConfigError(f"{origin}: key {key!r} appears twice in one object; keep one")
            out[key] = value
        return out

    try:
        return json.loads(data, object_pairs_hook=no_duplicates)
    except json.JSONDecodeError as e:
        raise ConfigError(
            f"{origin}: invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}", field="config"
        ) from None


def _translate(error: ValidationError, provenance: Provenance, origin: str) -> ConfigError:
    details = error.errors(include_url=False)
    problems = [_describe(d, provenance) for d in details]
    first = format_path(details[0]["loc"]) if details else None
    return ConfigError(f"{origin}: {join_problems(problems)}", field=first or None)


def _describe(d: ErrorDetails, provenance: Provenance) -> str:
    loc = tuple(d["loc"])
    kind = d["type"]
    path = format_path(loc)
    came_from = f" (value from {provenance[loc]})" if loc in provenance else ""
    if kind == "extra_forbidden":
        return _unknown_key(loc)
    if kind in ("missing", "string_too_short") and loc in _REQUIRED_HINTS:
        return _REQUIRED_HINTS[loc]
    if kind == "missing":
        where = format_path(loc[:-1]) or "the top level"
        return f"missing required key {loc[-1]!r} at {where}"
    if kind == "snowpg":
        message = d["msg"]
        return f"{path}: {message}" if loc and loc[0] == "sources" else message + came_from
    if kind in _EXPECTED:
        return f"{path}: expected {_EXPECTED[kind]}, got {_json_type(d.get('input'))}{came_from}"
    ctx = d.get("ctx") or {}
    got = d.get("input")
    shown = f" (got {got})" if isinstance(got, int | float) and not isinstance(got, bool) else ""
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        op = {"greater_than_equal": ">=", "less_than_equal": "<=", "greater_than": ">"}.get(
            kind, "<"
        )
        bound = next(iter(ctx.values()), "?")
        return f"{path}: must be {op} {bound}{shown}{came_from}"
    if kind == "string_too_short":
        return f"{path}: must not be empty{came_from}"
    if kind == "too_short":
        return f"{path}: needs at least {ctx.get('min_length', 1)} entry"
    return f"{path}: {d['msg']}{came_from}"


def _unknown_key(loc: tuple[str | int, ...]) -> str:
    key = str(loc[-1])
    where = format_path(loc[:-1]) or "the top level"
    model = _model_at(loc[:-1])
    known = list(model.model_fields) if model is not None else []
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    if close:
        return f"unknown key {key!r} at {where} — did you mean {close[0]!r}?"
    return f"unknown key {key!r} at {where}; known keys: {', '.join(known)}"


def _model_at(loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The model class that validates the object at ``loc`` (list indexes are skipped)."""
    model: type[BaseModel] | None = Settings
    for part in loc:
        if isinstance(part, int):
            continue
        if model is None or part not in model.model_fields:
            return None
        model = _model_in(model.model_fields[part].annotation)
    return model


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _model_in(typing.get_args(annotation)[0])
    if origin in (list, typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def load_private_key_der(pem: str, passphrase: str | None) -> bytes:
    """PKCS8 DER bytes of an RSA private key in PEM; errors never include key material."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from snowpg.config.keys import der_body

    der = der_body(pem)  # a bare base64 DER body (see snowpg.config.keys)
    data = der if der is not None else pem.encode("utf-8")
    load = serialization.load_pem_private_key
    if der is not None:
        load = serialization.load_der_private_key
    password = passphrase.encode("utf-8") if passphrase else None
    try:
        try:
            key = load(data, password=password)
        except TypeError:
            if password is None:
                raise ConfigError(
                    "snowflake.rsa_key is encrypted but no passphrase was given",
                    hint="set SNOWFLAKE_RSA_KEY_PASSPHRASE or snowflake.rsa_key_passphrase",
                    field="snowflake.rsa_key_passphrase",
                ) from None
            # A passphrase for an unencrypted key is harmless: use the key as it is.
            key = load(data, password=None)
    except (ValueError, UnsupportedAlgorithm):
        if password is not None:
            raise ConfigError(
                "could not decrypt snowflake.rsa_key: wrong passphrase or damaged key",
                hint="check SNOWFLAKE_RSA_KEY_PASSPHRASE / snowflake.rsa_key_passphrase",
                field="snowflake.rsa_key_passphrase",
            ) from None
        raise ConfigError(
            "snowflake.rsa_key could not be read as a PEM private key (damaged or truncated)",
            hint="set SNOWFLAKE_RSA_KEY / snowflake.rsa_key to the full contents of the key file",
            field="snowflake.rsa_key",
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError(
            "snowflake.rsa_key is not an RSA key; Snowflake key-pair authentication needs RSA",
            field="snowflake.rsa_key",
        )
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def config_hash(settings: Settings, source: SourceConfig) -> str:
    """sha256 hex over the fields of ``source`` that decide which rows land where.

    Covered: Snowflake database/schema, PostgreSQL database/schema, and for each enabled table its
    source, target, source_filter, chunking columns and types, uniqueness columns, watermarks,
    truncate_onstart, disable_index and effective insert-only mode. Not covered: credentials,
    hosts, threads, batch size, retries, leases, log level. Tables are sorted and keys canonical,
    so reordering the file does not change the hash.
    """
    tables = [
        {
            "source": t.source,
            "target": settings.target_table_name(t),
            "source_filter": t.source_filter,
            "chunking_columns": t.chunking_columns,
            "chunking_column_types": t.chunking_column_types,
            "uniqueness_columns": t.uniqueness_columns,
            "source_watermark": t.source_watermark,
            "target_watermark": t.target_watermark,
            "truncate_onstart": t.truncate_onstart,
            "disable_index": t.disable_index,
            "insert_only": settings.insert_only_for(t),
            # Only when set, so configs without it keep the hash of their earlier runs.
            **({"column_mapping": t.column_mapping} if t.column_mapping else {}),
        }
        for t in source.tables
        if t.enabled
    ]
    tables.sort(key=lambda d: (str(d["target"]), str(d["source"])))
    shape = {
        "version": _HASH_VERSION,
        "source_sf_database": source.source_sf_database,
        "source_sf_schema": source.source_sf_schema,
        "target_pg_database": source.target_pg_database,
        "target_pg_schema": source.target_pg_schema,
        "tables": tables,
    }
    if settings.identifier_case != "lower":  # absent when default, so older hashes still match
        shape["identifier_case"] = settings.identifier_case
    text = json.dumps(shape, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
