"""Settings for the Lambda handler: config.json (bundled, a path, or S3) plus secrets.

Where the configuration comes from, first match wins:

1. ``SNOWPG_CONFIG`` = ``s3://bucket/key`` (read with the function's role) or a file path;
2. ``config.json`` next to the deployed code (``$LAMBDA_TASK_ROOT/config.json``);
3. ``./config.json``.

Credentials come from the function's environment variables (``SNOWFLAKE_*``, ``POSTGRES_*``) and
from Secrets Manager: ``SNOWPG_SNOWFLAKE_SECRET`` and ``SNOWPG_POSTGRES_SECRET`` name a secret
(``snowflake/...`` and ``postgres/...`` match the IAM policy that ``snowpg deploy`` writes). A
secret is JSON (``{"account": ..., "user": ..., "rsa_key": ...}``; RDS-style ``username`` works
too) or, for a bare string, the RSA key (Snowflake) or the password (PostgreSQL). A variable set on
the function wins over the secret. Secrets are cached for :data:`SECRET_TTL_SECONDS` per container.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from snowpg.config import Settings, load_settings, parse_settings
from snowpg.config.env import CONFIG_PATH_ENV, POSTGRES_ENV, SNOWFLAKE_ENV
from snowpg.errors import ConfigError, TransientError
from snowpg.logs import redact, register_secrets

SNOWFLAKE_SECRET_ENV = "SNOWPG_SNOWFLAKE_SECRET"
POSTGRES_SECRET_ENV = "SNOWPG_POSTGRES_SECRET"
SECRET_TTL_SECONDS = 300.0

# Secret JSON keys that are not the config field names, e.g. RDS-managed secrets' "username".
_ALIASES: dict[str, dict[str, str]] = {
    "snowflake": {
        "username": "user",
        "private_key": "rsa_key",
        "private_key_passphrase": ("rsa_key_passphrase"),
    },
    "postgres": {"username": "user"},
}
_BLOCKS = {"snowflake": (SNOWFLAKE_SECRET_ENV, SNOWFLAKE_ENV, "rsa_key"),
           "postgres": (POSTGRES_SECRET_ENV, POSTGRES_ENV, "password")}  # fmt: skip

# AWS error codes that a retry may fix; everything else is a configuration problem.
_TRANSIENT_CODES = frozenset(
    {"ThrottlingException", "Throttling", "TooManyRequestsException", "InternalServiceError",
     "InternalFailure", "ServiceUnavailable", "SlowDown", "RequestTimeout", "InternalError"}
)  # fmt: skip

_cache: dict[str, tuple[float, dict[str, str]]] = {}
_cache_lock = threading.Lock()


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


def secret_env(environ: Mapping[str, str], client: Any = None) -> dict[str, str]:
    """Environment variables filled from the secrets named in ``environ`` (unset ones only)."""
    out: dict[str, str] = {}
    for block, (name_var, fields, bare_field) in _BLOCKS.items():
        secret_id = environ.get(name_var, "").strip()
        if not secret_id:
            continue
        values = _cached_secret(secret_id, block, fields, bare_field, client)
        for var, value in values.items():
            if not environ.get(var):
                out[var] = value
    return out


def secret_to_env(
    text: str, block: str, fields: Mapping[str, str], bare_field: str, secret_id: str
) -> dict[str, str]:
    """A secret's text as ``{ENV_VAR: value}``; pure. Unknown JSON keys are refused by name."""
    stripped = text.strip()
    if not stripped.startswith("{"):
        return {fields[bare_field]: stripped}
    try:
        data = json.loads(stripped)
    except json.JSONDecodeError:
        raise ConfigError(
            f"secret {secret_id} is not valid JSON (it starts with '{{')",
            hint=f"store a JSON object with the {block} fields, e.g. {_example(block)}",
        ) from None
    env_names = set(fields.values())
    out: dict[str, str] = {}
    for key, value in data.items():
        if value is None or value == "":
            continue
        field = _ALIASES[block].get(key, key)
        if field in fields:
            out[fields[field]] = str(value)
        elif key in env_names:
            out[key] = str(value)
        elif key not in ("engine", "dbname", "dbInstanceIdentifier", "dbClusterIdentifier"):
            raise ConfigError(
                f"secret {secret_id} has unknown key {key!r}; "
                f"known keys: {', '.join(sorted(fields))}",
                field=key,
            )
    return out


