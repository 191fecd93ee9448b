"""Keys the existing tool's config.json carries that snowpg reads differently or not at all.

Applied to the raw configuration before validation. Each key below is removed and named in ONE
warning (however many tables carry it) that says what snowpg does instead; every other unknown key
still fails validation with a "did you mean". ``column_mapping`` and ``chunking_column_types:
["varchar_numeric"]`` are not here: snowpg gives them their meaning (see schema.TableConfig).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

log = logging.getLogger("snowpg.config")

# key -> (levels it may appear at, what snowpg does instead)
_IGNORED: dict[str, tuple[tuple[str, ...], str]] = {
    "status_tracking_database": (
        ("top", "source"),
        "snowpg keeps migration_status in each source's target_pg_database, so a chunk's rows "
        "and its status row commit in one transaction",
    ),
    "sort_columns": (
        ("table",),
        "snowpg reads each chunk as a key range of chunking_columns (the primary key by "
        "default); PostgreSQL keeps no row order, so the order of the reads does not matter",
    ),
    "batch_size_copy_mode": (
        ("top", "source", "table"),
        "snowpg always loads with COPY, in chunks of batch_size rows (capped by max_chunk_mb)",
    ),
}


def drop_ignored_keys(raw: Mapping[str, Any]) -> dict[str, Any]:
    """``raw`` without the keys above; logs one warning per key found."""
    found: dict[str, list[str]] = {}
    top = dict(raw)
    _drop(top, "top", "the top level", found)
    sources = top.get("sources")
    if isinstance(sources, list):
        top["sources"] = [_source(s, found) for s in sources]
    for key, places in found.items():
        if key != "status_tracking_database" or not _same_as_targets(raw, places):
            log.warning(
                "config key %r (%s) is accepted but not used: %s",
                key,
                ", ".join(places),
                _IGNORED[key][1],
            )
    return top


def _source(src: Any, found: dict[str, list[str]]) -> Any:
    if not isinstance(src, Mapping):
        return src
    out = dict(src)
    _drop(out, "source", f"source {out.get('source_name')!r}", found)
    tables = out.get("tables")
    if isinstance(tables, list):
        new_tables = []
        for t in tables:
            if isinstance(t, Mapping):
                t = dict(t)
                _drop(t, "table", f"table {t.get('source')!r}", found)
            new_tables.append(t)
        out["tables"] = new_tables
    return out


def _drop(obj: dict[str, Any], level: str, where: str, found: dict[str, list[str]]) -> None:
    for key, (levels, _) in _IGNORED.items():
        if level in levels and key in obj:
            value = obj.pop(key)
            found.setdefault(key, []).append(
                f"{where}: {value!r}" if key == "status_tracking_database" else where
            )


def _same_as_targets(raw: Mapping[str, Any], places: list[str]) -> bool:
    """True when each source's status_tracking_database is its target_pg_database anyway."""
    sources = [s for s in raw.get("sources") or [] if isinstance(s, Mapping)]
    top = raw.get("status_tracking_database")
    return bool(places) and all(
        s.get("status_tracking_database", top) in (None, s.get("target_pg_database"))
        for s in sources
    )
