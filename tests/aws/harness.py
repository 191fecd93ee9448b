"""Run the shipped state machines in moto with our Lambda handler in-process.

moto executes the real ASL (``execute_state_machine``); its Lambda backend is patched so every
invoke calls :func:`snowpg.aws.handler.lambda_handler` in this process with a :class:`FakeContext`
whose remaining time the test controls. A raised exception becomes a Lambda function error whose
``errorType`` is the exception's class name, as on AWS. Retry backoff sleeps are recorded, not slept.
"""

from __future__ import annotations

import io
import json
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

REGION = "us-east-1"
FUNCTION_NAME = "snowpg-test"

TRUST_LAMBDA = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


class FakeContext:
    """A Lambda context whose clock starts at ``budget_seconds`` and runs down in real time."""

    def __init__(self, budget_seconds: float, request_id: str | None = None) -> None:
        self.budget_seconds = budget_seconds
        self.started = time.monotonic()
        self.aws_request_id = request_id or str(uuid.uuid4())
        self.function_name = FUNCTION_NAME
        self.memory_limit_in_mb = 1024
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:{FUNCTION_NAME}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.budget_seconds - (time.monotonic() - self.started)) * 1000))


@dataclass
class Invocation:
    event: dict[str, Any]
    answer: dict[str, Any] | None = None
    error: str | None = None


@dataclass
class Recorder:
    """What the patched Lambda saw; ``override`` may answer an invocation instead of the handler."""

    budget_seconds: float = 900.0
    invocations: list[Invocation] = field(default_factory=list)
    sleeps: list[float] = field(default_factory=list)
    override: Callable[[dict[str, Any], int], dict[str, Any] | None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def actions(self) -> list[str]:
        return [str(i.event.get("action")) for i in self.invocations]

    def answers(self, action: str) -> list[dict[str, Any]]:
        return [i.answer for i in self.invocations if i.event.get("action") == action and i.answer]


def _invoke(recorder: Recorder, body: Any) -> tuple[bytes, str | None]:
    from snowpg.aws.handler import lambda_handler

    event = json.loads(body) if body else {}
    inv = Invocation(event=event)
    with recorder.lock:
        recorder.invocations.append(inv)
        index = len(recorder.invocations) - 1
    if recorder.override is not None:
        forced = recorder.override(event, index)
        if forced is not None:
            inv.error = forced.get("errorType")
            return json.dumps(forced).encode(), "Unhandled"
    try:
        answer = lambda_handler(event, FakeContext(recorder.budget_seconds))
    except Exception as exc:
        inv.error = type(exc).__name__
        payload = {"errorType": type(exc).__name__, "errorMessage": str(exc)}
        return json.dumps(payload).encode(), "Unhandled"
    inv.answer = answer
    return json.dumps(answer).encode(), None


@contextmanager
def aws_with_handler(monkeypatch: pytest.MonkeyPatch, recorder: Recorder) -> Iterator[Any]:
    """moto with Step Functions execution on and Lambda invokes routed to our handler."""
    from moto import mock_aws
    from moto.awslambda_simple.models import LambdaSimpleBackend
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

    for k, v in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)

    def invoke(
        self: Any,
        function_name: str,
        qualifier: Any,
        body: Any,
        headers: Any,
        response_headers: Any,
    ) -> bytes:
        payload, error = _invoke(recorder, body)
        if error:
            response_headers["x-amz-function-error"] = error
        return payload

    class _Time:
        @staticmethod
        def sleep(seconds: float) -> None:
            recorder.sleeps.append(seconds)

    monkeypatch.setattr(LambdaSimpleBackend, "invoke", invoke)
    monkeypatch.setattr(retrier_decl, "time", _Time)
    config = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
    with mock_aws(config=config):  # type: ignore[call-overload]
        yield


def create_function(name: str = FUNCTION_NAME) -> str:
    import boto3

    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=TRUST_LAMBDA)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("snowpg_stub.py", "# the handler runs in-process in these tests\n")
    fn = boto3.client("lambda", region_name=REGION).create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role["Role"]["Arn"],
        Handler="snowpg.aws.handler.lambda_handler",
        Code={"ZipFile": buf.getvalue()},
        Timeout=900,
    )
    return str(fn["FunctionArn"])


def create_state_machine(name: str, definition: dict[str, Any]) -> str:
    import boto3

    sm = boto3.client("stepfunctions", region_name=REGION).create_state_machine(
        name=name,
        definition=json.dumps(definition),
        roleArn="arn:aws:iam::123456789012:role/snowpg-states",
    )
    return str(sm["stateMachineArn"])


def run_execution(
    state_machine_arn: str, payload: dict[str, Any], timeout: float = 120
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Start an execution (unique name), wait for it to end; (description, history events)."""
    import boto3

    sfn = boto3.client("stepfunctions", region_name=REGION)
    arn = sfn.start_execution(
        stateMachineArn=state_machine_arn,
        name=f"test-{uuid.uuid4().hex[:12]}",
        input=json.dumps(payload),
    )["executionArn"]
    deadline = time.monotonic() + timeout
    while True:
        desc = sfn.describe_execution(executionArn=arn)
        if desc["status"] != "RUNNING":
            break
        if time.monotonic() > deadline:
            raise AssertionError(f"execution still running after {timeout} s")
        time.sleep(0.2)
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": arn, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**kwargs)
        events.extend(page["events"])
        if not page.get("nextToken"):
            break
        kwargs["nextToken"] = page["nextToken"]
    return desc, events


def entered_states(events: list[dict[str, Any]]) -> list[str]:
    return [
        e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e
    ]
