"""snowpg as a user installs it: the built wheel in a fresh virtualenv, outside this checkout.

One venv grows in three steps, each a superset of the one before, so each step proves its own
dependency list is enough:

1. the wheel without its dependencies plus only the Lambda layer's requirements
   (``snowpg.aws.layer.layer_requirements()``): the Lambda handler answers an event and every
   module the Lambda can load imports;
2. ``pip install snowpg-*.whl`` (no extras): ``snowpg --help``, ``--version``, ``validate`` through
   the installed console script;
3. ``pip install 'snowpg-*.whl[aws]'``: ``snowpg deploy --help`` and the handler again.

pip downloads from PyPI (its cache makes reruns fast). The static half, that every module snowpg
imports is declared, is in tests/unit/test_dependencies.py.
"""

from __future__ import annotations

import json
import os
import pkgutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import snowpg
from snowpg.aws import layer

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "config.json"
EXAMPLE_ENV = {
    "SNOWFLAKE_ACCOUNT": "xy12345.us-east-1",
    "SNOWFLAKE_USER": "MIGRATION_USER",
    "SNOWFLAKE_WAREHOUSE": "MIGRATION_WH",
    "POSTGRES_HOST": "db.example.com",
    "POSTGRES_USER": "migration_user",
    "POSTGRES_PASSWORD": "not-used",
}
# Modules the Lambda never loads: the CLI, the local demo, and what only `snowpg deploy` runs.
NOT_IN_LAMBDA = (
    "snowpg.cli",
    "snowpg.demo",
    "snowpg.aws.deploy",
    "snowpg.aws.layer",
    "snowpg.aws.plan",
)


def lambda_modules() -> list[str]:
    names = [
        m.name
        for m in pkgutil.walk_packages(snowpg.__path__, "snowpg.")
        if not m.name.startswith(NOT_IN_LAMBDA)
    ]
    assert "snowpg.aws.handler" in names and "snowpg.run.migrate" in names
    return sorted(names)


def _run(cmd: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    done = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, f"{cmd}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(ROOT)])
    [built] = sorted(out.glob("snowpg-*.whl"))
    return built


@pytest.fixture(scope="session")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    venv = tmp_path_factory.mktemp("user") / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    yield venv


def _user_env(venv: Path, tmp: Path) -> dict[str, str]:
    """What a user's shell has: the venv on PATH, none of this checkout, none of its variables."""
    keep = {k: v for k, v in os.environ.items() if k in ("HOME", "LANG", "TMPDIR")}
    return {
        **keep,
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "COLUMNS": "120",
        **EXAMPLE_ENV,
        "SNOWFLAKE_RSA_KEY": _rsa_key(),
    }


def _rsa_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem.decode()


def _pip(venv: Path, *args: str) -> None:
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
          "--disable-pip-version-check", *args])  # fmt: skip


def _check_lambda_side(venv: Path, tmp: Path) -> None:
    task = tmp / "task"
    task.mkdir(exist_ok=True)
    config = json.loads(EXAMPLE.read_text())
    (task / "config.json").write_text(json.dumps(config))
    script = (
        "import importlib, json, sys\n"
        f"for name in {lambda_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        "from snowpg.aws.handler import lambda_handler\n"
        "answer = lambda_handler({'action': 'validate_config'}, None)\n"
        "print(json.dumps(answer))\n"
        "assert 'typer' not in sys.modules and 'rich' not in sys.modules, 'CLI-only in Lambda'\n"
    )
    env = {**_user_env(venv, tmp), "LAMBDA_TASK_ROOT": str(task)}
    out = _run([str(venv / "bin" / "python"), "-I", "-c", script], env=env, cwd=task)
    answer = json.loads(out.strip().splitlines()[-1])
    assert answer["statusCode"] == 200 and answer["body"]["status"] == "completed", answer


def test_the_wheel_installs_and_runs_with_exactly_its_declared_dependencies(
    wheel: Path, fresh_venv: Path, tmp_path: Path
) -> None:
    snowpg_bin = str(fresh_venv / "bin" / "snowpg")
    env = _user_env(fresh_venv, tmp_path)

    # 1. The Lambda layer's requirements (boto3 is the runtime's own; installed as Lambda has it).
    _pip(fresh_venv, "--no-deps", str(wheel))
    _pip(fresh_venv, *layer.layer_requirements(), *layer.RUNTIME_PROVIDED[:1])
    _check_lambda_side(fresh_venv, tmp_path)

    # 2. The wheel with its dependencies, no extras: the console script works outside the checkout.
    _pip(fresh_venv, str(wheel))
    assert _run([snowpg_bin, "--version"], env=env, cwd=tmp_path).strip() == (
        f"snowpg {snowpg.__version__}"
    )
    assert "migrate" in _run([snowpg_bin, "--help"], env=env, cwd=tmp_path)
    out = _run([snowpg_bin, "validate", "--config", str(EXAMPLE)], env=env, cwd=tmp_path)
    assert "configuration is valid" in out, out

    # 3. With the aws extra, as docs/DEPLOYMENT.md tells users to install it.
    _pip(fresh_venv, f"{wheel}[aws]")
    assert "--dry-run" in _run([snowpg_bin, "deploy", "--help"], env=env, cwd=tmp_path)
    _check_lambda_side(fresh_venv, tmp_path)
