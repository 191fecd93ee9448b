"""Compare one chunk on both servers; find the keys of differing rows; record the outcome.

A chunk matches when both sides have the same row count and the same checksum. Otherwise both
sides list ``(key, row hash)`` for the chunk's rows — one chunk at a time, never the whole table —
and the multisets are compared: a key only in Snowflake is a *missing* row, only in PostgreSQL an
*extra* row, in both with different hashes a *changed* row.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg

from snowpg.checksum_spec import ChecksumSpec
from snowpg.model import ChunkRange
from snowpg.postgres.checksums import pg_checksums, pg_row_hashes, pg_rows
from snowpg.snowflake import reader
from snowpg.snowflake.checksums import sf_checksums, sf_row_hashes, sf_rows
from snowpg.verify import jsontext, queries

# Chunks whose checksums one query computes (one scan of the table per group of chunks).
CHUNKS_PER_QUERY = 64
# Keys of differing rows kept per chunk in the status row and printed; the counts are always full.
MAX_KEYS_PER_CHUNK = 50

MATCH, MISMATCH, ERROR = "match", "mismatch", "error"


@dataclass
class ChunkResult:
    chunk_id: int
    status: str  # match / mismatch / error
    source_rows: int = 0
    target_rows: int = 0
    source_checksum: int = 0
    target_checksum: int = 0
    missing: int = 0  # rows in Snowflake, not in PostgreSQL
    extra: int = 0  # rows in PostgreSQL, not in Snowflake
    changed: int = 0  # same key, different values
    keys: list[dict[str, str]] = field(default_factory=list)  # {"kind": ..., "key": ...}
    error: str | None = None

    def detail(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "source_rows": self.source_rows,
            "target_rows": self.target_rows,
            "source_checksum": str(self.source_checksum),
            "target_checksum": str(self.target_checksum),
        }
        if self.status == MISMATCH:
            out |= {
                "missing": self.missing,
                "extra": self.extra,
                "changed": self.changed,
                "keys": self.keys,
            }
        if self.error:
            out["error"] = self.error
        return out


def _int(value: Any) -> int:
    return int(value) if value is not None else 0


Sums = tuple[tuple[int, int], tuple[int, int]]  # (source rows, checksum), (target rows, checksum)
Rows = Counter[tuple[str, int]]  # (key text, row hash) -> how many rows


def checksum_chunk(sf: Any, pg: psycopg.Connection[Any], spec: ChecksumSpec, r: ChunkRange) -> Sums:
    """``((source rows, source checksum), (target rows, target checksum))`` of one chunk."""
    return checksum_chunks(sf, pg, spec, [(0, r)])[0]


def checksum_chunks(
    sf: Any,
    pg: psycopg.Connection[Any],
    spec: ChecksumSpec,
    chunks: Sequence[tuple[int, ChunkRange]],
) -> dict[int, Sums]:
    """:func:`checksum_chunk` of several chunks with one query per side (server-side hashes;
    tables with JSON columns are hashed on the client instead, see :func:`client_rows`)."""
    sf_sql, sf_params = sf_checksums(spec, chunks)
    source = {
        int(g): (_int(n), _int(s))
        for g, n, s in reader.run_all(sf, sf_sql, sf_params)
        if g is not None
    }
    pg_sql, pg_params = pg_checksums(spec, chunks)
    rows = pg.execute(pg_sql, pg_params).fetchall()
    pg.rollback()
    target = {int(g): (_int(n), _int(s)) for g, n, s in rows if g is not None}
    return {cid: (source.get(cid, (0, 0)), target.get(cid, (0, 0))) for cid, _r in chunks}


def server_rows(
    sf: Any, pg: psycopg.Connection[Any], spec: ChecksumSpec, r: ChunkRange
) -> tuple[Rows, Rows]:
    """``(key, row hash)`` multisets of the chunk on both sides, hashed by the servers."""
    sf_sql, sf_params = sf_row_hashes(spec, r)
    source = Counter((str(k), int(h)) for k, h in reader.run_all(sf, sf_sql, sf_params))
    pg_sql, pg_params = pg_row_hashes(spec, r)
    target = Counter((str(k), int(h)) for k, h in pg.execute(pg_sql, pg_params).fetchall())
    pg.rollback()
    return source, target


def client_rows(
    sf: Any, pg: psycopg.Connection[Any], spec: ChecksumSpec, r: ChunkRange
) -> tuple[Rows, Rows]:
    """``(key, row hash)`` multisets of the chunk on both sides: each server sends a row's key,
    the MD5 of its SQL-canonical columns and its raw JSON values; the JSON is canonicalised here,
    once per value (:mod:`snowpg.verify.jsontext`)."""
    sf_sql, sf_params = sf_rows(spec, r)
    source = Counter(
        (str(row[0]), jsontext.row_hash(row[1], row[2:]))
        for row in reader.run_all(sf, sf_sql, sf_params)
    )
    pg_sql, pg_params = pg_rows(spec, r)
    target = Counter(
        (str(row[0]), jsontext.row_hash(row[1], row[2:]))
        for row in pg.execute(pg_sql, pg_params).fetchall()
    )
    pg.rollback()
    return source, target


def _totals(rows: Rows) -> tuple[int, int]:
    return sum(rows.values()), sum(h * n for (_k, h), n in rows.items())


def diff_rows(
    spec: ChecksumSpec, r: ChunkRange, source: Rows, target: Rows, result: ChunkResult
) -> None:
    """Fill ``result``'s missing/extra/changed counts and keys from both sides' row hashes."""
    only_source = source - target
    only_target = target - source
    target_keys = {k for k, _h in target}
    source_keys = {k for k, _h in source}
    names = [c.source for c in spec.key_columns(r)] or [c.source for c in spec.columns]
    found: list[tuple[str, str]] = []
    changed: set[str] = set()
    for (k, _h), n in sorted(only_source.items()):
        if k in target_keys:
            changed.add(k)
        else:
            result.missing += n
            found.append(("missing", k))
    for (k, _h), n in sorted(only_target.items()):
        if k in source_keys:
            changed.add(k)
        else:
            result.extra += n
            found.append(("extra", k))
    result.changed = len(changed)
    found.extend(("changed", k) for k in sorted(changed))
    result.keys = [
        {"kind": kind, "key": queries.key_display(k, names)}
        for kind, k in found[:MAX_KEYS_PER_CHUNK]
    ]


def verify_chunk(
    sf: Any,
    pg: psycopg.Connection[Any],
    spec: ChecksumSpec,
    chunk_id: int,
    r: ChunkRange,
    sums: Sums | None = None,
) -> ChunkResult:
    """Compare one chunk (``sums``: its checksums, when already computed with others)."""
    rows: tuple[Rows, Rows] | None = None
    if spec.has_json:
        rows = client_rows(sf, pg, spec, r)
        sums = (_totals(rows[0]), _totals(rows[1]))
    (s_rows, s_sum), (t_rows, t_sum) = sums or checksum_chunk(sf, pg, spec, r)
    result = ChunkResult(chunk_id, MATCH, s_rows, t_rows, s_sum, t_sum)
    if (s_rows, s_sum) != (t_rows, t_sum):
        result.status = MISMATCH
        source, target = rows or server_rows(sf, pg, spec, r)
        diff_rows(spec, r, source, target, result)
    return result


# status rows -------------------------------------------------------------------------------


def table_status(results: Sequence[ChunkResult]) -> str:
    if any(r.status == ERROR for r in results):
        return ERROR
    if any(r.status == MISMATCH for r in results):
        return MISMATCH
    return MATCH
