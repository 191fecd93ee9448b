"""Settings for snowpg: config.json plus the environment, validated once and passed down.

See docs/configuration.md for every key and environment variable.
"""

from snowpg.config.load import DEFAULT_CONFIG_PATH, load_settings, parse_settings
from snowpg.config.schema import (
    PostgresSettings,
    Settings,
    SnowflakeSettings,
    SourceConfig,
    TableConfig,
)

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "PostgresSettings",
    "Settings",
    "SnowflakeSettings",
    "SourceConfig",
    "TableConfig",
    "load_settings",
    "parse_settings",
]
