"""What a failed Discord call means for a delivery: try later, post instead, or give up.

Discord's bad days are transient: 5xx answers (503 included), rate limits discord.py did not
wait out, connections reset or timed out. Those are never final. Only a few answers say the
interaction's message or token is really gone (so the result is posted to the channel
instead), and a few more that the channel cannot be reached at all (so the delivery ends).
"""

from __future__ import annotations

from typing import Literal

import aiohttp
import discord

Meaning = Literal["transient", "gone", "permanent"]

# The interaction's message or webhook no longer exists, or its token has expired.
GONE_CODES = frozenset({10008, 10015, 50027})
# The bot cannot reach the channel: removed from the server, the channel deleted, no access.
PERMANENT_CODES = frozenset({10003, 10004, 50001, 50013})
# Our own request was malformed or too large: sending it again cannot help.
REQUEST_ERROR_STATUSES = frozenset({400, 413})


def meaning_of(error: BaseException) -> Meaning:
    """Classify the error of a Discord call; anything else is raised again (it is a bug)."""
    if isinstance(error, discord.HTTPException):
        if error.code in GONE_CODES:
            return "gone"
        if error.code in PERMANENT_CODES or isinstance(error, discord.Forbidden):
            return "permanent"
        if isinstance(error, discord.NotFound) or error.status in REQUEST_ERROR_STATUSES:
            return "permanent"
        return "transient"  # 5xx, 429 and anything else Discord may answer better later
    if isinstance(error, (discord.RateLimited, aiohttp.ClientError, OSError, TimeoutError)):
        return "transient"
    raise error


def describe(error: BaseException) -> str:
    """Say in a few words what Discord answered, for logs and the owner."""
    if isinstance(error, discord.HTTPException):
        return f"{error.status} {error.text or error.code}".strip()
    return type(error).__name__
