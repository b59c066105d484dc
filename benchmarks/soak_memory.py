"""The soak's memory figures: what the bot keeps, not where a sample fell within a batch.

Inside every batch the bot's resident size swings by 50-80 MiB (a batch of eight 2× upscales
decodes all eight at once) and drops back when the batch ends, so a single sample at each end
of a run says mostly where in a batch each one fell: one process measured +14.2 % that way,
its last sample mid-batch, and +4.8 % once drained. What a leak or a fragmenting heap raises
is what the process keeps: its floor (the least resident size over a window, reached between
batches) and its size once drained and idle. The growth judged runs from the floor of the
minute after warm-up to the greater of the floor of the last minute of traffic and the size
once drained (a heap that grows in the last minute shows only in the second). The single
samples and the windows' peaks are printed beside it. Used by ``benchmarks/soak.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from benchmarks.soak_support import Life

WINDOW = 60.0  # seconds; at most a third of the judged process's time after its warm-up


@dataclass(frozen=True)
class Span:
    """The least and the greatest RSS (KiB) sampled in a window; None when none fell in it."""

    floor: int | None
    peak: int | None


def span(life: Life, since: float, until: float) -> Span:
    """Return the floor and peak of the samples taken from ``since`` to ``until`` (monotonic)."""
    kib = [kib for at, kib in life.samples if since <= at <= until]
    return Span(min(kib, default=None), max(kib, default=None))


def judged_spans(judged: Life, warm_up: float, traffic_ended: float) -> tuple[Span, Span]:
    """Return the window after the warm-up and the last window of traffic."""
    begin = judged.ready_at + warm_up
    width = min(WINDOW, max(0.0, traffic_ended - begin) / 3)
    return span(judged, begin, begin + width), span(judged, traffic_ended - width, traffic_ended)


def kept_growth(judged: Life, warm_up: float, traffic_ended: float) -> float:
    """Return the judged growth (see above); the judged process's last sample is once drained."""
    start, end = judged_spans(judged, warm_up, traffic_ended)
    return growth(start.floor or 0, max(end.floor or 0, judged.samples[-1][1]))


def memory_lines(
    lives: list[Life], judged: Life, at_end: int, warm_up: float, traffic_ended: float
) -> list[str]:
    """Describe each process's memory, and the growth of the one that ran through the end."""
    lines = ["bot processes (RSS after warm-up → last sample):"]
    for life in lives:
        ran = life.samples[-1][0] - life.ready_at if life.samples else 0.0
        last = life.samples[-1][1] if life.samples else None
        lines.append(
            f"  #{life.number} pid {life.pid}: ran {ran:.0f} s, "
            f"{_mib(life.rss_after(warm_up))} → {_mib(last)} MiB; ended: {life.ended}"
        )
    start, end = judged_spans(judged, warm_up, traffic_ended)
    first = judged.rss_after(warm_up) or 0
    width = min(WINDOW, max(0.0, traffic_ended - judged.ready_at - warm_up) / 3)
    drained = judged.samples[-1][1]
    lines.append(
        f"bot RSS (process #{judged.number}, which ran through the end): floor over {width:.0f}"
        f" s {_mib(start.floor)} MiB after its {warm_up:.0f} s warm-up, {_mib(end.floor)} MiB "
        f"before the traffic ended; {_mib(drained)} MiB once drained; growth "
        f"{kept_growth(judged, warm_up, traffic_ended):+.1f} % (goal < 10 %); peaks "
        f"{_mib(start.peak)} → {_mib(end.peak)} MiB"
    )
    lines.append(
        f"  single samples: {_mib(first)} MiB after the warm-up, {_mib(at_end)} MiB when the "
        f"traffic ended ({growth(first, at_end):+.1f} %)"
    )
    return lines


def growth(start: int, end: int) -> float:
    """Return the growth from ``start`` to ``end`` in percent (NaN without a start)."""
    return 100.0 * (end - start) / start if start else float("nan")


def _mib(kib: int | None) -> str:
    """Format KiB as MiB."""
    return "?" if kib is None else f"{kib / 1024:.1f}"
