"""glibc keeps freed chunk buffers for reuse: counted in page faults, in a fresh process each."""

from __future__ import annotations

import subprocess
import sys

import pytest

CHURN = """
import resource, sys
from snowpg.malloc import keep_freed_memory
print(keep_freed_memory() if sys.argv[1] == "on" else "off")
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):  # like a chunk's HTTP body: read 10 KB at a time, joined, decoded, freed
    parts = [b"x" * 10_240 for _ in range(3_000)]
    body = b"".join(parts)
    del parts
    text = body.decode()
    del body, text
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def faults(mode: str, **env: str) -> tuple[str, int]:
    out = subprocess.run(
        [sys.executable, "-c", CHURN, mode], capture_output=True, text=True, check=True, env=env
    ).stdout.split()
    return out[0], int(out[1])


@pytest.mark.skipif(sys.platform != "linux", reason="glibc malloc tuning applies to Linux only")
def test_freed_buffers_are_reused_instead_of_faulted_in_again() -> None:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    state, untuned = faults("off", **env)
    tuned_state, tuned = faults("on", **env)
    assert (state, tuned_state) == ("off", "True")
    # 20 rounds of ~90 MB: untuned faults the pages in again every round, tuned about once.
    assert untuned > 100_000, untuned
    assert tuned < untuned / 4, (tuned, untuned)
    # The user's own malloc settings win.
    assert faults("on", **env, MALLOC_TRIM_THRESHOLD_="131072")[0] == "False"
