"""``snowpg`` with its imports done first and the CPU they took written down.

    python -m bench.snowpg_timed MARK.json migrate --config c.json

Imports what ``snowpg migrate`` loads (the CLI, the run, the Snowflake connector, pyarrow,
psycopg), then writes this process's CPU seconds so far (user + sys of every thread) and its RSS
to ``MARK.json`` and runs the command. The benchmark subtracts the mark from the process's total
CPU (``wait4``): what remains is the CPU of the migration itself, from reading the configuration
to the printed summary, without the interpreter's start-up and imports.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    mark, *args = sys.argv[1:]
    import numpy  # noqa: F401
    import psycopg  # noqa: F401
    import pyarrow.compute  # noqa: F401
    import snowflake.connector
    import snowflake.connector.result_batch  # noqa: F401

    from snowpg.cli import app, progress, render  # noqa: F401
    from snowpg.observe import emf  # noqa: F401
    from snowpg.run import migrate  # noqa: F401

    usage = resource.getrusage(resource.RUSAGE_SELF)
    Path(mark).write_text(
        json.dumps(
            {
                "startup_cpu_s": usage.ru_utime + usage.ru_stime,
                "startup_rss_mb": _rss_mb(),
                "marked_at": time.time(),
            }
        )
    )
    sys.exit(app.run(args))


if __name__ == "__main__":
    main()
