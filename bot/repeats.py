"""Midjourney's ``--repeat N``: one prompt queued as N jobs, each with its own message and seeds.

The first job takes the command's own reply; each repeat gets a follow-up message of its own,
made before any job is queued, which its delivery then edits like any job's. Repeat *k*
starts at the first job's seed plus ``k × 4``, so no two grids share a seed and a ``--seed``
prompt stays reproducible. All N must fit in the member's queue limit before any is queued:
a partly queued repeat would leave the member guessing which ones ran.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.jobs import QueueFullError

if TYPE_CHECKING:
    import discord

    from pipeline.request import GenerationRequest
    from pipeline.scheduler import JobScheduler


def check_room(scheduler: JobScheduler, owner: str, count: int) -> None:
    """Refuse a repeat that does not fit in the member's queue limit, with the room left."""
    room = scheduler.room_for(owner)
    if count > 1 and count > room:
        raise QueueFullError(
            f"--repeat {count} asks for {count} jobs, but you have room for {room} now "
            "(your queued and running jobs count against this server's limit)."
        )


def repeated(request: GenerationRequest, count: int) -> list[GenerationRequest]:
    """Return the requests of repeats 2…count, each starting at its own seed."""
    return [request.with_seed(request.seed + k * request.num_images) for k in range(1, count)]


async def repeat_messages(interaction: discord.Interaction, count: int) -> list[int]:
    """Make the messages repeats 2…count are delivered in, and return their ids.

    A follow-up sent while the reply still says "thinking…" would replace that reply, which
    the first job owns, so the reply is first given its own text.
    """
    if count < 2:
        return []
    await interaction.edit_original_response(content=f"Repeat 1 of {count}: queued…")
    ids = []
    for number in range(2, count + 1):
        message = await interaction.followup.send(f"Repeat {number} of {count}: queued…", wait=True)
        ids.append(message.id)
    return ids
