"""Settings for snowpg: config.json plus the environment, validated once and passed down.

See docs/configuration.md for every key and environment variable.

Modules: ``fields`` (the strict base model and shared validators), ``keys`` (the RSA key's
forms), ``connections`` (Snowflake and PostgreSQL settings), ``tables`` (TableConfig),
``sources`` (SourceConfig), ``settings`` (Settings and the config hash), ``env`` and ``compat``
(environment fallbacks, the existing tool's keys) and ``load`` (reading a file into Settings).

What config may import: only the ground modules (``snowpg.errors``, ``model``, ``names``,
``sqltext``, ``logs``, ``typefamilies``) and its own modules, each at module top. Never the
adapters, status, plan, copy, run or the faces: they import config, not the reverse.
"""

from snowpg.config.connections import PostgresSettings, SnowflakeSettings
from snowpg.config.load import DEFAULT_CONFIG_PATH, load_settings, parse_settings
from snowpg.config.settings import Settings
from snowpg.config.sources import SourceConfig
from snowpg.config.tables import TableConfig

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
