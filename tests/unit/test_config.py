"""Configuration: the seed format, environment, validation messages, keys, hashing, secrets."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from psycopg.conninfo import conninfo_to_dict

from snowpg.config import (
    DEFAULT_CONFIG_PATH,
    PostgresSettings,
    Settings,
    SnowflakeSettings,
    load_settings,
    parse_settings,
)
from snowpg.errors import ConfigError
from snowpg.logs import redact

SEED: dict[str, Any] = {
    "snowflake": {
        "account": "${SNOWFLAKE_ACCOUNT}",
        "user": "${SNOWFLAKE_USER}",
        "warehouse": "${SNOWFLAKE_WAREHOUSE}",
        "rsa_key": "${SNOWFLAKE_RSA_KEY}",
    },
    "postgres": {
        "host": "${POSTGRES_HOST}",
        "user": "${POSTGRES_USER}",
        "password": "${POSTGRES_PASSWORD}",
    },
    "parallel_threads": 6,
    "batch_size": 100000,
    "max_retry_attempts": 3,
    "lambda_timeout_buffer_seconds": 90,
    "insert_only_mode": False,
    "sources": [
        {
            "source_name": "analytics",
            "enabled": True,
            "source_sf_database": "ANALYTICS",
            "source_sf_schema": "BI",
            "target_pg_database": "warehouse",
            "target_pg_schema": "analytics",
            "tables": [
                {
                    "enabled": True,
                    "source": "DIMPAYER",
                    "target": "dimpayer",
                    "source_filter": '"Is Active" = TRUE',
                    "chunking_columns": ["Payer Id"],
                    "chunking_column_types": ["varchar"],
                    "uniqueness_columns": ["Payer Id"],
                    "source_watermark": "Updated At",
                    "target_watermark": "Updated At",
                    "truncate_onstart": False,
                    "disable_index": True,
                    "parallel_threads": 4,
                    "batch_size": 50000,
                }
            ],
        }
    ],
}

MINIMAL_SOURCE: dict[str, Any] = {
    "source_name": "analytics",
    "source_sf_database": "ANALYTICS",
    "source_sf_schema": "BI",
    "target_pg_database": "warehouse",
    "target_pg_schema": "analytics",
    "tables": [{"source": "DIMPAYER"}],
}

CRED_ENV = {
    "SNOWFLAKE_ACCOUNT": "xy12345.eu-west-1",
    "SNOWFLAKE_USER": "loader",
    "SNOWFLAKE_PASSWORD": "sf-password-123",
    "POSTGRES_HOST": "/var/run/postgresql",
    "POSTGRES_USER": "pguser",
    "POSTGRES_PASSWORD": "pg-password-456",
}


def _pem(key: rsa.RSAPrivateKey, passphrase: bytes | None = None) -> str:
    enc: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc
    ).decode()


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def seed_env(rsa_key: rsa.RSAPrivateKey) -> dict[str, str]:
    return {
        "SNOWFLAKE_ACCOUNT": "xy12345.eu-west-1",
        "SNOWFLAKE_USER": "loader",
        "SNOWFLAKE_WAREHOUSE": "LOAD_WH",
        "SNOWFLAKE_RSA_KEY": _pem(rsa_key).replace("\n", "\\n"),
        "POSTGRES_HOST": "db.internal",
        "POSTGRES_USER": "pguser",
        "POSTGRES_PASSWORD": "pg-password-456",
    }


def _minimal(**top: Any) -> dict[str, Any]:
    return {"sources": [copy.deepcopy(MINIMAL_SOURCE)], **top}


def _error(data: Any, env: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as info:
        parse_settings(data, env)
    message = str(info.value)
    assert "\n" not in message
    return message


def _seed_with(edit: Any) -> dict[str, Any]:
    data = copy.deepcopy(SEED)
    edit(data)
    return data


# --- the seed format and defaults -------------------------------------------------------------


def test_seed_example_parses_unchanged(
    seed_env: dict[str, str], rsa_key: rsa.RSAPrivateKey
) -> None:
    s = parse_settings(json.dumps(SEED), seed_env)
    assert s.snowflake.account == "xy12345.eu-west-1"
    assert s.snowflake.warehouse == "LOAD_WH"
    assert s.postgres.host == "db.internal" and s.postgres.port == 5432
    assert (s.parallel_threads, s.batch_size, s.max_retry_attempts) == (6, 100000, 3)
    assert s.lambda_timeout_buffer_seconds == 90 and s.insert_only_mode is False
    src = s.source("analytics")
    t = src.tables[0]
    assert t.source_filter == '"Is Active" = TRUE'
    assert t.chunking_columns == ["Payer Id"] and t.chunking_column_types == ["varchar"]
    assert (t.source_watermark, t.target_watermark) == ("Updated At", "Updated At")
    assert t.disable_index is True and t.truncate_onstart is False
    assert s.threads_for(t) == 4 and s.batch_size_for(t) == 50000
    assert s.lease_seconds == 300 and s.retry_backoff_seconds == 1.0


def test_minimal_table_defaults() -> None:
    s = parse_settings(_minimal(), CRED_ENV)
    t = s.sources[0].tables[0]
    assert t.target is None and t.target_name == "dimpayer"
    assert t.enabled and not t.truncate_onstart and not t.disable_index
    assert t.chunking_columns is None and t.chunking_column_types is None
    assert t.uniqueness_columns is None and t.source_filter is None
    # batch_size unset: chunks are sized by max_chunk_mb (plan/sizing.py).
    assert (s.parallel_threads, s.batch_size, s.max_retry_attempts) == (4, None, 3)
    assert s.threads_for(t) == 4 and s.batch_size_for(t) is None
    assert s.max_chunk_mb_for(t) == 128
    assert s.insert_only_for(t) is False
    assert s.log_level == "INFO" and s.migration_version is None


def test_table_overrides_global_settings() -> None:
    data = _minimal(parallel_threads=8, batch_size=10, insert_only_mode=True)
    data["sources"][0]["tables"][0].update(parallel_threads=2, batch_size=3, insert_only_mode=False)
    s = parse_settings(data, CRED_ENV)
    t = s.sources[0].tables[0]
    assert (s.threads_for(t), s.batch_size_for(t), s.insert_only_for(t)) == (2, 3, False)


def test_nul_policy_and_identifier_case() -> None:
    s = parse_settings(_minimal(), CRED_ENV)
    t = s.sources[0].tables[0]
    assert (s.nul_policy, s.nul_policy_for(t), s.identifier_case) == ("fail", "fail", "lower")
    assert s.target_table_name(t) == "dimpayer"
    data = _minimal(nul_policy="strip", identifier_case="preserve")
    data["sources"][0]["tables"][0]["nul_policy"] = "replace:?"
    s = parse_settings(data, CRED_ENV)
    t = s.sources[0].tables[0]
    assert (s.nul_policy, s.nul_policy_for(t)) == ("strip", "replace:?")
    assert s.target_table_name(t) == "DIMPAYER" and t.target_name == "DIMPAYER"
    # identifier_case renames the targets, so it changes the hash; nul_policy does not
    base = parse_settings(_minimal(), CRED_ENV)
    assert s.config_hash(s.sources[0]) != base.config_hash(base.sources[0])
    assert parse_settings(_minimal(nul_policy="strip"), CRED_ENV).config_hash(
        base.sources[0]
    ) == base.config_hash(base.sources[0])


@pytest.mark.parametrize("bad", ["drop", "replace:", "replace:\x00", "STRIP"])
def test_bad_nul_policy_is_one_line_naming_the_field(bad: str) -> None:
    message = _error(_minimal(nul_policy=bad), CRED_ENV)
    assert "nul_policy" in message and "replace:<char>" in message


def test_bad_identifier_case_names_the_field() -> None:
    assert "identifier_case" in _error(_minimal(identifier_case="upper"), CRED_ENV)


# --- ${VAR} and environment fallbacks ----------------------------------------------------------


def test_substitution_whole_and_embedded() -> None:
    data = _minimal(
        postgres={"host": "${REGION}.db.internal", "user": "u_${ENVNAME}_x", "port": "${PGPORT}"}
    )
    data["sources"][0]["tables"][0]["source_filter"] = "region = '${REGION}'"
    s = parse_settings(data, {**CRED_ENV, "REGION": "eu", "ENVNAME": "prod", "PGPORT": "6543"})
    assert s.postgres.host == "eu.db.internal" and s.postgres.user == "u_prod_x"
    assert s.postgres.port == 6543
    assert s.sources[0].tables[0].source_filter == "region = 'eu'"


def test_missing_variable_names_variable_and_path(seed_env: dict[str, str]) -> None:
    env = {k: v for k, v in seed_env.items() if k != "POSTGRES_PASSWORD"}
    msg = _error(SEED, env)
    assert (
        msg
        == "config.json: ${POSTGRES_PASSWORD} is not set in the environment (used at postgres.password)"
    )


def test_env_fallbacks_when_blocks_omitted() -> None:
    env = {**CRED_ENV, "SNOWFLAKE_ROLE": "LOADER", "SNOWFLAKE_PORT": "8443", "SNOWFLAKE_PROTOCOL": "http",
           "SNOWFLAKE_HOST": "localhost", "POSTGRES_PORT": "5433", "POSTGRES_SSLMODE": "require"}  # fmt: skip
    s = parse_settings(_minimal(), env)
    sf, pg = s.snowflake, s.postgres
    assert (sf.account, sf.user, sf.role, sf.host, sf.port, sf.protocol) == (
        "xy12345.eu-west-1", "loader", "LOADER", "localhost", 8443, "http")  # fmt: skip
    assert sf.password is not None and sf.password.get_secret_value() == "sf-password-123"
    assert (pg.host, pg.port, pg.user, pg.sslmode) == (
        "/var/run/postgresql",
        5433,
        "pguser",
        "require",
    )


def test_file_wins_over_env() -> None:
    data = _minimal(snowflake={"user": "file_user"}, postgres={"host": "file-host", "port": 7777})
    s = parse_settings(data, {**CRED_ENV, "POSTGRES_PORT": "5433"})
    assert s.snowflake.user == "file_user" and s.snowflake.account == "xy12345.eu-west-1"
    assert s.postgres.host == "file-host" and s.postgres.port == 7777


def test_log_level_env_wins_and_migration_version() -> None:
    s = parse_settings(
        _minimal(log_level="error"), {**CRED_ENV, "LOG_LEVEL": "debug", "MIGRATION_VERSION": "v7"}
    )
    assert s.log_level == "DEBUG" and s.migration_version == "v7"
    s = parse_settings(
        _minimal(log_level="warn", migration_version="file"),
        {**CRED_ENV, "MIGRATION_VERSION": "v7"},
    )
    assert s.log_level == "WARNING" and s.migration_version == "file"


def test_max_snowflake_queries_default_source_override_and_env() -> None:
    s = parse_settings(_minimal(), CRED_ENV)
    assert s.max_snowflake_queries == 8 and s.max_snowflake_queries_for(s.sources[0]) == 8
    data = _minimal(max_snowflake_queries=5)
    data["sources"][0]["max_snowflake_queries"] = 2
    s = parse_settings(data, {**CRED_ENV, "SNOWPG_MAX_SNOWFLAKE_QUERIES": "20"})
    assert s.max_snowflake_queries == 5 and s.max_snowflake_queries_for(s.sources[0]) == 2
    s = parse_settings(_minimal(), {**CRED_ENV, "SNOWPG_MAX_SNOWFLAKE_QUERIES": "0"})
    assert s.max_snowflake_queries_for(s.sources[0]) == 0  # no cap
    msg = _error(_minimal(), {**CRED_ENV, "SNOWPG_MAX_SNOWFLAKE_QUERIES": "-1"})
    assert "max_snowflake_queries" in msg and "SNOWPG_MAX_SNOWFLAKE_QUERIES" in msg


def test_bad_env_value_names_variable() -> None:
    msg = _error(_minimal(), {**CRED_ENV, "POSTGRES_PORT": "five"})
    assert "postgres.port: expected an integer" in msg and "POSTGRES_PORT" in msg


def test_missing_credentials_messages() -> None:
    env = {k: v for k, v in CRED_ENV.items() if k != "SNOWFLAKE_PASSWORD"}
    msg = _error(_minimal(), env)
    assert (
        "Snowflake credentials missing: set SNOWFLAKE_RSA_KEY (PEM private key) or SNOWFLAKE_PASSWORD"
        in msg
    )
    msg = _error(
        _minimal(),
        {k: v for k, v in CRED_ENV.items() if k not in ("SNOWFLAKE_ACCOUNT", "POSTGRES_USER")},
    )
    assert "set SNOWFLAKE_ACCOUNT or snowflake.account" in msg
    assert "set POSTGRES_USER or postgres.user" in msg
    msg = _error(_minimal(), {k: v for k, v in CRED_ENV.items() if k != "POSTGRES_HOST"})
    assert "set POSTGRES_HOST" in msg


# --- RSA keys ----------------------------------------------------------------------------------


def _der(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def test_escaped_pem_key_gives_der(seed_env: dict[str, str], rsa_key: rsa.RSAPrivateKey) -> None:
    assert "\\n" in seed_env["SNOWFLAKE_RSA_KEY"] and "\n" not in seed_env["SNOWFLAKE_RSA_KEY"]
    s = parse_settings(SEED, seed_env)
    assert s.snowflake.private_key_der() == _der(rsa_key)
    loaded = serialization.load_der_private_key(s.snowflake.private_key_der() or b"", password=None)
    assert isinstance(loaded, rsa.RSAPrivateKey)


def test_encrypted_key_with_passphrase(rsa_key: rsa.RSAPrivateKey) -> None:
    env = {**CRED_ENV, "SNOWFLAKE_RSA_KEY": _pem(rsa_key, b"open sesame"),
           "SNOWFLAKE_RSA_KEY_PASSPHRASE": "open sesame"}  # fmt: skip
    s = parse_settings(_minimal(), env)
    assert s.snowflake.private_key_der() == _der(rsa_key)


def test_wrong_passphrase_is_config_error_without_key_text(rsa_key: rsa.RSAPrivateKey) -> None:
    pem = _pem(rsa_key, b"right one")
    s = parse_settings(
        _minimal(),
        {**CRED_ENV, "SNOWFLAKE_RSA_KEY": pem, "SNOWFLAKE_RSA_KEY_PASSPHRASE": "wrong one"},
    )
    with pytest.raises(ConfigError) as info:
        s.snowflake.private_key_der()
    msg = str(info.value)
    assert "passphrase" in msg and "SNOWFLAKE_RSA_KEY_PASSPHRASE" in msg
    assert "BEGIN" not in msg and not any(line in msg for line in pem.splitlines()[1:-1])
    assert info.value.__cause__ is None


def test_encrypted_key_without_passphrase(rsa_key: rsa.RSAPrivateKey) -> None:
    s = parse_settings(_minimal(), {**CRED_ENV, "SNOWFLAKE_RSA_KEY": _pem(rsa_key, b"secret!!")})
    with pytest.raises(ConfigError, match="SNOWFLAKE_RSA_KEY_PASSPHRASE"):
        s.snowflake.private_key_der()


def test_damaged_key_is_config_error() -> None:
    bad = "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5IGF0IGFsbA==\n-----END PRIVATE KEY-----"
    s = parse_settings(_minimal(), {**CRED_ENV, "SNOWFLAKE_RSA_KEY": bad})
    with pytest.raises(ConfigError) as info:
        s.snowflake.private_key_der()
    assert "snowflake.rsa_key" in str(info.value) and "bm90IGEg" not in str(info.value)


def test_non_pem_key_names_field_without_echo() -> None:
    msg = _error(_minimal(), {**CRED_ENV, "SNOWFLAKE_RSA_KEY": "hunter2-not-a-key"})
    assert "snowflake.rsa_key is not a PEM private key" in msg
    assert "hunter2" not in msg


def test_password_only_has_no_key() -> None:
    assert parse_settings(_minimal(), CRED_ENV).snowflake.private_key_der() is None


# --- validation messages -----------------------------------------------------------------------


def test_unknown_key_suggests_close_match(seed_env: dict[str, str]) -> None:
    data = _seed_with(lambda d: d["sources"][0]["tables"][0].update(chunking_column=["Payer Id"]))
    msg = _error(data, seed_env)
    assert (
        "unknown key 'chunking_column' at sources[0].tables[0] — did you mean 'chunking_columns'?"
        in msg
    )
    assert "unknown key 'bogus' at the top level" in _error(_minimal(bogus=1), CRED_ENV)


def test_wrong_type_names_path_and_type(seed_env: dict[str, str]) -> None:
    data = _seed_with(lambda d: d["sources"][0]["tables"][0].update(batch_size="lots"))
    assert "sources[0].tables[0].batch_size: expected an integer, got a string" in _error(
        data, seed_env
    )
    data = _seed_with(lambda d: d["sources"][0].update(enabled="maybe"))
    assert "sources[0].enabled: expected true or false" in _error(data, seed_env)
    assert "parallel_threads: must be <= 64 (got 65)" in _error(
        _minimal(parallel_threads=65), CRED_ENV
    )


def test_several_problems_joined_on_one_line() -> None:
    data = _minimal(parallel_threads=0, batch_size=0, max_retry_attempts=-1, lease_seconds=0)
    msg = _error(data, CRED_ENV)
    assert msg.count("; ") == 3 and msg.endswith("and 1 more")


def test_bad_json_names_line_and_column() -> None:
    msg = _error('{\n  "sources": [\n    {"source_name": }\n  ]\n}', CRED_ENV)
    assert "invalid JSON at line 3, column" in msg
    assert "appears twice" in _error('{"batch_size": 1, "batch_size": 2}', CRED_ENV)
    assert "top level must be a JSON object" in _error("[1, 2]", CRED_ENV)


def test_validation_error_never_leaks() -> None:
    for data in (
        {"sources": "x"},
        {"sources": [None]},
        {"sources": [{"tables": [1]}]},
        {"snowflake": []},
    ):
        _error(data, CRED_ENV)


def test_duplicate_source_name() -> None:
    data = _minimal()
    data["sources"].append({**copy.deepcopy(MINIMAL_SOURCE), "source_name": "Analytics"})
    assert "source_name 'Analytics' is used by two sources" in _error(data, CRED_ENV)


def test_duplicate_target_in_one_source() -> None:
    data = _minimal()
    data["sources"][0]["tables"].append({"source": "OTHER", "target": "dimpayer"})
    msg = _error(data, CRED_ENV)
    assert "sources[0]" in msg and "DIMPAYER and OTHER both load into analytics.dimpayer" in msg


def test_chunking_column_types_rules() -> None:
    data = _minimal()
    data["sources"][0]["tables"][0].update(
        chunking_columns=["A"], chunking_column_types=["int", "date"]
    )
    assert "1 chunking_columns but 2 chunking_column_types" in _error(data, CRED_ENV)
    data["sources"][0]["tables"][0].update(chunking_columns=None, chunking_column_types=["int"])
    assert "no chunking_columns" in _error(data, CRED_ENV)
    data["sources"][0]["tables"][0].update(chunking_columns=["A"], chunking_column_types=["blob"])
    assert "unknown chunking column type 'blob'" in _error(data, CRED_ENV)
    data["sources"][0]["tables"][0].update(
        chunking_columns=["A", "B"], chunking_column_types=["INT", "Timestamp_NTZ"]
    )
    s = parse_settings(data, CRED_ENV)
    assert s.sources[0].tables[0].chunking_column_types == ["int", "timestamp_ntz"]


def test_empty_names_rejected() -> None:
    data = _minimal()
    data["sources"][0]["tables"][0]["source"] = ""
    assert "sources[0].tables[0].source: must not be empty" in _error(data, CRED_ENV)
    data["sources"][0]["tables"][0].update(source="T", target="")
    assert "sources[0].tables[0].target: must not be empty" in _error(data, CRED_ENV)


# --- lookups and filters -----------------------------------------------------------------------


def _three_tables() -> Settings:
    data = _minimal()
    data["sources"][0]["tables"] = [
        {"source": "A"},
        {"source": "B"},
        {"source": "C", "enabled": False},
    ]
    data["sources"].append(
        {**copy.deepcopy(MINIMAL_SOURCE), "source_name": "off", "enabled": False}
    )
    return parse_settings(data, CRED_ENV)


def test_unknown_source_and_table_names() -> None:
    s = _three_tables()
    with pytest.raises(ConfigError, match=r"unknown source 'nope'; known sources: analytics, off"):
        s.source("nope")
    assert s.source("ANALYTICS").source_name == "analytics"
    src = s.source("analytics")
    assert src.table("b").source == "B"
    with pytest.raises(
        ConfigError, match=r"unknown table 'Z' in source 'analytics'; known tables: A, B, C"
    ):
        src.table("Z")


def test_tables_filter_parsing() -> None:
    src = _three_tables().source("analytics")
    assert [t.source for t in src.select_tables(None)] == ["A", "B"]
    assert [t.source for t in src.select_tables("")] == ["A", "B"]
    assert [t.source for t in src.select_tables("b, a")] == ["A", "B"]
    assert [t.source for t in src.select_tables(["B"])] == ["B"]
    with pytest.raises(ConfigError, match=r"unknown table 'X'.*known tables: A, B, C"):
        src.select_tables("A,X")
    with pytest.raises(ConfigError, match=r"'C' .* is disabled"):
        src.select_tables(["C"])


def test_select_sources() -> None:
    s = _three_tables()
    assert [x.source_name for x in s.select_sources(None)] == ["analytics"]
    assert [x.source_name for x in s.select_sources("off,analytics")] == ["off", "analytics"]
    with pytest.raises(ConfigError, match="unknown source 'x'"):
        s.select_sources(["x"])


# --- hashing and secrets -----------------------------------------------------------------------


def test_config_hash_stable_under_key_order(seed_env: dict[str, str]) -> None:
    s1 = parse_settings(json.dumps(SEED), seed_env)
    reordered = json.loads(json.dumps(SEED), object_pairs_hook=lambda p: dict(reversed(p)))
    s2 = parse_settings(json.dumps(reordered), seed_env)
    h = s1.config_hash(s1.sources[0])
    assert len(h) == 64 and int(h, 16) >= 0
    assert s2.config_hash(s2.sources[0]) == h


def test_config_hash_tracks_data_shaping_fields_only(seed_env: dict[str, str]) -> None:
    base = parse_settings(SEED, seed_env)
    h = base.config_hash(base.sources[0])

    def hash_of(edit: Any, env: dict[str, str] = seed_env) -> str:
        s = parse_settings(_seed_with(edit), env)
        return s.config_hash(s.sources[0])

    assert hash_of(lambda d: d["sources"][0]["tables"][0].update(source_filter="1 = 1")) != h
    assert hash_of(lambda d: d.update(insert_only_mode=True)) != h
    assert (
        hash_of(lambda d: d["sources"][0]["tables"][0].update(parallel_threads=9, batch_size=7))
        == h
    )
    assert (
        hash_of(lambda d: d.update(parallel_threads=1, max_retry_attempts=0, lease_seconds=5)) == h
    )
    assert (
        hash_of(
            lambda d: d, {**seed_env, "POSTGRES_HOST": "elsewhere", "POSTGRES_PASSWORD": "x1234"}
        )
        == h
    )


def test_secrets_and_redaction_after_load(rsa_key: rsa.RSAPrivateKey) -> None:
    pem = _pem(rsa_key, b"pass-phrase-789")
    env = {
        **CRED_ENV,
        "SNOWFLAKE_RSA_KEY": pem.replace("\n", "\\n"),
        "SNOWFLAKE_RSA_KEY_PASSPHRASE": "pass-phrase-789",
    }
    s = parse_settings(_minimal(), env)
    secrets = s.secrets()
    assert {"sf-password-123", "pg-password-456", "pass-phrase-789"} <= set(secrets)
    assert any("BEGIN ENCRYPTED PRIVATE KEY" in x for x in secrets)
    key_line = pem.splitlines()[3]
    text = f"failed: sf-password-123 / pg-password-456 / pass-phrase-789 / {key_line}"
    out = redact(text)
    for value in ("sf-password-123", "pg-password-456", "pass-phrase-789", key_line):
        assert value not in out
    assert repr(s.snowflake).count("pass-phrase-789") == 0


# --- files and connection helpers --------------------------------------------------------------


def test_load_settings_from_path_and_env_var(tmp_path: Path) -> None:
    path = tmp_path / "custom.json"
    path.write_text(json.dumps(_minimal()))
    assert load_settings(path, CRED_ENV).sources[0].source_name == "analytics"
    assert load_settings(None, {**CRED_ENV, "SNOWPG_CONFIG": str(path)}).postgres.user == "pguser"
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path / "missing.json", CRED_ENV)
    assert "missing.json not found" in str(info.value) and "--config" in str(info.value)
    assert "SNOWPG_CONFIG" in str(info.value)
    bad = tmp_path / "bad.json"
    bad.write_text('{"sources": [}')
    with pytest.raises(ConfigError, match=r"bad\.json: invalid JSON at line 1"):
        load_settings(bad, CRED_ENV)
    assert DEFAULT_CONFIG_PATH == "config.json"


def test_postgres_conninfo_and_describe() -> None:
    pg = PostgresSettings.model_validate(
        {"host": "/tmp/sock", "user": "u", "password": "p w'x", "sslmode": "Require"}
    )
    info = conninfo_to_dict(pg.conninfo("warehouse"))
    assert info == {"host": "/tmp/sock", "port": "5432", "user": "u", "password": "p w'x",
                    "dbname": "warehouse", "connect_timeout": "10", "sslmode": "require"}  # fmt: skip
    assert pg.describe("warehouse") == "u@/tmp/sock:5432/warehouse"


def test_snowflake_protocol_validated() -> None:
    msg = _error(_minimal(snowflake={"protocol": "ftp"}), CRED_ENV)
    assert "snowflake.protocol must be 'https'" in msg
    sf = SnowflakeSettings.model_validate({"account": "a", "user": "u", "password": "pw"})
    assert sf.protocol == "https" and sf.port is None


def test_copy_format_is_auto_or_csv() -> None:
    raw = _minimal()
    raw["sources"][0]["tables"][0]["copy_format"] = "csv"
    s = parse_settings(raw, CRED_ENV)
    assert s.copy_format == "auto" and s.copy_format_for(s.sources[0].tables[0]) == "csv"
    raw["copy_format"] = "parquet"
    with pytest.raises(ConfigError, match="copy_format"):
        parse_settings(raw, CRED_ENV)


# --- the key forms the existing tool accepts ---------------------------------------------------


def _bare_body(key: rsa.RSAPrivateKey) -> str:
    return "".join(_pem(key).splitlines()[1:-1])


@pytest.mark.parametrize("form", ["pem", "escaped", "bare", "bare_wrapped", "pem_path", "der_path"])
def test_every_key_form_gives_the_same_der(
    form: str, rsa_key: rsa.RSAPrivateKey, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    pem = _pem(rsa_key)
    (tmp_path / "rsa_key.p8").write_text(pem)
    (tmp_path / "rsa_key.der").write_bytes(_der(rsa_key))
    value = {
        "pem": pem,
        "escaped": pem.replace("\n", "\\n"),
        "bare": _bare_body(rsa_key),
        "bare_wrapped": "\n".join(pem.splitlines()[1:-1]),
        "pem_path": str(tmp_path / "rsa_key.p8"),
        "der_path": str(tmp_path / "rsa_key.der"),
    }[form]
    s = parse_settings(_minimal(), {**CRED_ENV, "SNOWFLAKE_RSA_KEY": value})
    assert s.snowflake.private_key_der() == _der(rsa_key)
    body = _bare_body(rsa_key)
    assert body[:40] not in caplog.text and body[:40] not in repr(s)


def test_bare_encrypted_key_body_with_passphrase(rsa_key: rsa.RSAPrivateKey) -> None:
    body = "".join(_pem(rsa_key, b"open sesame").splitlines()[1:-1])
    env = {**CRED_ENV, "SNOWFLAKE_RSA_KEY": body, "SNOWFLAKE_RSA_KEY_PASSPHRASE": "open sesame"}
    assert parse_settings(_minimal(), env).snowflake.private_key_der() == _der(rsa_key)
    s = parse_settings(_minimal(), {**CRED_ENV, "SNOWFLAKE_RSA_KEY": body})
    with pytest.raises(ConfigError, match="SNOWFLAKE_RSA_KEY_PASSPHRASE"):
        s.snowflake.private_key_der()


def test_key_path_that_names_no_file(tmp_path: Path) -> None:
    msg = _error(_minimal(), {**CRED_ENV, "SNOWFLAKE_RSA_KEY": str(tmp_path / "missing.p8")})
    assert "snowflake.rsa_key looks like a file path but names no readable file" in msg


def test_damaged_bare_body_is_config_error_without_key_text(rsa_key: rsa.RSAPrivateKey) -> None:
    body = _bare_body(rsa_key)
    damaged = body[:200] + body[260:]
    s = parse_settings(_minimal(), {**CRED_ENV, "SNOWFLAKE_RSA_KEY": damaged})
    with pytest.raises(ConfigError) as info:
        s.snowflake.private_key_der()
    assert "snowflake.rsa_key" in str(info.value) and body[:20] not in str(info.value)


# --- keys the existing tool's config.json documents or reads -----------------------------------


def test_existing_tool_keys_are_accepted_with_their_meaning() -> None:
    table = {
        "source": "DIMPAYER",
        "chunking_columns": ["Payer Code"],
        "chunking_column_types": ["varchar_numeric"],
        "column_mapping": {"Payer Code": "payer_code_text"},
    }
    data = _minimal()
    data["sources"][0]["tables"] = [table]
    t = parse_settings(data, CRED_ENV).sources[0].tables[0]
    assert t.chunking_column_types == ["varchar_numeric"]
    assert t.column_mapping == {"Payer Code": "payer_code_text"}


def test_existing_tool_keys_snowpg_does_not_use_warn_once_each(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("WARNING", logger="snowpg.config")
    data = _minimal(status_tracking_database="status_db", batch_size_copy_mode=50000)
    src = data["sources"][0]
    src["tables"] = [
        {"source": "A", "sort_columns": ["ID"], "batch_size_copy_mode": 10},
        {"source": "B", "sort_columns": ["ID"]},
    ]
    s = parse_settings(data, CRED_ENV)
    assert [t.source for t in s.sources[0].tables] == ["A", "B"]
    warnings = [r.getMessage() for r in caplog.records if r.name == "snowpg.config"]
    assert len(warnings) == 3
    by_key = {w.split("'")[1]: w for w in warnings}
    assert set(by_key) == {"status_tracking_database", "sort_columns", "batch_size_copy_mode"}
    assert "target_pg_database" in by_key["status_tracking_database"]
    assert "table 'A'" in by_key["sort_columns"] and "table 'B'" in by_key["sort_columns"]
    assert "COPY" in by_key["batch_size_copy_mode"]


def test_status_tracking_database_equal_to_the_target_is_silent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("WARNING", logger="snowpg.config")
    data = _minimal()
    data["sources"][0]["status_tracking_database"] = MINIMAL_SOURCE["target_pg_database"]
    parse_settings(data, CRED_ENV)
    assert not [r for r in caplog.records if r.name == "snowpg.config"]


def test_unknown_keys_next_to_the_existing_tool_keys_still_fail() -> None:
    data = _minimal()
    data["sources"][0]["tables"] = [{"source": "A", "sort_columns": ["ID"], "colum_mapping": {}}]
    msg = _error(data, CRED_ENV)
    assert "unknown key 'colum_mapping'" in msg and "did you mean 'column_mapping'?" in msg


def test_column_mapping_is_part_of_the_config_hash_only_when_set() -> None:
    from snowpg.config.settings import config_hash

    plain = parse_settings(_minimal(), CRED_ENV)
    data = _minimal()
    data["sources"][0]["tables"] = [{"source": "DIMPAYER", "column_mapping": {"A": "b"}}]
    mapped = parse_settings(data, CRED_ENV)
    data["sources"][0]["tables"] = [{"source": "DIMPAYER", "column_mapping": {}}]
    empty = parse_settings(data, CRED_ENV)
    h = [config_hash(s, s.sources[0]) for s in (plain, mapped, empty)]
    assert h[0] != h[1] and h[0] == h[2]


def test_preserve_keeps_tables_apart_that_differ_only_in_case() -> None:
    # Bug: the clash check ran before identifier_case reached the tables, so Foo and FOO were
    # refused as both loading into analytics.foo.
    data = _minimal(identifier_case="preserve")
    data["sources"][0]["tables"] = [{"source": "Foo"}, {"source": "FOO"}]
    s = parse_settings(data, CRED_ENV)
    assert [s.target_table_name(t) for t in s.sources[0].tables] == ["Foo", "FOO"]
    data = _minimal()
    data["sources"][0]["tables"] = [{"source": "Foo"}, {"source": "FOO"}]
    msg = _error(data, CRED_ENV)
    assert "sources[0]" in msg and "Foo and FOO both load into analytics.foo" in msg
