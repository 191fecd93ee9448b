"""Which source column loads into which target column."""

from __future__ import annotations

import pytest

from snowpg.errors import ConfigError, DataError
from snowpg.model import ColumnMapping, SourceColumn, SourceTable, TargetColumn
from snowpg.plan.columns import ColumnMatch, for_new_table, match_existing, target_primary_key


def table(*columns: SourceColumn, pk: tuple[str, ...] = ()) -> SourceTable:
    return SourceTable("DB", "PUBLIC", "CLAIMS", columns, primary_key=pk)


def col(name: str, data_type: str = "NUMBER", precision: int | None = 38) -> SourceColumn:
    return SourceColumn(name, data_type, precision=precision, scale=0)


def tcol(name: str, pg_type: str = "bigint") -> TargetColumn:
    return TargetColumn(name, pg_type)


def pairs(match: ColumnMatch) -> list[tuple[str, str]]:
    return [(m.source, m.target) for m in match.mappings]


def test_for_new_table_renames_and_types_every_column() -> None:
    src = table(
        col("ID"),
        SourceColumn("Payer Name", "TEXT", length=200),
        SourceColumn("PAYLOAD", "VARIANT"),
        pk=("ID",),
    )
    match = for_new_table(src)
    assert match.mappings == (
        ColumnMapping("ID", "id", "NUMBER", "numeric(38,0)"),
        ColumnMapping("Payer Name", "Payer Name", "TEXT", "varchar(200)"),
        ColumnMapping("PAYLOAD", "payload", "VARIANT", "jsonb"),
    )
    assert match.skipped_source == () and match.unfilled_target == ()
    assert target_primary_key(src, match) == ("id",)


def test_for_new_table_refuses_names_that_collide() -> None:
    with pytest.raises(ConfigError, match='"ID" and "id"'):
        for_new_table(table(col("ID"), col("id")))


def test_for_new_table_refuses_unknown_type() -> None:
    with pytest.raises(DataError, match="INTERVAL"):
        for_new_table(table(col("ID"), SourceColumn("SPAN", "INTERVAL")))


def test_match_existing_exact_then_case_insensitive_in_source_order() -> None:
    src = table(col("B"), col("Mixed"), col("a"), col("ONLY_SOURCE"))
    target = [tcol("a", "integer"), tcol("b", "text"), tcol("Mixed"), tcol("only_target")]
    match = match_existing(src, target)
    assert match.mappings == (
        ColumnMapping("B", "b", "NUMBER", "text"),
        ColumnMapping("Mixed", "Mixed", "NUMBER", "bigint"),
        ColumnMapping("a", "a", "NUMBER", "integer"),
    )
    assert match.skipped_source == ("ONLY_SOURCE",)
    assert match.unfilled_target == ("only_target",)


def test_exact_match_wins_over_case_insensitive() -> None:
    match = match_existing(table(col("ID")), [tcol("id"), tcol("ID")])
    assert pairs(match) == [("ID", "ID")]
    assert match.unfilled_target == ("id",)


def test_ambiguous_case_insensitive_match_is_refused() -> None:
    with pytest.raises(ConfigError) as info:
        match_existing(table(col("Id")), [tcol("id"), tcol("ID")])
    text = str(info.value)
    assert '"Id"' in text and '"id"' in text and '"ID"' in text and "DB.PUBLIC.CLAIMS" in text


def test_two_source_columns_for_one_target_are_refused() -> None:
    with pytest.raises(ConfigError, match=r'"id" and "ID" .* both match target column "id"'):
        match_existing(table(col("ID"), col("id")), [tcol("id")])


def test_long_name_finds_the_shortened_column_an_earlier_run_created() -> None:
    long_name = "VERY_LONG_" * 8
    created = for_new_table(table(col(long_name))).mappings[0].target
    assert created != long_name.lower()
    match = match_existing(table(col(long_name)), [tcol(created)])
    assert pairs(match) == [(long_name, created)]


def test_no_matching_column_names_the_table() -> None:
    with pytest.raises(ConfigError, match=r"no column of DB\.PUBLIC\.CLAIMS matches"):
        match_existing(table(col("A")), [tcol("z")])


def test_primary_key_in_key_order_and_empty_when_a_key_column_is_skipped() -> None:
    src = table(col("A"), col("B"), col("C"), pk=("C", "A"))
    assert target_primary_key(src, match_existing(src, [tcol("a"), tcol("c")])) == ("c", "a")
    assert target_primary_key(src, match_existing(src, [tcol("a"), tcol("b")])) == ()
    assert target_primary_key(table(col("A")), for_new_table(table(col("A")))) == ()


# --- renames: column_mapping and source_watermark -> target_watermark --------------------------


def test_renames_for_joins_column_mapping_and_the_watermark_pair() -> None:
    from snowpg.config.tables import TableConfig
    from snowpg.plan.columns import renames_for

    t = TableConfig(
        source="CLAIMS", source_watermark="UPDATED_AT", target_watermark="last_modified",
        column_mapping={"PAYER_CD": "payer_code"},
    )  # fmt: skip
    assert renames_for(t) == {"PAYER_CD": "payer_code", "UPDATED_AT": "last_modified"}
    same = TableConfig(
        source="CLAIMS", source_watermark="UPDATED_AT", target_watermark="UPDATED_AT"
    )
    assert renames_for(same) == {}


def test_for_new_table_applies_renames() -> None:
    src = table(col("ID"), col("UPDATED_AT"), col("PAYER_CD"))
    match = for_new_table(src, renames={"UPDATED_AT": "last_modified", "PAYER_CD": "payer_code"})
    assert pairs(match) == [
        ("ID", "id"),
        ("UPDATED_AT", "last_modified"),
        ("PAYER_CD", "payer_code"),
    ]


def test_for_new_table_refuses_a_rename_onto_another_column() -> None:
    with pytest.raises(ConfigError, match='"ID" and "UPDATED_AT" would both load into "id"'):
        for_new_table(table(col("ID"), col("UPDATED_AT")), renames={"UPDATED_AT": "id"})


def test_rename_of_a_column_snowflake_lacks_is_refused() -> None:
    with pytest.raises(ConfigError, match="column UPDATED named in column_mapping"):
        for_new_table(table(col("ID")), renames={"UPDATED": "x"})


def test_match_existing_applies_renames_and_leaves_out_the_displaced_column() -> None:
    src = table(col("ID"), col("LOAD_TS"), col("UPDATED_AT"))
    target = [tcol("id"), tcol("updated_at")]
    match = match_existing(src, target, renames={"LOAD_TS": "updated_at"})
    assert pairs(match) == [("ID", "id"), ("LOAD_TS", "updated_at")]
    assert match.skipped_source == ("UPDATED_AT",)


def test_match_existing_refuses_a_rename_to_a_missing_target_column() -> None:
    with pytest.raises(ConfigError, match='renamed to "last_modified", which the existing'):
        match_existing(table(col("ID"), col("U")), [tcol("id")], renames={"U": "last_modified"})
