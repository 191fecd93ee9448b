"""Keep glibc from handing big buffers back to the kernel after every chunk.

Each chunk arrives from Snowflake as a few buffers of tens of MB (the HTTP body, the decoded
Arrow IPC bytes). glibc serves such sizes with a fresh ``mmap`` and unmaps them on free, or trims
its heap right after, so every chunk page-faults its buffers in again: measured on the benchmark
schema, 1.2-1.8 s of kernel CPU per million rows, a third of the client's CPU. Raising the mmap
and trim thresholds lets freed buffers be reused by the next chunk. Peak memory does not change
(the buffers exist at the same time either way); memory above the peak is never returned to the
kernel until the process ends, which for one migration or one Lambda invocation is the same
thing.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys

log = logging.getLogger("snowpg.malloc")

# mallopt() parameters (malloc.h). 32 MiB is the largest mmap threshold glibc accepts on 64 bits.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 1024 * 1024
TRIM_THRESHOLD = 512 * 1024 * 1024

_done = False


def keep_freed_memory() -> bool:
    """Raise glibc's mmap/trim thresholds once per process; False where that does not apply.

    Skipped when the user set ``MALLOC_MMAP_THRESHOLD_``/``MALLOC_TRIM_THRESHOLD_`` (their choice
    wins) or ``SNOWPG_MALLOC_TUNING=0``, and on anything but glibc on Linux.
    """
    global _done
    if _done:
        return True
    if sys.platform != "linux" or os.environ.get("SNOWPG_MALLOC_TUNING") == "0":
        return False
    if any(k in os.environ for k in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")):
        return False
    try:
        libc = ctypes.CDLL(None)
        gnu_get_libc_version = libc.gnu_get_libc_version  # present only in glibc
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    del gnu_get_libc_version
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    ok = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
    log.debug("glibc malloc thresholds raised: %s", ok)
    _done = ok
    return ok
