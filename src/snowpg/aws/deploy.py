"""Apply a :class:`~snowpg.aws.plan.DeployPlan` with boto3, idempotently, or destroy it.

Every step is create-or-update: a second run changes what differs and publishes a new layer
version only when the layer's content hash changed. Everything created is tagged
``snowpg:deployment=<name>``; ``destroy`` removes exactly that. ``AWS_ENDPOINT_URL`` (boto3's own
setting) points it at a stand-in such as moto's server.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from snowpg.aws import iam
from snowpg.aws.layer import MAX_DIRECT_UPLOAD_BYTES, Artifact
from snowpg.aws.plan import TAG_KEY, DeployPlan
from snowpg.errors import SnowpgError

Echo = Callable[[str], None]

# IAM is eventually consistent: a role just created may not be assumable for ~10 s.
ROLE_PROPAGATION_ATTEMPTS = 12
ROLE_PROPAGATION_SLEEP_S = 5.0
# How long to wait for a function update to settle before the next one.
UPDATE_WAIT_S = 300.0


@dataclass
class Clients:
    iam: Any
    lambda_: Any
    sfn: Any
    s3: Any

    @classmethod
    def from_session(cls, session: Any) -> Clients:
        return cls(
            iam=session.client("iam"),
            lambda_=session.client("lambda"),
            sfn=session.client("stepfunctions"),
            s3=session.client("s3"),
        )


@dataclass
class Result:
    actions: list[str] = field(default_factory=list)
    function_arn: str | None = None
    layer_arn: str | None = None
    state_machine_arns: dict[str, str] = field(default_factory=dict)


def apply(
    plan: DeployPlan,
    clients: Clients,
    layer: Artifact,
    app: Artifact,
    echo: Echo = print,
    sleep: Callable[[float], None] = time.sleep,
) -> Result:
    result = Result()

    def note(text: str) -> None:
        result.actions.append(text)
        echo(text)

    lambda_role = _ensure_role(
        clients.iam, plan, plan.lambda_role_name, iam.LAMBDA_SERVICE,
        {iam.LAMBDA_POLICY_NAME: plan.lambda_policy}, plan.managed_policies, note,
    )  # fmt: skip
    states_role = _ensure_role(
        clients.iam, plan, plan.states_role_name, iam.STATES_SERVICE,
        {iam.STATES_POLICY_NAME: plan.states_policy}, (), note,
    )  # fmt: skip
    result.layer_arn = _ensure_layer(clients, plan, layer, note)
    result.function_arn = _ensure_function(
        clients.lambda_, plan, lambda_role, result.layer_arn, app, note, sleep
    )
    for sm in plan.state_machines:
        result.state_machine_arns[sm.name] = _ensure_state_machine(
            clients.sfn, plan, sm.name, sm.definition, states_role, note, sleep
        )
    return result


# IAM ---------------------------------------------------------------------------------------


def _ensure_role(
    client: Any,
    plan: DeployPlan,
    name: str,
    service: str,
    inline: dict[str, dict[str, Any]],
    managed: tuple[str, ...],
    note: Echo,
) -> str:
    trust = json.dumps(iam.trust_policy(service))
    try:
        arn = str(client.get_role(RoleName=name)["Role"]["Arn"])
        client.update_assume_role_policy(RoleName=name, PolicyDocument=trust)
        note(f"updated IAM role {name}")
    except client.exceptions.NoSuchEntityException:
        arn = str(
            client.create_role(
                RoleName=name,
                AssumeRolePolicyDocument=trust,
                Description=f"snowpg deployment {plan.options.name}",
                Tags=[{"Key": k, "Value": v} for k, v in plan.tags.items()],
            )["Role"]["Arn"]
        )
        note(f"created IAM role {name}")
    for policy_name, document in inline.items():
        client.put_role_policy(
            RoleName=name, PolicyName=policy_name, PolicyDocument=json.dumps(document)
        )
    for old in client.list_role_policies(RoleName=name)["PolicyNames"]:
        if old.startswith("snowpg-") and old not in inline:
            client.delete_role_policy(RoleName=name, PolicyName=old)
    attached = {
        p["PolicyArn"]
        for p in client.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
    }
    for policy_arn in managed:
        if policy_arn not in attached:
            client.attach_role_policy(RoleName=name, PolicyArn=policy_arn)
    # Only the managed policies snowpg attaches are reconciled (e.g. VPC access when the VPC
    # was removed); policies a user attached by hand are left alone.
    ours = set(iam.lambda_managed_policies(True, plan.options.partition))
    for policy_arn in attached & ours - set(managed):
        client.detach_role_policy(RoleName=name, PolicyArn=policy_arn)
    return arn


# layer and function --------------------------------------------------------------------------


def _ensure_layer(clients: Clients, plan: DeployPlan, layer: Artifact, note: Echo) -> str:
    marker = f"sha256:{layer.sha256}"
    versions = clients.lambda_.list_layer_versions(LayerName=plan.layer_name).get(
        "LayerVersions", []
    )
    for v in versions:
        if marker in (v.get("Description") or ""):
            note(f"layer {plan.layer_name} unchanged (version {v['Version']})")
            return str(v["LayerVersionArn"])
    o = plan.options
    content: dict[str, Any]
    if layer.zipped_bytes > MAX_DIRECT_UPLOAD_BYTES:
        key = f"{plan.options.name}/layer-{layer.sha256[:16]}.zip"
        _ensure_bucket(clients.s3, plan, note)
        clients.s3.upload_file(str(layer.path), plan.artifact_bucket, key)
        content = {"S3Bucket": plan.artifact_bucket, "S3Key": key}
        note(f"uploaded the layer zip to s3://{plan.artifact_bucket}/{key}")
    else:
        content = {"ZipFile": layer.path.read_bytes()}
    published = clients.lambda_.publish_layer_version(
        LayerName=plan.layer_name,
        Description=f"snowpg dependencies {o.runtime}/{o.architecture} {marker}",
        Content=content,
        CompatibleRuntimes=[o.runtime],
        CompatibleArchitectures=[o.architecture],
    )
    note(f"published layer {plan.layer_name} version {published['Version']}")
    return str(published["LayerVersionArn"])


def _ensure_bucket(client: Any, plan: DeployPlan, note: Echo) -> None:
    try:
        client.head_bucket(Bucket=plan.artifact_bucket)
        return
    except Exception as exc:
        if _code(exc) not in ("404", "NoSuchBucket", "NotFound"):
            raise
    kwargs: dict[str, Any] = {"Bucket": plan.artifact_bucket}
    if plan.options.region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": plan.options.region}
    client.create_bucket(**kwargs)
    client.put_bucket_tagging(
        Bucket=plan.artifact_bucket,
        Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in plan.tags.items()]},
    )
    note(f"created S3 bucket {plan.artifact_bucket} for artifacts")


def _ensure_function(
    client: Any,
    plan: DeployPlan,
    role_arn: str,
    layer_arn: str,
    app: Artifact,
    note: Echo,
    sleep: Callable[[float], None],
) -> str:
    settings = plan.function_settings(role_arn, layer_arn)
    code = app.path.read_bytes()
    try:
        current = client.get_function(FunctionName=plan.function_name)["Configuration"]
    except client.exceptions.ResourceNotFoundException:
        current = None
    if current is None:
        created = _retry_role(
            lambda: client.create_function(
                **settings,
                Code={"ZipFile": code},
                Architectures=[plan.options.architecture],
                PackageType="Zip",
                Tags=plan.tags,
            ),
            sleep,
        )
        note(f"created function {plan.function_name}")
        _wait_updated(client, plan.function_name, sleep)
        return str(created["FunctionArn"])
    if current.get("CodeSha256") != _b64_sha256(code) or current.get("Architectures") != [
        plan.options.architecture
    ]:
        client.update_function_code(
            FunctionName=plan.function_name,
            ZipFile=code,
            Architectures=[plan.options.architecture],
        )
        _wait_updated(client, plan.function_name, sleep)
        note(f"updated the code of function {plan.function_name}")
    _retry_role(lambda: client.update_function_configuration(**settings), sleep)
    _wait_updated(client, plan.function_name, sleep)
    client.tag_resource(Resource=current["FunctionArn"], Tags=plan.tags)
    note(f"updated the configuration of function {plan.function_name}")
    return str(current["FunctionArn"])


def _wait_updated(client: Any, name: str, sleep: Callable[[float], None]) -> None:
    deadline = time.monotonic() + UPDATE_WAIT_S
    while True:
        cfg = client.get_function_configuration(FunctionName=name)
        state, update = cfg.get("State"), cfg.get("LastUpdateStatus")
        if state == "Failed" or update == "Failed":
            reason = cfg.get("StateReason") or cfg.get("LastUpdateStatusReason") or "unknown"
            raise SnowpgError(f"Lambda could not update function {name}: {reason}")
        if state in (None, "Active") and update in (None, "Successful"):
            return
        if time.monotonic() > deadline:
            raise SnowpgError(f"function {name} is still updating after {UPDATE_WAIT_S:.0f} s")
        sleep(2.0)


# state machines ----------------------------------------------------------------------------


def _ensure_state_machine(
    client: Any,
    plan: DeployPlan,
    name: str,
    definition: dict[str, Any],
    role_arn: str,
    note: Echo,
    sleep: Callable[[float], None],
) -> str:
    text = json.dumps(definition)
    existing = _state_machine_arn(client, name)
    if existing is not None:
        _retry_role(
            lambda: client.update_state_machine(
                stateMachineArn=existing, definition=text, roleArn=role_arn
            ),
            sleep,
        )
        note(f"updated state machine {name}")
        return existing
    created = _retry_role(
        lambda: client.create_state_machine(
            name=name,
            definition=text,
            roleArn=role_arn,
            type="STANDARD",
            tags=[{"key": k, "value": v} for k, v in plan.tags.items()],
        ),
        sleep,
    )
    note(f"created state machine {name}")
    return str(created["stateMachineArn"])


def _state_machine_arn(client: Any, name: str) -> str | None:
    for page in client.get_paginator("list_state_machines").paginate():
        for sm in page["stateMachines"]:
            if sm["name"] == name:
                return str(sm["stateMachineArn"])
    return None


# destroy -----------------------------------------------------------------------------------


def destroy(plan: DeployPlan, clients: Clients, echo: Echo = print) -> list[str]:
    """Delete what :func:`apply` created for ``plan.options.name``; missing pieces are skipped."""
    done: list[str] = []

    def note(text: str) -> None:
        done.append(text)
        echo(text)

    name = plan.options.name
    for page in clients.sfn.get_paginator("list_state_machines").paginate():
        for sm in page["stateMachines"]:
            tags = clients.sfn.list_tags_for_resource(resourceArn=sm["stateMachineArn"])["tags"]
            if {"key": TAG_KEY, "value": name} in tags:
                clients.sfn.delete_state_machine(stateMachineArn=sm["stateMachineArn"])
                note(f"deleted state machine {sm['name']}")
    try:
        clients.lambda_.delete_function(FunctionName=plan.function_name)
        note(f"deleted function {plan.function_name}")
    except clients.lambda_.exceptions.ResourceNotFoundException:
        pass
    versions = clients.lambda_.list_layer_versions(LayerName=plan.layer_name)["LayerVersions"]
    for v in versions:
        clients.lambda_.delete_layer_version(LayerName=plan.layer_name, VersionNumber=v["Version"])
    if versions:
        note(f"deleted {len(versions)} version(s) of layer {plan.layer_name}")
    for role in (plan.lambda_role_name, plan.states_role_name):
        if _delete_role(clients.iam, role, name):
            note(f"deleted IAM role {role}")
    if _delete_bucket(clients.s3, plan.artifact_bucket, name):
        note(f"deleted S3 bucket {plan.artifact_bucket}")
    return done


def _delete_role(client: Any, role: str, deployment: str) -> bool:
    try:
        tags = client.list_role_tags(RoleName=role)["Tags"]
    except client.exceptions.NoSuchEntityException:
        return False
    if {"Key": TAG_KEY, "Value": deployment} not in tags:
        raise SnowpgError(
            f"IAM role {role} exists but was not created by snowpg deploy '{deployment}'; "
            "left in place",
            hint="delete it yourself or pick another --name",
        )
    for policy in client.list_role_policies(RoleName=role)["PolicyNames"]:
        client.delete_role_policy(RoleName=role, PolicyName=policy)
    for p in client.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
        client.detach_role_policy(RoleName=role, PolicyArn=p["PolicyArn"])
    client.delete_role(RoleName=role)
    return True


def _delete_bucket(client: Any, bucket: str, deployment: str) -> bool:
    try:
        tags = client.get_bucket_tagging(Bucket=bucket)["TagSet"]
    except Exception:
        return False  # absent, or without tags: not ours
    if {"Key": TAG_KEY, "Value": deployment} not in tags:
        return False
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            client.delete_object(Bucket=bucket, Key=obj["Key"])
    client.delete_bucket(Bucket=bucket)
    return True


# helpers -----------------------------------------------------------------------------------


def _retry_role(call: Callable[[], Any], sleep: Callable[[float], None]) -> Any:
    """``call()``, retried while IAM has not yet propagated a new role."""
    for attempt in range(ROLE_PROPAGATION_ATTEMPTS):
        try:
            return call()
        except Exception as exc:
            text = str(exc)
            waiting = "assume" in text or ("role" in text.lower() and "not authorized" in text)
            if not waiting or attempt == ROLE_PROPAGATION_ATTEMPTS - 1:
                raise
            sleep(ROLE_PROPAGATION_SLEEP_S)
    raise AssertionError("unreachable")


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def _b64_sha256(data: bytes) -> str:
    import base64
    import hashlib

    return base64.b64encode(hashlib.sha256(data).digest()).decode()
