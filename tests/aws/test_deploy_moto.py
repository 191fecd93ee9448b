"""``snowpg deploy`` against moto's server over HTTP: create, update in place, destroy, dry run."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import boto3
import pytest
import typer
from typer.testing import CliRunner

from snowpg.aws import iam, state_machine
from snowpg.cli.deploy import deploy_command

REGION = "eu-west-1"


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    with pytest.MonkeyPatch.context() as mp:
        # The AWS-managed policies (AWSLambdaBasicExecutionRole, ...) exist only when loaded.
        mp.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
        server.stop()


@pytest.fixture
def aws_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    for k, v in {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("SNOWPG_CONFIG", raising=False)
    return moto_endpoint


@pytest.fixture
def deploy_files(tmp_path: Path) -> tuple[Path, Path]:
    config = {
        "sources": [
            {
                "source_name": "analytics",
                "source_sf_database": "ANALYTICS",
                "source_sf_schema": "PUBLIC",
                "target_pg_database": "analytics",
                "target_pg_schema": "public",
                "tables": [{"source": "ORDERS"}],
            },
            {
                "source_name": "archive",
                "enabled": False,
                "source_sf_database": "ARCHIVE",
                "source_sf_schema": "PUBLIC",
                "target_pg_database": "archive",
                "target_pg_schema": "public",
                "tables": [{"source": "OLD"}],
            },
        ],
        "snowflake": {"account": "${SF_ACCOUNT}"},
    }
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(config))
    layer = tmp_path / "layer.zip"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("python/placeholder.py", "# a stand-in for the dependency layer\n")
    layer.write_bytes(buf.getvalue())
    return cfg, layer


def _deploy(*args: str) -> str:
    app = typer.Typer()
    app.command("deploy")(deploy_command)
    app.command("other", hidden=True)(lambda: None)  # keeps "deploy" a sub-command
    result = CliRunner().invoke(app, ["deploy", *args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def _doc(value: Any) -> dict[str, Any]:
    """moto returns policy documents as dicts or URL-encoded JSON."""
    return value if isinstance(value, dict) else json.loads(unquote(value))


def test_deploy_creates_updates_in_place_and_destroys(
    aws_env: str, deploy_files: tuple[Path, Path], tmp_path: Path
) -> None:
    cfg, layer = deploy_files
    name = f"snowpg-{uuid.uuid4().hex[:8]}"
    common = [
        "--config", str(cfg), "--name", name, "--region", REGION, "--layer-zip", str(layer),
        "--build-dir", str(tmp_path / "build"), "--snowflake-secret", "snowflake/prod",
        "--postgres-secret", "pg-main",
    ]  # fmt: skip
    iam_c = boto3.client("iam")
    lam = boto3.client("lambda")
    sfn = boto3.client("stepfunctions")

    dry = _deploy(*common, "--dry-run", "--workers", "3")
    assert "dry run, nothing changed" in dry and f"{name}-analytics-fanout" in dry
    assert not [f for f in lam.list_functions()["Functions"] if f["FunctionName"] == name]

    out1 = _deploy(
        *common, "--workers", "3", "--subnet-ids", "subnet-1,subnet-2",
        "--security-group-ids", "sg-1", "--env", "EXTRA=1", "--memory", "6144",
    )  # fmt: skip
    assert f"created function {name}" in out1

    # IAM: the existing tool's trust policies and least-privilege inline policies.
    lrole = iam_c.get_role(RoleName=f"{name}-lambda-role")["Role"]
    srole = iam_c.get_role(RoleName=f"{name}-states-role")["Role"]
    assert _doc(lrole["AssumeRolePolicyDocument"]) == iam.trust_policy("lambda.amazonaws.com")
    assert _doc(srole["AssumeRolePolicyDocument"]) == iam.trust_policy("states.amazonaws.com")
    lpol = _doc(
        iam_c.get_role_policy(RoleName=lrole["RoleName"], PolicyName=iam.LAMBDA_POLICY_NAME)[
            "PolicyDocument"
        ]
    )
    [stmt] = lpol["Statement"]
    assert stmt["Action"] == ["secretsmanager:GetSecretValue"]
    assert stmt["Resource"] == [
        f"arn:aws:secretsmanager:{REGION}:123456789012:secret:snowflake/*",
        f"arn:aws:secretsmanager:{REGION}:123456789012:secret:postgres/*",
        f"arn:aws:secretsmanager:{REGION}:123456789012:secret:pg-main-??????",
    ]
    attached = {
        p["PolicyName"]
        for p in iam_c.list_attached_role_policies(RoleName=lrole["RoleName"])["AttachedPolicies"]
    }
    assert attached == {"AWSLambdaBasicExecutionRole", "AWSLambdaVPCAccessExecutionRole"}
    fn = lam.get_function_configuration(FunctionName=name)
    spol = _doc(
        iam_c.get_role_policy(RoleName=srole["RoleName"], PolicyName=iam.STATES_POLICY_NAME)[
            "PolicyDocument"
        ]
    )
    assert spol["Statement"][0]["Action"] == ["lambda:InvokeFunction"]
    assert spol["Statement"][0]["Resource"] == [fn["FunctionArn"], fn["FunctionArn"] + ":*"]

    # The function's configuration.
    assert fn["Runtime"] == "python3.11" and fn["Handler"] == "snowpg.aws.handler.lambda_handler"
    assert (fn["MemorySize"], fn["Timeout"], fn["EphemeralStorage"]["Size"]) == (6144, 900, 10240)
    assert fn["Role"] == lrole["Arn"]
    assert sorted(fn["VpcConfig"]["SubnetIds"]) == ["subnet-1", "subnet-2"]
    assert fn["VpcConfig"]["SecurityGroupIds"] == ["sg-1"]
    variables = fn["Environment"]["Variables"]
    assert variables["SNOWPG_SNOWFLAKE_SECRET"] == "snowflake/prod"
    assert variables["SNOWPG_POSTGRES_SECRET"] == "pg-main" and variables["EXTRA"] == "1"
    assert "SNOWPG_CONFIG" not in variables  # config.json is bundled with the code
    [layer_ref] = fn["Layers"]
    assert f":layer:{name}-deps:1" in layer_ref["Arn"]
    code = lam.get_function(FunctionName=name)["Code"]
    assert code  # uploaded

    # One standard and one fan-out state machine for the enabled source only.
    machines = {
        m["name"]: m["stateMachineArn"]
        for m in sfn.list_state_machines()["stateMachines"]
        if m["name"].startswith(name)
    }
    assert set(machines) == {f"{name}-analytics", f"{name}-analytics-fanout"}
    fan = sfn.describe_state_machine(stateMachineArn=machines[f"{name}-analytics-fanout"])
    assert fan["roleArn"] == srole["Arn"]
    assert json.loads(fan["definition"]) == state_machine.render(
        "fanout", function_arn=fn["FunctionArn"], source_name="analytics", workers=3
    )

    # Second run: update in place; same layer content -> no new layer version.
    out2 = _deploy(*common, "--workers", "3", "--memory", "4096")
    assert f"layer {name}-deps unchanged (version 1)" in out2
    assert f"updated state machine {name}-analytics" in out2
    fn2 = lam.get_function_configuration(FunctionName=name)
    assert fn2["FunctionArn"] == fn["FunctionArn"] and fn2["MemorySize"] == 4096
    assert not fn2.get("VpcConfig", {}).get("SubnetIds")
    assert len(lam.list_layer_versions(LayerName=f"{name}-deps")["LayerVersions"]) == 1
    attached2 = {
        p["PolicyName"]
        for p in iam_c.list_attached_role_policies(RoleName=lrole["RoleName"])["AttachedPolicies"]
    }
    assert attached2 == {"AWSLambdaBasicExecutionRole"}  # VPC access went with the VPC
    after = {
        m["name"]: m["stateMachineArn"]
        for m in sfn.list_state_machines()["stateMachines"]
        if m["name"].startswith(name)
    }
    assert after == machines

    # Destroy removes exactly what was created.
    out3 = _deploy("--name", name, "--region", REGION, "--destroy")
    assert "deleted function" in out3
    assert not [m for m in sfn.list_state_machines()["stateMachines"] if m["name"].startswith(name)]
    assert not [f for f in lam.list_functions()["Functions"] if f["FunctionName"] == name]
    assert lam.list_layer_versions(LayerName=f"{name}-deps")["LayerVersions"] == []
    for role in (f"{name}-lambda-role", f"{name}-states-role"):
        with pytest.raises(iam_c.exceptions.NoSuchEntityException):
            iam_c.get_role(RoleName=role)


def test_deploy_refuses_a_config_with_no_enabled_source(
    aws_env: str, deploy_files: tuple[Path, Path], tmp_path: Path
) -> None:
    cfg, layer = deploy_files
    data = json.loads(cfg.read_text())
    data["sources"][0]["enabled"] = False
    cfg.write_text(json.dumps(data))
    app = typer.Typer()
    app.command("deploy")(deploy_command)
    app.command("other", hidden=True)(lambda: None)
    result = CliRunner().invoke(
        app, ["deploy", "--config", str(cfg), "--layer-zip", str(layer), "--region", REGION]
    )
    assert result.exit_code != 0
    assert "no enabled source" in str(result.exception)


def test_layer_over_the_direct_upload_limit_goes_through_s3(
    aws_env: str,
    deploy_files: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The real layer is ~62 MiB zipped (numpy, pyarrow, the connector): over the 50 MiB that
    # publish_layer_version takes inline. A tiny limit sends the stand-in layer the same way.
    from snowpg.aws import deploy

    monkeypatch.setattr(deploy, "MAX_DIRECT_UPLOAD_BYTES", 10)
    cfg, layer = deploy_files
    name = f"snowpg-{uuid.uuid4().hex[:8]}"
    bucket = f"{name}-artifacts"
    common = [
        "--config", str(cfg), "--name", name, "--region", REGION, "--layer-zip", str(layer),
        "--build-dir", str(tmp_path / "build"), "--artifact-bucket", bucket,
    ]  # fmt: skip
    out = _deploy(*common)
    assert f"uploaded the layer zip to s3://{bucket}/{name}/layer-" in out
    keys = [o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=bucket)["Contents"]]
    assert len(keys) == 1 and keys[0].startswith(f"{name}/layer-")
    lam = boto3.client("lambda")
    [version] = lam.list_layer_versions(LayerName=f"{name}-deps")["LayerVersions"]
    assert version["Version"] == 1
    again = _deploy(*common)  # same zip: no second upload, no second version
    assert "uploaded the layer zip" not in again and "unchanged" in again
    _deploy(*common, "--destroy")
