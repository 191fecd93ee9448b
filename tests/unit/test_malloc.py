"""Worker threads share glibc arenas: counted by glibc's own malloc_stats, in a fresh process."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

THREADS = """
import ctypes, sys, threading
from snowpg.malloc import limit_arenas
print(limit_arenas() if sys.argv[1] == "on" else "off", flush=True)
barrier = threading.Barrier(6)
def work():
    held = [bytearray(1024) for _ in range(2000)]  # small buffers: served by the thread's arena
    barrier.wait()  # all six threads hold memory at once
    del held
threads = [threading.Thread(target=work) for _ in range(6)]
for t in threads: t.start()
for t in threads: t.join()
ctypes.CDLL(None).malloc_stats()  # per-arena report on stderr
"""


def arenas(mode: str, **extra: str) -> tuple[str, int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")} | extra
    done = subprocess.run(
        [sys.executable, "-c", THREADS, mode], capture_output=True, text=True, check=True, env=env
    )
    return done.stdout.strip(), len(re.findall(r"^Arena \d+:", done.stderr, re.MULTILINE))


@pytest.mark.skipif(sys.platform != "linux", reason="glibc malloc tuning applies to Linux only")
def test_worker_threads_share_two_arenas() -> None:
    state, default = arenas("off")
    assert state == "off" and default > 2, default
    state, capped = arenas("on")
    assert state == "True" and capped <= 2, capped
    # The user's own setting wins, and SNOWPG_MALLOC_TUNING=0 turns it off.
    assert arenas("on", MALLOC_ARENA_MAX="8")[0] == "False"
    assert arenas("on", SNOWPG_MALLOC_TUNING="0")[0] == "False"
