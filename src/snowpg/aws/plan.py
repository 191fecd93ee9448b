"""What ``snowpg deploy`` creates, as data: names, IAM documents, function settings, workflows.

Pure: :func:`make_plan` turns the options into a :class:`DeployPlan`; ``--dry-run`` prints
:meth:`DeployPlan.describe`; :mod:`snowpg.aws.deploy` applies or destroys it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from snowpg import __version__
from snowpg.aws import iam, state_machine
from snowpg.aws.layer import ARCHITECTURES, RUNTIMES
from snowpg.aws.secrets import POSTGRES_SECRET_ENV, SNOWFLAKE_SECRET_ENV
from snowpg.errors import ConfigError

DEFAULT_NAME = "snowflake-postgres-migration"  # the existing tool's function name
HANDLER = "snowpg.aws.handler.lambda_handler"
TAG_KEY = "snowpg:deployment"
MAX_ROLE_NAME = 64
# Environment variables deploy sets itself; --env may not override them.
_RESERVED_ENV = ("SNOWPG_CONFIG", SNOWFLAKE_SECRET_ENV, POSTGRES_SECRET_ENV, "MIGRATION_VERSION")


@dataclass(frozen=True)
class DeployOptions:
    name: str = DEFAULT_NAME
    region: str = "us-east-1"
    account_id: str = "123456789012"
    partition: str = "aws"
    runtime: str = "python3.11"
    architecture: str = "x86_64"
    memory_mb: int = 10240
    timeout_seconds: int = 900
    ephemeral_storage_mb: int = 10240
    subnet_ids: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()  # state machines are made for these sources
    workers: int = 1  # >1 also deploys the fan-out workflow with this many workers
    config_s3_uri: str | None = None  # else config.json is bundled with the code
    snowflake_secret: str | None = None
    postgres_secret: str | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    log_level: str = "INFO"
    artifact_bucket: str | None = None


@dataclass(frozen=True)
class StateMachineSpec:
    name: str
    source_name: str
    variant: state_machine.Variant
    definition: dict[str, Any]


@dataclass(frozen=True)
class DeployPlan:
    options: DeployOptions
    lambda_role_name: str
    states_role_name: str
    layer_name: str
    function_name: str
    function_arn: str
    lambda_policy: dict[str, Any]
    states_policy: dict[str, Any]
    managed_policies: tuple[str, ...]
    environment: dict[str, str]
    state_machines: tuple[StateMachineSpec, ...]
    artifact_bucket: str

    @property
    def tags(self) -> dict[str, str]:
        return {TAG_KEY: self.options.name}

    def function_settings(self, role_arn: str, layer_arn: str) -> dict[str, Any]:
        """``create_function`` / ``update_function_configuration`` parameters (no code)."""
        o = self.options
        return {
            "FunctionName": self.function_name,
            "Runtime": o.runtime,
            "Handler": HANDLER,
            "Role": role_arn,
            "MemorySize": o.memory_mb,
            "Timeout": o.timeout_seconds,
            "EphemeralStorage": {"Size": o.ephemeral_storage_mb},
            "VpcConfig": {
                "SubnetIds": list(o.subnet_ids),
                "SecurityGroupIds": list(o.security_group_ids),
            },
            "Environment": {"Variables": dict(self.environment)},
            "Layers": [layer_arn],
            "Description": f"snowpg {__version__}: Snowflake -> PostgreSQL migration",
        }

    def describe(self) -> str:
        """What apply would do, for ``--dry-run``; contains no secret values."""
        o = self.options
        env = {k: ("***" if _looks_secret(k) else v) for k, v in self.environment.items()}
        vpc = f"subnets {', '.join(o.subnet_ids)}; security groups " + ", ".join(
            o.security_group_ids
        )
        lines = [
            f"deploy '{o.name}' to {o.region} (account {o.account_id}), {o.runtime}/"
            f"{o.architecture}",
            f"IAM role {self.lambda_role_name}: trusted by {iam.LAMBDA_SERVICE}",
            *(f"  attach {arn}" for arn in self.managed_policies),
            f"  inline policy {iam.LAMBDA_POLICY_NAME}: {json.dumps(self.lambda_policy)}",
            f"IAM role {self.states_role_name}: trusted by {iam.STATES_SERVICE}",
            f"  inline policy {iam.STATES_POLICY_NAME}: {json.dumps(self.states_policy)}",
            f"layer {self.layer_name}: dependencies for {o.runtime}/{o.architecture} "
            f"(S3 bucket {self.artifact_bucket} if the zip is over 50 MiB)",
            f"function {self.function_name}: handler {HANDLER}, {o.memory_mb} MB, "
            f"{o.timeout_seconds} s, ephemeral storage {o.ephemeral_storage_mb} MB",
            f"  VPC: {vpc if o.subnet_ids else 'none'}",
            f"  environment: {json.dumps(env, sort_keys=True)}",
            f"  configuration: {o.config_s3_uri or 'config.json bundled with the code'}",
            *(
                f"state machine {sm.name}: {sm.variant} workflow for source {sm.source_name}"
                + (f", {o.workers} workers" if sm.variant == "fanout" else "")
                for sm in self.state_machines
            ),
        ]
        return "\n".join(lines)


def make_plan(options: DeployOptions, require_sources: bool = True) -> DeployPlan:
    """The plan for ``options``; ``require_sources=False`` for ``--destroy``."""
    o = options
    _check(o, require_sources)
    function_arn = f"arn:{o.partition}:lambda:{o.region}:{o.account_id}:function:{o.name}"
    extra_secrets = [s for s in (o.snowflake_secret, o.postgres_secret) if s]
    machines: list[StateMachineSpec] = []
    for source in o.sources:
        variants: list[state_machine.Variant] = ["standard"]
        if o.workers > 1:
            variants.append("fanout")
        for variant in variants:
            machines.append(
                StateMachineSpec(
                    name=state_machine.state_machine_name(o.name, source, variant),
                    source_name=source,
                    variant=variant,
                    definition=state_machine.render(
                        variant,
                        function_arn=function_arn,
                        source_name=source,
                        workers=max(o.workers, 1),
                        region=o.region,
                    ),
                )
            )
    return DeployPlan(
        options=o,
        lambda_role_name=_role_name(o.name, "lambda"),
        states_role_name=_role_name(o.name, "states"),
        layer_name=f"{o.name}-deps",
        function_name=o.name,
        function_arn=function_arn,
        lambda_policy=iam.lambda_inline_policy(
            o.region,
            o.account_id,
            extra_secrets=extra_secrets,
            config_s3_uri=o.config_s3_uri,
            partition=o.partition,
        ),
        states_policy=iam.states_inline_policy(function_arn),
        managed_policies=tuple(iam.lambda_managed_policies(bool(o.subnet_ids), o.partition)),
        environment=_environment(o),
        state_machines=tuple(machines),
        artifact_bucket=o.artifact_bucket
        or f"{o.name}-artifacts-{o.account_id}-{o.region}"[:63].rstrip("-").lower(),
    )


def parse_env_pairs(pairs: Sequence[str]) -> dict[str, str]:
    """``["KEY=VALUE", ...]`` from ``--env`` options."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise ConfigError(f"--env {pair!r} is not KEY=VALUE", field="env")
        out[key] = value
    return out


