"""source_filter text that could reach outside its parentheses is refused."""

from __future__ import annotations

import pytest

from snowpg.snowflake.statements import where_clause
from snowpg.sqltext import filter_problem


@pytest.mark.parametrize(
    "text",
    [
        '"K" >= 0',
        "status = 'open' AND (a > 1 OR b < 2)",
        "name = 'it''s (not) a paren'",
        "name = 'back\\\\slash \\' ) quote'",
        '"odd ) name" = 1',
        "note = $$ ) -- not a comment $$",
        "path LIKE 'a%'",
    ],
)
def test_filters_that_stay_inside_their_parentheses(text: str) -> None:
    assert filter_problem(text) is None


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ('"K" >= 0) OR ("K" < 0', "closes a parenthesis it did not open"),
        ("(a = 1", "opens a parenthesis it does not close"),
        ("a = 1 -- ", "comment"),
        ("a = 1 // x", "comment"),
        ("a = 1 /* x */", "comment"),
        ("a = 1; DROP TABLE t", "';'"),
        ("a = 'open", "quoted string is not closed"),
        ('"open = 1', "identifier is not closed"),
        ("a = $$x", "$$ string is not closed"),
    ],
)
def test_filters_that_could_change_the_chunk_predicate(text: str, why: str) -> None:
    problem = filter_problem(text)
    assert problem is not None and why in problem


def test_where_clause_refuses_a_breakout_even_past_config_validation() -> None:
    with pytest.raises(Exception, match="closes a parenthesis"):
        where_clause('"K" >= 0) OR ("K" < 0', '"K" < 10')
    assert where_clause('"K" >= 0', '"K" < 10') == 'WHERE ("K" >= 0) AND ("K" < 10)'
