"""Who counts as a moderator: Manage Messages, or the role named in the config."""

from __future__ import annotations

import discord


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
