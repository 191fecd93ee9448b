"""ranges_from_boundaries: open ends, merged duplicates, the nulls chunk, empty tables."""

from __future__ import annotations

import pytest

from snowpg.model import ChunkRange
from snowpg.plan.chunking import ranges_from_boundaries, single_range_chunks, whole_table_chunk

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
