"""ranges_from_boundaries: open ends, merged duplicates, the nulls chunk, empty tables; and the
boundaries themselves: sample quantiles (skew, duplicates) and equal-width integer cuts."""

from __future__ import annotations

import pytest

from snowpg.model import ChunkRange
from snowpg.plan.chunking import (
    even_integer_cuts,
    is_dense,
    ranges_from_boundaries,
    sample_cuts,
    single_range_chunks,
    whole_table_chunk,
)

COLS = ("ID",)
TYPES = ("NUMBER(38,0)",)


def _bounds(chunks: list, attr: str) -> list:  # type: ignore[type-arg]
    return [getattr(c.range, attr) for c in chunks]


def test_open_ends_and_consecutive_ranges() -> None:
    chunks = ranges_from_boundaries(COLS, TYPES, [("0",), ("100",), ("200",)], [100, 100, 7], 0)
    assert [c.chunk_id for c in chunks] == [1, 2, 3]
    assert _bounds(chunks, "lower") == [None, ("100",), ("200",)]
    assert _bounds(chunks, "upper") == [("100",), ("200",), None]
    assert [c.estimated_rows for c in chunks] == [100, 100, 7]
    assert all(c.range.columns == COLS and c.range.types == TYPES for c in chunks)
    assert not any(c.range.nulls for c in chunks)


def test_duplicate_boundaries_merge_and_keep_their_rows() -> None:
    bounds = [("a", "1"), ("a", "1"), ("a", "1"), ("b", "0"), ("b", "0")]
    chunks = ranges_from_boundaries(
        ("K", "N"), ("VARCHAR", "NUMBER(38,0)"), bounds, [5, 5, 5, 5, 4], 0
    )
    assert len(chunks) == 2
    assert chunks[0].range.upper == ("b", "0") and chunks[1].range.lower == ("b", "0")
    assert [c.estimated_rows for c in chunks] == [15, 9]


def test_nulls_chunk_comes_last() -> None:
    chunks = ranges_from_boundaries(COLS, TYPES, [("1",), ("5",)], [4, 4], 3)
    assert [c.chunk_id for c in chunks] == [1, 2, 3]
    assert chunks[-1].range == ChunkRange(COLS, TYPES, nulls=True)
    assert chunks[-1].estimated_rows == 3
    assert sum(c.estimated_rows for c in chunks) == 11


def test_only_null_keys_still_has_an_open_range() -> None:
    chunks = ranges_from_boundaries(COLS, TYPES, [], [], 9)
    assert [c.range.nulls for c in chunks] == [False, True]
    assert chunks[0].range.lower is None and chunks[0].range.upper is None
    assert [c.estimated_rows for c in chunks] == [0, 9]


def test_empty_table_is_one_whole_table_chunk() -> None:
    chunks = ranges_from_boundaries(COLS, TYPES, [], [], 0)
    assert chunks == [whole_table_chunk()]
    assert chunks[0].range.lower is None and chunks[0].range.upper is None
    assert chunks[0].range.columns == ()


def test_single_boundary_is_one_open_range() -> None:
    chunks = ranges_from_boundaries(COLS, TYPES, [("42",)], [10], 0)
    assert len(chunks) == 1
    assert chunks[0].range == ChunkRange(COLS, TYPES)


def test_single_range_chunks() -> None:
    assert single_range_chunks(COLS, TYPES, 0, 0) == [whole_table_chunk()]
    chunks = single_range_chunks(COLS, TYPES, 50, 2)
    assert [(c.chunk_id, c.range.nulls, c.estimated_rows) for c in chunks] == [
        (1, False, 50),
        (2, True, 2),
    ]


def test_whole_table_chunk_round_trips_through_json() -> None:
    c = whole_table_chunk(12)
    assert c.chunk_id == 1 and c.estimated_rows == 12
    assert ChunkRange.from_json(c.range.to_json()) == c.range


@pytest.mark.parametrize(
    ("cols", "types", "bounds", "counts"),
    [
        (COLS, (), [], []),
        (COLS, TYPES, [("1",)], []),
        (COLS, TYPES, [("1", "2")], [1]),
    ],
)
def test_inconsistent_input_is_rejected(cols, types, bounds, counts) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        ranges_from_boundaries(cols, types, bounds, counts, 0)


