"""``snowpg validate --connect``: every enabled table checked on both servers as migrate would."""

from __future__ import annotations

from rich.console import Console

from snowpg.config import Settings


def validate_connected(settings: Settings, out_console: Console) -> None:
    """`validate --connect`: every enabled table checked as migrate would; raises one error."""
    from snowpg.cli.render import plan_action
    from snowpg.plan.discovery import resolve_source
    from snowpg.plan.source_plan import preflight_source

    checks = []
    for src in settings.select_sources(None):
        checked = preflight_source(settings, resolve_source(settings, src))
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
