"""Semi-structured values compared by content: one canonical text for both sides. Pure: no I/O.

Neither engine can print a JSON value the way the other does (jsonb sorts keys by length and adds
spaces, Snowflake keeps its own order and number spelling, the emulator has no key-sorted
serialiser), so verification reads each JSON value's text once per side and rewrites it here:

- objects with their keys sorted by code point, no whitespace;
- every number as its exact decimal value, normalised (``2.50``, ``2.5`` and ``25e-1`` are the
  same; ``1e300`` and ``1.000000000000000e+300`` too; ``-0`` is ``0``); an integer and a float of
  the same value are the same, as they are after jsonb loads them;
- strings, ``true``/``false``/``null`` as JSON spells them.

A value that is not valid JSON (a target column typed ``text`` holding something else) is
compared as its raw text. A row's hash on the client combines the row's SQL hash (the MD5 hex of
its other columns' canonical text, computed by the server) with these texts, so each value is
canonicalised once and the checksum stays an order-independent sum.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any


def _number(value: Decimal) -> str:
    if not value.is_finite():
        return str(value)
    if value == 0:
        return "0"
    return f"{value.normalize():E}"


def _dump(value: Any, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, Decimal):
        out.append(_number(value))
    elif isinstance(value, int | float):
        out.append(_number(Decimal(repr(value)) if isinstance(value, float) else Decimal(value)))
    elif isinstance(value, dict):
        out.append("{")
        for i, key in enumerate(sorted(value, key=str)):
            if i:
                out.append(",")
            out.append(json.dumps(str(key), ensure_ascii=False))
            out.append(":")
            _dump(value[key], out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _dump(item, out)
        out.append("]")
    else:  # a driver type we do not know: its text
        out.append(json.dumps(str(value), ensure_ascii=False))


def _parse(text: str) -> Any:
    return json.loads(text, parse_float=Decimal, parse_int=Decimal, parse_constant=Decimal)


def canonical(value: Any) -> str | None:
    """The canonical text of a JSON value as a driver returned it (text, bytes or parsed)."""
    if value is None:
        return None
    if isinstance(value, bytes | bytearray | memoryview):
        value = bytes(value).decode("utf-8", "replace")
    if isinstance(value, str):
        try:
            value = _parse(value)
        except (ValueError, InvalidOperation):
            return "raw:" + str(value)
    out: list[str] = []
    _dump(value, out)
    return "".join(out)


def row_hash(sql_md5: str, values: Sequence[Any]) -> int:
    """The 60-bit hash of a row: its SQL part's MD5 hex and its JSON values' canonical texts."""
    parts = [str(sql_md5)]
    for v in values:
        text = canonical(v)
        parts.append("N" if text is None else f"{len(text)}:{text}")
    digest = hashlib.md5("|".join(parts).encode("utf-8"), usedforsecurity=False).hexdigest()
    return int(digest[:15], 16)
