"""How verification shows a row's key: the canonical key text read back. Pure.

The queries themselves are the adapters' (:mod:`snowpg.snowflake.checksums`,
:mod:`snowpg.postgres.checksums`).
"""

from __future__ import annotations

from collections.abc import Sequence


def key_display(key_text: str, names: Sequence[str]) -> str:
    """``k1=v1, k2=v2`` from a canonical key text (``<len>:<text>`` or ``N`` joined by ``|``)."""
    values: list[str] = []
    i = 0
    while i < len(key_text):
        if key_text[i] == "N":
            values.append("NULL")
            i += 2
            continue
        colon = key_text.find(":", i)
        if colon < 0 or not key_text[i:colon].isdigit():
            return key_text
        n = int(key_text[i:colon])
        values.append(key_text[colon + 1 : colon + 1 + n])
        i = colon + 1 + n + 1
    if len(values) != len(names):
        return key_text
    return ", ".join(f"{k}={v}" for k, v in zip(names, values, strict=True))
