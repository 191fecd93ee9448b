"""What `snowpg init` proposes for each table: key, chunk estimate, entry, the whole file."""

from __future__ import annotations

from snowpg.config import parse_settings
from snowpg.model import SourceColumn, SourceTable
from snowpg.plan import suggest

ENV = {
    "SNOWFLAKE_ACCOUNT": "a",
    "SNOWFLAKE_USER": "u",
    "SNOWFLAKE_PASSWORD": "p",
    "POSTGRES_HOST": "/tmp",
    "POSTGRES_USER": "pg",
}


def _col(name: str, data_type: str, position: int, nullable: bool = True) -> SourceColumn:
    return SourceColumn(name, data_type, nullable=nullable, position=position)


def _table(name: str, *cols: SourceColumn, **kw: object) -> SourceTable:
    return SourceTable("DB", "S", name, cols, **kw)  # type: ignore[arg-type]


def test_key_is_the_primary_key_else_the_first_not_null_number_date_or_timestamp() -> None:
    keyed = _table("A", _col("ID", "NUMBER", 1, False), primary_key=("ID",))
    assert suggest.suggest_key(keyed) == (("ID",), "primary key")
    nokey = _table(
        "B",
        _col("NAME", "TEXT", 1, False),  # text is not suggested
        _col("AMOUNT", "NUMBER", 2),  # nullable
        _col("LOADED_AT", "TIMESTAMP_NTZ", 3, False),
        _col("N", "NUMBER", 4, False),
    )
    assert suggest.suggest_key(nokey) == (("LOADED_AT",), "suggested")
    nothing = _table("C", _col("DOC", "VARIANT", 1, False), _col("X", "NUMBER", 2))
    assert suggest.suggest_key(nothing) == ((), "chosen when planning")


def test_chunks_estimate_the_default_sizing_from_the_catalog() -> None:
    cols = (_col("ID", "NUMBER", 1, False), _col("AMOUNT", "NUMBER(12,2)", 2))
    unknown = suggest.Suggestion(_table("U", *cols), "u", ("ID",), "primary key")
    assert unknown.chunks is None
    small = suggest.Suggestion(_table("S", *cols, row_count=1_000), "s", ("ID",), "primary key")
    assert small.chunks == 1
    # NUMBER without a declared precision is 38 digits: 16 + 1 bytes a column, 34 a row.
    # 128 MiB hold 3,947,580 rows, 16 MiB 493,447. 10M rows: ceil(10M / 3,947,580) = 3 chunks,
    # raised to min(4 x 4 threads, 10M // 493,447 = 20) = 16.
    big = suggest.Suggestion(_table("B", *cols, row_count=10_000_000), "b", ("ID",), "primary key")
    assert big.chunks == 16
    huge = suggest.Suggestion(_table("H", *cols, row_count=1_000_000_000), "h", ("ID",), "x")
    assert huge.chunks == 254  # ceil(1e9 / 3,947,580): more than the split needs


def test_entries_load_as_a_config_with_unique_targets_and_quoted_names() -> None:
    tables = [
        _table("ORDERS", _col("ID", "NUMBER", 1, False), primary_key=("ID",), row_count=5),
        _table("Orders", _col("D", "DATE", 1, False), row_count=3),
        _table("big", _col("ID", "NUMBER", 1, False), row_count=10_000_000, bytes=400 * 2**20),
    ]
    found = suggest.suggest(tables)
    assert [s.target for s in found] == ["orders", "orders_2", "big"]
    entries = [s.entry() for s in found]
    assert entries[0] == {"enabled": True, "source": "ORDERS", "target": "orders"}
    assert entries[1]["chunking_columns"] == ["D"]
    assert entries[2] == {
        "enabled": True,
        "source": '"big"',
        "target": "big",
        "chunking_columns": ["ID"],
    }
    doc = suggest.config_for(
        found,
        source_name="s",
        database="DB",
        schema="S",
        target_database="w",
        target_schema="s",
    )
    settings = parse_settings(doc, ENV)
    src = settings.sources[0]
    assert [t.source for t in src.tables] == ["ORDERS", "Orders", "big"]
    assert [t.target_name for t in src.tables] == ["orders", "orders_2", "big"]
    assert src.tables[2].batch_size is None  # the default sizing decides when planning
