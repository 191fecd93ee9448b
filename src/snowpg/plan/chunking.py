"""Turn boundaries into chunks that partition a table, and choose the boundaries. Pure: no I/O.

Given the sorted, distinct first key tuple of each bucket ``b1 < b2 < ... < bn`` (``b1`` is the
table's minimum), the chunks are::

    1: key <  b2          (open below: rows inserted later under the old minimum still belong)
    i: b_i <= key < b_i+1
    n: key >= b_n         (open above, for the same reason)
    n+1: any key column NULL   (only when such rows exist)

Every row with a complete key satisfies exactly one range predicate and rows with a NULL key only
the ``nulls`` chunk, so the chunks never overlap and never miss a row; see
:func:`snowpg.snowflake.statements.chunk_predicate`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from snowpg.model import Chunk, ChunkRange

Bound = tuple[str, ...]


def whole_table_chunk(estimated_rows: int = 0) -> Chunk:
    """One chunk holding every row (no usable key, or an empty table)."""
    return Chunk(chunk_id=1, range=ChunkRange(), estimated_rows=estimated_rows)


def _merge_duplicates(
    boundaries: Sequence[tuple[str, ...]], counts: Sequence[int]
) -> tuple[list[tuple[str, ...]], list[int]]:
    """Drop repeated boundaries (a key value spanning buckets), adding their rows to the first."""
    kept: list[tuple[str, ...]] = []
    kept_counts: list[int] = []
    seen: set[tuple[str, ...]] = set()
    for bound, count in zip(boundaries, counts, strict=True):
        if bound in seen:
            kept_counts[-1] += count
            continue
        seen.add(bound)
        kept.append(bound)
        kept_counts.append(count)
    return kept, kept_counts


def ranges_from_boundaries(
    columns: Sequence[str],
    types: Sequence[str],
    boundaries: Sequence[tuple[str, ...]],
    counts: Sequence[int],
    has_nulls: int,
) -> list[Chunk]:
    """Chunks ``1..N`` covering every row, from per-bucket lower bounds in key order.

    ``boundaries`` must be in the key order Snowflake used (ascending); ``counts`` holds the rows of
    each bucket; ``has_nulls`` the rows with a NULL in a key column. An empty table yields a single
    whole-table chunk so the table is still marked complete.
    """
    cols = tuple(columns)
    typs = tuple(types)
    if len(cols) != len(typs):
        raise ValueError(f"{len(cols)} chunking columns but {len(typs)} types")
    if len(boundaries) != len(counts):
        raise ValueError(f"{len(boundaries)} boundaries but {len(counts)} counts")
    for b in boundaries:
        if len(b) != len(cols):
            raise ValueError(f"boundary {list(b)} does not match columns {list(cols)}")
    if not cols or (not boundaries and has_nulls <= 0):
        return [whole_table_chunk(sum(counts) + max(has_nulls, 0))]

    bounds, sizes = _merge_duplicates(boundaries, counts)
    ranges: list[tuple[ChunkRange, int]] = []
    if not bounds:
        ranges.append((ChunkRange(columns=cols, types=typs), 0))
    for i, size in enumerate(sizes):
        lower = bounds[i] if i > 0 else None
        upper = bounds[i + 1] if i + 1 < len(bounds) else None
        ranges.append((ChunkRange(columns=cols, types=typs, lower=lower, upper=upper), size))
    if has_nulls > 0:
        ranges.append((ChunkRange(columns=cols, types=typs, nulls=True), has_nulls))
    return [
        Chunk(chunk_id=i, range=rng, estimated_rows=size)
        for i, (rng, size) in enumerate(ranges, start=1)
    ]


def single_range_chunks(
    columns: Sequence[str], types: Sequence[str], key_rows: int, has_nulls: int
) -> list[Chunk]:
    """One open range over the whole key (plus the nulls chunk), for a table that fits one batch."""
    if key_rows <= 0 and has_nulls <= 0:
        return [whole_table_chunk(0)]
    chunks = [Chunk(1, ChunkRange(columns=tuple(columns), types=tuple(types)), max(key_rows, 0))]
    if has_nulls > 0:
        nulls = ChunkRange(columns=tuple(columns), types=tuple(types), nulls=True)
        chunks.append(Chunk(2, nulls, has_nulls))
    return chunks


def sample_cuts(
    sample: Sequence[Bound], n_chunks: int, key_rows: int
) -> tuple[list[Bound], list[int]]:
    """Per-bucket lower bounds and estimated rows from a sorted sample of key tuples.

    ``sample`` is in Snowflake's key order (as the sample query returns it). Bucket ``i`` starts at
    the sample's ``i/n`` quantile; each bucket's rows are ``key_rows`` times its share of the
    sample. Equal quantiles (a value that fills more than one bucket) are merged later by
    :func:`ranges_from_boundaries`. Any sorted bounds give a correct partition: a sample that
    misjudges the distribution only makes chunks uneven.
    """
    if not sample or n_chunks <= 1:
        return ([sample[0]] if sample else []), ([max(key_rows, 0)] if sample else [])
    m = len(sample)
    n = min(n_chunks, m)
    starts = [(i * m) // n for i in range(n)]
    bounds = [tuple(sample[s]) for s in starts]
    shares = [end - start for start, end in zip(starts, [*starts[1:], m], strict=True)]
    counts = _apportion(max(key_rows, 0), shares)
    return bounds, counts


def _apportion(total: int, weights: Sequence[int]) -> list[int]:
    """``total`` split in proportion to ``weights``, in integers that add up to ``total``."""
    whole = sum(weights)
    if whole <= 0:
        return [0] * len(weights)
    out = [total * w // whole for w in weights]
    for i in range(total - sum(out)):
        out[i % len(out)] += 1
    return out


def even_integer_cuts(
    low: int, high: int, n_chunks: int, key_rows: int
) -> tuple[list[Bound], list[int]]:
    """``n_chunks`` equal-width integer ranges over ``[low, high]``, as per-bucket lower bounds
    (the first is ``low``) and the rows each is expected to hold if keys spread evenly."""
    span = high - low + 1
    if span <= 0:
        raise ValueError(f"empty key range {low}..{high}")
    n = max(1, min(n_chunks, span))
    starts = [low + (i * span) // n for i in range(n)]
    counts = _apportion(max(key_rows, 0), [1] * n)
    return [(str(s),) for s in starts], counts


def is_dense(key_rows: int, low: int, high: int, min_fill: float) -> bool:
    """True when ``key_rows`` distinct-looking integers fill at least ``min_fill`` of
    ``[low, high]`` and could all be distinct: then equal-width ranges hold at most
    ``1 / min_fill`` times their share of unique keys."""
    span = high - low + 1
    return span > 0 and key_rows <= span and key_rows >= math.ceil(min_fill * span)
