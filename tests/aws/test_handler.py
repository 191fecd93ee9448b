"""The handler's answers, errors, logs and configuration sources (no database needed)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from snowpg.aws import actions, secrets
from snowpg.aws.handler import lambda_handler
from snowpg.errors import DataError, SourceNotFound, TargetUnavailable
from tests.aws.harness import FakeContext

CONFIG: dict[str, Any] = {
    "sources": [
        {
            "source_name": "analytics",
            "source_sf_database": "ANALYTICS",
            "source_sf_schema": "PUBLIC",
            "target_pg_database": "analytics",
            "target_pg_schema": "public",
            "tables": [{"source": "ORDERS"}, {"source": "OLD", "enabled": False}],
        }
    ]
}
PASSWORD = "pg-Secret-4711"


@pytest.fixture
def lambda_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in list(__import__("os").environ):
        if var.startswith(("SNOWFLAKE_", "POSTGRES_", "SNOWPG_", "LOG_LEVEL")):
            monkeypatch.delenv(var)
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(CONFIG))
    env = {
        "SNOWPG_CONFIG": str(cfg),
        "SNOWFLAKE_ACCOUNT": "xy12345",
        "SNOWFLAKE_USER": "MIGRATION",
        "SNOWFLAKE_PASSWORD": "sf-Secret-0815",
        "POSTGRES_HOST": "db.example.com",
        "POSTGRES_USER": "migration",
        "POSTGRES_PASSWORD": PASSWORD,
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    secrets.clear_cache()
    return cfg


def test_validate_config_answers_200_with_the_sources(lambda_env: Path) -> None:
    answer = lambda_handler({"action": "validate_config"}, FakeContext(900))
    assert answer["statusCode"] == 200
    body = answer["body"]
    assert body["status"] == "completed" and body["action"] == "validate_config"
    assert body["sources"] == [
        {
            "source_name": "analytics",
            "enabled": True,
            "source": "ANALYTICS.PUBLIC",
            "target": "analytics.public",
            "tables": ["ORDERS"],
        }
    ]


@pytest.mark.parametrize(
    ("event", "error", "words"),
    [
        ({"action": "nope"}, "ConfigError", "unknown action 'nope'"),
        ({"action": "validate_config", "source_name": "sales"}, "ConfigError", "unknown source"),
        ({"action": "validate_config", "tables_filter": "OLD"}, "ConfigError", "is disabled"),
    ],
)
def test_bad_input_answers_400(
    lambda_env: Path, event: dict[str, Any], error: str, words: str
) -> None:
    answer = lambda_handler(event, FakeContext(900))
    assert answer["statusCode"] == 400
    assert answer["body"]["status"] == "failed" and answer["body"]["error"] == error
    assert words in answer["body"]["message"]


def test_missing_config_file_answers_400(lambda_env: Path) -> None:
    lambda_env.unlink()
    answer = lambda_handler({}, None)
    assert answer["statusCode"] == 400 and "not found" in answer["body"]["message"]


def test_a_missing_snowflake_table_answers_400_like_the_cli_exit_2(
    lambda_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*args: Any) -> Any:
        raise SourceNotFound(
            "Snowflake table ANALYTICS.PUBLIC.ORDERS does not exist", table="ORDERS"
        )

    monkeypatch.setattr(actions, "run", fail)
    answer = lambda_handler({"action": "migrate"}, FakeContext(900))
    assert SourceNotFound.exit_code == 2
    assert answer["statusCode"] == 400 and answer["body"]["error"] == "SourceNotFound"
    assert answer["body"]["table"] == "ORDERS"


def test_transient_errors_are_raised_with_their_class_name_and_redacted(
    lambda_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*args: Any) -> Any:
        raise TargetUnavailable(f"cannot connect to postgresql://migration:{PASSWORD}@db/x")

    monkeypatch.setattr(actions, "run", fail)
    with pytest.raises(TargetUnavailable) as info:
        lambda_handler({}, FakeContext(900))
    assert type(info.value).__name__ == "TargetUnavailable"  # what ErrorEquals sees
    assert PASSWORD not in str(info.value) and "***" in str(info.value)


def test_terminal_and_unexpected_errors_answer_500_redacted(
    lambda_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    errors: Iterator[Exception] = iter(
        [DataError("row 7 of ORDERS: bad value", table="ORDERS"), KeyError(f"pw={PASSWORD}")]
    )

    def fail(*args: Any) -> Any:
        raise next(errors)

    monkeypatch.setattr(actions, "run", fail)
    first = lambda_handler({}, FakeContext(900, request_id="req-1"))
    assert first["statusCode"] == 500
    assert first["body"]["error"] == "DataError" and first["body"]["table"] == "ORDERS"
    second = lambda_handler({}, FakeContext(900, request_id="req-2"))
    assert second["statusCode"] == 500 and second["body"]["error"] == "KeyError"
    assert PASSWORD not in json.dumps(second) and "unexpected KeyError" in second["body"]["message"]
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    assert lines and all(line["level"] in ("INFO", "ERROR") for line in lines)
    assert {line.get("aws_request_id") for line in lines} == {"req-1", "req-2"}
    assert PASSWORD not in json.dumps(lines)


@pytest.fixture
def mocked_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from moto import mock_aws

    for k, v in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield


def test_credentials_from_secrets_manager_and_config_from_s3(
    lambda_env: Path, mocked_aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    sm = boto3.client("secretsmanager")
    sm.create_secret(
        Name="snowflake/prod",
        SecretString=json.dumps(
            {"account": "ab00001", "username": "SECRET_USER", "private_key_passphrase": ""}
        ),
    )
    # An RDS-managed secret's shape.
    sm.create_secret(
        Name="postgres/prod",
        SecretString=json.dumps(
            {"engine": "postgres", "host": "rds.example.com", "port": 5433,
             "username": "rds_user", "password": "rds-Secret-99"}
        ),
    )  # fmt: skip
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="cfg", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_object(Bucket="cfg", Key="snowpg/config.json", Body=json.dumps(CONFIG).encode())
    for var in ("SNOWFLAKE_ACCOUNT", "SNOWFLAKE_USER", "POSTGRES_HOST", "POSTGRES_PASSWORD"):
        monkeypatch.delenv(var)
    monkeypatch.setenv("SNOWPG_CONFIG", "s3://cfg/snowpg/config.json")
    monkeypatch.setenv("SNOWPG_SNOWFLAKE_SECRET", "snowflake/prod")
    monkeypatch.setenv("SNOWPG_POSTGRES_SECRET", "postgres/prod")
    monkeypatch.setenv("POSTGRES_USER", "env_wins")

    settings = secrets.load_lambda_settings()
    assert (settings.snowflake.account, settings.snowflake.user) == ("ab00001", "SECRET_USER")
    assert (settings.postgres.host, settings.postgres.port) == ("rds.example.com", 5433)
    assert settings.postgres.user == "env_wins"  # a variable on the function beats the secret
    from snowpg.logs import redact

    assert redact("password rds-Secret-99 leaked") == "password *** leaked"
    answer = lambda_handler({"action": "validate_config"}, FakeContext(900))
    assert answer["statusCode"] == 200


@pytest.mark.parametrize(
    ("secret", "setup", "words"),
    [
        ("snowflake/missing", None, "ResourceNotFoundException"),
        ("snowflake/odd", '{"account": "a", "colour": "blue"}', "unknown key 'colour'"),
        ("snowflake/broken", "{not json", "not valid JSON"),
    ],
)
def test_bad_secrets_answer_400(
    lambda_env: Path,
    mocked_aws: None,
    monkeypatch: pytest.MonkeyPatch,
    secret: str,
    setup: str | None,
    words: str,
) -> None:
    import boto3

    if setup is not None:
        boto3.client("secretsmanager").create_secret(Name=secret, SecretString=setup)
    monkeypatch.setenv("SNOWPG_SNOWFLAKE_SECRET", secret)
    monkeypatch.delenv("SNOWFLAKE_ACCOUNT")
    answer = lambda_handler({"action": "validate_config"}, None)
    assert answer["statusCode"] == 400 and words in answer["body"]["message"]


def test_bare_secret_string_is_the_key_or_password() -> None:
    assert secrets.secret_to_env(
        "-----BEGIN PRIVATE KEY-----\nabc", "snowflake", {"rsa_key": "SNOWFLAKE_RSA_KEY"},
        "rsa_key", "snowflake/key",
    ) == {"SNOWFLAKE_RSA_KEY": "-----BEGIN PRIVATE KEY-----\nabc"}  # fmt: skip
    with pytest.raises(Exception, match="s3://bucket/path"):
        secrets.split_s3_uri("s3://only-bucket")
