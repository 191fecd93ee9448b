"""Snowflake SQL text (quoting, chunk predicates, queries) and driver-error translation; no server.

The partition property test evaluates the *generated SQL text* with a small three-valued-logic
interpreter, so it checks what Snowflake would be sent, not a re-implementation of it.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
import snowflake.connector.errors as sf_errors

from snowpg.errors import SourceError, SourceUnavailable, TransientError
from snowpg.logs import register_secrets
from snowpg.model import ChunkRange, SourceColumn, SourceTable
from snowpg.plan.chunking import ranges_from_boundaries, sample_cuts
from snowpg.snowflake.errors import translate_sf_error
from snowpg.snowflake.statements import (
    chunk_predicate,
    count_sql,
    key_sample_sql,
    key_stats_sql,
    qualified,
    quote_ident,
    sample_distinct_sql,
    select_chunk_sql,
)

TABLE = SourceTable(
    database="ANALYTICS",
    schema="BI",
    name="DimPayer",
    columns=(SourceColumn("ID", "NUMBER", 38, 0), SourceColumn("Payer Id", "TEXT")),
    primary_key=("ID",),
)


# --- quoting ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "quoted"),
    [
        ("PAYER_ID", '"PAYER_ID"'),
        ("Payer Id", '"Payer Id"'),
        ('a"b', '"a""b"'),
        ('x"; DROP TABLE t; --', '"x""; DROP TABLE t; --"'),
        ('"', '""""'),
        ("50% off", '"50%% off"'),  # pyformat statements: a literal % is written %%
        ("%(p0)s", '"%%(p0)s"'),
    ],
)
def test_quote_ident(name: str, quoted: str) -> None:
    assert quote_ident(name) == quoted


def test_quote_ident_rejects_empty() -> None:
    with pytest.raises(ValueError):
        quote_ident("")


def test_qualified_quotes_every_part() -> None:
    assert qualified("db", 'S"x', "T t") == '"db"."S""x"."T t"'


# --- predicates --------------------------------------------------------------------------------


def test_predicate_whole_table_is_true() -> None:
    assert chunk_predicate(ChunkRange()) == ("TRUE", {})


def test_predicate_nulls_chunk() -> None:
    sql, params = chunk_predicate(ChunkRange(("a", "B c"), ("DATE", "VARCHAR"), nulls=True))
    assert sql == '("a" IS NULL OR "B c" IS NULL)'
    assert params == {}


def test_predicate_two_columns_expands_tuple_comparison() -> None:
    r = ChunkRange(("a", "b"), ("NUMBER(38,0)", "VARCHAR"), lower=("1", "x"), upper=("5", "y"))
    sql, params = chunk_predicate(r)
    # The leading column's own range comes first: a pruner cannot see through the OR chains.
    assert sql == (
        '"a" IS NOT NULL AND "b" IS NOT NULL'
        ' AND "a" >= CAST(%(p0)s AS NUMBER(38,0)) AND "a" <= CAST(%(p2)s AS NUMBER(38,0))'
        ' AND ("a" > CAST(%(p0)s AS NUMBER(38,0)) OR ("a" = CAST(%(p0)s AS NUMBER(38,0))'
        ' AND "b" >= CAST(%(p1)s AS VARCHAR)))'
        ' AND ("a" < CAST(%(p2)s AS NUMBER(38,0)) OR ("a" = CAST(%(p2)s AS NUMBER(38,0))'
        ' AND "b" < CAST(%(p3)s AS VARCHAR)))'
    )
    assert params == {"p0": "1", "p1": "x", "p2": "5", "p3": "y"}


def test_predicate_one_open_end_bounds_the_leading_column_once() -> None:
    r = ChunkRange(("a", "b"), ("DATE", "VARCHAR"), upper=("2020-01-02", "k"))
    sql, _ = chunk_predicate(r)
    assert sql == (
        '"a" IS NOT NULL AND "b" IS NOT NULL AND "a" <= CAST(%(p0)s AS DATE)'
        ' AND ("a" < CAST(%(p0)s AS DATE) OR ("a" = CAST(%(p0)s AS DATE)'
        ' AND "b" < CAST(%(p1)s AS VARCHAR)))'
    )


@pytest.mark.parametrize("kind", ["TIMESTAMP_TZ", "TIMESTAMP_LTZ"])
def test_predicate_zoned_timestamp_compares_the_raw_column(kind: str) -> None:
    r = ChunkRange(("t",), (kind,), lower=("2020-01-01 00:00:00",), upper=("2020-02-01 00:00:00",))
    sql, params = chunk_predicate(r)
    assert sql == (
        f'"t" IS NOT NULL AND ("t" >= CAST(%(p0)s AS {kind})) AND ("t" < CAST(%(p1)s AS {kind}))'
    )
    assert "CONVERT_TIMEZONE" not in sql
    assert params == {"p0": "2020-01-01 00:00:00", "p1": "2020-02-01 00:00:00"}


