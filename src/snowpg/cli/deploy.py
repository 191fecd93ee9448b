"""``snowpg deploy``: build and deploy the Lambda function, its layer, IAM roles and workflows.

Registered in :mod:`snowpg.cli.app` with ``app.command("deploy")(deploy_command)``. The work is in
:mod:`snowpg.aws.plan` (what to create), :mod:`snowpg.aws.layer` (zips) and
:mod:`snowpg.aws.deploy` (boto3).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any

import typer

from snowpg.config import parse_settings
from snowpg.config.env import CONFIG_PATH_ENV
from snowpg.errors import ConfigError

_CHECK_VALUE = "snowpg-deploy-check"


def deploy_command(
    config: Annotated[
        str | None,
        typer.Option(
            "--config",
            "-c",
            help="config.json to bundle, or s3://bucket/key to read at run time "
            "[default: $SNOWPG_CONFIG or ./config.json]",
        ),
    ] = None,
    source: Annotated[
        str | None,
        typer.Option("--source", "-s", help="state machines for these sources [default: enabled]"),
    ] = None,
    name: Annotated[
        str, typer.Option("--name", help="function name; prefixes every other resource")
    ] = "snowflake-postgres-migration",
    region: Annotated[
        str | None, typer.Option("--region", help="AWS region [default: the AWS CLI's]")
    ] = None,
    runtime: Annotated[
        str, typer.Option("--runtime", help="python3.11 (the existing tool's) or python3.12")
    ] = "python3.11",
    architecture: Annotated[str, typer.Option("--architecture", help="x86_64 or arm64")] = "x86_64",
    memory: Annotated[int, typer.Option("--memory", help="function memory, MB")] = 10240,
    timeout: Annotated[int, typer.Option("--timeout", help="function timeout, seconds")] = 900,
    ephemeral_storage: Annotated[
        int, typer.Option("--ephemeral-storage", help="/tmp size, MB")
    ] = 10240,
    subnet_ids: Annotated[
        str | None, typer.Option("--subnet-ids", help="VPC subnets, comma-separated")
    ] = None,
    security_group_ids: Annotated[
        str | None,
        typer.Option("--security-group-ids", help="VPC security groups, comma-separated"),
    ] = None,
    snowflake_secret: Annotated[
        str | None,
        typer.Option("--snowflake-secret", help="Secrets Manager secret, e.g. snowflake/prod"),
    ] = None,
    postgres_secret: Annotated[
        str | None,
        typer.Option("--postgres-secret", help="Secrets Manager secret, e.g. postgres/prod"),
    ] = None,
    env: Annotated[
        list[str] | None,
        typer.Option("--env", help="KEY=VALUE for the function's environment (repeatable)"),
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", help="also deploy the fan-out workflow with N workers")
    ] = 1,
    log_level: Annotated[str, typer.Option("--log-level", help="LOG_LEVEL of the function")] = (
        "INFO"
    ),
    layer_zip: Annotated[
        Path | None,
        typer.Option("--layer-zip", help="use this layer zip instead of building one"),
    ] = None,
    artifact_bucket: Annotated[
        str | None,
        typer.Option("--artifact-bucket", help="S3 bucket for a layer zip over 50 MiB"),
    ] = None,
    build_dir: Annotated[Path, typer.Option("--build-dir", help="where zips are built")] = Path(
        ".snowpg-build"
    ),
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="print what would be done; change nothing")
    ] = False,
    destroy: Annotated[
        bool, typer.Option("--destroy", help="delete everything this deployment created")
    ] = False,
    build_only: Annotated[
        bool,
        typer.Option("--build-only", help="only build the zips (e.g. for deploy/template.yaml)"),
    ] = False,
) -> None:
    """Deploy to AWS: layer, function, IAM roles and a state machine per source (boto3)."""
    from snowpg.aws import deploy as aws_deploy
    from snowpg.aws import plan as aws_plan

    location = config or os.environ.get(CONFIG_PATH_ENV) or "config.json"
    if build_only:
        bundled = None if location.startswith("s3://") else Path(location)
        _build(build_dir, bundled, runtime, architecture, layer_zip)
        return
    session = _session(region)
    account, partition = _identity(session, quiet=dry_run)
    sources = [] if destroy else _config_sources(session, location, source)
    options = aws_plan.DeployOptions(
        name=name,
        region=str(session.region_name),
        account_id=account,
        partition=partition,
        runtime=runtime,
        architecture=architecture,
        memory_mb=memory,
        timeout_seconds=timeout,
        ephemeral_storage_mb=ephemeral_storage,
        subnet_ids=_split(subnet_ids),
        security_group_ids=_split(security_group_ids),
        sources=tuple(sources),
        workers=workers,
        config_s3_uri=location if location.startswith("s3://") else None,
        snowflake_secret=snowflake_secret,
        postgres_secret=postgres_secret,
        environment=aws_plan.parse_env_pairs(env or []),
        log_level=log_level.upper(),
        artifact_bucket=artifact_bucket,
    )
    plan = aws_plan.make_plan(options, require_sources=not destroy)
    if dry_run:
        typer.echo(
            ("would destroy:\n" if destroy else "dry run, nothing changed:\n") + plan.describe()
        )
        return
    clients = aws_deploy.Clients.from_session(session)
    if destroy:
        done = aws_deploy.destroy(plan, clients, echo=typer.echo)
        typer.echo(f"destroyed {len(done)} resource group(s) of deployment {name}")
        return
    bundled = None if options.config_s3_uri else Path(location)
    app_zip, layer = _build(build_dir, bundled, runtime, architecture, layer_zip)
    result = aws_deploy.apply(plan, clients, layer, app_zip, echo=typer.echo)
    typer.echo(f"function: {result.function_arn}")
    for sm_name, arn in result.state_machine_arns.items():
        typer.echo(f"state machine {sm_name}: {arn}")
    if result.state_machine_arns:
        first = next(iter(result.state_machine_arns.values()))
        typer.echo(
            f"start a migration: aws stepfunctions start-execution --state-machine-arn {first} "
            "--input '{}'"
        )


def _build(
    build_dir: Path, config: Path | None, runtime: str, architecture: str, layer_zip: Path | None
) -> tuple[Any, Any]:
    """(app zip, layer zip) artifacts, checked against Lambda's size limits."""
    from snowpg.aws import layer as aws_layer

    app_zip = aws_layer.build_app_zip(build_dir / "app.zip", config)
    typer.echo(f"app zip: {app_zip.describe()}")
    if layer_zip is not None:
        layer = aws_layer.artifact_of(layer_zip)
    else:
        typer.echo(f"building the dependency layer for {runtime}/{architecture} (pip) ...")
        layer = aws_layer.build_layer(runtime, architecture, build_dir)
    aws_layer.check_size(layer, what="the dependency layer", reserved_bytes=app_zip.unzipped_bytes)
    typer.echo(f"layer: {layer.describe()}")
    return app_zip, layer


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(",") if v.strip())


