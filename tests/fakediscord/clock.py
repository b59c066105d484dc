"""Time as the emulator sees it: real time plus an offset a test can push forward."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

# Discord's epoch (2015-01-01T00:00:00Z) in milliseconds; snowflakes count from it.
DISCORD_EPOCH_MS = 1_420_070_400_000


class Clock:
    """Tell the time for every deadline, so a test can skip minutes without waiting."""

    def __init__(self) -> None:
        self._offset = 0.0

    @property
    def offset(self) -> float:
        """Return how many seconds the clock has been advanced."""
        return self._offset

    def now(self) -> float:
        """Return monotonic seconds, advanced by the offset; deadlines compare these."""
        return time.monotonic() + self._offset

    def wall(self) -> datetime:
        """Return the wall-clock time in UTC, advanced by the offset; payload timestamps use it."""
        return datetime.now(UTC) + timedelta(seconds=self._offset)

    def advance(self, seconds: float) -> None:
        """Move the clock forward, as if that much time had passed."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self._offset += seconds


class SnowflakeFactory:
    """Mint unique snowflakes whose timestamps follow the clock, as discord.py decodes them."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._last = 0

    def next(self) -> int:
        """Return a new snowflake for the current clock time, greater than any before it."""
        millis = int(self._clock.wall().timestamp() * 1000) - DISCORD_EPOCH_MS
        # Worker 1, process 0, increment 0; bumping past the last id keeps ids unique and ordered.
        self._last = max((millis << 22) | (1 << 17), self._last + 1)
        return self._last


def iso(moment: datetime) -> str:
    """Format a timestamp the way Discord's payloads do."""
    return moment.isoformat(timespec="microseconds")
