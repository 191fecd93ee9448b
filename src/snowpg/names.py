"""Snowflake object names -> PostgreSQL identifiers. Pure.

Snowflake folds unquoted names to upper case and PostgreSQL folds them to lower case, so a name
with no lower-case letter (``PAYER_ID``) was almost certainly written unquoted and becomes
``payer_id``: the name a PostgreSQL user can type without quotes. A name with any lower-case letter
(``"Payer Id"``) was quoted on purpose and keeps its exact form. PostgreSQL truncates identifiers
to 63 bytes silently; longer names are shortened here, deterministically, with a hash suffix so
two long names that share a prefix stay distinct.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Literal

from snowpg.errors import ConfigError
from snowpg.sqltext import PG_MAX_IDENTIFIER_BYTES

_HASH_CHARS = 8

IdentifierCase = Literal["lower", "preserve"]


def target_identifier(snowflake_name: str, case: IdentifierCase = "lower") -> str:
    """The PostgreSQL name for a Snowflake table or column name under the ``case`` policy.

    ``lower`` (the default) lower-cases names without any lower-case letter; ``preserve`` keeps
    every name exactly as Snowflake stores it. Both shorten names beyond 63 bytes.
    """
    if case == "lower" and not any(ch.islower() for ch in snowflake_name):
        name = snowflake_name.lower()
    else:
        name = snowflake_name
    return shorten(name, full_name=snowflake_name)


def shorten(name: str, *, full_name: str | None = None) -> str:
    """``name`` if it fits in 63 UTF-8 bytes, else a cut prefix + ``_`` + 8 hex chars of sha1.

    The hash is of ``full_name`` (default ``name``). The cut never splits a multibyte character.
    """
    encoded = name.encode("utf-8")
    if len(encoded) <= PG_MAX_IDENTIFIER_BYTES:
        return name
    digest = hashlib.sha1((full_name or name).encode("utf-8"), usedforsecurity=False).hexdigest()
    suffix = "_" + digest[:_HASH_CHARS]
    budget = PG_MAX_IDENTIFIER_BYTES - len(suffix)
    # errors="ignore" drops the partial character left at the cut.
    prefix = encoded[:budget].decode("utf-8", errors="ignore")
    return prefix + suffix


def rename_reason(snowflake_name: str, target: str) -> str | None:
    """Why ``target`` differs from ``snowflake_name`` (for the plan's mapping report), or None."""
    if target == snowflake_name:
        return None
    reasons = []
    lowered = snowflake_name.lower()
    if lowered != snowflake_name and target == shorten(lowered, full_name=snowflake_name):
        reasons.append("lower-cased")
    if len(snowflake_name.encode("utf-8")) > PG_MAX_IDENTIFIER_BYTES:
        reasons.append("shortened to 63 bytes with a hash suffix")
    return ", ".join(reasons) if reasons else "renamed"


def map_identifiers(names: Sequence[str], case: IdentifierCase = "lower") -> dict[str, str]:
    """Map each Snowflake name to its PostgreSQL name; two names may not share a target.

    Raises :class:`ConfigError` naming both source names and the shared target.
    """
    out: dict[str, str] = {}
    seen: dict[str, str] = {}
    for name in names:
        target = target_identifier(name, case)
        other = seen.get(target)
        if other is not None and other != name:
            raise ConfigError(
                f'Snowflake names "{other}" and "{name}" both become the PostgreSQL name '
                f'"{target}"',
                hint=(
                    "rename one of them in Snowflake, or create the target table yourself with "
                    "the column names you want (snowpg then matches columns by name)"
                ),
                column=name,
            )
        seen[target] = name
        out[name] = target
    return out
