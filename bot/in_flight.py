"""Actions in flight: refused while the bot shuts down, counted so the shutdown can wait.

:func:`guarded` wraps every use case: it refuses new work while closing, counts the work in
flight, and ends every failure in the one error path (:mod:`bot.replies`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, Protocol, TypeVar

from bot.replies import answer_error, reply_privately

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

    import discord

logger = logging.getLogger(__name__)
P = ParamSpec("P")

RESTARTING = "Easel is restarting and takes no new work right now; try again in a minute."


class InFlight:
    """Count actions in flight, so a shutdown can refuse new ones and wait for the rest."""

    def __init__(self) -> None:
        self.closing = False
        self._active = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def enter(self) -> None:
        """Count an action that starts."""
        self._active += 1
        self._idle.clear()

    def leave(self) -> None:
        """Count an action that ended."""
        self._active -= 1
        if not self._active:
            self._idle.set()

    async def close(self, *, drain_seconds: float) -> None:
        """Refuse new actions and wait (up to ``drain_seconds``) for those in flight."""
        self.closing = True
        try:
            await asyncio.wait_for(self._idle.wait(), drain_seconds)
        except TimeoutError:
            logger.warning("%d action(s) still running at shutdown", self._active)


class _Guarded(Protocol):
    """A class whose use cases are counted by an :class:`InFlight`."""

    in_flight: InFlight


G = TypeVar("G", bound=_Guarded)


def guarded(
    method: Callable[Concatenate[G, discord.Interaction, P], Coroutine[Any, Any, None]],
) -> Callable[Concatenate[G, discord.Interaction, P], Coroutine[Any, Any, None]]:
    """Refuse while closing, count the action, and end every failure in the one error path."""

    @functools.wraps(method)
    async def wrapper(
        self: G, interaction: discord.Interaction, /, *args: P.args, **kwargs: P.kwargs
    ) -> None:
        if self.in_flight.closing:
            await reply_privately(interaction, RESTARTING)
            return
        self.in_flight.enter()
        try:
            await method(self, interaction, *args, **kwargs)
        except Exception as error:
            await answer_error(interaction, error, method.__name__)
        finally:
            self.in_flight.leave()

    return wrapper
