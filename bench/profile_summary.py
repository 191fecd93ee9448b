"""Summarise a ``py-spy record --format raw`` file: share of samples by function (inclusive).

.venv/bin/python -m bench.profile_summary .bench-work/NAME.pyspy.txt
"""

from __future__ import annotations

import re
import sys
from collections import Counter

# Frames that say where the time goes; everything else is grouped under its nearest listed frame.
BUCKETS = [
    (
        "waiting (queue, lock, socket)",
        re.compile(r"^(Condition|Event)\.wait|^Connection\.wait|^wait "),
    ),
    ("encode Arrow->COPY data (snowpg.copy)", re.compile(r"encode_batch|encode_binary_batch")),
    ("COPY write to PostgreSQL (psycopg)", re.compile(r"\bwrite \(psycopg|copy\.py|_copy_base")),
    (
        "Snowflake fetch: HTTP + JSON/Arrow decode",
        re.compile(r"fetch_arrow_batches|connector/|arrow_iterator|requests|urllib3"),
    ),
    ("status store / claims", re.compile(r"snowpg/status")),
    (
        "planning, imports, start-up",
        re.compile(r"snowpg/plan|<module>|_find_and_load|snowpg/run/"),
    ),
]


def main(path: str) -> None:
    totals: Counter[str] = Counter()
    samples = 0
    with open(path) as f:
        lines = f.read().splitlines()
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        samples += n
        frames = stack.split(";")
        bucket = "other"
        for name, pattern in BUCKETS:
            probe = frames[-1:] if name.startswith("waiting") else frames
            if any(pattern.search(f) for f in probe):
                bucket = name
                break
        totals[bucket] += n
    print(f"{samples} active samples")
    for name, n in totals.most_common():
        print(f"  {100 * n / max(1, samples):5.1f}%  {name}")


if __name__ == "__main__":
    main(sys.argv[1])
