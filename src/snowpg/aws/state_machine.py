"""The shipped Step Functions workflows (ASL JSON package data) and rendering them per source.

``standard.asl.json``: ValidateConfig -> TestConnections -> ExecuteMigration, looping while the
answer is ``partial`` or Lambda hit its timeout. ``fanout.asl.json``: the same checks, then
PrepareRun plans the run and a Map state runs N workers on it, each looping the same way.

The files carry ``${FunctionArn}``, ``${SourceName}`` and ``${Workers}`` placeholders, the syntax of
CloudFormation/SAM ``DefinitionSubstitutions``, so the SAM template uses the same files. Pure: no
AWS calls.
"""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from importlib import resources
from typing import Any, Literal

from snowpg.errors import ConfigError

Variant = Literal["standard", "fanout"]
VARIANTS: tuple[Variant, ...] = ("standard", "fanout")

# Step Functions' own limits: state machine names, and Map concurrency we consider sane.
MAX_NAME_LEN = 80
MAX_WORKERS = 40

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z]+)\}")
_FUNCTION_ARN = re.compile(
    r"^arn:aws[a-zA-Z-]*:lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):function:[\w-]+"
    r"(:[\w$-]+)?$"
)


@cache
def _raw(variant: Variant) -> str:
    return resources.files("snowpg.aws").joinpath(f"{variant}.asl.json").read_text("utf-8")


def definition(variant: Variant) -> dict[str, Any]:
    """The unrendered ASL of ``variant`` (a fresh copy)."""
    if variant not in VARIANTS:
        raise ConfigError(f"unknown workflow {variant!r}; use one of {', '.join(VARIANTS)}")
    data: dict[str, Any] = json.loads(_raw(variant))
    return data


def function_arn(name: str, region: str, account_id: str, partition: str = "aws") -> str:
    return f"arn:{partition}:lambda:{region}:{account_id}:function:{name}"


def render(
    variant: Variant,
    *,
    function_arn: str,
    source_name: str,
    workers: int = 3,
    region: str | None = None,
) -> dict[str, Any]:
    """The ASL for one source, ready for ``create_state_machine``.

    ``region``, when given, must be the function's region: a state machine can only invoke a
    function of its own region through the optimised Lambda integration.
    """
    m = _FUNCTION_ARN.match(function_arn)
    if m is None:
        raise ConfigError(
            f"{function_arn!r} is not a Lambda function ARN "
            "(arn:aws:lambda:REGION:ACCOUNT_ID:function:NAME)"
        )
    if region is not None and m.group("region") != region:
        raise ConfigError(
            f"the function {function_arn} is in {m.group('region')}, not {region}; deploy the "
            "state machine in the function's region"
        )
    if not 1 <= workers <= MAX_WORKERS:
        raise ConfigError(f"workers must be between 1 and {MAX_WORKERS}, not {workers}")
    values = {"FunctionArn": function_arn, "SourceName": source_name, "Workers": str(workers)}
    rendered: dict[str, Any] = _substitute(definition(variant), values)
    for state in _states(rendered):
        if state.get("Type") == "Map":
            state["MaxConcurrency"] = workers
    return rendered


def render_json(variant: Variant, **kwargs: Any) -> str:
    return json.dumps(render(variant, **kwargs), indent=2)


def state_machine_name(prefix: str, source_name: str, variant: Variant) -> str:
    """``{prefix}-{source}`` (``-fanout`` added), cut to Step Functions' 80 characters."""
    safe = re.sub(r"[^A-Za-z0-9_-]+", "-", source_name).strip("-") or "source"
    suffix = "-fanout" if variant == "fanout" else ""
    return f"{prefix}-{safe}"[: MAX_NAME_LEN - len(suffix)] + suffix


def placeholders(data: Any) -> set[str]:
    """Names of the ``${...}`` placeholders left in ``data``."""
    found: set[str] = set()
    for text in _strings(data):
        found.update(_PLACEHOLDER.findall(text))
    return found


def _substitute(data: Any, values: dict[str, str]) -> Any:
    def one(text: str) -> str:
        return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            return one(value)
        if isinstance(value, dict):
            return {one(k): walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return copy.copy(value)

    out = walk(data)
    left = placeholders(out)
    if left:
        raise ConfigError(f"the workflow template has unknown placeholders: {sorted(left)}")
    return out


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [k, *_strings(v)]]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _states(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Every state, nested Map/Parallel states included."""
    out: list[dict[str, Any]] = []
    for state in data.get("States", {}).values():
        out.append(state)
        for inner in ("ItemProcessor", "Iterator"):
            if isinstance(state.get(inner), dict):
                out.extend(_states(state[inner]))
        for branch in state.get("Branches", []):
            out.extend(_states(branch))
    return out
