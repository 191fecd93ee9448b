"""The README stays true: every command is documented, and the two quick-start commands exist."""

from __future__ import annotations

import os
import re
import subprocess
import sys
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


DOC_FILES = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]


def _number(text: str) -> int:
    return int(text.replace(",", ""))


def test_quoted_slice_size_is_the_writers_slice_rows() -> None:
    from snowpg.copy.writer import SLICE_ROWS

    quoted = []
    for doc in DOC_FILES:
        for m in re.finditer(r"slices of\s+([\d,]+)\s+rows", doc.read_text()):
            quoted.append((doc.name, _number(m.group(1))))
    assert quoted, "the docs no longer quote the encode slice size"
    assert {n for _doc, n in quoted} == {SLICE_ROWS}, quoted


def test_every_memory_formula_quotes_the_same_base() -> None:
    from snowpg.plan.sizing import BASE_RSS_MB

    bases = []
    for doc in DOC_FILES:
        for m in re.finditer(r"(\d+) MB \+ \(?parallel_threads", doc.read_text()):
            bases.append((doc.name, int(m.group(1))))
    assert {d for d, _ in bases} >= {"design.md", "OPTIMIZATION.md", "benchmarks.md"}, bases
    assert {n for _d, n in bases} == {BASE_RSS_MB}, bases


def test_configuration_defaults_quoted_in_the_docs_are_the_codes() -> None:
    from snowpg.config import Settings

    fields = Settings.model_fields
    doc = (ROOT / "docs" / "configuration.md").read_text()
    for key in ("parallel_threads", "max_chunk_mb"):
        m = re.search(rf"^\| `{key}` \|[^|]*\| `([\d.]+)` \|", doc, re.M)
        assert m, f"docs/configuration.md does not quote the default of {key}"
        assert float(m.group(1)) == float(fields[key].default), key
    assert fields["batch_size"].default is None
    assert re.search(r"^\| `batch_size` \|[^|]*\| unset \|", doc, re.M), "batch_size default"
    assert f"max_chunk_mb {fields['max_chunk_mb'].default:g}" in (ROOT / "CHANGELOG.md").read_text()


def test_no_internal_jargon_in_user_facing_text() -> None:
    for doc in DOC_FILES:
        hits = [ln for ln in doc.read_text().splitlines() if re.search(r"\bseed\b", ln, re.I)]
        assert not hits, f"{doc.name} says 'seed' (say 'the existing tool'): {hits[:3]}"
    deploy_help = subprocess.run(
        [sys.executable, "-m", "snowpg.cli.app", "deploy", "--help"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "COLUMNS": "200"},
    ).stdout
    assert "seed" not in deploy_help.lower()


def test_changelog_names_every_command() -> None:
    group = typer.main.get_command(app)
    changelog = (ROOT / "CHANGELOG.md").read_text()
    missing = [n for n in group.commands if f"`{n}`" not in changelog]  # type: ignore[attr-defined]
    assert not missing, f"CHANGELOG.md does not name: {missing}"


def test_readme_exit_codes_are_the_codes_snowpg_uses() -> None:
    from snowpg.cli.app import INTERRUPTED
    from snowpg.errors import ConfigError, RunRefused, SourceNotFound

    assert ConfigError.exit_code == RunRefused.exit_code == SourceNotFound.exit_code == 2
    for phrase in ("`0` completed", "`1` failed", "`2` bad configuration", "`3` partial",
                   "`130` interrupted"):  # fmt: skip
        assert phrase in README, phrase
    assert "the same command" in README and INTERRUPTED.endswith("the same command")


def test_readme_shows_installing_a_built_wheel() -> None:
    assert "pipx install ./dist/snowpg-*.whl" in README
    assert "target database must exist" in README.replace("**", "")
