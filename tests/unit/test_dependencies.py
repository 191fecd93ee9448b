"""Every third-party module snowpg's code imports is declared where it is needed.

Core modules may import only ``[project] dependencies``; ``snowpg.aws`` also the ``aws`` extra,
``snowpg.demo`` the ``demo`` extra; the Lambda side (everything but the CLI, the demo and the
deploy-only modules) only the layer's requirements or what the Lambda runtime ships. The installed
wheel is exercised in tests/install/test_installed_wheel.py.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

from snowpg.aws import layer

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "snowpg"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
DISTRIBUTIONS = importlib.metadata.packages_distributions()
# Deploy-only modules (run by `snowpg deploy` on the user's machine, never in the Lambda).
DEPLOY_ONLY = ("aws/deploy.py", "aws/layer.py", "aws/plan.py")


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
    assert match, requirement
    return match.group(0).lower().replace("_", "-")


def _declared(requirements: list[str]) -> set[str]:
    return {_name(r) for r in requirements if not r.startswith("snowpg")}


def imports() -> dict[str, set[str]]:
    """Third-party distribution -> the snowpg files that import it (also inside functions)."""
    found: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top in ("snowpg", "__future__"):
                    continue
                dists = DISTRIBUTIONS.get(top)
                assert dists, f"{path}: imports {top}, which no installed distribution provides"
                for dist in dists:
                    key = dist.lower().replace("_", "-")
                    found.setdefault(key, set()).add(str(path.relative_to(PACKAGE)))
    return found


def test_every_import_is_declared_for_the_code_that_imports_it() -> None:
    core = _declared(PROJECT["dependencies"])
    extras = {k: _declared(v) for k, v in PROJECT["optional-dependencies"].items()}
    wrong = []
    for dist, files in sorted(imports().items()):
        for f in sorted(files):
            allowed = set(core)
            if f.startswith("aws/") or f == "cli/deploy.py":  # `snowpg deploy` needs [aws]
                allowed |= extras["aws"]
            if f.startswith("demo/"):
                allowed |= extras["demo"]
            if dist not in allowed:
                wrong.append(f"{f} imports {dist}")
    assert not wrong, "undeclared runtime imports: " + "; ".join(wrong)
    assert "click" not in imports(), "typer>=0.26 vendors click; import typer's classes instead"


def test_the_lambda_layer_carries_every_import_of_the_lambda_side() -> None:
    carried = _declared(layer.layer_requirements()) | set(layer.RUNTIME_PROVIDED)
    wrong = []
    for dist, files in sorted(imports().items()):
        lambda_files = [
            f for f in files if not f.startswith(("cli/", "demo/")) and f not in DEPLOY_ONLY
        ]
        if lambda_files and dist not in carried:
            wrong.append(f"{', '.join(sorted(lambda_files))} import(s) {dist}")
    assert not wrong, "missing from the Lambda layer: " + "; ".join(wrong)