def _environment(o: DeployOptions) -> dict[str, str]:
    env = {"LOG_LEVEL": o.log_level, "MIGRATION_VERSION": f"snowpg-{__version__}"}
    if o.config_s3_uri:
        env["SNOWPG_CONFIG"] = o.config_s3_uri
    if o.snowflake_secret:
        env[SNOWFLAKE_SECRET_ENV] = o.snowflake_secret
    if o.postgres_secret:
        env[POSTGRES_SECRET_ENV] = o.postgres_secret
    for key, value in o.environment.items():
        if key in _RESERVED_ENV:
            raise ConfigError(
                f"--env {key} is set by snowpg deploy itself; use the matching option instead",
                field="env",
            )
        env[key] = value
    return env


def _check(o: DeployOptions, require_sources: bool) -> None:
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", o.name):
        raise ConfigError(
            f"--name {o.name!r}: use 1-64 letters, digits, '-' or '_' (a Lambda function name)",
            field="name",
        )
    if o.runtime not in RUNTIMES:
        raise ConfigError(f"--runtime must be one of {', '.join(RUNTIMES)}", field="runtime")
    if o.architecture not in ARCHITECTURES:
        raise ConfigError(
            f"--architecture must be one of {', '.join(ARCHITECTURES)}", field="architecture"
        )
    checks = (
        (128 <= o.memory_mb <= 10240, "--memory must be 128-10240 MB"),
        (1 <= o.timeout_seconds <= 900, "--timeout must be 1-900 seconds (Lambda's maximum)"),
        (512 <= o.ephemeral_storage_mb <= 10240, "--ephemeral-storage must be 512-10240 MB"),
        (1 <= o.workers <= state_machine.MAX_WORKERS, "--workers must be 1-40"),
        (bool(o.subnet_ids) == bool(o.security_group_ids),
         "--subnet-ids and --security-group-ids go together (a VPC needs both)"),
        (bool(o.sources) or not require_sources,
         "no enabled source to deploy a state machine for: check config.json or --source"),
    )  # fmt: skip
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)
    for secret, prefix in ((o.snowflake_secret, "snowflake/"), (o.postgres_secret, "postgres/")):
        if secret and secret.startswith("s3://"):
            raise ConfigError(f"{secret!r} is an S3 URI, not a secret name (e.g. {prefix}prod)")


def _role_name(name: str, kind: str) -> str:
    suffix = f"-{kind}-role"
    return name[: MAX_ROLE_NAME - len(suffix)] + suffix


def _looks_secret(key: str) -> bool:
    return bool(re.search(r"PASSWORD|SECRET_KEY|RSA_KEY|PASSPHRASE|TOKEN", key.upper()))
