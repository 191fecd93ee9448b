"""A migration_status made by the existing tool's schema file: upgraded in place, its CHECKs
kept and satisfied, its views left alone beside snowpg's, its file still re-runnable."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import psycopg
import pytest

from snowpg.status import store, views
from snowpg.status.rows import CHUNK_STATUSES, RUN_STATUSES, TABLE_STATUSES
from snowpg.status.schema import ensure_schema, is_current
from tests.fixtures import existing_status as existing
from tests.integration.test_status_schema import SEED_DDL

pytestmark = pytest.mark.integration

DEPLOYMENT = Path(__file__).resolve().parents[2] / "docs" / "DEPLOYMENT.md"
# What docs/DEPLOYMENT.md tells users to run when their copy of the file has the guide's plain
# CREATE INDEX lines; the test below applies the same rewrite.
SED = "sed -E 's/CREATE INDEX (IF NOT EXISTS )?/CREATE INDEX IF NOT EXISTS /'"


def _chunks(n: int) -> list[tuple[int, dict[str, Any], int]]:
    return [
        (i, {"columns": ["ID"], "lower": [str(i)], "upper": [str(i + 1)]}, 10) for i in range(n)
    ]


def _add_table(conn: psycopg.Connection[Any], run_id: Any, name: str, n: int) -> store.TableKey:
    return store.add_table(
        conn, run_id=run_id, source_name="src", source_database="DB", source_schema="PUBLIC",
        source_table=name, target_database="pg", target_schema="public",
        target_table=name.lower(), chunks=_chunks(n), estimated_rows=10 * n,
        chunking_method="range", metadata={},
    )  # fmt: skip


def test_their_checks_allow_exactly_snowpgs_status_words(pg_dsn: str) -> None:
    """The fixture's CHECKs are live, and snowpg's status vocabulary fits inside them."""
    existing.apply_ddl(pg_dsn)
    assert set(RUN_STATUSES) <= existing.THEIR_STATUSES["migration_runs"]
    assert set(TABLE_STATUSES) <= existing.THEIR_STATUSES["migration_table_status"]
    assert set(CHUNK_STATUSES) <= existing.THEIR_STATUSES["migration_chunk_status"]
    with psycopg.connect(pg_dsn) as conn, pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("INSERT INTO migration_status.migration_runs (status) VALUES ('abandoned')")


def test_upgrade_keeps_their_constraints_indexes_comments_views_and_rows(pg_dsn: str) -> None:
    existing.apply_ddl(pg_dsn)
    existing.add_their_run(pg_dsn)
    before = existing.snapshot(pg_dsn)
    with psycopg.connect(pg_dsn) as conn:
        assert not is_current(conn)
        ensure_schema(conn)
        assert is_current(conn)
    after = existing.snapshot(pg_dsn)

    assert after["constraints"] == before["constraints"]
    assert set(before["indexes"]) <= set(after["indexes"])  # theirs kept, snowpg's added
    assert {i[0] for i in after["indexes"]} - {i[0] for i in before["indexes"]} == {
        "idx_chunk_status_claim",
        "idx_chunk_status_claimable",
        "idx_migration_runs_source",
    }
    assert set(before["comments"]) <= set(after["comments"])
    assert after["views"] == before["views"]  # same columns, same definition
    assert after["their_run"] == before["their_run"] and len(before["their_run"]) == 4
    with psycopg.connect(pg_dsn) as conn:
        for view in views.VIEWS:
            columns, _ = existing.view_definition(conn, view.own_name)
            assert tuple(columns) == view.columns
        # Their view still reads their run.
        assert conn.execute(
            "SELECT source_table, status, progress_pct FROM migration_status.v_table_progress"
        ).fetchall() == [("PAYERS", "completed", 100)]


def test_serve_lists_no_run_before_the_upgrade_and_theirs_without_source_after(
    pg_dsn: str,
) -> None:
    from snowpg.status.collect import recent_runs

    existing.apply_ddl(pg_dsn)
    existing.add_their_run(pg_dsn)
    with psycopg.connect(pg_dsn) as conn:
        assert recent_runs(conn, 10) == []  # read only: no UndefinedColumn, nothing upgraded
        assert not is_current(conn)
        ensure_schema(conn)
        listed = recent_runs(conn, 10)
    assert [(r["run_id"], r["source_name"], r["status"]) for r in listed] == [
        (existing.THEIR_RUN, None, "completed")
    ]


def test_their_file_runs_again_on_the_upgraded_schema(pg_dsn: str) -> None:
    existing.apply_ddl(pg_dsn)
    with psycopg.connect(pg_dsn) as conn:
        ensure_schema(conn)
    upgraded = existing.snapshot(pg_dsn)
    existing.apply_ddl(pg_dsn)  # their deploy script runs the file on every deploy
    assert existing.snapshot(pg_dsn) == upgraded
    with psycopg.connect(pg_dsn) as conn:
        assert is_current(conn)
        for name, columns in existing.THEIR_VIEW_COLUMNS.items():
            assert existing.view_definition(conn, name)[0] == columns


def test_every_snowpg_write_satisfies_their_checks(pg_dsn: str) -> None:
    """The whole status lifecycle, each writer of the store once, under their CHECKs."""
    existing.apply_ddl(pg_dsn)
    with psycopg.connect(pg_dsn) as conn:
        ensure_schema(conn)
        run_id = store.create_run(
            conn, source_name="src", config_hash="h", created_by="t", metadata={}
        )
        key = _add_table(conn, run_id, "T1", 3)
        store.add_skipped_table(
            conn, run_id=run_id, source_name="src", source_database="DB",
            source_schema="PUBLIC", source_table="T0", target_database="pg",
            target_schema="public", target_table="t0", reason="disabled",
        )  # fmt: skip
        conn.commit()
        done = store.claim_chunk(conn, run_id, "w1", 60)
        assert done is not None and store.lock_claim(conn, done, "w1")
        store.complete_chunk(conn, done, rows_copied=10, bytes_copied=100, duration_seconds=0.1)
        conn.commit()
        retried = store.claim_chunk(conn, run_id, "w1", 60)
        assert retried is not None
        store.record_retry(conn, retried, "transient", 60)
        store.release_chunk(conn, retried)
        failed = store.claim_chunk(conn, run_id, "w1", 60)
        assert failed is not None
        store.fail_chunk(conn, failed, "bad data")
        with conn.transaction():
            store.finish_table(conn, key)
        store.set_run_status(conn, run_id, "partial")
        store.set_run_status(conn, run_id, "failed", "1 table failed")
        assert store.reset_failed(conn, run_id) >= 1
        store.set_run_status(conn, run_id, "running")
        while (claim := store.claim_chunk(conn, run_id, "w2", 60)) is not None:
            assert store.lock_claim(conn, claim, "w2")
            store.complete_chunk(conn, claim, rows_copied=10, bytes_copied=1, duration_seconds=0)
            conn.commit()
        with conn.transaction():
            assert store.finish_table(conn, key).status == "completed"
        store.set_run_status(conn, run_id, "completed")
        other = _add_table(conn, run_id, "T2", 1)
        for status in TABLE_STATUSES:
            store.set_table_status(conn, other, status, None)
        conn.commit()
        # A fresh run replacing this one marks it failed with 'abandoned:' (engine --no-resume).
        store.set_run_status(conn, run_id, "failed", "abandoned: a fresh run was started")
        assert store.run_abandoned(conn, run_id)
    existing.assert_statuses_allowed(pg_dsn)


def test_completion_never_precedes_start_across_session_time_zones(pg_dsn: str) -> None:
    """LOCALTIMESTAMP follows each session's TimeZone: a run started by a session five hours
    ahead and finished by a UTC one would break completed_at >= started_at without the clamp."""
    existing.apply_ddl(pg_dsn)
    with psycopg.connect(pg_dsn) as ahead, psycopg.connect(pg_dsn) as utc:
        ensure_schema(ahead)
        ahead.execute("SET TimeZone = 'Etc/GMT-5'")  # POSIX sign: UTC+5
        utc.execute("SET TimeZone = 'UTC'")
        ahead.commit()
        utc.commit()
        run_id = store.create_run(
            ahead, source_name="src", config_hash="h", created_by="t", metadata={}
        )
        key = _add_table(ahead, run_id, "T1", 1)
        ahead.commit()
        claim = store.claim_chunk(ahead, run_id, "w1", 60)
        assert claim is not None
        ahead.commit()
        assert store.lock_claim(utc, claim, "w1")
        store.complete_chunk(utc, claim, rows_copied=10, bytes_copied=1, duration_seconds=0)
        with utc.transaction():
            assert store.finish_table(utc, key).status == "completed"
        store.set_run_status(utc, run_id, "completed")
        row = utc.execute(
            "SELECT completed_at = started_at FROM migration_status.migration_runs"
            " WHERE run_id = %s",
            (run_id,),
        ).fetchone()
        assert row == (True,)  # clamped to the start, not five hours before it
    existing.assert_statuses_allowed(pg_dsn)


def test_views_only_upgrade_takes_no_table_lock(pg_dsn: str) -> None:
    """A schema of an earlier snowpg (views without the v3 marker, no v_snowpg_* views) gets its
    views; the status tables are not ALTERed, so a live run's locks do not block the start."""
    with psycopg.connect(pg_dsn) as conn:
        ensure_schema(conn)
        conn.execute("DROP VIEW migration_status.v_snowpg_active_migrations")
        conn.execute("DROP VIEW migration_status.v_snowpg_table_progress")
        conn.execute("COMMENT ON VIEW migration_status.v_active_migrations IS NULL")
        conn.execute(
            "COMMENT ON VIEW migration_status.v_table_progress IS 'snowpg status schema v2'"
        )
        conn.commit()
        assert not is_current(conn)
    with psycopg.connect(pg_dsn) as holder, psycopg.connect(pg_dsn) as starter:
        holder.execute("LOCK TABLE migration_status.migration_chunk_status IN ROW EXCLUSIVE MODE")
        starter.execute("SET lock_timeout = '1s'")
        ensure_schema(starter)
        holder.rollback()
        assert is_current(starter)
        marks = starter.execute(
            "SELECT c.relname, obj_description(c.oid, 'pg_class') FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'migration_status' AND c.relkind = 'v' ORDER BY 1"
        ).fetchall()
    assert [m[0] for m in marks] == [
        "v_active_migrations", "v_snowpg_active_migrations", "v_snowpg_table_progress",
        "v_table_progress",
    ]  # fmt: skip
    assert {m[1] for m in marks} == {"snowpg status schema v3"}


