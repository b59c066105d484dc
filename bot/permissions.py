"""Who is acting: the member behind an interaction, and whether they count as a moderator.

Moderators are members with Manage Messages, or with the role named in the config. The rest
of the bot reads an :class:`Actor`, never the interaction, so moderation stays Discord-free.
"""

from __future__ import annotations

from dataclasses import dataclass

import discord

from pipeline.errors import UserError

NOT_A_MODERATOR = "Only moderators (Manage Messages, or the moderator role) can use this."


class NotAModeratorError(UserError):
    """A member who is not a moderator ran a moderator's command (Discord only hides them)."""


@dataclass(frozen=True)
class Actor:
    """A member acting in a guild (or a user in direct messages)."""

    user_id: int
    guild_id: int | None
    name: str
    moderator: bool

    @classmethod
    def of(cls, interaction: discord.Interaction, moderator_role: str | None) -> Actor:
        """Describe the user of an interaction."""
        return cls(
            user_id=interaction.user.id,
            guild_id=interaction.guild_id,
            name=interaction.user.display_name,
            moderator=is_moderator(interaction, moderator_role),
        )


def is_moderator(interaction: discord.Interaction, moderator_role: str | None) -> bool:
    """Tell whether the interaction's user may moderate (delete others' images, see all jobs).

    Discord computes the member's permissions in the channel and sends them with every
    interaction, so this does not depend on the bot's cache being up to date.
    """
    if interaction.permissions.manage_messages:
        return True
    user = interaction.user
    if moderator_role is None or not isinstance(user, discord.Member):
        return False
    return any(role.name == moderator_role for role in user.roles)


def require_moderator(actor: Actor) -> None:
    """Raise NotAModeratorError unless the actor moderates (checked when a command runs)."""
    if not actor.moderator:
        raise NotAModeratorError(NOT_A_MODERATOR)


def guild_of(actor: Actor) -> int:
    """Return the actor's server, refusing commands that work only in one."""
    if actor.guild_id is None:
        raise UserError("This command works in a server, not in direct messages.")
    return actor.guild_id
