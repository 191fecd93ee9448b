"""Building the Lambda layer and the app zip (the layer test downloads wheels: marked slow)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from snowpg.aws import layer

ROOT = Path(__file__).resolve().parents[2]


def test_platform_tags_follow_the_runtime_glibc() -> None:
    py311 = layer.platforms("python3.11", "x86_64")
    assert py311[0] == "manylinux_2_26_x86_64" and "manylinux_2_28_x86_64" not in py311
    assert py311[-1] == "manylinux2014_x86_64"
    py312 = layer.platforms("python3.12", "arm64")
    assert py312[0] == "manylinux_2_34_aarch64" and "manylinux_2_17_aarch64" in py312
    cmd = layer.pip_command("python3.11", "arm64", Path("/t"), ["pyarrow>=16"])
    assert cmd[cmd.index("--python-version") + 1] == "3.11"
    assert "--only-binary=:all:" in cmd and cmd[-1] == "pyarrow<21"


def test_layer_requirements_leave_out_the_cli_and_extras() -> None:
    reqs = layer.layer_requirements()
    names = {r.split("<")[0].split(">")[0].split("[")[0].split("=")[0] for r in reqs}
    assert {"snowflake-connector-python", "psycopg", "pyarrow", "pydantic", "numpy"} <= names
    assert not names & {"typer", "rich", "moto", "fakesnow", "boto3"}


def test_app_zip_is_reproducible_and_bundles_the_config(tmp_path: Path) -> None:
    cfg = tmp_path / "my-config.json"
    cfg.write_text('{"sources": []}')
    a = layer.build_app_zip(tmp_path / "a.zip", cfg)
    b = layer.build_app_zip(tmp_path / "b.zip", cfg)
    assert a.sha256 == b.sha256  # same tree, same bytes: an unchanged deploy changes nothing
    names = zipfile.ZipFile(a.path).namelist()
    assert "config.json" in names and "snowpg/aws/handler.py" in names
    assert "snowpg/aws/standard.asl.json" in names and "snowpg/status/schema.sql" in names
    assert not [n for n in names if "__pycache__" in n]


def test_trim_removes_caches_headers_and_runtime_provided_packages(tmp_path: Path) -> None:
    for rel in (
        "pyarrow/include/arrow/api.h", "pyarrow/lib.so", "pyarrow/libarrow_flight.so.1900",
        "pyarrow/libarrow_substrait.so.1900",
        "pyarrow/__pycache__/x.pyc", "boto3/__init__.py", "botocore-1.0.dist-info/METADATA",
        "psycopg/__init__.py",
    ):  # fmt: skip
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x" * 10)
    freed = layer.trim(tmp_path)
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert left == ["psycopg/__init__.py", "pyarrow/lib.so", "pyarrow/libarrow_substrait.so.1900"]
    assert freed == 50


@pytest.mark.slow
def test_built_layer_fits_lambda_and_the_handler_imports_from_it(tmp_path: Path) -> None:
    runtime = f"python{sys.version_info.major}.{sys.version_info.minor}"
    if runtime not in layer.RUNTIMES or os.uname().machine not in ("x86_64", "aarch64"):
        pytest.skip(f"this interpreter ({runtime}, {os.uname().machine}) is no Lambda runtime")
    arch = "x86_64" if os.uname().machine == "x86_64" else "arm64"
    built = layer.build_layer(runtime, arch, tmp_path / "build")
    app = layer.build_app_zip(tmp_path / "build" / "app.zip")
    print(f"\nlayer {built.describe()}; app {app.describe()}")
    assert built.unzipped_bytes + app.unzipped_bytes < layer.MAX_UNZIPPED_BYTES
    # Over MAX_DIRECT_UPLOAD_BYTES (62 MiB zipped with numpy) it goes through S3: see
    # tests/aws/test_deploy_moto.py::test_layer_over_the_direct_upload_limit_goes_through_s3.

    opt, task = tmp_path / "opt", tmp_path / "task"
    zipfile.ZipFile(built.path).extractall(opt)
    zipfile.ZipFile(app.path).extractall(task)
    # What the Lambda runtime itself provides: boto3 and botocore (left out of the layer).
    runtime_dir = tmp_path / "runtime"
    runtime_dir.mkdir()
    import boto3
    import botocore
    import s3transfer  # type: ignore[import-untyped]

    for mod in (boto3, botocore, s3transfer):
        src = Path(mod.__file__ or "").parent
        (runtime_dir / src.name).symlink_to(src)
    config = {
        "sources": [
            {
                "source_name": "analytics",
                "source_sf_database": "A",
                "source_sf_schema": "PUBLIC",
                "target_pg_database": "a",
                "target_pg_schema": "public",
                "tables": [{"source": "ORDERS"}],
            }
        ]
    }
    (task / "config.json").write_text(json.dumps(config))
    script = (
        "import sys, json\n"
        f"sys.path[:0] = [{str(task)!r}, {str(opt / 'python')!r}, {str(runtime_dir)!r}]\n"
        "from snowpg.aws.handler import lambda_handler\n"
        "import snowpg.run.migrate, snowflake.connector, pyarrow, psycopg\n"
        "assert psycopg.pq.__impl__ == 'binary', psycopg.pq.__impl__\n"
        "answer = lambda_handler({'action': 'validate_config'}, None)\n"
        "print(json.dumps(answer))\n"
        "assert not [p for p in sys.path if 'site-packages' in p], sys.path\n"
    )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "LAMBDA_TASK_ROOT": str(task),
        "SNOWFLAKE_ACCOUNT": "xy12345",
        "SNOWFLAKE_USER": "MIGRATION",
        "SNOWFLAKE_PASSWORD": "not-used",
        "POSTGRES_HOST": "db.example.com",
        "POSTGRES_USER": "migration",
    }
    # -S -I: no site-packages of this machine, only the layer, the app and the runtime's boto3.
    result = subprocess.run(
        [sys.executable, "-S", "-I", "-c", script],
        capture_output=True,
        text=True,
        env=env,
        cwd=task,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["statusCode"] == 200 and answer["body"]["status"] == "completed"
