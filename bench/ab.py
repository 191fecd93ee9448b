"""Before/after: the stand-in benchmark of another commit and of this checkout, run alternately.

    python -m bench.ab --before e5821f7 --rounds 6 --rows 1000000

The other commit is checked out as a git worktree under ``--work-dir``; both sides run this
checkout's ``bench.run`` with the same virtualenv and that side's ``src`` first on ``PYTHONPATH``
(for the measured ``snowpg migrate`` too), so the two differ only in snowpg's code. Runs alternate (before, after, before, ...) so the machine's load drifts over both alike;
the table gives each side's median and range over the rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]


def _worktree(rev: str, work: Path) -> Path:
    path = work / f"ab-{rev}"
    if not path.exists():
        git = ["git", "-C", str(HERE), "worktree", "add", "--detach", str(path), rev]
        subprocess.run(git, check=True, stdout=sys.stderr)
    return path


def _run(checkout: Path, args: argparse.Namespace, out: Path) -> list[dict[str, float | str]]:
    # This checkout's harness for both sides; only snowpg's code (``src``) differs.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(checkout / "src"), str(HERE)])}
    cmd = [sys.executable, "-m", "bench.run", "--rows", str(args.rows),
           "--servers", f"standin@{args.latency:g}", "--tuned", args.tuned, "--skip-source-alone",
           "--skip-baselines", "--skip-ceilings", "--scale", "", "--work-dir",
           str(out.parent / f"work-{checkout.name}"), "--json", str(out)]  # fmt: skip
    subprocess.run(cmd, cwd=HERE, env=env, check=True, stdout=subprocess.DEVNULL)
    results: list[dict[str, float | str]] = json.loads(out.read_text())
    return results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--before", required=True, help="git revision to compare this checkout with")
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--latency", type=float, default=0.2, help="stand-in seconds per query")
    p.add_argument("--tuned", default="", help="also a THREADSxBATCH[xMB] row ('' for none)")
    p.add_argument("--work-dir", default=".bench-work")
    args = p.parse_args()
    work = (HERE / args.work_dir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    sides = {f"before ({args.before})": _worktree(args.before, work), "after (this checkout)": HERE}
    seen: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    for i in range(args.rounds):
        for label, checkout in sides.items():
            for r in _run(checkout, args, work / f"ab-{i}-{checkout.name}.json"):
                name = str(r.get("name", ""))
                if "snowpg" not in name:
                    continue
                rows, seconds, cpu = float(r["rows"]), float(r["seconds"]), float(r["cpu_s"])
                cpu -= float(r.get("startup_cpu_s") or 0.0)  # older checkouts do not mark it
                per = seen.setdefault((name.split(": ")[-1], label), [])
                per.append((rows / seconds, cpu / rows * 1e6, float(r["rss_mb"])))
            print(f"round {i + 1}/{args.rounds}: {label} done", file=sys.stderr)
    print("| measurement | rows/s (median) | rows/s (range) | CPU s/M rows (median) "
          "| CPU s/M rows (range) | peak RSS MB (median) |")  # CPU: excl. start-up if marked  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|")
    for (name, label), runs in sorted(seen.items()):
        rate, cpu, rss = zip(*runs, strict=True)
        print(f"| {name}, {label} | {statistics.median(rate):,.0f} | "
              f"{min(rate):,.0f} – {max(rate):,.0f} | {statistics.median(cpu):.2f} | "
              f"{min(cpu):.2f} – {max(cpu):.2f} | {statistics.median(rss):.0f} |")  # fmt: skip


if __name__ == "__main__":
    main()
