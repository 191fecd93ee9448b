"""Run processes together and measure each one's wall time, peak RSS and CPU (user + sys)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

POLL_S = 0.05


def _peak_rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


@dataclass
class ProcResult:
    returncode: int
    seconds: float
    max_rss_mb: float
    cpu_seconds: float
    log: Path
    sys_seconds: float = 0.0  # the kernel's share of cpu_seconds


@dataclass
class Group:
    seconds: float
    procs: list[ProcResult]

    @property
    def ok(self) -> bool:
        return all(p.returncode == 0 for p in self.procs)

    @property
    def max_rss_mb(self) -> float:
        return max(p.max_rss_mb for p in self.procs)

    @property
    def cpu_seconds(self) -> float:
        return sum(p.cpu_seconds for p in self.procs)


def snowpg_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "snowpg.cli.app", *args]


def timed_snowpg_command(mark: Path, *args: str) -> list[str]:
    """``snowpg ARGS`` that writes its start-up CPU to ``mark`` (see ``bench.snowpg_timed``)."""
    return [sys.executable, "-m", "bench.snowpg_timed", str(mark), *args]


def startup_cpu_seconds(marks: list[Path]) -> float | None:
    """The start-up CPU (imports) the ``timed_snowpg_command`` processes wrote, summed; None
    when one of them wrote nothing."""
    total = 0.0
    for mark in marks:
        try:
            total += float(json.loads(mark.read_text())["startup_cpu_s"])
        except (OSError, ValueError, KeyError):
            return None
    return total


def run_together(commands: list[list[str]], env: dict[str, str], log_dir: Path, name: str) -> Group:
    """Start every command at once; measure each one's peak RSS and CPU (user + sys).

    CPU comes from wait4()'s rusage. Peak RSS is the kernel's high-water mark ``VmHWM``, polled
    from /proc while the process runs: ru_maxrss is no good here, because a forked child starts
    with the (large) benchmark parent's mark. Both include interpreter start-up and imports
    (about 1-2 s of CPU), as a Lambda invocation would pay them; ``timed_snowpg_command`` marks
    where they end.
    """
    full_env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
    log_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    running: dict[int, tuple[subprocess.Popen[bytes], Path]] = {}
    for i, cmd in enumerate(commands):
        log = log_dir / f"{name}-{i}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(cmd, env=full_env, stdout=out, stderr=subprocess.STDOUT)
        running[proc.pid] = (proc, log)
    results: list[ProcResult] = []
    peak: dict[int, float] = dict.fromkeys(running, 0.0)
    while running:
        for pid in running:
            peak[pid] = max(peak[pid], _peak_rss_mb(pid))
        pid, status, usage = os.wait4(-1, os.WNOHANG)
        if pid == 0:
            time.sleep(POLL_S)
            continue
        if pid not in running:
            continue
        proc, log = running.pop(pid)
        proc.returncode = os.waitstatus_to_exitcode(status)
        results.append(
            ProcResult(
                returncode=proc.returncode,
                seconds=time.perf_counter() - started,
                max_rss_mb=peak[pid],
                cpu_seconds=usage.ru_utime + usage.ru_stime,
                log=log,
                sys_seconds=usage.ru_stime,
            )
        )
    return Group(seconds=time.perf_counter() - started, procs=results)
