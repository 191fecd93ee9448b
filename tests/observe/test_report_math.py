"""Pure parts of the status report: ETA, stuck detection, human formatting."""

from __future__ import annotations

import pytest

from snowpg.observe.fmt import human_bytes, human_duration, human_rate, percent
from snowpg.status.report import STUCK_MIN_S, TableStatus, eta, is_stuck


def _table(**kw: object) -> TableStatus:
    base: dict[str, object] = dict(
        source_table="T", target="public.t", status="in_progress", chunks_total=10,
        chunks_completed=4, chunks_failed=0, rows_copied=4000, estimated_rows=10_000, retries=0,
        started_at=None, completed_at=None, error_message=None,
    )  # fmt: skip
    base.update(kw)
    return TableStatus(**base)  # type: ignore[arg-type]


def test_eta_uses_the_current_rate_then_the_average() -> None:
    assert eta(_table(rows_per_second=600.0)) == pytest.approx(10.0)
    assert eta(_table(rows_per_second=0.0, average_rows_per_second=300.0)) == pytest.approx(20.0)
    assert eta(_table()) is None  # no rate known yet
    # No estimate: the remaining chunks at the average chunk so far (1000 rows each).
    assert eta(_table(estimated_rows=None, rows_per_second=100.0)) == pytest.approx(60.0)
    assert eta(_table(chunks_completed=10, rows_per_second=5.0)) == 0.0


def test_a_chunk_is_stuck_only_far_beyond_the_median_and_a_floor() -> None:
    assert is_stuck(STUCK_MIN_S, 1.0)
    assert not is_stuck(STUCK_MIN_S - 1, 1.0)  # 5 x median is not enough under the floor
    assert not is_stuck(499.0, 100.0) and is_stuck(500.0, 100.0)
    assert not is_stuck(10_000.0, None)  # no completed chunk yet: no median, no verdict


def test_human_numbers() -> None:
    assert human_bytes(512) == "512 B" and human_bytes(1536) == "1.5 KiB"
    assert human_bytes(3 * 1024**3) == "3.0 GiB" and human_bytes(None) == "-"
    assert human_duration(42) == "42s" and human_duration(185) == "3m 05s"
    assert human_duration(7620) == "2h 07m" and human_duration(None) == "-"
    assert human_rate(12345.6) == "12,346" and human_rate(None) == "-"
    assert percent(5, 10) == 50.0 and percent(0, 0) == 100.0
