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


def test_timed_snowpg_marks_the_cpu_of_its_imports(tmp_path: Path) -> None:
    import json

    mark = tmp_path / "mark.json"
    root = Path(__file__).resolve().parents[2]
    env = {"PYTHONPATH": f"{root / 'src'}:{root}"}
    group = procs.run_together([procs.timed_snowpg_command(mark, "--version")], env, tmp_path, "v")
    assert group.ok, group.procs[0].log.read_text()
    startup = json.loads(mark.read_text())["startup_cpu_s"]
    assert 0.05 < startup <= group.cpu_seconds  # the imports, a part of the whole process
    assert procs.startup_cpu_seconds([mark]) == startup
    assert procs.startup_cpu_seconds([mark, tmp_path / "missing.json"]) is None


def test_chunk_queries_are_told_from_planning_queries() -> None:
    from bench.run import is_chunk_query

    cols = ", ".join(f'"{c}"' for c in schema.SF_NAMES.split(", "))
    assert is_chunk_query(f'SELECT {cols} FROM "BENCHDB"."PUBLIC"."BENCH" WHERE "ID" >= 0')
    assert not is_chunk_query('SELECT COUNT(*) FROM "BENCHDB"."PUBLIC"."BENCH" WHERE TRUE')
    assert not is_chunk_query('SELECT "ID" FROM "BENCHDB"."PUBLIC"."BENCH" LIMIT 1000')


def test_verdict_subtracts_start_up_and_compares_with_the_source_alone() -> None:
    from bench.report import Row, table, verdict

    row = Row("snowpg default", 2_000_000, 40.0, 250.0, 9.0, startup_cpu_s=1.0, queries=106)
    row.source_alone_s = 30.0  # the source alone moved the rows in 30 s: snowpg is 0.75 x
    assert row.work_cpu_s == 8.0 and row.source_ratio == 0.75
    text = verdict(row)
    assert "x source alone  0.75  (target >= 0.7: met)" in text
    assert "CPU s/M rows    4.00" in text and "NOT met" in text  # 8 s over 2M rows > 3 s/M
    assert "queries/M rows  53" in text
    slow = Row("snowpg default", 1_000_000, 20.0, 320.0, 2.0, startup_cpu_s=1.0, queries=56)
    slow.source_alone_s = 10.0
    assert "0.50  (target >= 0.7: NOT met)" in verdict(slow) and "320 MB" in verdict(slow)
    assert "| 0.75 | 250 | 4.50 | 4.00 | 53 |" in table([row], 230.0)
