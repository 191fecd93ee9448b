"""The benchmark's measuring tools report what a process really used (not the parent's figures)."""

from __future__ import annotations

import sys
from pathlib import Path

from bench.profile_summary import main as summarise

from bench import procs, schema

ALLOCATE = (
    "import time; b = bytearray(120 * 2**20); b[::4096] = b'x' * len(b[::4096]); time.sleep(0.5); "
    "sum(range(3_000_000))"
)


def test_peak_rss_and_cpu_are_the_child_process_own(tmp_path: Path) -> None:
    ballast = bytearray(300 * 2**20)  # a large parent: ru_maxrss would report this for the child
    ballast[::4096] = b"x" * len(ballast[::4096])
    small = [sys.executable, "-c", "pass"]
    big = [sys.executable, "-c", ALLOCATE]
    group = procs.run_together([small, big], {}, tmp_path, "t")
    assert group.ok and len(group.procs) == 2
    by_rss = sorted(p.max_rss_mb for p in group.procs)
    assert by_rss[0] < 100, by_rss  # the interpreter alone, not the 300 MB parent
    assert 120 <= by_rss[1] < 250, by_rss
    assert group.cpu_seconds > 0.05
    del ballast


def test_key_ranges_partition_the_ids() -> None:
    ranges = schema.key_ranges(250, 100)
    assert ranges == [(0, 100), (100, 200), (200, 250)]


def test_profile_summary_buckets(tmp_path: Path, capsys: object) -> None:
    raw = tmp_path / "p.txt"
    raw.write_text(
        "run (x.py:1);encode_batch (snowpg/copy/encode.py:1) 3\n"
        "run (x.py:1);execute (connector/cursor.py:9) 1\n"
    )
    summarise(str(raw))
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert "4 active samples" in out
    assert "75.0%  encode" in out and "25.0%  Snowflake fetch" in out


def test_binary_kinds_cover_every_benchmark_column() -> None:
    from bench import ceilings

    assert len(ceilings.binary_kinds()) == len(schema.PG_NAMES.split(", "))


def test_cores_busy_counts_the_whole_machine() -> None:
    import os

    from bench import ceilings

    cores = os.cpu_count() or 1
    assert ceilings.cores_busy((100.0, 400.0), (150.0, 500.0)) == 0.5 * cores
    before = ceilings.machine_busy()
    sum(range(2_000_000))  # at least this process is busy in between
    assert 0 < ceilings.cores_busy(before, ceilings.machine_busy()) <= cores


def test_as_installed_hides_pandas_from_snowpg_processes() -> None:
    import subprocess

    from bench.run import AS_INSTALLED

    code = (
        "import importlib.util as u, pyarrow as pa; pa.scalar(1)\n"
        "try:\n    import pandas\nexcept ModuleNotFoundError:\n    print('hidden')\n"
    )
    env = {"PYTHONPATH": str(AS_INSTALLED), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "hidden"


def test_server_and_setting_specs() -> None:
    import pytest
    from bench.server_spec import parse_servers, parse_setting

    fake, zero, slow = parse_servers("fakesnow, standin,standin@0.2")
    assert fake.control(2) == {"reshape": False} and fake.latency == 0.0
    assert zero.latency == 0.0 and zero.control(2) == {"chunk_bytes": 2 * 2**20}
    assert slow.latency == 0.2 and slow.prefix == "stand-in 200 ms: "
    assert zero.control(None) == {}
    with pytest.raises(SystemExit):
        parse_servers("snowflake")
    assert parse_setting("4x20000") == (4, 20000, None)
    assert parse_setting("4x100000x32") == (4, 100000, 32.0)