def test_predicate_rejects_a_type_that_is_not_a_type() -> None:
    r = ChunkRange(("a",), ("NUMBER); DROP TABLE x; --",), lower=("1",))
    with pytest.raises(ValueError):
        chunk_predicate(r)


def test_predicate_rejects_mismatched_bound() -> None:
    with pytest.raises(ValueError):
        chunk_predicate(ChunkRange(("a", "b"), ("DATE", "DATE"), lower=("2020-01-01",)))


# --- statements --------------------------------------------------------------------------------


def test_select_chunk_sql_escapes_percent_in_filter() -> None:
    r = ChunkRange(("ID",), ("NUMBER(38,0)",), lower=("10",))
    sql, params = select_chunk_sql(TABLE, ["ID", "Payer Id"], "\"Payer Id\" LIKE 'a%'", r)
    assert sql == (
        'SELECT "ID", "Payer Id" FROM "ANALYTICS"."BI"."DimPayer"'
        ' WHERE ("Payer Id" LIKE \'a%%\') AND ("ID" IS NOT NULL'
        ' AND ("ID" >= CAST(%(p0)s AS NUMBER(38,0))))'
    )
    # What the connector's pyformat interpolation will make of it.
    assert "LIKE 'a%')" in sql % {"p0": "'10'"}
    assert params == {"p0": "10"}


def test_select_without_filter_and_count() -> None:
    sql, params = select_chunk_sql(TABLE, ["ID"], None, ChunkRange())
    assert sql == 'SELECT "ID" FROM "ANALYTICS"."BI"."DimPayer" WHERE (TRUE)'
    assert params == {}
    assert (
        count_sql(TABLE, "  ")[0] == 'SELECT COUNT(*) FROM "ANALYTICS"."BI"."DimPayer" WHERE (TRUE)'
    )


def test_select_needs_columns() -> None:
    with pytest.raises(ValueError):
        select_chunk_sql(TABLE, [], None, ChunkRange())


def test_key_stats_sql_is_metadata_aggregates_only() -> None:
    sql, params = key_stats_sql(TABLE, ["ID", "Payer Id"], ["NUMBER(38,0)", "VARCHAR"], None)
    assert params == {}
    assert sql == (
        'SELECT COUNT(*), COUNT("ID"), COUNT("Payer Id"), TO_VARCHAR(MIN("ID")),'
        ' TO_VARCHAR(MAX("ID")) FROM "ANALYTICS"."BI"."DimPayer" WHERE (TRUE)'
    )
    tz, _ = key_stats_sql(TABLE, ["T"], ["TIMESTAMP_TZ"], "x LIKE 'a%'")
    # The instant becomes UTC wall-clock text after MIN, so the MIN itself stays a metadata answer.
    assert "TO_VARCHAR(CAST(CONVERT_TIMEZONE('UTC', MIN(\"T\")) AS TIMESTAMP_NTZ)," in tz
    assert "WHERE (x LIKE 'a%%') AND (TRUE)" in tz
    for text in (sql, tz):
        assert "OVER" not in text and "ORDER BY" not in text and "DISTINCT" not in text


def test_key_sample_sql_sorts_only_the_sample() -> None:
    sql, params = key_sample_sql(
        TABLE, ["Payer Id", "ID"], ["VARCHAR", "NUMBER(38,0)"], None, 2000, None
    )
    assert params == {}
    assert sql == (
        'SELECT TO_VARCHAR("snowpg_k0") AS t0, TO_VARCHAR("snowpg_k1") AS t1 FROM'
        ' (SELECT "Payer Id" AS "snowpg_k0", "ID" AS "snowpg_k1" FROM "ANALYTICS"."BI"."DimPayer"'
        ' WHERE ("Payer Id" IS NOT NULL AND "ID" IS NOT NULL))'
        ' SAMPLE (2000 ROWS) ORDER BY "snowpg_k0", "snowpg_k1"'
    )
    block, _ = key_sample_sql(TABLE, ["ID"], ["NUMBER(38,0)"], "ID > 5", 1000, 0.5)
    assert '"ANALYTICS"."BI"."DimPayer" SAMPLE SYSTEM (0.5) WHERE (ID > 5) AND (' in block
    assert block.endswith('SAMPLE (1000 ROWS) ORDER BY "snowpg_k0"')
    for bad in (0.0, 101.0):
        with pytest.raises(ValueError):
            key_sample_sql(TABLE, ["ID"], ["NUMBER(38,0)"], None, 10, bad)
    with pytest.raises(ValueError):
        key_sample_sql(TABLE, ["ID"], ["NUMBER(38,0)"], None, 0)


