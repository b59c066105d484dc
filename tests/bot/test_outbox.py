"""The outbox's backoff: exponential, capped, jittered."""

from __future__ import annotations

import random

from bot.outbox import Backoff


def test_the_backoff_doubles_until_its_cap() -> None:
    """Wait at most base·2ⁿ⁻¹ after n failures, and never more than the cap."""
    backoff = Backoff(base=2.0, cap=60.0, rng=random.Random(1))
    ceilings = [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]
    for attempts, ceiling in enumerate(ceilings, start=1):
        delays = [backoff.delay(attempts) for _ in range(50)]
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)


def test_the_backoff_jitters_so_retries_do_not_come_in_step() -> None:
    """Spread the waits of many deliveries that failed together."""
    backoff = Backoff(base=2.0, cap=60.0, rng=random.Random(2))
    delays = {round(backoff.delay(4), 3) for _ in range(20)}
    assert len(delays) > 10