# --- boundaries from a sample, and equal-width integer cuts ------------------------------------


def _is_partition_of(chunks: list, keys: list[int]) -> bool:  # type: ignore[type-arg]
    """Every key falls in exactly one chunk's [lower, upper) (integer keys, no NULLs)."""
    for k in keys:
        hits = [
            c
            for c in chunks
            if (c.range.lower is None or k >= int(c.range.lower[0]))
            and (c.range.upper is None or k < int(c.range.upper[0]))
        ]
        if len(hits) != 1:
            return False
    return True


def test_sample_quantiles_cut_evenly_and_estimate_rows() -> None:
    sample = [(str(v),) for v in range(0, 1000, 10)]  # 100 sorted values
    bounds, counts = sample_cuts(sample, 4, 10_000)
    assert bounds == [("0",), ("250",), ("500",), ("750",)]
    assert counts == [2500] * 4
    chunks = ranges_from_boundaries(COLS, TYPES, bounds, counts, 0)
    assert [c.range.upper for c in chunks] == [("250",), ("500",), ("750",), None]
    assert _is_partition_of(chunks, list(range(-50, 1100)))


def test_skewed_sample_gives_narrow_ranges_where_keys_are_dense() -> None:
    # 90% of the keys under 100, the rest spread to 1,000,000.
    sample = sorted([(i % 100,) for i in range(90)] + [(100 + i * 10_000,) for i in range(10)])
    texts = [(str(v[0]),) for v in sample]
    bounds, counts = sample_cuts(texts, 10, 1000)
    chunks = ranges_from_boundaries(COLS, TYPES, bounds, counts, 0)
    widths = [int(c.range.upper[0]) - int(c.range.lower[0]) for c in chunks[1:-1]]
    assert min(widths) < 100 and sum(counts) == 1000
    assert _is_partition_of(chunks, [v[0] for v in sample] + [-1, 2_000_000])


def test_duplicates_in_the_sample_merge_buckets_and_keep_rows() -> None:
    sample = [("7",)] * 80 + [("8",)] * 10 + [("9",)] * 10
    bounds, counts = sample_cuts(sample, 10, 1000)
    chunks = ranges_from_boundaries(COLS, TYPES, bounds, counts, 5)
    lowers = [c.range.lower for c in chunks if not c.range.nulls]
    assert lowers == [None, ("8",), ("9",)]
    assert [c.estimated_rows for c in chunks] == [800, 100, 100, 5]
    assert chunks[-1].range.nulls


def test_sample_smaller_than_the_chunk_count_and_empty_sample() -> None:
    bounds, counts = sample_cuts([("a",), ("b",)], 10, 50)
    assert bounds == [("a",), ("b",)] and counts == [25, 25]
    assert sample_cuts([], 10, 0) == ([], [])
    # An empty table (or sample) with NULL keys still yields the open range and the NULL chunk.
    chunks = ranges_from_boundaries(COLS, TYPES, *sample_cuts([], 10, 0), 3)
    assert [(c.range.nulls, c.estimated_rows) for c in chunks] == [(False, 0), (True, 3)]
    assert ranges_from_boundaries(COLS, TYPES, *sample_cuts([], 3, 0), 0) == [whole_table_chunk()]


def test_even_integer_cuts_partition_the_range() -> None:
    bounds, counts = even_integer_cuts(-7, 92, 4, 100)
    assert bounds == [("-7",), ("18",), ("43",), ("68",)] and counts == [25] * 4
    chunks = ranges_from_boundaries(COLS, TYPES, bounds, counts, 0)
    assert _is_partition_of(chunks, list(range(-20, 120)))
    # More chunks than integers in the range: one per value.
    assert even_integer_cuts(5, 7, 10, 3) == ([("5",), ("6",), ("7",)], [1, 1, 1])
    with pytest.raises(ValueError):
        even_integer_cuts(5, 4, 2, 0)


def test_dense_means_half_filled_and_possibly_unique() -> None:
    assert is_dense(1000, 1, 1000, 0.5)
    assert is_dense(500, 1, 1000, 0.5)
    assert not is_dense(499, 1, 1000, 0.5)
    assert not is_dense(10_000, 0, 29_997, 0.5)  # ids x 3: a third filled
    assert not is_dense(2000, 1, 1000, 0.5)  # more rows than values: duplicates
