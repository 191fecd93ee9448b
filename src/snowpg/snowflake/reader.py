"""Run read queries on Snowflake and hand back Arrow batches, never Python rows.

Every statement here is in pyformat form (see :mod:`snowpg.snowflake.statements`): a literal
``%`` is written ``%%``. The connector only interpolates when it is given parameters, so a
statement with an empty parameter dict is un-escaped here exactly the way the connector would
have done it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import pyarrow as pa

from snowpg.snowflake.errors import translate_sf_error
from snowpg.snowflake.nested import flatten_nested, is_nested
from snowpg.snowflake.session import connector_major


def _execute(cursor: Any, sql_text: str, params: Mapping[str, Any] | None) -> None:
    if params:
        cursor.execute(sql_text, dict(params))
    else:
        cursor.execute(sql_text % {})


def _arrow_tables(conn: Any, cursor: Any) -> Iterator[pa.Table]:
    """The executed query's result as Arrow tables, exact decimals, timestamps floored to µs.

    Connector 5.x (checked: 5.2.0) unifies the chunks of a result into the first chunk's schema
    and, doing so, reads a later chunk's int8 as unsigned: ``-1`` arrives as ``255`` (in
    ``fetch_arrow_batches`` and ``fetchall`` alike), while the service sends each chunk with its
    own narrowest integer type (``tests/integration/test_standin.py`` proves it). Each result
    batch decoded on its own is right, so 5.x reads a result of several chunks batch by batch;
    4.x's ``fetch_arrow_batches`` decodes every chunk with its own schema already.

    A result of one chunk (the whole result inline in the query's answer) has nothing to unify,
    and 5.x decodes it ~3x cheaper through ``fetch_arrow_batches`` (one native stream) than as a
    result batch, whose inline bytes travel through the connector's Python protobuf layer twice:
    2.6-3.2 against 0.8-1.1 CPU s per million benchmark rows (docs/benchmarks.md).
    """
    if connector_major() >= 5:
        result_batches = cursor.get_result_batches()
        if result_batches is None:
            return
        if len(result_batches) <= 1:
            yield from cursor.fetch_arrow_batches(force_microsecond_precision=True)
            return
        result_batches.reverse()
        while result_batches:  # popped, so that no decoded batch stays in the list (see writer)
            yield result_batches.pop().to_arrow(
                connection=cursor.connection,
                number_to_decimal=True,
                force_microsecond_precision=True,
            )
        return
    yield from cursor.fetch_arrow_batches(force_microsecond_precision=True)


def _rows(cursor: Any) -> list[tuple[Any, ...]]:
    """Every row of the executed query, decoded chunk by chunk on connector 5.x.

    5.x's ``fetchall`` misreads a later int8 chunk as unsigned like its Arrow fetch does (see
    :func:`_arrow_tables`): a planning or verification query whose result spans downloaded chunks
    would get ``255`` for ``-1``. Each result batch's own row iterator decodes it right.
    """
    if connector_major() >= 5:
        batches = cursor.get_result_batches()
        if batches is not None:
            return [
                tuple(row) for b in batches for row in b.create_iter(connection=cursor.connection)
            ]
    return [tuple(r) for r in cursor.fetchall()]


def _context(sql_text: str) -> str:
    # The statement's head names the table without dumping a long predicate into the message.
    head = " ".join(sql_text.split())
    return f"running Snowflake query {head[:120]}{'...' if len(head) > 120 else ''}"


def read_chunk(conn: Any, sql_text: str, params: Mapping[str, Any] | None) -> Iterator[pa.Table]:
    """Yield the result of ``sql_text`` as Arrow tables, batch by batch, on a fresh cursor.

    The cursor is closed when the iteration ends, fails, or the generator is closed early.
    Driver errors arrive as ``SourceError``/``SourceUnavailable``.
    """
    try:
        cursor = conn.cursor()
    except Exception as exc:  # the driver's own classes; translated below
        raise translate_sf_error(exc, context="opening a Snowflake cursor") from exc
    try:
        try:
            _execute(cursor, sql_text, params)
            batches = _arrow_tables(conn, cursor)
        except Exception as exc:
            raise translate_sf_error(exc, context=_context(sql_text)) from exc
        while True:
            try:
                batch = next(batches, None)
            except Exception as exc:
                raise translate_sf_error(exc, context=_context(sql_text)) from exc
            if batch is None:
                return
            if batch.num_rows:
                if any(is_nested(f.type) for f in batch.schema):
                    batch = flatten_nested(batch)
                yield batch
            del batch  # not held while the next one is fetched and decoded
    finally:
        # A failed close of a read cursor loses nothing.
        with contextlib.suppress(Exception):
            cursor.close()


def run_scalar(conn: Any, sql_text: str, params: Mapping[str, Any] | None = None) -> Any:
    """The first column of the first row of ``sql_text`` (``None`` when there is no row)."""
    row = run_one(conn, sql_text, params)
    return row[0] if row is not None else None


def run_one(
    conn: Any, sql_text: str, params: Mapping[str, Any] | None = None
) -> tuple[Any, ...] | None:
    """The first row of ``sql_text`` as a tuple, or ``None``."""
    rows = run_all(conn, sql_text, params)
    return rows[0] if rows else None


def run_all(
    conn: Any, sql_text: str, params: Mapping[str, Any] | None = None
) -> list[tuple[Any, ...]]:
    """Every row of a small result (catalog and planning queries only, never table data)."""
    cursor = None
    try:
        cursor = conn.cursor()
        _execute(cursor, sql_text, params)
        return _rows(cursor)
    except Exception as exc:
        raise translate_sf_error(exc, context=_context(sql_text)) from exc
    finally:
        if cursor is not None:
            with contextlib.suppress(Exception):
                cursor.close()


def run_dicts(
    conn: Any, sql_text: str, params: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Every row of a small result as a dict keyed by lower-case column name (for ``SHOW``)."""
    cursor = None
    try:
        cursor = conn.cursor()
        _execute(cursor, sql_text, params)
        names = [str(d[0]).lower() for d in cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in _rows(cursor)]
    except Exception as exc:
        raise translate_sf_error(exc, context=_context(sql_text)) from exc
    finally:
        if cursor is not None:
            with contextlib.suppress(Exception):
                cursor.close()
