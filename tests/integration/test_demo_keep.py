"""``snowpg demo --keep`` leads on: the commands it prints work when pasted into a shell."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent


def _shell(script: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SNOWFLAKE_", "POSTGRES_"))}
    env["PATH"] = f"{BIN}:{env.get('PATH', '/usr/bin:/bin')}"
    return subprocess.run(
        ["bash", "-euc", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_demo_keep_prints_commands_that_work_as_printed(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    demo = _shell(f"snowpg demo --keep --rows 3000 --batch-size 1000 --dir {workdir}", 300)
    try:
        assert demo.returncode == 0, demo.stdout + demo.stderr
        assert "XDG_RUNTIME_DIR" not in demo.stdout + demo.stderr
        steps = [ln.strip() for ln in demo.stdout.splitlines() if ln.startswith("  ")]
        [export] = [s for s in steps if s.startswith("export ")]
        commands = {s.split()[1]: s for s in steps if s.startswith("snowpg ")}
        assert set(commands) == {"status", "report", "verify", "serve"}, steps

        status = _shell(f"{export}\n{commands['status']}")
        assert status.returncode == 0, status.stderr
        assert "completed" in status.stdout and "ORDERS" in status.stdout, status.stdout

        report = _shell(f"{export}\n{commands['report']}")
        assert report.returncode == 0, report.stderr
        assert "run report" in report.stdout and "3,000" in report.stdout, report.stdout

        verify = _shell(f"{export}\n{commands['verify']}")
        assert verify.returncode == 0, verify.stdout + verify.stderr
        assert "3 of 3 table(s) verified equal" in verify.stdout, verify.stdout

        port = re.search(r"--port (\d+)", commands["serve"])
        assert port, commands["serve"]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SNOWFLAKE_", "POSTGRES_"))}
        env["PATH"] = f"{BIN}:{env.get('PATH', '')}"
        serve = subprocess.Popen(
            ["bash", "-euc", f"{export}\nexec {commands['serve']}"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            page = ""
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not page:
                try:
                    url = f"http://127.0.0.1:{port.group(1)}/api/status"
                    with urllib.request.urlopen(url) as r:
                        page = r.read().decode()
                except OSError:
                    time.sleep(0.3)
            assert '"demo"' in page and "completed" in page, page[:500]
        finally:
            serve.terminate()
            serve.wait(10)
    finally:
        stop_line = [ln for ln in demo.stdout.splitlines() if "snowpg demo --stop" in ln]
        stopped = _shell(f"snowpg demo --stop --dir {workdir}")
    assert stop_line, demo.stdout
    assert (
        stopped.returncode == 0
        and "stopped the Snowflake stand-in and PostgreSQL" in stopped.stdout
    ), stopped.stdout + stopped.stderr
