"""Every file in examples/ loads, and docs/configuration.md documents every key and variable."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import BaseModel

from snowpg.config import (
    PostgresSettings,
    Settings,
    SnowflakeSettings,
    SourceConfig,
    TableConfig,
    load_settings,
)
from snowpg.config.env import BLOCK_ENV, CONFIG_PATH_ENV, LOG_LEVEL_ENV, MIGRATION_VERSION_ENV

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.json"))
DOCS = ROOT / "docs" / "configuration.md"


@pytest.fixture(scope="module")
def example_env() -> dict[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return {
        "SNOWFLAKE_ACCOUNT": "xy12345.eu-west-1",
        "SNOWFLAKE_USER": "loader",
        "SNOWFLAKE_WAREHOUSE": "LOAD_WH",
        "SNOWFLAKE_RSA_KEY": pem.replace("\n", "\\n"),
        "POSTGRES_HOST": "localhost",
        "POSTGRES_USER": "postgres",
        "POSTGRES_PASSWORD": "example-password",
    }


def test_examples_exist() -> None:
    names = {p.name for p in EXAMPLES}
    assert {"config.json", "config.minimal.json"} <= names


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_loads(path: Path, example_env: dict[str, str]) -> None:
    # Any other ${NAME} an example uses gets a placeholder, so each file is checked on its own.
    referenced = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", path.read_text()))
    env = {name: "placeholder" for name in referenced} | example_env
    settings = load_settings(path, env)
    assert settings.sources, path.name
    for source in settings.sources:
        assert len(settings.config_hash(source)) == 64
        for table in source.tables:
            assert table.target_name
    if settings.snowflake.rsa_key is not None:
        assert settings.snowflake.private_key_der()


def test_minimal_example_takes_credentials_from_environment(example_env: dict[str, str]) -> None:
    text = (ROOT / "examples" / "config.minimal.json").read_text()
    assert "snowflake" not in text and "postgres" not in text
    settings = load_settings(ROOT / "examples" / "config.minimal.json", example_env)
    assert settings.postgres.user == "postgres" and settings.snowflake.user == "loader"
    assert settings.sources[0].tables[0].target_name == "dimpayer"


def _fields(model: type[BaseModel]) -> list[str]:
    return list(model.model_fields)


@pytest.mark.parametrize(
    "model",
    [Settings, SnowflakeSettings, PostgresSettings, SourceConfig, TableConfig],
    ids=lambda m: m.__name__,
)
def test_every_key_is_documented(model: type[BaseModel]) -> None:
    docs = DOCS.read_text()
    missing = [name for name in _fields(model) if f"| `{name}` |" not in docs]
    assert not missing, f"docs/configuration.md does not document {missing}"


def test_every_environment_variable_is_documented() -> None:
    docs = DOCS.read_text()
    names: list[Any] = [v for block in BLOCK_ENV.values() for v in block.values()]
    names += [CONFIG_PATH_ENV, LOG_LEVEL_ENV, MIGRATION_VERSION_ENV]
    missing = [n for n in names if f"`{n}`" not in docs]
    assert not missing, f"docs/configuration.md does not document {missing}"
