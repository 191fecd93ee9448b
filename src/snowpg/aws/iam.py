"""IAM documents for a deployment: the existing tool's trust policies, least-privilege policies.

Pure functions returning policy documents as dicts; :mod:`snowpg.aws.deploy` applies them.

* Lambda role: trusted by ``lambda.amazonaws.com``; AWS-managed ``AWSLambdaBasicExecutionRole``
  (CloudWatch Logs) and, only when the function runs in a VPC, ``AWSLambdaVPCAccessExecutionRole``;
  inline: ``secretsmanager:GetSecretValue`` on ``snowflake/*`` and ``postgres/*`` (plus any other
  secret the deployment names) and ``s3:GetObject`` on the configuration object when it is in S3.
* Step Functions role: trusted by ``states.amazonaws.com``; inline: ``lambda:InvokeFunction`` on
  the one function (and its versions/aliases).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

VERSION = "2012-10-17"
LAMBDA_SERVICE = "lambda.amazonaws.com"
STATES_SERVICE = "states.amazonaws.com"
SECRET_PREFIXES = ("snowflake/", "postgres/")
LAMBDA_POLICY_NAME = "snowpg-lambda-access"
STATES_POLICY_NAME = "snowpg-invoke-function"

BASIC_EXECUTION = "service-role/AWSLambdaBasicExecutionRole"
VPC_ACCESS = "service-role/AWSLambdaVPCAccessExecutionRole"


def trust_policy(service: str) -> dict[str, Any]:
    """The existing tool's trust policy: ``service`` may assume the role."""
    return {
        "Version": VERSION,
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
        ],
    }


def managed_policy_arn(name: str, partition: str = "aws") -> str:
    return f"arn:{partition}:iam::aws:policy/{name}"


def lambda_managed_policies(in_vpc: bool, partition: str = "aws") -> list[str]:
    names = [BASIC_EXECUTION, VPC_ACCESS] if in_vpc else [BASIC_EXECUTION]
    return [managed_policy_arn(n, partition) for n in names]


def secret_resources(
    region: str, account_id: str, extra_secrets: Sequence[str] = (), partition: str = "aws"
) -> list[str]:
    """Secret ARNs the function may read: the existing tool's two prefixes plus ``extra_secrets``.

    A secret given by name outside those prefixes is matched with Secrets Manager's six-character
    ARN suffix (``name-AbCdEf``); a full ARN is used as it is.
    """
    base = f"arn:{partition}:secretsmanager:{region}:{account_id}:secret:"
    out = [f"{base}{prefix}*" for prefix in SECRET_PREFIXES]
    for secret in extra_secrets:
        if not secret:
            continue
        if secret.startswith("arn:"):
            arn = secret
        elif secret.startswith(SECRET_PREFIXES):
            continue
        else:
            arn = f"{base}{secret}-??????"
        if arn not in out:
            out.append(arn)
    return out


def s3_object_arn(uri: str, partition: str = "aws") -> str:
    """``s3://bucket/key`` -> ``arn:aws:s3:::bucket/key``."""
    return f"arn:{partition}:s3:::{uri.removeprefix('s3://')}"


def lambda_inline_policy(
    region: str,
    account_id: str,
    *,
    extra_secrets: Sequence[str] = (),
    config_s3_uri: str | None = None,
    partition: str = "aws",
) -> dict[str, Any]:
    statements: list[dict[str, Any]] = [
        {
            "Sid": "ReadMigrationSecrets",
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue"],
            "Resource": secret_resources(region, account_id, extra_secrets, partition),
        }
    ]
    if config_s3_uri:
        statements.append(
            {
                "Sid": "ReadMigrationConfig",
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": [s3_object_arn(config_s3_uri, partition)],
            }
        )
    return {"Version": VERSION, "Statement": statements}


def states_inline_policy(function_arn: str) -> dict[str, Any]:
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "InvokeMigrationFunction",
                "Effect": "Allow",
                "Action": ["lambda:InvokeFunction"],
                "Resource": [function_arn, f"{function_arn}:*"],
            }
        ],
    }
