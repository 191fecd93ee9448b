"""Checks on SQL text a user writes into config.json (``source_filter``); pure, no I/O.

A filter is placed inside ``WHERE (<filter>) AND (<chunk predicate>)``. Text whose parentheses do
not balance, or that ends the statement or comments out the rest of the line, could change the
chunk predicate: every chunk would then read the whole table. Such text is refused, not repaired.
"""

from __future__ import annotations

# PostgreSQL identifiers are at most NAMEDATALEN - 1 bytes; longer ones are cut silently.
PG_MAX_IDENTIFIER_BYTES = 63


def filter_problem(text: str) -> str | None:
    """Why ``text`` cannot be used as a WHERE condition, or None when it can.

    Understands Snowflake's lexical forms: '...' strings (with '' and backslash escapes),
    "..." identifiers (with ""), $$...$$ strings, and --, // and /* */ comments.
    """
    depth = 0
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        two = text[i : i + 2]
        if ch == "'":
            i = _skip_string(text, i)
            if i < 0:
                return "a quoted string is not closed"
            continue
        if ch == '"':
            end = _skip_quoted(text, i, '"')
            if end < 0:
                return "a double-quoted identifier is not closed"
            i = end
            continue
        if two == "$$":
            end = text.find("$$", i + 2)
            if end < 0:
                return "a $$ string is not closed"
            i = end + 2
            continue
        if two in ("--", "//", "/*"):
            return "it contains a comment, which could hide the chunk condition after it"
        if ch == ";":
            return "it contains ';', which would end the statement"
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                return "it closes a parenthesis it did not open"
        i += 1
    if depth > 0:
        return "it opens a parenthesis it does not close"
    return None


def _skip_string(text: str, start: int) -> int:
    """Index after the '...' string at ``start``, or -1 if it is not closed."""
    i = start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == "'":
            if text[i + 1 : i + 2] == "'":
                i += 2
                continue
            return i + 1
        i += 1
    return -1


def _skip_quoted(text: str, start: int, quote: str) -> int:
    i = start + 1
    while i < len(text):
        if text[i] == quote:
            if text[i + 1 : i + 2] == quote:
                i += 2
                continue
            return i + 1
        i += 1
    return -1