def _example(block: str) -> str:
    if block == "snowflake":
        return '{"account": "xy12345.eu-west-1", "user": "MIGRATION", "rsa_key": "-----BEGIN..."}'
    return '{"host": "db.example.com", "username": "migration", "password": "..."}'


def _cached_secret(
    secret_id: str, block: str, fields: Mapping[str, str], bare_field: str, client: Any
) -> dict[str, str]:
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(secret_id)
        if hit is not None and now - hit[0] < SECRET_TTL_SECONDS:
            return hit[1]
    text = _fetch_secret(secret_id, client)
    register_secrets([text])
    values = secret_to_env(text, block, fields, bare_field, secret_id)
    register_secrets(values.values())
    with _cache_lock:
        _cache[secret_id] = (now, values)
    return values


def _fetch_secret(secret_id: str, client: Any) -> str:
    if client is None:
        client = _client("secretsmanager")
    try:
        resp = client.get_secret_value(SecretId=secret_id)
    except Exception as exc:
        raise _aws_error(exc, f"reading secret {secret_id} from Secrets Manager") from exc
    text = resp.get("SecretString")
    if text is None:
        raise ConfigError(
            f"secret {secret_id} has no SecretString (binary secrets are not supported)",
            hint="store the secret as text: JSON or the bare key/password",
        )
    return str(text)


def read_s3_text(uri: str, client: Any = None) -> bytes:
    """The bytes of ``s3://bucket/key``."""
    bucket, key = split_s3_uri(uri)
    if client is None:
        client = _client("s3")
    try:
        body: bytes = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    except Exception as exc:
        raise _aws_error(exc, f"reading the configuration {uri}") from exc
    return body


def split_s3_uri(uri: str) -> tuple[str, str]:
    rest = uri[len("s3://") :] if uri.startswith("s3://") else ""
    bucket, _, key = rest.partition("/")
    if not bucket or not key:
        raise ConfigError(
            f"{CONFIG_PATH_ENV}={uri!r} is not an S3 URI of the form s3://bucket/path/config.json",
            field=CONFIG_PATH_ENV,
        )
    return bucket, key


def config_location(environ: Mapping[str, str]) -> str:
    """Where the configuration is read from (see the module docstring)."""
    explicit = environ.get(CONFIG_PATH_ENV, "").strip()
    if explicit:
        return explicit
    root = environ.get("LAMBDA_TASK_ROOT")
    if root and (Path(root) / "config.json").is_file():
        return str(Path(root) / "config.json")
    return "config.json"


def load_lambda_settings(
    environ: Mapping[str, str] | None = None, secrets_client: Any = None, s3_client: Any = None
) -> Settings:
    """Settings for one invocation: environment + secrets, and the configuration file."""
    base = dict(os.environ if environ is None else environ)
    env = {**base, **secret_env(base, secrets_client)}
    where = config_location(env)
    if where.startswith("s3://"):
        return parse_settings(read_s3_text(where, s3_client), env, origin=where)
    return load_settings(where, env)


def _client(service: str) -> Any:
    try:
        import boto3
    except ImportError:  # pragma: no cover - boto3 is part of every Lambda Python runtime
        raise ConfigError(f"boto3 is needed to use {service}: pip install 'snowpg[aws]'") from None
    return boto3.client(service)


def _aws_error(exc: Exception, what: str) -> Exception:
    code = ""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = str(response.get("Error", {}).get("Code", ""))
    message = f"{what}: {code or type(exc).__name__}: {redact(str(exc))}"
    if code in _TRANSIENT_CODES or type(exc).__name__ in (
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "ConnectionClosedError",
    ):
        return TransientError(message)
    hint = {
        "ResourceNotFoundException": "create the secret or fix the name in the environment",
        "NoSuchKey": f"upload the file or fix {CONFIG_PATH_ENV}",
        "NoSuchBucket": f"fix the bucket name in {CONFIG_PATH_ENV}",
        "AccessDeniedException": "grant the function's role secretsmanager:GetSecretValue on it",
        "AccessDenied": "grant the function's role s3:GetObject on the object",
    }.get(code)
    return ConfigError(message, hint=hint)
