"""Pure pieces of incremental loading: window predicates, lag parsing, merge SQL, config keys."""

from __future__ import annotations

import pytest

from snowpg.config import Settings, parse_settings
from snowpg.copy import upsert
from snowpg.errors import ConfigError
from snowpg.model import ChunkRange
from snowpg.plan import watermark
from snowpg.sync import TableLag, lag_between, parse_lag, within


def test_window_predicate_bounds_and_escaping() -> None:
    p = watermark.window_predicate("Updated At", "TIMESTAMP_NTZ", "2024-01-01 00:00:00", "x'y")
    assert p == (
        "\"Updated At\" > CAST('2024-01-01 00:00:00' AS TIMESTAMP_NTZ)"
        " AND \"Updated At\" <= CAST('x''y' AS TIMESTAMP_NTZ)"
    )
    assert watermark.window_predicate("W", "NUMBER(38,0)", None, None) is None
    assert watermark.window_predicate("W", "NUMBER(38,0)", None, "5") == (
        "\"W\" <= CAST('5' AS NUMBER(38,0))"
    )
    # A source without any watermark left: nothing is new.
    empty = watermark.window_predicate("W", "NUMBER(38,0)", "5", None)
    assert empty is not None and empty.endswith("FALSE")
    tz = watermark.window_predicate("T", "TIMESTAMP_TZ", "2024-01-01 00:00:00", None)
    # The raw column, so Snowflake can prune; the UTC bound text is read in the UTC session.
    assert tz == "\"T\" > CAST('2024-01-01 00:00:00' AS TIMESTAMP_TZ) AND FALSE"


def test_combine_filters() -> None:
    assert watermark.combine_filters(None, None) is None
    assert watermark.combine_filters("a = 1", None) == "a = 1"
    assert watermark.combine_filters(None, "w > 1") == "w > 1"
    assert watermark.combine_filters("a = 1", "w > 1") == "(a = 1) AND (w > 1)"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("60s", 60.0), ("5m", 300.0), ("2h", 7200.0), ("1d", 86400.0), ("90", 90.0), ("500ms", 0.5)],
)
def test_parse_lag(text: str, seconds: float) -> None:
    assert parse_lag(text) == seconds


def test_parse_lag_rejects_garbage() -> None:
    with pytest.raises(ConfigError, match="--until-lag"):
        parse_lag("soon")


def test_lag_between_types() -> None:
    ts = "TIMESTAMP_NTZ"
    assert lag_between("2024-01-01 00:01:00.000000000", "2024-01-01 00:00:00", ts) == 60.0
    assert lag_between("2024-01-01 00:00:00", "2024-01-02 00:00:00", ts) == 0.0
    assert lag_between("2024-01-03", "2024-01-01", "DATE") == 2 * 86400.0
    assert lag_between("105", "100", "NUMBER(38,0)") == 5.0
    assert lag_between(None, None, ts) == 0.0  # empty source: nothing to catch up
    assert lag_between("105", None, "NUMBER(38,0)") is None  # never loaded
    lags = [
        TableLag("A", "public.a", "W", "2", "1", 1.0),
        TableLag("B", "public.b", "W", "1", None, None),
    ]
    assert not within(lags, 10) and within(lags[:1], 1) and not within(lags[:1], 0.5)


def _spec(**kw: object) -> upsert.UpsertSpec:
    base: dict[str, object] = {
        "source_keys": ("Region Code", "ID"),
        "target_keys": ("Region Code", "id"),
        "insert_only": False,
        "initial": False,
        "base_filter": None,
    }
    base.update(kw)
    return upsert.UpsertSpec(**base)  # type: ignore[arg-type]


def test_spec_from_metadata_round_trip() -> None:
    assert upsert.spec_from_metadata({"columns": []}) is None
    spec = upsert.spec_from_metadata(
        {"incremental": {"source_keys": ["K"], "target_keys": ["k"], "delete_from": 7}}
    )
    assert spec is not None and spec.target_keys == ("k",) and spec.merges
    assert upsert.is_delete_check(spec, 7) and not upsert.is_delete_check(spec, 6)
    assert not _spec(initial=True).merges and not _spec(target_keys=()).merges


def test_delete_range_matches_snowflake_semantics() -> None:
    rng = ChunkRange(
        columns=("Region Code", "ID"),
        types=("VARCHAR", "NUMBER(38,0)"),
        lower=("R0", "10"),
        upper=("R1", "5"),
    )
    text = upsert._pg_range(_spec(), rng).as_string(None)
    assert '"t"."Region Code" COLLATE "C" IS NOT NULL' in text
    assert (
        '("t"."Region Code" COLLATE "C" > CAST(\'R0\' AS text) OR '
        '("t"."Region Code" COLLATE "C" = CAST(\'R0\' AS text) AND '
        '"t"."id" >= CAST(\'10\' AS numeric)))'
    ) in text
    assert "CAST('5' AS numeric)" in text
    assert upsert._pg_range(_spec(), ChunkRange()).as_string(None) == "TRUE"
    nulls = ChunkRange(columns=("ID",), types=("NUMBER(38,0)",), nulls=True)
    assert (
        upsert._pg_range(_spec(source_keys=("ID",), target_keys=("id",)), nulls).as_string(None)
        == "FALSE"
    )


def _settings(table: dict[str, object]) -> dict[str, object]:
    return {
        "snowflake": {"account": "a", "user": "u", "password": "p"},
        "postgres": {"host": "h", "user": "u"},
        "sources": [
            {
                "source_name": "s",
                "source_sf_database": "D",
                "source_sf_schema": "S",
                "target_pg_database": "d",
                "target_pg_schema": "public",
                "tables": [{"source": "T", **table}],
            }
        ],
    }


def _parse(table: dict[str, object]) -> Settings:
    return parse_settings(_settings(table), {})


def test_config_delete_keys() -> None:
    t = _parse({"detect_deletes": True}).sources[0].tables[0]
    assert t.detect_deletes and t.delete_mode == "delete" and t.deleted_flag_column is None
    with pytest.raises(ConfigError, match="deleted_flag_column"):
        _parse({"detect_deletes": True, "delete_mode": "flag"})
    with pytest.raises(ConfigError, match="delete_mode"):
        _parse({"delete_mode": "purge"})
    flagged = _parse({"delete_mode": "flag", "deleted_flag_column": "is_deleted"})
    assert flagged.sources[0].tables[0].deleted_flag_column == "is_deleted"