def _session(region: str | None) -> Any:
    try:
        import boto3
    except ImportError:
        raise ConfigError("snowpg deploy needs boto3: pip install 'snowpg[aws]'") from None
    session = boto3.session.Session(region_name=region)
    if not session.region_name:
        raise ConfigError(
            "no AWS region: pass --region or set AWS_REGION / the AWS CLI's default region",
            field="region",
        )
    return session


def _identity(session: Any, quiet: bool) -> tuple[str, str]:
    """(account id, partition) of the caller; a dry run without credentials uses placeholders."""
    try:
        me = session.client("sts").get_caller_identity()
        return str(me["Account"]), str(me["Arn"]).split(":")[1]
    except Exception as exc:
        if quiet:
            return "000000000000", "aws"
        raise ConfigError(
            f"cannot identify the AWS account: {type(exc).__name__}: {exc}",
            hint="configure AWS credentials (aws configure, AWS_PROFILE or the environment)",
        ) from None


def _config_sources(session: Any, location: str, wanted: str | None) -> list[str]:
    """Source names from the configuration, checked for shape (credentials are not needed)."""
    if location.startswith("s3://"):
        from snowpg.aws.secrets import read_s3_text

        data = read_s3_text(location, session.client("s3"))
    else:
        path = Path(location)
        if not path.is_file():
            raise ConfigError(
                f"config file {path} not found",
                hint=f"pass --config PATH (or s3://bucket/key) or set {CONFIG_PATH_ENV}",
                field="config",
            )
        data = path.read_bytes()
    text = data.decode("utf-8", errors="replace")
    env = dict(os.environ)
    # The function resolves ${VAR}s and credentials at run time; here only the shape is checked.
    for var in set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", text)):
        env.setdefault(var, _CHECK_VALUE)
    for var in ("SNOWFLAKE_ACCOUNT", "SNOWFLAKE_USER", "POSTGRES_HOST", "POSTGRES_USER"):
        env.setdefault(var, _CHECK_VALUE)
    if not env.get("SNOWFLAKE_PASSWORD") and not env.get("SNOWFLAKE_RSA_KEY"):
        env["SNOWFLAKE_PASSWORD"] = _CHECK_VALUE
    settings = parse_settings(data, env, origin=location)
    return [s.source_name for s in settings.select_sources(wanted)]
