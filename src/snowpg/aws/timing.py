"""When a Lambda invocation stops claiming chunks; pure, no I/O.

Lambda kills a function at its timeout (at most 900 s) without warning. The handler therefore
stops claiming new chunks once the remaining time falls below a margin, so the chunk being copied
and the bookkeeping after it finish before the hard stop, and answers ``partial``. The margin is
``lambda_timeout_buffer_seconds`` or twice the longest chunk seen so far in the run, whichever is
larger; a chunk that takes longer than the whole margin is still safe (its transaction rolls back
and its claim is retaken), it only wastes the work.
"""

from __future__ import annotations

from dataclasses import dataclass

from snowpg.errors import ConfigError

# A learned margin never takes more than this share of the invocation, so one slow outlier chunk
# cannot turn every later invocation into one that claims nothing.
MAX_LEARNED_SHARE = 0.5
# The learned margin is this many times the longest chunk observed in the run.
CHUNK_FACTOR = 2.0


@dataclass(frozen=True)
class Budget:
    remaining_seconds: float
    margin_seconds: float
    deadline: float  # time.monotonic() after which no new chunk is claimed
    learned: bool  # the margin came from observed chunk durations, not the configured buffer

    def to_json(self) -> dict[str, float | bool]:
        return {
            "remaining_seconds": round(self.remaining_seconds, 3),
            "margin_seconds": round(self.margin_seconds, 3),
            "margin_learned": self.learned,
        }


def margin_seconds(
    buffer_seconds: float, longest_chunk_seconds: float | None, remaining_seconds: float
) -> tuple[float, bool]:
    """``(margin, learned)``: the larger of the buffer and the learned margin (capped)."""
    if not longest_chunk_seconds or longest_chunk_seconds <= 0:
        return float(buffer_seconds), False
    learned = min(CHUNK_FACTOR * longest_chunk_seconds, MAX_LEARNED_SHARE * remaining_seconds)
    if learned > buffer_seconds:
        return learned, True
    return float(buffer_seconds), False


def plan_budget(
    remaining_ms: float,
    buffer_seconds: float,
    longest_chunk_seconds: float | None,
    now: float,
) -> Budget:
    """The claim deadline for an invocation with ``remaining_ms`` left at ``now`` (monotonic).

    Raises ConfigError when the configured buffer alone leaves no time to copy anything: looping
    on such a function would answer ``partial`` forever.
    """
    remaining = max(0.0, remaining_ms / 1000.0)
    if remaining <= buffer_seconds:
        raise ConfigError(
            f"the Lambda invocation has {remaining:.0f} s left but lambda_timeout_buffer_seconds "
            f"is {buffer_seconds}: nothing could be copied",
            hint="raise the function's timeout (900 s is the maximum) or lower "
            "lambda_timeout_buffer_seconds in config.json",
            field="lambda_timeout_buffer_seconds",
        )
    margin, learned = margin_seconds(buffer_seconds, longest_chunk_seconds, remaining)
    return Budget(
        remaining_seconds=remaining,
        margin_seconds=margin,
        deadline=now + remaining - margin,
        learned=learned,
    )
