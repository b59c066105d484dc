"""The buttons under results: U1–U4, V1–V4, 🔄, 🗑️, Vary (Subtle/Strong), and cancel.

Every button is one ``DynamicItem`` whose ``custom_id`` is ``easel:<action>:<job>[:<arg>]``.
Because the id carries the job, a button on a message posted before a restart still works:
discord.py matches the id against the template and the handler finds everything else in the
database.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord

if TYPE_CHECKING:
    import re

    from bot.actions import JobActions

Button = discord.ui.Button[Any]


class JobButton(
    discord.ui.DynamicItem[Button],
    template=r"easel:(?P<action>u|v|vary|r|d|c):(?P<job>[0-9a-z]{1,32})(?::(?P<arg>[0-9a-z]{1,16}))?",
):
    """A button that acts on one job; what it does is the action in its custom_id."""

    def __init__(
        self,
        action: str,
        job_id: str,
        arg: str = "",
        *,
        label: str | None = None,
        emoji: str | None = None,
        row: int | None = None,
        style: discord.ButtonStyle = discord.ButtonStyle.secondary,
    ) -> None:
        custom_id = f"easel:{action}:{job_id}" + (f":{arg}" if arg else "")
        super().__init__(
            discord.ui.Button(label=label, emoji=emoji, style=style, custom_id=custom_id, row=row)
        )
        self.action = action
        self.job_id = job_id
        self.arg = arg

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> JobButton:
        """Rebuild the button from its custom_id."""
        return cls(match["action"], match["job"], match["arg"] or "")

    async def callback(self, interaction: discord.Interaction) -> None:
        """Hand the press to the studio's handler for this action."""
        studio: JobActions = interaction.client.studio  # type: ignore[attr-defined]
        await studio.press(interaction, self.action, self.job_id, self.arg)


def grid_view(job_id: str) -> discord.ui.View:
    """Return the ten buttons under a grid: U1–U4 🔄 / V1–V4 🗑️."""
    view = discord.ui.View(timeout=None)
    for index in range(1, 5):
        view.add_item(JobButton("u", job_id, str(index), label=f"U{index}", row=0))
    view.add_item(JobButton("r", job_id, emoji="🔄", row=0))
    for index in range(1, 5):
        view.add_item(JobButton("v", job_id, str(index), label=f"V{index}", row=1))
    view.add_item(JobButton("d", job_id, emoji="🗑️", row=1))
    return view


def upscale_view(job_id: str) -> discord.ui.View:
    """Return the buttons under an upscaled image: Vary (Subtle), Vary (Strong), 🗑️."""
    view = discord.ui.View(timeout=None)
    view.add_item(JobButton("vary", job_id, "subtle", label="Vary (Subtle)", emoji="🪄"))
    view.add_item(JobButton("vary", job_id, "strong", label="Vary (Strong)", emoji="🪄"))
    view.add_item(JobButton("d", job_id, emoji="🗑️"))
    return view


def cancel_button(job_id: str, label: str) -> JobButton:
    """Return a button that cancels a job (for /queue)."""
    return JobButton("c", job_id, label=label[:80], style=discord.ButtonStyle.danger)
