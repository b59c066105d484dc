"""The buttons under results: U1–U4, V1–V4, 🔄, 🗑️, and the editing set under an upscale.

Every button's ``custom_id`` is ``easel:<action>:<job>[:<arg>]``, with the action one of
:class:`ButtonAction`. Because the id carries the job, a button on a message posted before a
restart still works: discord.py matches the id against the template, and the handler
registered for the action at set-up finds everything else in the database. This module knows
the vocabulary and the layouts, not what the actions do.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Self

import discord

from pipeline.canvas import ARROWS

if TYPE_CHECKING:
    import re

logger = logging.getLogger(__name__)

Button = discord.ui.Button[Any]


class ButtonAction(StrEnum):
    """What a button does; the value is the code kept in its ``custom_id``."""

    UPSCALE = "u"  # arg: the image's number, 1-4
    VARY_STRONG = "v"  # arg: the image's number, 1-4
    VARY = "vary"  # arg: "subtle" or "strong", under an upscaled image
    UPSCALE_AGAIN = "up"  # arg: "subtle" or "creative", under an upscaled image
    VARY_REGION = "vr"  # opens the Vary (Region) form
    ZOOM = "z"  # arg: "2" or "15" (Zoom Out 2x, 1.5x)
    CUSTOM_ZOOM = "zc"  # opens the Custom Zoom form
    PAN = "p"  # arg: "left", "right", "up" or "down"
    SQUARE = "sq"  # Make Square
    REROLL = "r"
    DELETE = "d"
    CANCEL = "c"


_TEMPLATE = (
    r"easel:(?P<action>"
    + "|".join(sorted((a.value for a in ButtonAction), key=len, reverse=True))
    + r"):(?P<job>[0-9a-z]{1,32})(?::(?P<arg>[0-9a-z]{1,16}))?"
)


@dataclass(frozen=True)
class Press:
    """A press of one of Easel's buttons: which action, on which job, with which argument."""

    action: ButtonAction
    job_id: str
    arg: str = ""

    @property
    def custom_id(self) -> str:
        """Return the id Discord sends back when the button is pressed."""
        return f"easel:{self.action}:{self.job_id}" + (f":{self.arg}" if self.arg else "")


ButtonHandler = Callable[[discord.Interaction, Press], Awaitable[None]]


class JobButtons:
    """The registry of button handlers, and the views whose buttons dispatch to it."""

    def __init__(self) -> None:
        self._handlers: dict[ButtonAction, ButtonHandler] = {}
        self.item_type = _job_button_type(self._dispatch)

    def on(self, action: ButtonAction, handler: ButtonHandler) -> None:
        """Register the handler of an action (once, at set-up)."""
        if action in self._handlers:
            raise ValueError(f"the {action.name} button already has a handler")
        self._handlers[action] = handler

    async def _dispatch(self, interaction: discord.Interaction, press: Press) -> None:
        """Run the handler registered for the press's action."""
        handler = self._handlers.get(press.action)
        if handler is None:
            logger.error("no handler is registered for the %s button", press.action.name)
            return
        await handler(interaction, press)

    def button(
        self,
        press: Press,
        *,
        label: str | None = None,
        emoji: str | None = None,
        row: int | None = None,
        style: discord.ButtonStyle = discord.ButtonStyle.secondary,
    ) -> JobButton:
        """Return a button that dispatches ``press`` here."""
        return self.item_type(press, label=label, emoji=emoji, row=row, style=style)

    def grid_view(self, job_id: str) -> discord.ui.View:
        """Return the ten buttons under a grid: U1–U4 🔄 / V1–V4 🗑️."""
        view = discord.ui.View(timeout=None)
        for index in range(1, 5):
            press = Press(ButtonAction.UPSCALE, job_id, str(index))
            view.add_item(self.button(press, label=f"U{index}", row=0))
        view.add_item(self.button(Press(ButtonAction.REROLL, job_id), emoji="🔄", row=0))
        for index in range(1, 5):
            press = Press(ButtonAction.VARY_STRONG, job_id, str(index))
            view.add_item(self.button(press, label=f"V{index}", row=1))
        view.add_item(self.button(Press(ButtonAction.DELETE, job_id), emoji="🗑️", row=1))
        return view

    def upscale_view(self, job_id: str, *, square: bool) -> discord.ui.View:
        """Return the editing set under an upscaled image, a row per kind of tool.

        Vary (Subtle, Strong, Region) / Upscale (Subtle, Creative) / Zoom Out 2x, 1.5x, Custom
        Zoom, Make Square (unless ``square``) / the four pans / 🗑️.
        """
        view = discord.ui.View(timeout=None)
        for strength in ("subtle", "strong"):
            press = Press(ButtonAction.VARY, job_id, strength)
            view.add_item(self.button(press, label=f"Vary ({strength.title()})", emoji="🪄", row=0))
        region = Press(ButtonAction.VARY_REGION, job_id)
        view.add_item(self.button(region, label="Vary (Region)", emoji="🖌️", row=0))
        for how in ("subtle", "creative"):
            press = Press(ButtonAction.UPSCALE_AGAIN, job_id, how)
            view.add_item(self.button(press, label=f"Upscale ({how.title()})", emoji="🔍", row=1))
        for arg, label in (("2", "Zoom Out 2x"), ("15", "Zoom Out 1.5x")):
            view.add_item(self.button(Press(ButtonAction.ZOOM, job_id, arg), label=label, row=2))
        custom = Press(ButtonAction.CUSTOM_ZOOM, job_id)
        view.add_item(self.button(custom, label="Custom Zoom", emoji="🔎", row=2))
        if not square:
            view.add_item(
                self.button(Press(ButtonAction.SQUARE, job_id), label="Make Square", row=2)
            )
        for direction, arrow in ARROWS.items():
            view.add_item(
                self.button(Press(ButtonAction.PAN, job_id, direction), emoji=arrow, row=3)
            )
        view.add_item(self.button(Press(ButtonAction.DELETE, job_id), emoji="🗑️", row=4))
        return view

    def cancel_button(self, job_id: str, label: str) -> JobButton:
        """Return a button that cancels a job (for /queue)."""
        press = Press(ButtonAction.CANCEL, job_id)
        return self.button(press, label=label[:80], style=discord.ButtonStyle.danger)


class JobButton(discord.ui.DynamicItem[Button], template=_TEMPLATE):
    """A button that acts on one job; what it does is the action in its custom_id.

    Presses go to the registry that made the button's class (:func:`_job_button_type`).
    """

    def __init__(
        self,
        press: Press,
        *,
        label: str | None = None,
        emoji: str | None = None,
        row: int | None = None,
        style: discord.ButtonStyle = discord.ButtonStyle.secondary,
    ) -> None:
        button = Button(label=label, emoji=emoji, style=style, custom_id=press.custom_id, row=row)
        super().__init__(button)
        self.press = press

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> Self:
        """Rebuild the button from its custom_id."""
        return cls(Press(ButtonAction(match["action"]), match["job"], match["arg"] or ""))


def _job_button_type(dispatch: ButtonHandler) -> type[JobButton]:
    """Make the persistent button class whose presses go to ``dispatch``.

    discord.py rebuilds a pressed button from its class (``from_custom_id``), so the class
    itself must know where presses go: one class per registry, never a module global.
    """

    class RoutedJobButton(JobButton, template=_TEMPLATE):
        async def callback(self, interaction: discord.Interaction) -> None:
            """Hand the press to the registered handler."""
            await dispatch(interaction, self.press)

    return RoutedJobButton
