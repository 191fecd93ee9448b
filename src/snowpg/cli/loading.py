"""Settings for commands that never talk to Snowflake, and ``validate --connect``."""

from __future__ import annotations

import json
import os
from pathlib import Path

from rich.console import Console

from snowpg.config import Settings, load_settings

# Stands in for the Snowflake section when a command never connects to Snowflake.
_NO_SNOWFLAKE = {"account": "not-used", "user": "not-used", "password": "snowpg-no-snowflake"}


def load_without_snowflake(config: Path | None) -> Settings:
    from snowpg.config import parse_settings
    from snowpg.config.env import CONFIG_PATH_ENV

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


def validate_connected(settings: Settings, out_console: Console) -> None:
    """`validate --connect`: every enabled table checked as migrate would; raises one error."""
    from snowpg.cli.render import plan_action
    from snowpg.plan.planner import preflight_source

    checks = []
    for src in settings.select_sources(None):
        checked = preflight_source(settings, src)
        checks.append(checked)
        refused = {checked.plans[n].source.qualified for n in checked.refused}
        for plan in checked.plans.values():
            out_console.print(
                f"source {src.source_name}: {plan.source.qualified} -> "
                f"{plan.target_schema}.{plan.target_table}: {plan_action(plan, refused)}",
                highlight=False,
                markup=False,
            )
    for checked in checks:
        checked.raise_if_any()
    out_console.print("[green]configuration and tables are valid[/]")
