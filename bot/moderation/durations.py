"""Parse the durations moderators type: ``30m``, ``2h``, ``7d``, ``1w``, or ``permanent``."""

from __future__ import annotations

import re

from pipeline.errors import UserError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^\s*(\d{1,6})\s*([smhdw])\s*$", re.ASCII | re.IGNORECASE)
_FOREVER = {"", "permanent", "forever", "never"}
MAX_SECONDS = 10 * 365 * 86400


def parse_duration(text: str | None) -> float | None:
    """Return seconds, or None for a permanent ban; raise UserError for anything else."""
    if text is None or text.strip().lower() in _FOREVER:
        return None
    match = _DURATION.match(text)
    if not match:
        raise UserError(
            f"{text!r:.40} is not a duration: write a number and a unit, like 30m, 12h, 7d or 2w, "
            "or leave it out for a ban until lifted."
        )
    seconds = int(match.group(1)) * _UNITS[match.group(2).lower()]
    if not 0 < seconds <= MAX_SECONDS:
        raise UserError(
            "A ban lasts from one second to ten years; leave the duration out for longer."
        )
    return float(seconds)
