"""The status page and the HTML report in a real headless Chromium during a real migration.

Chromium and chromedriver come from the distribution (``apt-get install chromium
chromium-driver``; ``.ci/run`` installs them). Set ``SNOWPG_SCREENSHOT=docs/img/status-page.png``
to refresh the README's screenshot from this test.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from tests.fixtures.migration import run_cli, spawn_cli
from tests.observe.helpers import (
    completed_chunks,
    config_for,
    prepare_slow_tables,
    start_migration,
    table_rows,
    wait_for,
)

pytestmark = pytest.mark.integration

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=1360,900",
)  # fmt: skip
TABLES = {"ORDERS": 12_000, "ITEMS": 6_000}


@pytest.fixture
def browser() -> Iterator[Any]:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.fail("Chromium is not installed: apt-get install -y chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def _number(text: str) -> int:
    return int(text.replace(",", "").strip())


# Read in one script call: the page redraws every refresh, so element handles go stale.
READ_ROWS = """
const out = {};
for (const row of document.querySelectorAll('tr[data-table]')) {
  const f = {};
  for (const c of row.querySelectorAll('[data-field]')) f[c.dataset.field] = c.textContent.trim();
  out[row.dataset.table] = f;
}
return out;
"""


def _page_rows(driver: Any) -> dict[str, dict[str, str]]:
    """{table: {field: text}} as the page shows it now."""
    rows: dict[str, dict[str, str]] = driver.execute_script(READ_ROWS)
    return rows


def _text(driver: Any, selector: str) -> str:
    return str(
        driver.execute_script(
            "return Array.from(document.querySelectorAll(arguments[0]))"
            ".map(e => e.textContent).join(' ');",
            selector,
        )
    )


def _refreshes(driver: Any) -> int:
    return int(driver.execute_script("return document.body.dataset.refreshes") or 0)


def _fresh(driver: Any, n: int = 3) -> dict[str, dict[str, str]]:
    """The page's numbers after ``n`` more refreshes (longer than the server's 1 s cache)."""
    start = _refreshes(driver)
    wait_for(lambda: _refreshes(driver) >= start + n, 30, "page refreshes")
    return _page_rows(driver)


def _start_server(cfg: Path, env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    proc = spawn_cli(
        "serve", "--config", str(cfg), "--port", "0", "--refresh", "0.4", env=env, log=log
    )
    found: list[str] = []

    def url() -> bool:
        m = re.search(r"http://127\.0\.0\.1:\d+/", log.read_text())
        if m:
            found.append(m.group(0))
        return bool(m) or proc.poll() is not None

    wait_for(url, 30, "the status server")
    assert found, log.read_text()
    return proc, found[0]


def test_status_page_follows_a_live_migration_and_report_opens(
    sf_conn: Any,
    sf_database: str,
    pg_dsn: str,
    pg_database: str,
    server_env: dict[str, str],
    tmp_path: Path,
    browser: Any,
) -> None:
    prepare_slow_tables(sf_conn, pg_dsn, TABLES, slow_seconds=0.08)
    cfg = config_for(
        tmp_path, sf_database, pg_database, list(TABLES), batch_size=250, parallel_threads=2
    )
    server, url = _start_server(cfg, server_env, tmp_path / "serve.log")
    migration = start_migration(cfg, server_env, tmp_path / "migrate.log")
    try:
        wait_for(
            lambda: completed_chunks(pg_dsn) >= 2 or migration.poll() is not None, 120, "chunks"
        )
        browser.get(url)
        wait_for(lambda: "ORDERS" in _page_rows(browser), 30, "the ORDERS row on the page")
        assert "snowpg status" in browser.title

        # The page shows what the status tables hold: between a read before and one after.
        before = table_rows(pg_dsn)
        shown = _fresh(browser)
        after = table_rows(pg_dsn)
        assert migration.poll() is None, "the migration ended before the page was checked"
        for name in TABLES:
            rows = _number(shown[name]["rows"])
            assert before[name]["total_rows_copied"] <= rows <= after[name]["total_rows_copied"]
            done, total = shown[name]["chunks"].split(" ")[0].split("/")
            assert int(total) == after[name]["total_chunks"]
            assert before[name]["completed_chunks"] <= int(done) <= after[name]["completed_chunks"]
        first = sum(_number(shown[n]["rows"]) for n in TABLES)
        assert first < sum(TABLES.values())
        assert _text(browser, "svg text")  # the throughput chart is drawn

        # ... and the numbers move while the migration runs.
        wait_for(
            lambda: sum(_number(r["rows"]) for r in _page_rows(browser).values()) > first,
            60,
            "the page's row counts to grow",
        )
        assert _text(browser, "[data-field=run_rate]") not in ("", "-")
        # The screenshot (the README's, with SNOWPG_SCREENSHOT) is taken halfway through.
        half = sum(TABLES.values()) // 2
        wait_for(
            lambda: (
                sum(_number(r["rows"]) for r in _page_rows(browser).values()) >= half
                or migration.poll() is not None
            ),
            120,
            "half of the rows",
        )
        shot = Path(os.environ.get("SNOWPG_SCREENSHOT") or tmp_path / "status-page.png")
        assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000

        assert migration.wait(180) == 0, (tmp_path / "migrate.log").read_text()
        final_db = table_rows(pg_dsn)
        wait_for(
            lambda: all(r["status"] == "completed" for r in _page_rows(browser).values()),
            30,
            "the page to show every table completed",
        )
        final = _fresh(browser)
        for name, rows in TABLES.items():
            assert _number(final[name]["rows"]) == final_db[name]["total_rows_copied"] == rows
            n = final_db[name]["total_chunks"]
            assert final[name]["chunks"] == f"{n}/{n}" and final[name]["eta"] == "-"

        # A failed chunk appears in the page's failed-chunks list with its error.
        with psycopg.connect(pg_dsn) as conn:
            conn.execute(
                "UPDATE migration_status.migration_chunk_status SET status = 'failed',"
                " error_message = 'planted: value too long for type character varying(30)'"
                " WHERE source_table = 'ITEMS' AND chunk_id = 1"
            )
            conn.execute(
                "UPDATE migration_status.migration_table_status SET failed_chunks = 1,"
                " completed_chunks = completed_chunks - 1 WHERE source_table = 'ITEMS'"
            )
        wait_for(
            lambda: "planted: value too long" in _text(browser, "[data-issues=failed]"),
            30,
            "the failed chunk on the page",
        )
    finally:
        if migration.poll() is None:
            migration.kill()
        server.terminate()
        server.wait(10)

    # The HTML run report: written by the CLI, opened from disk, per-table numbers present.
    report = tmp_path / "report.html"
    made = run_cli("report", "--config", str(cfg), "--html", str(report), env=server_env)
    assert made.returncode == 0, made.stdout + made.stderr
    assert "ORDERS" in made.stdout and "12,000" in made.stdout
    browser.get(report.as_uri())
    assert "snowpg run report" in browser.title
    shown = _page_rows(browser)
    for name, rows in TABLES.items():
        assert _number(shown[name]["rows"]) == rows
        assert shown[name]["retries"] == "0"
        assert shown[name]["bytes"].endswith(("KiB", "MiB"))
    assert shown["ITEMS"]["chunks"].endswith("(1 failed)")
    assert "planted: value too long" in _text(browser, "body")
