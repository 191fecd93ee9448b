"""The one rounding rule for Snowflake timestamps and times that PostgreSQL cannot hold exactly.

PostgreSQL keeps microseconds; Snowflake keeps up to nanoseconds (TIME(9), TIMESTAMP_*(9)). snowpg
**floors to the microsecond** (towards the earlier instant, also before 1970): ``.123456999`` ->
``.123456``, ``1969-12-31 23:59:59.999999500`` -> ``.999999``. It is the rule the connector applies
with ``fetch_arrow_batches(force_microsecond_precision=True)`` (epoch seconds x 10^6 + nanosecond
fraction // 1000, the fraction non-negative: ``CArrowTableIterator.cpp``), which snowpg uses so
that any date (0001-01-01 .. 9999-12-31) fits (nanosecond Arrow timestamps overflow outside
1677-2262). Rounding half-up instead could carry 9999-12-31 23:59:59.9999995 past the last
representable day, and would differ from what the copy path writes.

copy uses the connector's flooring; verify compares with :func:`floor_to_microsecond` (Python
values) or :func:`floor_to_microsecond_sql` (a Snowflake SQL expression) so both sides agree.
"""

from __future__ import annotations

import datetime as dt

RULE = "floor to the microsecond"


def floor_ns_to_us(nanoseconds: int) -> int:
    """Nanoseconds since the epoch (any sign) floored to whole microseconds, in microseconds."""
    return nanoseconds // 1000


def floor_to_microsecond(
    value: dt.datetime | dt.time, nanosecond: int = 0
) -> dt.datetime | dt.time:
    """``value`` with a sub-microsecond part (``nanosecond`` 0-999 past its microseconds) dropped.

    Python's datetime/time hold microseconds, so the value itself is already floored; the
    ``nanosecond`` argument documents the rule for callers that hold the digits apart.
    """
    if not 0 <= nanosecond < 1000:
        raise ValueError(f"nanosecond part must be 0..999, not {nanosecond}")
    return value


def floor_to_microsecond_sql(column_sql: str) -> str:
    """A Snowflake expression of ``column_sql`` floored to the microsecond (same type).

    ``TRUNCATE``/``DATE_TRUNC`` stop at seconds; casting to scale 6 rounds on Snowflake, so the
    floor is spelled out: drop the nanoseconds past the microsecond with ``TIMESTAMPADD``.
    """
    return (
        f"TIMESTAMPADD(NANOSECOND, -MOD(DATE_PART(NANOSECOND, {column_sql}), 1000), {column_sql})"
    )
