"""``${VAR}`` substitution in config values and the environment variables that fill gaps.

Pure functions over plain JSON data (dicts, lists, scalars) and an environment mapping; nothing
here reads ``os.environ`` itself, so tests pass their own mapping.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from snowpg.errors import ConfigError

# A reference is ${NAME} with a shell-style variable name; "$" on its own is left alone because
# Snowflake filters may contain dollar-quoted strings ($$...$$).
_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

# Report at most this many problems in one message; the rest are counted.
MAX_REPORTED = 3

# Block key -> {field: environment variable}; used when the field is absent (or null) in the file.
SNOWFLAKE_ENV: dict[str, str] = {
    "account": "SNOWFLAKE_ACCOUNT",
    "user": "SNOWFLAKE_USER",
    "password": "SNOWFLAKE_PASSWORD",
    "rsa_key": "SNOWFLAKE_RSA_KEY",
    "rsa_key_passphrase": "SNOWFLAKE_RSA_KEY_PASSPHRASE",
    "warehouse": "SNOWFLAKE_WAREHOUSE",
    "role": "SNOWFLAKE_ROLE",
    "host": "SNOWFLAKE_HOST",
    "port": "SNOWFLAKE_PORT",
    "protocol": "SNOWFLAKE_PROTOCOL",
}
POSTGRES_ENV: dict[str, str] = {
    "host": "POSTGRES_HOST",
    "port": "POSTGRES_PORT",
    "user": "POSTGRES_USER",
    "password": "POSTGRES_PASSWORD",
    "sslmode": "POSTGRES_SSLMODE",
    "connect_timeout": "POSTGRES_CONNECT_TIMEOUT",
}
BLOCK_ENV: dict[str, dict[str, str]] = {"snowflake": SNOWFLAKE_ENV, "postgres": POSTGRES_ENV}
LOG_LEVEL_ENV = "LOG_LEVEL"
MIGRATION_VERSION_ENV = "MIGRATION_VERSION"
CONFIG_PATH_ENV = "SNOWPG_CONFIG"
MAX_SNOWFLAKE_QUERIES_ENV = "SNOWPG_MAX_SNOWFLAKE_QUERIES"

# Where a value came from, keyed by its JSON path; used to make error messages point at the
# environment variable rather than at a key the user never wrote.
Provenance = dict[tuple[str | int, ...], str]


def format_path(parts: Sequence[str | int]) -> str:
    """``("sources", 0, "tables", 1, "batch_size")`` -> ``sources[0].tables[1].batch_size``."""
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += f".{p}" if out else str(p)
    return out


def substitute(data: Any, env: Mapping[str, str], origin: str) -> tuple[Any, Provenance]:
    """A copy of ``data`` with every ``${NAME}`` in string values replaced from ``env``.

    Keys are not substituted. A reference to a variable that is not set raises ConfigError naming
    the variable and the path where it was used (first use of each variable, up to three).
    """
    missing: dict[str, tuple[str | int, ...]] = {}
    provenance: Provenance = {}

    def walk(value: Any, path: tuple[str | int, ...]) -> Any:
        if isinstance(value, str):
            return replace(value, path)
        if isinstance(value, Mapping):
            return {k: walk(v, (*path, str(k))) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [walk(v, (*path, i)) for i, v in enumerate(value)]
        return value

    def replace(text: str, path: tuple[str | int, ...]) -> str:
        names: list[str] = []

        def one(m: re.Match[str]) -> str:
            name = m.group(1)
            names.append(name)
            if name not in env:
                missing.setdefault(name, path)
                return m.group(0)
            return env[name]

        result = _REFERENCE.sub(one, text)
        if names:
            provenance[path] = ", ".join("${" + n + "}" for n in names)
        return result

    result = walk(data, ())
    if missing:
        problems = [
            f"${{{name}}} is not set in the environment (used at {format_path(path)})"
            for name, path in missing.items()
        ]
        raise ConfigError(
            f"{origin}: {join_problems(problems)}", field=format_path(next(iter(missing.values())))
        )
    return result, provenance


def apply_env_fallbacks(
    data: dict[str, Any], env: Mapping[str, str]
) -> tuple[dict[str, Any], Provenance]:
    """Fill absent connection fields, ``log_level``, ``migration_version`` and
    ``max_snowflake_queries`` from ``env``.

    A value in the file wins over the environment, except ``LOG_LEVEL`` which wins over the file
    so an operator can turn on debug logging without editing the deployed config. Empty
    environment values count as unset.
    """
    out = dict(data)
    provenance: Provenance = {}
    for block_name, fields in BLOCK_ENV.items():
        block = out.get(block_name)
        if block is None:
            block = {}
        if not isinstance(block, Mapping):
            continue  # validation reports the wrong type
        block = dict(block)
        for field, var in fields.items():
            value = env.get(var)
            if block.get(field) is None and value:
                block[field] = value
                provenance[(block_name, field)] = f"environment variable {var}"
        out[block_name] = block
    level = env.get(LOG_LEVEL_ENV)
    if level:
        out["log_level"] = level
        provenance[("log_level",)] = f"environment variable {LOG_LEVEL_ENV}"
    version = env.get(MIGRATION_VERSION_ENV)
    if out.get("migration_version") is None and version:
        out["migration_version"] = version
        provenance[("migration_version",)] = f"environment variable {MIGRATION_VERSION_ENV}"
    cap = env.get(MAX_SNOWFLAKE_QUERIES_ENV)
    if out.get("max_snowflake_queries") is None and cap:
        out["max_snowflake_queries"] = cap
        provenance[("max_snowflake_queries",)] = f"environment variable {MAX_SNOWFLAKE_QUERIES_ENV}"
    return out, provenance


def join_problems(problems: Sequence[str]) -> str:
    """Up to MAX_REPORTED problems joined with "; ", the rest counted, always one line."""
    shown = "; ".join(p.replace("\n", " ") for p in problems[:MAX_REPORTED])
    if len(problems) > MAX_REPORTED:
        shown += f"; and {len(problems) - MAX_REPORTED} more"
    return shown
