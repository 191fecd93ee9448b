"""Pure checks of the verification SQL: categories, chunk predicates, grouped checksums, keys."""

from __future__ import annotations

import pytest

from snowpg import checksum_spec
from snowpg.checksum_spec import ChecksumSpec, VerifyColumn
from snowpg.errors import ConfigError
from snowpg.model import ChunkRange, SourceColumn, SourceTable
from snowpg.postgres.checksums import pg_checksum, pg_checksums, pg_chunk_where
from snowpg.snowflake.checksums import sf_checksum, sf_checksums
from snowpg.verify import queries


@pytest.mark.parametrize(
    ("data_type", "category"),
    [
        ("NUMBER(38,0)", "number"),
        ("NUMBER(12,2)", "number"),
        ("FLOAT", "float"),
        ("VARCHAR", "text"),
        ("BOOLEAN", "boolean"),
        ("DATE", "date"),
        ("TIME", "time"),
        ("TIMESTAMP_NTZ", "timestamp"),
        ("TIMESTAMP_TZ", "timestamptz"),
        ("TIMESTAMP_LTZ", "timestamptz"),
        ("BINARY", "binary"),
        ("VARIANT", "json"),
        ("OBJECT", "json"),
        ("ARRAY(NUMBER)", "json"),
        ("GEOGRAPHY", "other"),
    ],
)
def test_category(data_type: str, category: str) -> None:
    assert checksum_spec.category(data_type) == category


def _spec(*cols: tuple[str, str, str]) -> ChecksumSpec:
    vcols = tuple(VerifyColumn(s, t, ty) for s, t, ty in cols)
    src = SourceTable("DB", "PUBLIC", "T", tuple(SourceColumn(s, ty) for s, _t, ty in cols))
    return ChecksumSpec(src, None, "public", "t", vcols)


SPEC = _spec(
    ("ID", "id", "NUMBER(38,0)"), ("Name", "Name", "VARCHAR"), ("TS", "ts", "TIMESTAMP_TZ")
)


def test_pg_chunk_where_orders_text_by_code_point_and_tz_as_utc() -> None:
    r = ChunkRange(("Name", "TS"), ("VARCHAR", "TIMESTAMP_TZ"), ("a", "2020-01-01"), ("b", "2021"))
    where, params = pg_chunk_where(SPEC, r)
    text = where.as_string(None)
    assert '("Name" COLLATE "C")' in text and "(\"ts\" AT TIME ZONE 'UTC')" in text
    assert text.count(">=") == 1 and text.count(" < ") == 1
    assert params == ["a", "2020-01-01", "b", "2021"]


def test_pg_chunk_where_null_chunk_and_whole_table() -> None:
    where, params = pg_chunk_where(SPEC, ChunkRange(("ID",), ("NUMBER(38,0)",), nulls=True))
    assert where.as_string(None) == '"id" IS NULL' and params == []
    where, params = pg_chunk_where(SPEC, ChunkRange())
    assert where.as_string(None) == "TRUE" and params == []


def test_unloaded_chunk_key_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match="OTHER"):
        pg_chunk_where(SPEC, ChunkRange(("OTHER",), ("NUMBER(38,0)",), ("1",), None))


def test_grouped_checksums_keep_each_chunks_parameters_apart() -> None:
    # Not consecutive (a gap between 10 and 20): every chunk's own predicate, under their OR.
    chunks = [
        (1, ChunkRange(("ID",), ("NUMBER(38,0)",), None, ("10",))),
        (2, ChunkRange(("ID",), ("NUMBER(38,0)",), ("20",), None)),
    ]
    sf_sql, sf_params = sf_checksums(SPEC, chunks)
    assert sf_params == {"c1_0": "10", "c2_0": "20"}
    assert "THEN 1" in sf_sql and "THEN 2" in sf_sql and sf_sql.endswith("GROUP BY g")
    pg_sql, pg_params = pg_checksums(SPEC, chunks)
    assert pg_params == ["10", "20", "10", "20"]  # once in the CASE, once in the WHERE
    assert "GROUP BY g" in pg_sql.as_string(None)


def test_consecutive_chunks_are_one_range_and_a_binary_search() -> None:
    t = ("NUMBER(38,0)",)
    bounds = [None, *[(str(10 * i),) for i in range(1, 8)], None]
    chunks = [(i + 1, ChunkRange(("ID",), t, bounds[i], bounds[i + 1])) for i in range(8)]
    chunks.append((9, ChunkRange(("ID",), t, nulls=True)))
    split = checksum_spec.contiguous_split(chunks)
    assert split is not None and [i for i, _r in split[1]] == [9]
    sf_sql, sf_params = sf_checksums(SPEC, chunks)
    # 8 ranges: 7 comparisons in the search tree (a row passes 3 of them); the WHERE is the
    # whole span (no bound here) or the NULL chunk.
    assert sorted(sf_params.values(), key=int) == [str(10 * i) for i in range(1, 8)]
    assert '"ID" IS NULL' in sf_sql and " OR " in sf_sql
    pg_sql, pg_params = pg_checksums(SPEC, chunks)
    assert len(pg_params) == 7  # the range has no bound; the search has 7
    assert '"id" IS NULL' in pg_sql.as_string(None)
    # A gap, a different key, or an open upper bound before the end: not consecutive.
    gap = [chunks[0], chunks[2]]
    assert checksum_spec.contiguous_split(gap) is None
    assert checksum_spec.contiguous_split(chunks[:1]) is None


def test_identifiers_are_quoted_on_both_sides() -> None:
    spec = _spec(('a"b; DROP TABLE x', 'a"b; DROP TABLE x', "VARCHAR"))
    sf_sql, _ = sf_checksum(spec, ChunkRange())
    assert '"a""b; DROP TABLE x"' in sf_sql
    pg_sql, _ = pg_checksum(spec, ChunkRange())
    assert '"a""b; DROP TABLE x"' in pg_sql.as_string(None)


@pytest.mark.parametrize(
    ("key_text", "names", "shown"),
    [
        ("2:42", ["ID"], "ID=42"),
        ("3:a|b|N", ["K", "L"], "K=a|b, L=NULL"),
        ("0:|4:x:yz", ["K", "L"], "K=, L=x:yz"),
        ("garbage", ["K"], "garbage"),
    ],
)
def test_key_display(key_text: str, names: list[str], shown: str) -> None:
    assert queries.key_display(key_text, names) == shown
