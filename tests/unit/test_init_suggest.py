"""What `snowpg init` proposes for each table: key, batch size, entry, the whole file."""

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


def test_batch_size_aims_at_16_mib_of_storage_per_chunk() -> None:
    mib = 1024 * 1024
    assert suggest.suggest_batch_size(None, None) is None
    assert suggest.suggest_batch_size(20_000, 500 * mib) is None  # one default chunk
    # 10M rows in 400 MiB: 16 MiB hold 400,000 rows.
    assert suggest.suggest_batch_size(10_000_000, 400 * mib) == 400_000
    # 3M rows in 700 MiB: 16 MiB hold 68,571 rows, written with two significant digits.
    assert suggest.suggest_batch_size(3_000_000, 700 * mib) == 68_000
    assert suggest.suggest_batch_size(1_000_000_000, mib) == suggest.MAX_BATCH
    assert suggest.suggest_batch_size(1_000_000, 100_000 * mib) is None  # wide rows: default


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
    assert entries[2]["source"] == '"big"' and entries[2]["batch_size"] == 400_000
    assert found[2].chunks == 25
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
    assert src.tables[2].batch_size == 400_000
