"""What every command shares, spelled once: the options, the two consoles and loading the
settings (with logging set up for a terminal)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from snowpg import logs
from snowpg.config import Settings, load_settings, parse_settings
from snowpg.config.env import CONFIG_PATH_ENV

err_console = Console(stderr=True)
# Pipes and logs get wide lines: tables are not folded at 80 columns.
out_console = Console(width=None if sys.stdout.isatty() else 200)

# Stands in for the Snowflake section when a command never connects to Snowflake.
_NO_SNOWFLAKE = {"account": "not-used", "user": "not-used", "password": "snowpg-no-snowflake"}

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="config.json path [default: $SNOWPG_CONFIG or ./config.json]"
    ),
]
SourceOpt = Annotated[
    str | None,
    typer.Option(
        "--source", "-s", help="source_name (comma-separated for several) [default: all enabled]"
    ),
]
TablesOpt = Annotated[
    str | None, typer.Option("--tables", "-t", help="only these source tables, comma-separated")
]
RunOpt = Annotated[
    str | None, typer.Option("--run", help="a run id [default: the newest run of each source]")
]


class StderrAtWriteTime:
    """Resolves sys.stderr at write time, so rich's live display can redirect log lines."""

    def write(self, s: str) -> int:
        return sys.stderr.write(s)

    def flush(self) -> None:
        sys.stderr.flush()


def load_config(config: Path | None, verbose: bool = False, snowflake: bool = True) -> Settings:
    """The settings; ``snowflake=False`` for commands that read only PostgreSQL (status, serve,
    report): the Snowflake section and ``SNOWFLAKE_*`` variables are then not needed."""
    settings = load_settings(config) if snowflake else load_without_snowflake(config)
    logs.configure(
        "DEBUG" if verbose else settings.log_level, json_lines=False, stream=StderrAtWriteTime()
    )
    return settings


def load_without_snowflake(config: Path | None) -> Settings:
    path = Path(config or os.environ.get(CONFIG_PATH_ENV) or "config.json")
    try:
        raw = json.loads(path.read_bytes().decode("utf-8-sig"))
    except (OSError, ValueError):
        return load_settings(config)  # the same file again, for its exact error line
    if not isinstance(raw, dict):
        return load_settings(config)
    raw = {**raw, "snowflake": dict(_NO_SNOWFLAKE)}
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNOWFLAKE_")}
    return parse_settings(raw, env, origin=str(path))