def test_sample_distinct_sql_counts_within_the_sample() -> None:
    sql, _ = sample_distinct_sql(TABLE, ["ID", "Payer Id"], None, 500)
    assert sql == (
        'SELECT COUNT(*), COUNT(DISTINCT "snowpg_k0"), COUNT(DISTINCT "snowpg_k1") FROM'
        ' (SELECT "ID" AS "snowpg_k0", "Payer Id" AS "snowpg_k1" FROM'
        ' "ANALYTICS"."BI"."DimPayer" WHERE (TRUE)) SAMPLE (500 ROWS)'
    )
    assert "APPROX_COUNT_DISTINCT" not in sql


# --- partition property, evaluated on the generated SQL ----------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<value>CAST\(%\((?P<param>\w+)\)s\ AS\ (?P<type>[A-Z_]+(?:\(\d+,\d+\))?)\))
    | (?P<ident>"(?:[^"]|"")*")
    | (?P<word>IS\ NOT\ NULL|IS\ NULL|AND|OR|TRUE)
    | (?P<op>>=|<=|<>|[<>=()])
    )""",
    re.X,
)


def _parse_value(text: str, sql_type: str) -> Any:
    if sql_type.startswith("NUMBER"):
        return Decimal(text)
    if sql_type == "DATE":
        return date.fromisoformat(text)
    return text


def _tokens(sql: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    pos = 0
    while pos < len(sql):
        m = _TOKEN.match(sql, pos)
        assert m and m.end() > pos, f"cannot read SQL at {sql[pos:]!r}"
        pos = m.end()
        if m["value"]:
            out.append(("value", (m["param"], m["type"])))
        elif m["ident"]:
            out.append(("ident", m["ident"][1:-1].replace('""', '"')))
        elif m["word"]:
            out.append(("word", m["word"]))
        else:
            out.append(("op", m["op"]))
    return out


Row = dict[str, Any]


def compile_predicate(sql: str, params: dict[str, Any]) -> Callable[[Row], bool | None]:
    """SQL three-valued logic over the subset chunk_predicate emits."""
    toks = _tokens(sql)
    i = 0

    def peek() -> tuple[str, Any] | None:
        return toks[i] if i < len(toks) else None

    def take() -> tuple[str, Any]:
        nonlocal i
        i += 1
        return toks[i - 1]

    def expr() -> Callable[[Row], bool | None]:
        parts = [term()]
        while peek() == ("word", "OR"):
            take()
            parts.append(term())
        return lambda row: _or([p(row) for p in parts])

    def term() -> Callable[[Row], bool | None]:
        parts = [factor()]
        while peek() == ("word", "AND"):
            take()
            parts.append(factor())
        return lambda row: _and([p(row) for p in parts])

    def factor() -> Callable[[Row], bool | None]:
        kind, val = take()
        if (kind, val) == ("op", "("):
            inner = expr()
            assert take() == ("op", ")")
            return inner
        if (kind, val) == ("word", "TRUE"):
            return lambda row: True
        assert kind == "ident", (kind, val)
        col = val
        kind2, val2 = take()
        if kind2 == "word":
            want_null = val2 == "IS NULL"
            return lambda row: (row[col] is None) == want_null
        assert kind2 == "op"
        vkind, (param, sql_type) = take()
        assert vkind == "value"
        bound = _parse_value(params[param], sql_type)
        ops: dict[str, Callable[[Any, Any], bool]] = {
            ">": lambda a, b: a > b,
            ">=": lambda a, b: a >= b,
            "<": lambda a, b: a < b,
            "<=": lambda a, b: a <= b,
            "=": lambda a, b: a == b,
        }
        op = ops[val2]
        return lambda row: None if row[col] is None else op(row[col], bound)

    fn = expr()
    assert i == len(toks), f"unparsed SQL: {toks[i:]}"
    return fn


def _and(values: Sequence[bool | None]) -> bool | None:
    if any(v is False for v in values):
        return False
    return None if any(v is None for v in values) else True


def _or(values: Sequence[bool | None]) -> bool | None:
    if any(v is True for v in values):
        return True
    return None if any(v is None for v in values) else False


_TYPES = {"NUMBER(38,0)": 0, "VARCHAR": 1, "DATE": 2}


def _random_value(rng: random.Random, sql_type: str) -> Any:
    if rng.random() < 0.1:
        return None
    n = rng.randint(0, 6)  # a small domain forces duplicates
    if sql_type == "VARCHAR":
        return rng.choice(["", " ", "a", "A", "a b", "b", "é", "Z"])[: n + 1]
    if sql_type == "DATE":
        return date(2020, 1, 1) + timedelta(days=n)
    return Decimal(n - 3)


def _text(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


def _ntile_boundaries(
    keys: list[tuple[Any, ...]], n: int
) -> tuple[list[tuple[str, ...]], list[int]]:
    """What the boundary query returns: first key and size of each of n NTILE buckets."""
    keys = sorted(keys)
    n = min(n, len(keys))
    big, small = divmod(len(keys), n)
    bounds, counts, start = [], [], 0
    for b in range(n):
        size = big + (1 if b < small else 0)
        bounds.append(tuple(_text(v) for v in keys[start]))
        counts.append(size)
        start += size
    return bounds, counts


@pytest.mark.parametrize("seed", range(40))
def test_chunks_partition_random_tables(seed: int) -> None:
    rng = random.Random(seed)
    n_cols = rng.randint(1, 3)
    types = [rng.choice(list(_TYPES)) for _ in range(n_cols)]
    columns = [f"c {k}" if k % 2 else f'C"{k}' for k in range(n_cols)]
    rows = [
        {c: _random_value(rng, t) for c, t in zip(columns, types, strict=True)}
        for _ in range(rng.randint(0, 120))
    ]
    keys = [tuple(r[c] for c in columns) for r in rows]
    complete = [k for k in keys if None not in k]
    nulls = len(keys) - len(complete)
    roll = rng.random()
    if complete and roll < 0.4:
        bounds, counts = _ntile_boundaries(complete, rng.randint(1, 15))
    elif complete and roll < 0.8:
        # What planning does now: quantiles of a sorted random sample (with repeats).
        picked = sorted(rng.choices(complete, k=rng.randint(1, 40)))
        sample = [tuple(_text(v) for v in k) for k in picked]
        bounds, counts = sample_cuts(sample, rng.randint(1, 15), len(complete))
    else:
        # Any ascending boundaries must partition too, even values absent from the table.
        extra = [tuple(_random_value(rng, t) for t in types) for _ in range(rng.randint(0, 8))]
        picked = sorted({k for k in extra if None not in k})
        bounds, counts = [tuple(_text(v) for v in k) for k in picked], [1] * len(picked)
    chunks = ranges_from_boundaries(columns, types, bounds, counts, nulls)
    predicates = [compile_predicate(*chunk_predicate(c.range)) for c in chunks]
    for row in rows:
        matches = [c.chunk_id for c, p in zip(chunks, predicates, strict=True) if p(row) is True]
        assert len(matches) == 1, f"row {row} is in chunks {matches} of {chunks}"


# --- driver errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (
            sf_errors.OperationalError(msg="Could not connect to Snowflake backend", errno=250001),
            True,
        ),
        (sf_errors.InterfaceError(msg="connection reset"), True),
        (sf_errors.ServiceUnavailableError(), True),
        (sf_errors.TooManyRequests(), True),
        (sf_errors.ProgrammingError(msg="Authentication token has expired.", errno=390114), True),
        (sf_errors.DatabaseError(msg="session gone", errno=390111), True),
        (TimeoutError("timed out"), True),
        (ConnectionResetError("reset by peer"), True),
        (
            sf_errors.ProgrammingError(
                msg="Object 'X' does not exist", errno=2003, sqlstate="42S02"
            ),
            False,
        ),
        (sf_errors.ProgrammingError(msg="SQL compilation error: syntax error", errno=1003), False),
    ],
)
def test_translate_transient_or_terminal(exc: BaseException, transient: bool) -> None:
    err = translate_sf_error(exc, context="reading table X chunk 3")
    assert isinstance(err, SourceError)
    assert isinstance(err, TransientError) is transient
    assert isinstance(err, SourceUnavailable) is transient
    assert str(err).startswith("reading table X chunk 3: ")


@pytest.mark.parametrize(
    "exc",
    [
        sf_errors.DatabaseError(
            msg="Failed to connect to DB: x:443. Incorrect username or password was specified.",
            errno=250001,
            sqlstate="08001",
        ),
        sf_errors.DatabaseError(msg="Failed to connect to DB: JWT token is invalid.", errno=390144),
        sf_errors.DatabaseError(msg="denied", errno=390100, sqlstate="28000"),
        sf_errors.ProgrammingError(msg="Failed to load private key: bad data", errno=251008),
    ],
)
def test_translate_auth_failure_hints_at_key_format(exc: BaseException) -> None:
    err = translate_sf_error(exc, context="connecting to Snowflake")
    assert type(err) is SourceError
    assert err.hint is not None and "PEM" in err.hint and "\\n" in err.hint


def test_translate_redacts_and_keeps_first_line() -> None:
    register_secrets(["s3cr3t-Passw0rd"])
    exc = sf_errors.ProgrammingError(
        msg="bad thing near 's3cr3t-Passw0rd' password=hunter22\nsecond line with details",
        errno=1003,
    )
    err = translate_sf_error(exc, context="planning T")
    text = str(err)
    assert "s3cr3t-Passw0rd" not in text and "hunter22" not in text
    assert "second line" not in text
    assert text.startswith("planning T: ")
