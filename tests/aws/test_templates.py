"""The shipped ASL passes statelint; the SAM template passes the SAM transform and cfn-lint."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from snowpg.aws import state_machine

ROOT = Path(__file__).resolve().parents[2]
ASL_DIR = ROOT / "src" / "snowpg" / "aws"
TEMPLATE = ROOT / "deploy" / "template.yaml"
ARN = "arn:aws:lambda:eu-west-1:123456789012:function:snowflake-postgres-migration"


def _statelint(*files: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "statelint"
    return subprocess.run(
        [str(exe), *map(str, files)], capture_output=True, text=True, check=False, timeout=60
    )


def test_shipped_and_rendered_workflows_pass_statelint(tmp_path: Path) -> None:
    files = [ASL_DIR / "standard.asl.json", ASL_DIR / "fanout.asl.json"]
    for variant in state_machine.VARIANTS:
        out = tmp_path / f"{variant}.json"
        out.write_text(
            state_machine.render_json(variant, function_arn=ARN, source_name="analytics", workers=5)
        )
        files.append(out)
    result = _statelint(*files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_statelint_catches_a_broken_workflow(tmp_path: Path) -> None:
    broken = state_machine.definition("standard")
    broken["States"]["MigrationStatus"]["Default"] = "NoSuchState"
    out = tmp_path / "broken.json"
    out.write_text(json.dumps(broken))
    result = _statelint(out)
    assert result.returncode != 0 and "NoSuchState" in result.stdout + result.stderr


class _OfflinePolicies:
    """The managed policies the template names, without asking IAM."""

    def load(self) -> dict[str, str]:
        base = "arn:aws:iam::aws:policy/service-role/"
        return {
            "AWSLambdaBasicExecutionRole": base + "AWSLambdaBasicExecutionRole",
            "AWSLambdaVPCAccessExecutionRole": base + "AWSLambdaVPCAccessExecutionRole",
        }


def _transformed() -> dict[str, Any]:
    from samtranslator.translator.transform import transform  # type: ignore[import-untyped]
    from samtranslator.yaml_helper import yaml_parse  # type: ignore[import-untyped]

    template = yaml_parse(TEMPLATE.read_text())
    res = template["Resources"]
    # What `sam package` does: local code goes to S3; here the workflow files are inlined.
    res["DependenciesLayer"]["Properties"]["ContentUri"] = "s3://bucket/layer.zip"
    res["MigrationFunction"]["Properties"]["CodeUri"] = "s3://bucket/app.zip"
    for key in ("MigrationStateMachine", "FanoutStateMachine"):
        props = res[key]["Properties"]
        path = (TEMPLATE.parent / props.pop("DefinitionUri")).resolve()
        props["Definition"] = json.loads(path.read_text())
    out: dict[str, Any] = transform(template, {}, _OfflinePolicies())
    return out


def test_sam_template_transforms_and_passes_cfn_lint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")  # the transform needs a region only
    out = _transformed()
    by_type: dict[str, list[dict[str, Any]]] = {}
    for r in out["Resources"].values():
        by_type.setdefault(r["Type"], []).append(r)
    [fn] = by_type["AWS::Lambda::Function"]
    assert fn["Properties"]["Timeout"] == 900
    assert fn["Properties"]["Handler"] == "snowpg.aws.handler.lambda_handler"
    machines = by_type["AWS::StepFunctions::StateMachine"]
    assert len(machines) == 2
    for m in machines:
        assert set(m["Properties"]["DefinitionSubstitutions"]) >= {"FunctionArn", "SourceName"}
        sep, parts = m["Properties"]["DefinitionString"]["Fn::Join"]
        assert json.loads(sep.join(parts))["TimeoutSeconds"] == 86400
    trusts = sorted(
        r["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"][0]
        for r in by_type["AWS::IAM::Role"]
    )
    # function, two state machines, and the incremental-sync schedule (EventBridge Scheduler)
    assert trusts == [
        "lambda.amazonaws.com",
        "scheduler.amazonaws.com",
        "states.amazonaws.com",
        "states.amazonaws.com",
    ]
    (schedule,) = by_type["AWS::Scheduler::Schedule"]
    target_input = schedule["Properties"]["Target"]["Input"]["Fn::Sub"]
    assert json.loads(target_input) == {"action": "migrate", "source_name": "${SourceName}"}

    path = tmp_path / "packaged.json"
    path.write_text(json.dumps(out, indent=1))
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), "--format", "parseable", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )
    errors = [line for line in result.stdout.splitlines() if ":E" in line]
    assert not errors, result.stdout + result.stderr


@pytest.mark.parametrize("variant", state_machine.VARIANTS)
def test_sam_substitutions_and_renderer_fill_the_same_placeholders(variant: str) -> None:
    raw = state_machine.definition(variant)  # type: ignore[arg-type]
    names = state_machine.placeholders(raw)
    expected = {"FunctionArn", "SourceName"} | ({"Workers"} if variant == "fanout" else set())
    assert names == expected
    from samtranslator.yaml_helper import yaml_parse

    resources = yaml_parse(TEMPLATE.read_text())["Resources"]
    key = "FanoutStateMachine" if variant == "fanout" else "MigrationStateMachine"
    assert set(resources[key]["Properties"]["DefinitionSubstitutions"]) == expected
