"""The README stays true: every command is documented, and the two quick-start commands exist."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import typer.main

from snowpg.cli.app import app

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_every_cli_command_is_in_the_readme() -> None:
    group = typer.main.get_command(app)
    names = sorted(group.commands)  # type: ignore[attr-defined]
    assert {"validate", "test-connections", "plan", "migrate", "status", "demo"} <= set(names)
    missing = [n for n in names if f"snowpg {n}" not in README]
    assert not missing, f"commands not documented in README.md: {missing}"


def test_readme_quick_start_targets_exist_and_ci_runs_them() -> None:
    help_text = subprocess.run(
        ["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    for target in ("install", "test"):
        assert re.search(rf"^\s+{target}\s", help_text, re.M), target
        assert f"make {target}" in README
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make install" in ci and "make test" in ci


def test_docs_linked_from_readme_exist() -> None:
    for link in re.findall(r"\]\((docs/[^)#]+)\)", README):
        assert (ROOT / link).exists(), link
