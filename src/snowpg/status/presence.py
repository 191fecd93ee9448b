"""Who is working a run right now: PostgreSQL advisory locks held by the processes of a run.

Two session-level locks, both on the admin connection of a ``migrate`` process:

- the *source lock* (exclusive) serialises opening runs of one source: finding, creating,
  resuming or abandoning a run happens under it, so two processes never decide at once;
- the *run lock* (shared) is held by every process working a run, from the moment it joins the
  run (still under the source lock) until its last status write. A fresh run may replace an
  older run only after taking the older run's lock exclusively, that is, when no process of it
  is alive. PostgreSQL releases both when the session ends, so a killed process frees them.

Session advisory locks need direct or session-pooled connections (docs/design.md).
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from snowpg.status.schema import Conn, fetch_all, q

# application_name is at most 63 bytes (NAMEDATALEN - 1); longer values are cut by the server.
_APP_NAME_BYTES = 63


def _key(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big", signed=True)


def source_key(source_name: str) -> int:
    return _key(f"snowpg:{source_name}")


def run_key(run_id: uuid.UUID) -> int:
    return _key(f"snowpg-run:{run_id}")


def lock_source(conn: Conn, source_name: str) -> None:
    """Wait for the source lock; commits (the lock is session-level)."""
    conn.execute("SELECT pg_advisory_lock(%s)", (source_key(source_name),))
    conn.commit()


def unlock_source(conn: Conn, source_name: str) -> None:
    conn.execute("SELECT pg_advisory_unlock(%s)", (source_key(source_name),))
    conn.commit()


def join_run(conn: Conn, run_id: uuid.UUID, who: str) -> None:
    """Mark this session as a live process of ``run_id`` (shared run lock); commits.

    ``who`` (host:pid) goes into application_name so a refused fresh run can say where the live
    process runs.
    """
    name = f"snowpg migrate {who}".encode()[:_APP_NAME_BYTES].decode(errors="ignore")
    conn.execute("SELECT set_config('application_name', %s, false)", (name,))
    conn.execute("SELECT pg_advisory_lock_shared(%s)", (run_key(run_id),))
    conn.commit()


def live_processes(conn: Conn, run_id: uuid.UUID) -> list[str]:
    """The other sessions holding ``run_id``'s run lock, as "application_name (client, pid N)".

    Empty means no process of the run is alive; the caller holds the source lock, so none can
    join meanwhile. Caller txn.
    """
    key = run_key(run_id)
    # pg_stat_activity is a per-transaction snapshot: read it fresh.
    conn.execute("SELECT pg_stat_clear_snapshot()")
    rows = fetch_all(
        conn,
        q(
            "SELECT a.application_name AS app, host(a.client_addr) AS addr, a.pid AS pid"
            " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
            " AND l.classid::bigint = %(hi)s AND l.objid::bigint = %(lo)s"
            " AND l.pid <> pg_backend_pid() ORDER BY a.backend_start"
        ),
        {"hi": (key >> 32) & 0xFFFFFFFF, "lo": key & 0xFFFFFFFF},
    )
    return [_describe(r) for r in rows]


def _describe(row: dict[str, Any]) -> str:
    where = row["addr"] or "local socket"
    return f"{row['app'] or 'unknown client'} (from {where}, backend pid {row['pid']})"
