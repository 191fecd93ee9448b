"""Reading config.json: JSON parsing, environment, validation, one-line errors."""

from __future__ import annotations

import difflib
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
from snowpg.config.connections import SnowflakeSettings
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
from snowpg.config.fields import StrictModel
from snowpg.config.settings import Settings
from snowpg.errors import ConfigError
from snowpg.logs import register_secrets

DEFAULT_CONFIG_PATH = "config.json"

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


class _SnowflakeOnly(StrictModel):
    snowflake: SnowflakeSettings


def load_snowflake_settings(
    path: str | os.PathLike[str] | None, env: Mapping[str, str] | None = None
) -> tuple[SnowflakeSettings, dict[str, Any]]:
    """The Snowflake settings alone (``snowpg init``: there are no sources yet), from the
    ``snowflake`` block of ``path`` when given, else from the environment; and the file's raw
    ``snowflake``/``postgres`` blocks (empty without a file), as written."""
    environ: Mapping[str, str] = os.environ if env is None else env
    raw: Any = {}
    origin = "environment"
    if path is not None:
        origin = str(path)
        try:
            raw = _parse_json(Path(path).read_bytes(), origin)
        except OSError as e:
            raise ConfigError(
                f"cannot read config file {path}: {e.strerror}", field="config"
            ) from None
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{origin}: the top level must be a JSON object {{...}}")
    blocks = {k: raw[k] for k in ("snowflake", "postgres") if isinstance(raw.get(k), Mapping)}
    block = {"snowflake": blocks.get("snowflake", {})}
    substituted, from_refs = substitute(block, environ, origin)
    merged, from_env = apply_env_fallbacks(substituted, environ)
    try:
        found = _SnowflakeOnly.model_validate({"snowflake": merged["snowflake"]})
    except ValidationError as e:
        raise _translate(e, {**from_refs, **from_env}, origin) from None
    sf = found.snowflake
    register_secrets(
        [s.get_secret_value() for s in (sf.password, sf.rsa_key, sf.rsa_key_passphrase) if s]
    )
    return sf, blocks


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
