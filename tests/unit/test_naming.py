"""Snowflake names -> PostgreSQL identifiers."""

from __future__ import annotations

import hashlib

import pytest

from snowpg.errors import ConfigError
from snowpg.names import (
    PG_MAX_IDENTIFIER_BYTES,
    map_identifiers,
    rename_reason,
    target_identifier,
)


def sha8(name: str) -> str:
    return hashlib.sha1(name.encode("utf-8")).hexdigest()[:8]


@pytest.mark.parametrize(
    ("snowflake", "postgres"),
    [
        ("PAYER_ID", "payer_id"),
        ("PAYER ID", "payer id"),
        ("Payer Id", "Payer Id"),
        ("payer_id", "payer_id"),
        ("camelCase", "camelCase"),
        ("A1", "a1"),
        ("_1", "_1"),
        ("ÄNDERUNG", "änderung"),
        ("Größe", "Größe"),
        ('QUOTE"NAME', 'quote"name'),
        ("X" * 63, "x" * 63),
    ],
)
def test_target_identifier(snowflake: str, postgres: str) -> None:
    assert target_identifier(snowflake) == postgres


def test_long_name_is_cut_with_hash_of_full_name() -> None:
    name = "C" * 70
    out = target_identifier(name)
    assert out == "c" * 54 + "_" + sha8(name)
    assert len(out.encode()) == PG_MAX_IDENTIFIER_BYTES


def test_long_names_with_same_prefix_stay_distinct_and_stable() -> None:
    a, b = "A" * 64 + "_ONE", "A" * 64 + "_TWO"
    assert target_identifier(a) != target_identifier(b)
    assert target_identifier(a) == target_identifier(a)


def test_cut_never_splits_a_multibyte_character() -> None:
    name = "Ä" * 40  # 80 bytes; a cut at byte 54 would fall inside a character
    out = target_identifier(name)
    assert len(out.encode("utf-8")) <= PG_MAX_IDENTIFIER_BYTES
    assert out == "ä" * 27 + "_" + sha8(name)
    out.encode("utf-8").decode("utf-8")  # valid UTF-8


def test_mixed_case_long_name_keeps_its_case() -> None:
    name = "Column " * 12
    out = target_identifier(name)
    assert out.startswith("Column Column")
    assert out.endswith("_" + sha8(name))


def test_map_identifiers_maps_in_order() -> None:
    assert map_identifiers(["ID", "Payer Id", "AMOUNT"]) == {
        "ID": "id",
        "Payer Id": "Payer Id",
        "AMOUNT": "amount",
    }


def test_map_identifiers_refuses_two_names_with_one_target() -> None:
    with pytest.raises(ConfigError) as info:
        map_identifiers(["ID", "id"])
    text = str(info.value)
    assert '"ID"' in text and '"id"' in text and "both become" in text
    assert "rename" in text and "create the target table yourself" in text


@pytest.mark.parametrize(
    ("snowflake", "postgres"),
    [("PAYER_ID", "PAYER_ID"), ("Payer Id", "Payer Id"), ("x", "x"), ("Ä" * 40, None)],
)
def test_preserve_keeps_exact_names_but_still_shortens(
    snowflake: str, postgres: str | None
) -> None:
    got = target_identifier(snowflake, "preserve")
    if postgres is None:
        assert len(got.encode()) <= PG_MAX_IDENTIFIER_BYTES and got.startswith("Ä")
        assert got.endswith("_" + sha8(snowflake))
    else:
        assert got == postgres


def test_preserve_lets_names_differing_in_case_coexist() -> None:
    assert map_identifiers(["ID", "id"], "preserve") == {"ID": "ID", "id": "id"}
    with pytest.raises(ConfigError, match='"ID" and "id"'):
        map_identifiers(["ID", "id"])


@pytest.mark.parametrize(
    ("snowflake", "reason"),
    [
        ("PAYER_ID", "lower-cased"),
        ("Payer Id", None),
        ("A" * 70, "lower-cased, shortened to 63 bytes with a hash suffix"),
        ("a" * 70, "shortened to 63 bytes with a hash suffix"),
    ],
)
def test_rename_reason_for_the_plan_report(snowflake: str, reason: str | None) -> None:
    assert rename_reason(snowflake, target_identifier(snowflake)) == reason
