"""Per-user (and per-guild) rate limits with bursts: the generic cell rate algorithm (GCRA).

GCRA keeps one number per key, the "theoretical arrival time" (TAT): the moment the key's
allowance would be fully used if every past request had arrived on schedule. A request is
allowed if it would not push the TAT more than ``burst`` intervals into the future. One
timestamp per key is easy to persist in the same transaction that accepts a job, so a
restart neither resets a limit nor loses one.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.errors import UserError


class RateLimitedError(UserError):
    """A user (or the whole guild) has used up the allowance for now."""


@dataclass(frozen=True)
class RateLimit:
    """A sustained rate and how many requests may come at once."""

    per_minute: float
    burst: int

    @property
    def interval(self) -> float:
        """Return the seconds one request's allowance takes to come back."""
        return 60.0 / self.per_minute


@dataclass(frozen=True)
class RateCharge:
    """One limit a new job is charged against: whose allowance (``key``), and the refusal.

    A job carries its charges from the moment it is built to the transaction that stores it,
    so the limit is decided and charged atomically with accepting the job.
    """

    key: str
    limit: RateLimit
    refusal: str


@dataclass(frozen=True)
class Decision:
    """Whether a request may go ahead, the TAT to store, and when to retry if not."""

    allowed: bool
    tat: float
    retry_after: float

    def retry_text(self) -> str:
        """Phrase when to retry, for the refused user."""
        seconds = max(1, round(self.retry_after))
        return (
            f"try again in {seconds} s"
            if seconds < 120
            else f"try again in {round(seconds / 60)} min"
        )


def decide(tat: float | None, now: float, limit: RateLimit) -> Decision:
    """Decide one request under ``limit`` given the stored TAT (None for a new key)."""
    current = now if tat is None else max(tat, now)
    proposed = current + limit.interval
    allowed_from = proposed - limit.interval * limit.burst
    if now < allowed_from:
        return Decision(allowed=False, tat=current, retry_after=allowed_from - now)
    return Decision(allowed=True, tat=proposed, retry_after=0.0)
