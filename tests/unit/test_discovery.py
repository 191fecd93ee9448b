"""Discovery: "tables": "*", include/exclude patterns, views, explicit overrides, the hash."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from snowpg.config import Settings, SourceConfig, parse_settings
from snowpg.config.discover import discovered_tables, expand, matches
from snowpg.config.load import load_snowflake_settings
from snowpg.errors import ConfigError
from snowpg.model import SourceColumn, SourceTable
from snowpg.plan.discovery import discover, resolve_tables, with_tables
from snowpg.snowflake.schema_catalog import SchemaCatalog

ENV = {
    "SNOWFLAKE_ACCOUNT": "xy12345",
    "SNOWFLAKE_USER": "loader",
    "SNOWFLAKE_PASSWORD": "sf-secret",
    "POSTGRES_HOST": "/tmp",
    "POSTGRES_USER": "pg",
}
SCHEMA = [
    ("FACT_SALES", "BASE TABLE"),
    ("FACT_RETURNS", "BASE TABLE"),
    ("FACT_SALES_BAK", "BASE TABLE"),
    ("DIM_PAYER", "BASE TABLE"),
    ("TMP_LOAD", "BASE TABLE"),
    ("Mixed_Case", "BASE TABLE"),
    ("V_SALES", "VIEW"),
]


def _settings(**source: Any) -> Settings:
    src = {
        "source_name": "bi",
        "source_sf_database": "ANALYTICS",
        "source_sf_schema": "BI",
        "target_pg_database": "warehouse",
        "target_pg_schema": "bi",
        **source,
    }
    return parse_settings({"sources": [src]}, ENV)


def _source(**source: Any) -> SourceConfig:
    return _settings(**source).sources[0]


def _names(source: SourceConfig, schema: list[tuple[str, str]] = SCHEMA) -> list[str]:
    return [t.source for t in discovered_tables(source, schema)]


def _catalog(schema: list[tuple[str, str]] = SCHEMA) -> SchemaCatalog:
    col = (SourceColumn("ID", "NUMBER", 38, 0, nullable=False, position=1),)
    tables = {n: SourceTable("ANALYTICS", "BI", n, col, kind=k) for n, k in schema}
    return SchemaCatalog("ANALYTICS", "BI", tables)


def test_star_takes_every_table_and_skips_views() -> None:
    src = _source(tables="*")
    assert src.discovers and src.include_tables == ["*"] and src.tables == []
    assert _names(src) == [
        "DIM_PAYER",
        "FACT_RETURNS",
        "FACT_SALES",
        "FACT_SALES_BAK",
        "Mixed_Case",
        "TMP_LOAD",
    ]
    found = expand(src, SCHEMA)
    assert found.skipped_views == ["V_SALES"]
    with_views = _source(tables="*", include_views=True)
    assert "V_SALES" in _names(with_views)


def test_patterns_match_ignoring_case_and_excludes_drop() -> None:
    assert matches("FACT_SALES", ["fact_*"]) and matches("fact_sales", ["FACT_?ALES"])
    assert not matches("DIM_PAYER", ["FACT_*", "TMP_*"])
    src = _source(include_tables=["fact_*", "dim_*"], exclude_tables=["*_bak"])
    assert _names(src) == ["DIM_PAYER", "FACT_RETURNS", "FACT_SALES"]
    found = expand(src, SCHEMA)
    assert found.excluded == ["FACT_SALES_BAK"]
    assert found.unmatched == []


def test_explicit_entries_win_over_discovered_ones() -> None:
    src = _source(
        tables=[
            {"source": "fact_sales", "batch_size": 500, "target": "sales"},  # other case
            {"source": "TMP_LOAD"},  # excluded by a pattern, kept as explicit
            {"source": "DIM_PAYER", "enabled": False},  # leaves the discovered table out
        ],
        include_tables=["*"],
        exclude_tables=["TMP_*", "*_BAK"],
    )
    tables = discovered_tables(src, SCHEMA)
    assert [t.source for t in tables] == [
        "fact_sales",
        "TMP_LOAD",
        "DIM_PAYER",
        "FACT_RETURNS",
        "Mixed_Case",
    ]
    assert tables[0].batch_size == 500 and tables[0].target_name == "sales"
    assert not tables[2].enabled
    assert [t.target_name for t in tables[3:]] == ["fact_returns", "mixed_case"]
    assert [t.source for t in resolve_tables(src, _catalog())] == [
        "fact_sales",
        "TMP_LOAD",
        "FACT_RETURNS",
        "Mixed_Case",
    ]


def test_identifier_case_reaches_discovered_tables() -> None:
    settings = parse_settings(
        {
            "identifier_case": "preserve",
            "sources": [
                {
                    "source_name": "bi",
                    "source_sf_database": "A",
                    "source_sf_schema": "B",
                    "target_pg_database": "w",
                    "target_pg_schema": "b",
                    "tables": "*",
                }
            ],
        },
        ENV,
    )
    tables = discovered_tables(settings.sources[0], SCHEMA)
    assert "Mixed_Case" in [t.target_name for t in tables]
    assert "FACT_SALES" in [t.target_name for t in tables]


def test_a_source_that_lists_its_tables_is_unchanged() -> None:
    src = _source(tables=[{"source": "DIM_PAYER"}])
    assert not src.discovers
    assert _names(src) == ["DIM_PAYER"]
    assert with_tables(src, _catalog()) is src


def test_filter_names_discovered_tables_and_refuses_unknown_ones() -> None:
    src = _source(tables="*")
    assert [t.source for t in resolve_tables(src, _catalog(), "fact_sales,dim_payer")] == [
        "DIM_PAYER",
        "FACT_SALES",
    ]
    with pytest.raises(ConfigError, match="unknown table 'NOPE'"):
        resolve_tables(src, _catalog(), ["NOPE"])


def test_unmatched_patterns_warn_and_nothing_at_all_is_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    src = _source(include_tables=["FACT_*", "NOTHING_*"], exclude_tables=["ZZZ*"])
    found = discover(src, _catalog())
    assert found.unmatched == ["NOTHING_*", "ZZZ*"]
    assert "'NOTHING_*' matches no table of ANALYTICS.BI" in caplog.text
    with pytest.raises(ConfigError, match=r"no table to copy: tables matching \"NOTHING_\*\""):
        discover(_source(include_tables=["NOTHING_*"]), _catalog())
    with pytest.raises(ConfigError, match="no table to copy"):
        discover(_source(include_tables=["V_*"]), _catalog())  # only a view, views skipped


def test_two_discovered_tables_with_one_target_are_refused() -> None:
    src = _source(tables="*")
    with pytest.raises(ConfigError, match=r"both load into bi\.orders") as exc:
        discovered_tables(src, [("Orders", "BASE TABLE"), ("ORDERS", "BASE TABLE")])
    assert "exclude_tables" in str(exc.value)
    renamed = _source(tables=[{"source": "Orders", "target": "orders_mixed"}], include_tables=["*"])
    assert (
        len(discovered_tables(renamed, [("Orders", "BASE TABLE"), ("ORDERS", "BASE TABLE")])) == 2
    )


def test_fixed_list_leaves_tables_made_after_the_run_started() -> None:
    src = _source(tables=[{"source": "TMP_LOAD"}], include_tables=["FACT_*"])
    found = discover(src, _catalog(), fixed=["fact_sales", "TMP_LOAD"])
    assert [t.source for t in found.tables] == ["TMP_LOAD", "FACT_SALES"]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ({"tables": []}, 'names no table: list them in "tables", or write "tables": "*"'),
        ({}, "names no table"),
        ({"tables": "all"}, '"tables" is \'all\': write a list of table objects, or "*"'),
        (
            {"tables": [{"source": "A"}], "exclude_tables": ["X*"]},
            "has 'exclude_tables' but discovers no tables",
        ),
        ({"tables": [{"source": "A"}], "include_views": True}, "has 'include_views' but"),
        ({"tables": "*", "include_tables": "FACT_*"}, "include_tables: expected a list"),
        ({"tables": "*", "exclude_tables": [""]}, "exclude_tables[0]: must not be empty"),
        ({"tables": "*", "include_table": ["A"]}, "did you mean 'include_tables'"),
    ],
)
def test_bad_discovery_settings_name_the_field_and_the_fix(
    source: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as exc:
        _source(**source)
    assert message in str(exc.value)


def test_star_and_include_tables_together() -> None:
    src = _source(tables="*", include_tables=["FACT_*"])
    assert src.include_tables == ["*", "FACT_*"]
    assert len(_names(src)) == 6


def test_config_hash_follows_the_config_text_not_the_schema() -> None:
    text = {"tables": "*", "exclude_tables": ["TMP_*"]}
    a, b = _settings(**text), _settings(**text)
    assert a.config_hash(a.sources[0]) == b.config_hash(b.sources[0])
    same = _settings(tables="*", exclude_tables=["tmp_*"])
    assert a.config_hash(a.sources[0]) == same.config_hash(same.sources[0])
    hashes = {
        a.config_hash(a.sources[0]),
        *(
            s.config_hash(s.sources[0])
            for s in (
                _settings(tables="*"),
                _settings(tables="*", exclude_tables=["TMP_*"], include_views=True),
                _settings(
                    tables=[{"source": "DIM_PAYER", "enabled": False}],
                    include_tables=["*"],
                    exclude_tables=["TMP_*"],
                ),
                _settings(tables=[{"source": "DIM_PAYER"}]),
            )
        ),
    }
    assert len(hashes) == 5
    # An explicit list hashes as before discovery existed: no "discover" block in its shape.
    explicit = _settings(tables=[{"source": "DIM_PAYER"}])
    disabled = _settings(tables=[{"source": "DIM_PAYER"}, {"source": "X", "enabled": False}])
    assert explicit.config_hash(explicit.sources[0]) == disabled.config_hash(disabled.sources[0])


def test_materialized_source_reads_like_an_explicit_list() -> None:
    src = _source(tables=[{"source": "FACT_SALES", "batch_size": 7}], include_tables=["FACT_*"])
    out = with_tables(src, _catalog())
    assert not out.discovers
    assert [t.source for t in out.select_tables(None)] == [
        "FACT_SALES",
        "FACT_RETURNS",
        "FACT_SALES_BAK",
    ]
    assert out.table("fact_returns").target_name == "fact_returns"
    assert src.tables[0].batch_size == 7 and len(src.tables) == 1  # the original is untouched


def test_snowflake_settings_alone_from_the_environment_or_a_file(tmp_path: Path) -> None:
    sf, blocks = load_snowflake_settings(None, ENV)
    assert sf.account == "xy12345" and blocks == {}
    cfg = tmp_path / "c.json"
    cfg.write_text(
        json.dumps(
            {
                "snowflake": {"account": "${ACC}", "user": "u", "password": "p"},
                "postgres": {"host": "${PGH}"},
                "sources": [],
            }
        )
    )
    sf, blocks = load_snowflake_settings(cfg, {"ACC": "from-env"})
    assert sf.account == "from-env"
    assert blocks == {
        "snowflake": {"account": "${ACC}", "user": "u", "password": "p"},
        "postgres": {"host": "${PGH}"},
    }
    with pytest.raises(ConfigError, match="Snowflake account missing: set SNOWFLAKE_ACCOUNT"):
        load_snowflake_settings(None, {})
