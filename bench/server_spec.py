"""Which Snowflake side a benchmark phase runs against: ``--servers fakesnow,standin@0.2,...``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Server:
    name: str  # prefix of the phase's row names; "" in a run on one server
    latency: float | None = None  # the stand-in's per-query compile + queue seconds
    plain: bool = False  # bare fakesnow (connector 4.x only: 5.x cannot log in to it)
    passthrough: bool = False  # the stand-in forwards fakesnow's answers unchanged

    @property
    def prefix(self) -> str:
        return f"{self.name}: " if self.name else ""

    def control(self, result_chunk_mb: float | None) -> dict[str, Any]:
        """The stand-in settings of this server (``StandinServer.control`` arguments)."""
        changes: dict[str, Any] = {}
        if self.passthrough:
            changes["reshape"] = False
        elif result_chunk_mb:
            changes["chunk_bytes"] = int(result_chunk_mb * 2**20)
        return changes


def parse_servers(text: str) -> list[Server]:
    """``fakesnow`` (fakesnow's own answers, one inline rowset per query, through the stand-in's
    login shim) and ``standin`` / ``standin@SECONDS`` (the wire stand-in with that latency)."""
    found: list[Server] = []
    for item in (x.strip() for x in text.split(",") if x.strip()):
        kind, _, latency = item.partition("@")
        seconds = float(latency) if latency else 0.0
        if kind == "fakesnow" and not latency:
            found.append(Server("fakesnow answers", latency=0.0, passthrough=True))
        elif kind == "standin":
            found.append(Server(f"stand-in {seconds * 1000:g} ms", latency=seconds))
        else:
            raise SystemExit(f"--servers: unknown server {item!r} (fakesnow, standin@SECONDS)")
    return found


def parse_setting(text: str) -> tuple[int, int, float | None]:
    """``THREADSxBATCH`` or ``THREADSxBATCHxMAX_CHUNK_MB``."""
    parts = text.strip().split("x")
    return int(parts[0]), int(parts[1]), float(parts[2]) if len(parts) > 2 else None
