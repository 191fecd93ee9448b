"""Shared pieces of the settings model: the strict base model, field types and small validators.

Validators raise ``PydanticCustomError("snowpg", ...)`` (see :func:`problem`) with a message a user
can act on; ``snowpg.config.load`` turns pydantic's ValidationError into one ConfigError line.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from snowpg.errors import ConfigError
from snowpg.model import parse_nul_policy
from snowpg.sqltext import PG_MAX_IDENTIFIER_BYTES

NonEmpty = Annotated[str, Field(min_length=1)]
ColumnList = Annotated[list[NonEmpty], Field(min_length=1)]


def problem(message: str) -> PydanticCustomError:
    """A validation error whose message reaches the user as it is."""
    return PydanticCustomError("snowpg", message)


def blank_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def check_pg_name_length(value: str | None, what: str) -> str | None:
    """``value`` unchanged, or a problem when it is longer than a PostgreSQL name may be."""
    if value is not None and len(value.encode("utf-8")) > PG_MAX_IDENTIFIER_BYTES:
        raise problem(
            f"{what} {value!r} is {len(value.encode('utf-8'))} bytes; PostgreSQL names are at "
            f"most {PG_MAX_IDENTIFIER_BYTES} bytes (longer ones are cut silently): choose a "
            "shorter name"
        )
    return value


def check_nul_policy(value: str) -> str:
    try:
        parse_nul_policy(value)
    except ConfigError as exc:
        raise problem(f"{exc.message}; {exc.hint}") from None
    return value


def split_names(names: Sequence[str] | str | None) -> list[str]:
    """A comma-separated text or a list of names, stripped, without empty entries."""
    if names is None:
        return []
    items = names.split(",") if isinstance(names, str) else list(names)
    return [n.strip() for n in items if n and n.strip()]


def match_name(name: str, candidates: Sequence[str]) -> str | None:
    """The candidate equal to ``name``, else the one equal ignoring case, else None."""
    if name in candidates:
        return name
    folded = [c for c in candidates if c.lower() == name.lower()]
    return folded[0] if folded else None


def _scalar_kinds(annotation: Any) -> set[type]:
    """The plain scalar types a field annotation admits (``int | None`` -> {int, NoneType})."""
    args = get_args(annotation)
    if get_origin(annotation) is Annotated:
        return _scalar_kinds(args[0])
    if args and get_origin(annotation) in (Union, UnionType):
        return set().union(*(_scalar_kinds(a) for a in args))
    return {annotation} if isinstance(annotation, type) else set()


class StrictModel(BaseModel):
    """Unknown keys refused; true/false only for booleans, no booleans for numbers."""

    # hide_input_in_errors keeps secrets out of ValidationError text if one escapes translation.
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    @field_validator("*", mode="before")
    @classmethod
    def _strict_scalars(cls, value: Any, info: ValidationInfo) -> Any:
        """true/false only for booleans, and no booleans for numbers (pydantic's lax mode takes
        ``"yes"`` as true and ``true`` as 1); numbers written as strings stay accepted."""
        if value is None or info.field_name is None:
            return value
        kinds = _scalar_kinds(cls.model_fields[info.field_name].annotation)
        if bool in kinds and not isinstance(value, bool):
            raise PydanticCustomError("bool_type", "Input should be true or false")
        if kinds & {int, float} and bool not in kinds and isinstance(value, bool):
            kind = "int_type" if int in kinds else "float_type"
            raise PydanticCustomError(kind, "Input should be a number")
        return value