def _rewrite(text: str, tmp_path: Path) -> str:
    """``text`` through the documented sed command, run by the shell."""
    path = tmp_path / "migration_status_schema.sql"
    path.write_text(text)
    done = subprocess.run(
        f"{SED} {shlex.quote(str(path))}", shell=True, capture_output=True, text=True, check=True
    )
    return done.stdout


def test_guide_file_with_plain_create_index_reruns_after_the_documented_rewrite(
    pg_dsn: str, tmp_path: Path
) -> None:
    """The guide's file (plain CREATE INDEX) fails on a second run by itself, snowpg or not;
    the rewrite the docs give makes it re-runnable on a snowpg-upgraded schema."""
    assert SED in DEPLOYMENT.read_text()
    rewritten = _rewrite(SEED_DDL, tmp_path)
    assert rewritten.count("CREATE INDEX IF NOT EXISTS ") == 3
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(SEED_DDL)
        conn.commit()
        with pytest.raises(psycopg.errors.DuplicateTable):
            conn.execute(SEED_DDL)  # without snowpg: the file itself is not re-runnable
        conn.rollback()
        ensure_schema(conn)
        conn.execute(rewritten)
        conn.commit()
        assert is_current(conn)
    # A file that already says IF NOT EXISTS (like the fixture) comes out unchanged.
    assert _rewrite(existing.ddl(), tmp_path) == existing.ddl()


