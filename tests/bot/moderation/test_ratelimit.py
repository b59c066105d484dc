"""GCRA: a burst is allowed, then requests are refused with a retry time, then allowed again."""

from __future__ import annotations

from bot.moderation.ratelimit import RateLimit, decide

LIMIT = RateLimit(per_minute=6, burst=3)  # one every 10 s, three at once


def test_a_burst_then_refusal_then_recovery() -> None:
    """Allow three at once, refuse the fourth with when to retry, allow it after waiting."""
    tat = None
    for _ in range(3):
        decision = decide(tat, 1000.0, LIMIT)
        assert decision.allowed
        tat = decision.tat
    refused = decide(tat, 1000.0, LIMIT)
    assert not refused.allowed
    assert refused.retry_after == 10.0
    assert refused.retry_text() == "try again in 10 s"
    assert refused.tat == tat  # a refusal costs nothing
    assert decide(tat, 1010.0, LIMIT).allowed


def test_a_quiet_key_gets_its_whole_burst_back() -> None:
    """Forget old usage once the key has been quiet for long enough."""
    tat = decide(None, 0.0, LIMIT).tat
    for _ in range(3):
        decision = decide(tat, 10_000.0, LIMIT)
        assert decision.allowed
        tat = decision.tat


def test_the_sustained_rate_is_enforced() -> None:
    """Allow one request per interval once the burst is spent."""
    tat = None
    now = 0.0
    allowed = 0
    while now < 600:
        decision = decide(tat, now, LIMIT)
        if decision.allowed:
            allowed += 1
            tat = decision.tat
        now += 1.0
    assert 60 <= allowed <= 63  # 6 a minute for 10 minutes, plus the burst
