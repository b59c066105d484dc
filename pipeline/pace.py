"""How long work takes: a running estimate of seconds per unit of job cost.

Used to tell a refused user when to retry ("try again in about 40 s") from what the GPU has
actually been doing, rather than from a guess in the config.
"""

from __future__ import annotations

_SMOOTHING = 0.3


class PaceEstimator:
    """An exponentially smoothed seconds-per-cost figure from finished batches."""

    def __init__(self) -> None:
        self._seconds_per_cost: float | None = None

    def learn(self, cost: float, seconds: float) -> None:
        """Fold one finished batch (its total cost and duration) into the estimate."""
        if cost <= 0 or seconds <= 0:
            return
        pace = seconds / cost
        previous = self._seconds_per_cost
        self._seconds_per_cost = (
            pace if previous is None else (1 - _SMOOTHING) * previous + _SMOOTHING * pace
        )

    def seconds_for(self, cost: float) -> float | None:
        """Estimate how long work of this cost takes, or None before any measurement."""
        return None if self._seconds_per_cost is None else cost * self._seconds_per_cost

    def retry_hint(self, cost: float) -> str:
        """Phrase when to retry, for work of this cost to finish first."""
        seconds = self.seconds_for(cost)
        if seconds is None:
            return "in a minute or two"
        seconds = max(5.0, seconds)
        return (
            f"in about {round(seconds)} s"
            if seconds < 120
            else f"in about {round(seconds / 60)} min"
        )
