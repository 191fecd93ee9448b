"""The package's dependencies run one way (docs/design.md): a walk over every module's imports.

Each top-level module or package of ``snowpg`` sits in one layer. A module may import from its own
layer or a lower one, never a higher one; the packages' import graph has no cycle; ``snowpg`` is
imported inside a function only where a face keeps its start-up fast; and SQL statements are
written only in the database adapters and in ``status``.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "src" / "snowpg"

GROUND, CONFIG, ADAPTERS, STATUS, STEPS, RUN, FACES = range(7)
LAYER_NAMES = ["ground", "config", "adapters", "status", "plan/copy", "run", "faces"]

LAYERS: dict[str, int] = {
    "__init__": GROUND,  # __version__
    "errors": GROUND,
    "model": GROUND,
    "names": GROUND,
    "sqltext": GROUND,
    "logs": GROUND,
    "malloc": GROUND,
    "sinks": GROUND,
    "contract": GROUND,
    "typefamilies": GROUND,
    "checksum_spec": GROUND,
    "config": CONFIG,
    "snowflake": ADAPTERS,
    "postgres": ADAPTERS,
    "status": STATUS,
    "plan": STEPS,
    "copy": STEPS,
    "run": RUN,
    "verify": RUN,
    "sync": RUN,
    "checks": RUN,
    "cli": FACES,
    "aws": FACES,
    "observe": FACES,
    "demo": FACES,
}

# Imports inside functions are allowed only here, each for the reason given.
LAZY_IMPORTS_ALLOWED: dict[str, str] = {
    "cli": "each command imports what it runs when it runs: `snowpg --help` and typos stay fast",
    "aws": "each Lambda action imports what it runs on first use: a `status` call starts cold fast",
}

SQL_ALLOWED = {"snowflake", "postgres", "status", "demo"}
SQL_STATEMENT = re.compile(
    r"^\s*(SELECT|INSERT INTO|UPDATE|DELETE FROM|CREATE|ALTER|DROP|COPY|TRUNCATE|WITH)\s"
)


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        yield rel.parts[0].removesuffix(".py"), path


def _imported(node: ast.AST) -> list[str]:
    """Top-level snowpg names an import statement reaches."""
    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        parts = node.module.split(".")
        if parts[0] != "snowpg":
            return []
        if len(parts) > 1:
            return [parts[1]]
        return [alias.name if alias.name != "__version__" else "__init__" for alias in node.names]
    if isinstance(node, ast.Import):
        return [
            a.name.split(".")[1] if "." in a.name else "__init__"
            for a in node.names
            if a.name.split(".")[0] == "snowpg"
        ]
    return []


def _imports(path: Path) -> Iterator[tuple[ast.stmt, bool]]:
    """Every import statement of a module, and whether it sits inside a function."""
    tree = ast.parse(path.read_text(), filename=str(path))

    def walk(node: ast.AST, in_function: bool) -> Iterator[tuple[ast.stmt, bool]]:
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                yield child, in_function
            yield from walk(child, inside)

    yield from walk(tree, False)


def _edges() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for top, path in _modules():
        for node, _ in _imports(path):
            for target in _imported(node):
                if target != top:
                    edges.setdefault(top, set()).add(target)
    return edges


def test_every_module_has_a_layer() -> None:
    unplaced = sorted({top for top, _ in _modules()} - LAYERS.keys())
    assert unplaced == [], f"give these a layer in LAYERS and in docs/design.md: {unplaced}"


def test_no_module_imports_from_a_layer_above_it() -> None:
    upward = []
    for top, path in _modules():
        for node, _ in _imports(path):
            for target in _imported(node):
                if LAYERS.get(target, GROUND) > LAYERS.get(top, GROUND):
                    upward.append(
                        f"{path.relative_to(ROOT)}:{node.lineno} ({LAYER_NAMES[LAYERS[top]]}) "
                        f"imports snowpg.{target} ({LAYER_NAMES[LAYERS[target]]})"
                    )
    assert upward == [], "\n".join(upward)


def _reaches(edges: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for nxt in edges.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_packages_import_each_other_without_a_cycle() -> None:
    edges = _edges()
    in_cycles = sorted(
        f"{a} -> {b}" for a, bs in edges.items() for b in bs if a in _reaches(edges, b)
    )
    assert in_cycles == [], "these imports close a loop between packages"


def test_snowpg_is_imported_inside_a_function_only_in_the_faces_that_say_why() -> None:
    lazy = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for top, path in _modules()
        for node, in_function in _imports(path)
        if in_function and _imported(node) and top not in LAZY_IMPORTS_ALLOWED
    ]
    assert lazy == [], "\n".join(lazy)
    for package, reason in LAZY_IMPORTS_ALLOWED.items():
        doc = ast.get_docstring(ast.parse((ROOT / package / "__init__.py").read_text())) or ""
        assert "start-up" in doc, f"snowpg/{package}/__init__.py must say why ({reason})"


def _sql_literals(path: Path) -> Iterator[tuple[int, str]]:
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
            and SQL_STATEMENT.match(node.value)
        ):
            yield node.lineno, node.value.strip().split("\n")[0][:60]


def test_sql_is_written_only_in_the_adapters_and_status() -> None:
    stray = [
        f"{path.relative_to(ROOT)}:{line}: {text}"
        for top, path in _modules()
        if top not in SQL_ALLOWED
        for line, text in _sql_literals(path)
    ]
    assert stray == [], "\n".join(stray)


def test_the_walk_sees_imports_and_sql() -> None:
    """The checks above would pass vacuously if the walk found nothing."""
    edges = _edges()
    assert "config" in edges["status"] or "postgres" in edges["status"]
    assert any(True for top, p in _modules() if top == "status" for _ in _sql_literals(p))


@pytest.mark.parametrize("package", sorted(p.name for p in ROOT.iterdir() if p.is_dir()))
def test_each_package_says_what_it_may_import(package: str) -> None:
    if package == "__pycache__":
        return
    doc = ast.get_docstring(ast.parse((ROOT / package / "__init__.py").read_text())) or ""
    assert "import" in doc, f"snowpg/{package}/__init__.py: say what the package may import"


@pytest.mark.parametrize("face", ["snowpg.cli.app", "snowpg.aws.handler"])
def test_the_lazy_imports_keep_the_faces_light(face: str) -> None:
    """The reason the faces import inside functions holds: loading them loads no driver."""
    heavy = ["pyarrow", "psycopg", "snowflake.connector"]
    code = f"import sys, {face}; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