def _doc_commands() -> list[str]:
    """The bash blocks of DEPLOYMENT.md's "Their migration_status schema" section, in order."""
    text = DEPLOYMENT.read_text()
    section = text.split("### Their migration_status schema", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)```", section, re.S)


def _psql_dir() -> Path:
    import pgserver  # type: ignore[import-untyped]

    bundled = Path(pgserver.__file__).parent / "pginstall" / "bin"
    if (bundled / "psql").exists():
        return bundled
    found = shutil.which("psql")
    assert found, "psql is needed to run the documented commands (pgserver's or the system's)"
    return Path(found).parent


def _run_doc_command(command: str, their_file: str, pg_dsn: str, tmp_path: Path) -> None:
    (tmp_path / "sql").mkdir(exist_ok=True)
    (tmp_path / "sql" / "migration_status_schema.sql").write_text(their_file)
    env = {
        **os.environ,
        "PATH": f"{_psql_dir()}{os.pathsep}{os.environ['PATH']}",
        "TARGET_DATABASE_URL": pg_dsn,
    }
    done = subprocess.run(
        ["bash", "-o", "pipefail", "-c", command],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_documented_rerun_command_on_the_upgraded_guide_schema(pg_dsn: str, tmp_path: Path) -> None:
    rerun, _ = _doc_commands()
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(SEED_DDL)
        conn.commit()
        ensure_schema(conn)
    _run_doc_command(rerun, SEED_DDL, pg_dsn, tmp_path)
    with psycopg.connect(pg_dsn) as conn:
        assert is_current(conn)


def test_documented_command_when_snowpg_made_the_schema_first(pg_dsn: str, tmp_path: Path) -> None:
    """Their file after snowpg set up the database: plain, it fails on snowpg's views; the
    documented command drops them, their views take the names, snowpg keeps its v_snowpg_ ones."""
    _, first_snowpg = _doc_commands()
    with psycopg.connect(pg_dsn) as conn:
        ensure_schema(conn)
        with pytest.raises(psycopg.errors.InvalidTableDefinition):
            conn.execute(existing.ddl())
        conn.rollback()
    _run_doc_command(first_snowpg, existing.ddl(), pg_dsn, tmp_path)
    with psycopg.connect(pg_dsn) as conn:
        for name, columns in existing.THEIR_VIEW_COLUMNS.items():
            assert existing.view_definition(conn, name)[0] == columns
        assert is_current(conn)  # their views are left alone, snowpg's own ones are in place
        ensure_schema(conn)
        for name, columns in existing.THEIR_VIEW_COLUMNS.items():
            assert existing.view_definition(conn, name)[0] == columns


def test_a_star_view_of_theirs_needs_the_documented_drop(pg_dsn: str) -> None:
    """``SELECT t.*, <more>`` cannot be re-created after snowpg added columns to ``t``."""
    star = (
        "CREATE OR REPLACE VIEW migration_status.v_runs_overview AS"
        " SELECT r.*, r.completed_at - r.started_at AS took FROM migration_status.migration_runs r"
    )
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(SEED_DDL)
        conn.execute(star)
        conn.commit()
        ensure_schema(conn)
        with pytest.raises(psycopg.errors.InvalidTableDefinition):
            conn.execute(star)
        conn.rollback()
        conn.execute("DROP VIEW migration_status.v_runs_overview")
        conn.execute(star)
        conn.commit()
