"""The bot's use cases: turn commands and buttons into queued jobs, and manage those jobs.

Each use case acknowledges the interaction first (within Discord's 3 seconds, before any
database or model work) and is :func:`~bot.in_flight.guarded`: refused while the bot shuts
down, waited for by the shutdown, and ending through the one error path, so no interaction is
ever left "thinking".
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import discord

from bot import messages
from bot.buttons import ButtonAction, JobButtons, Press
from bot.image_prompts import declared_size, save_attachment
from bot.in_flight import InFlight, guarded
from bot.job_context import JobContext, JobKind, context_of, entries_in_guild
from bot.permissions import Actor
from bot.repeats import check_room, repeat_messages, repeated
from bot.replies import acknowledge
from pipeline.errors import UserError

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from bot.delivery import JobDelivery
    from bot.job_defaults import JobSettings
    from bot.moderation.gate import ModerationGate
    from bot.settings import SettingsService
    from bot.store.deliveries import DeliveryStore
    from bot.store.jobs import SqliteJobStore
    from bot.store.outbox import OutboxStore
    from pipeline.jobs import JobRecord
    from pipeline.request import GenerationRequest
    from pipeline.request_builder import RequestBuilder, VariationStrength
    from pipeline.scheduler import JobScheduler

logger = logging.getLogger(__name__)

TROUBLES_SHOWN_SECONDS = 24 * 3600  # /queue shows undeliverable jobs of the last day
GONE = "This image is no longer available (it was deleted or has expired)."


@dataclass(frozen=True)
class ActionServices:
    """What the use cases work with; built once by the composition root."""

    requests: RequestBuilder
    scheduler: JobScheduler
    jobs: SqliteJobStore
    deliveries: DeliveryStore
    outbox: OutboxStore
    delivery: JobDelivery
    moderation: ModerationGate
    buttons: JobButtons
    settings: SettingsService
    inputs_dir: Path
    moderator_role: str | None
    clock: Callable[[], float]
    show_style_text: bool = False


class JobActions:
    """Handle /imagine, the buttons, /info and /queue."""

    def __init__(self, services: ActionServices, in_flight: InFlight) -> None:
        self._s = services
        self.in_flight = in_flight

    def register_buttons(self, buttons: JobButtons) -> None:
        """Give each button action its handler."""
        buttons.on(ButtonAction.UPSCALE, lambda i, p: self.upscale(i, p.job_id, int(p.arg)))
        buttons.on(
            ButtonAction.VARY_STRONG, lambda i, p: self.vary(i, p.job_id, int(p.arg), "strong")
        )
        buttons.on(ButtonAction.VARY, self._vary_upscaled)
        buttons.on(
            ButtonAction.UPSCALE_AGAIN,
            lambda i, p: self.upscale(i, p.job_id, 1, creative=p.arg == "creative"),
        )
        buttons.on(ButtonAction.REROLL, lambda i, p: self.reroll(i, p.job_id))
        buttons.on(ButtonAction.DELETE, lambda i, p: self.delete(i, p.job_id))
        buttons.on(ButtonAction.CANCEL, lambda i, p: self.cancel(i, p.job_id))

    # Starting jobs -------------------------------------------------------------------------

    @guarded
    async def imagine(
        self,
        interaction: discord.Interaction,
        prompt: str,
        negative: str | None,
        image: discord.Attachment | None,
        model: str | None = None,
        *,
        control: discord.Attachment | None = None,
    ) -> None:
        """Queue a new grid from a prompt (an image prompt or a control image too) on a model."""
        settings = self.settings_here(interaction)
        self._precheck(prompt, negative or "", (image, control), model, settings)
        repeats = self._s.requests.repeats(prompt)
        check_room(self._s.scheduler, str(interaction.user.id), repeats)
        placeholder = await acknowledge(interaction)
        # Moderate before downloading anything a banned user or blocked prompt came with.
        await self._moderate(interaction, [prompt, negative or ""])
        limits, folder = self._s.requests.input_limits, self._s.inputs_dir
        init = await save_attachment(image, limits, folder) if image else None
        guide = await save_attachment(control, limits, folder) if control else None
        request = await asyncio.to_thread(
            self._s.requests.parse,
            prompt,
            negative_prompt=negative or "",
            init_image=init,
            control_image=guide,
            model=model,
            defaults=settings.defaults,
        )
        messages_for = [placeholder, *await repeat_messages(interaction, repeats)]
        for job, message_id in zip(
            [request, *repeated(request, repeats)], messages_for, strict=True
        ):
            await self.submit(interaction, job, message_id, JobKind.IMAGINE, moderated=True)

    @guarded
    async def upscale(
        self, interaction: discord.Interaction, job_id: str, index: int, *, creative: bool = False
    ) -> None:
        """Queue a 2× upscale of image ``index`` of a grid (or of an upscale, again)."""
        placeholder = await acknowledge(interaction)
        source, image = await self.source_image(interaction, job_id, index)
        seed = source.request.seeds[index - 1] if index <= len(source.request.seeds) else None
        defaults = self.settings_here(interaction).defaults
        request = self._s.requests.upscale_request(
            source.request, image, seed=seed, defaults=defaults, creative=creative
        )
        await self.submit(
            interaction, request, placeholder, JobKind.UPSCALE, source=source, source_index=index
        )

    @guarded
    async def vary(
        self,
        interaction: discord.Interaction,
        job_id: str,
        index: int,
        strength: VariationStrength,
    ) -> None:
        """Queue four variations of image ``index``."""
        placeholder = await acknowledge(interaction)
        source, image = await self.source_image(interaction, job_id, index)
        defaults = self.settings_here(interaction).defaults
        request = self._s.requests.variation_request(
            source.request, image, strength=strength, defaults=defaults
        )
        await self.submit(
            interaction,
            request,
            placeholder,
            JobKind.VARIATION,
            source=source,
            source_index=index,
            strength=strength,
        )

    @guarded
    async def reroll(self, interaction: discord.Interaction, job_id: str) -> None:
        """Queue the same job again with a new seed."""
        placeholder = await acknowledge(interaction)
        source = await self.source(interaction, job_id)
        defaults = self.settings_here(interaction).defaults
        request = self._s.requests.reroll_request(source.request, defaults=defaults)
        kind = JobContext.of(source).kind
        kind = JobKind.REROLL if kind == JobKind.IMAGINE else kind
        await self.submit(interaction, request, placeholder, kind, source=source)

    async def _vary_upscaled(self, interaction: discord.Interaction, press: Press) -> None:
        """Vary the one image of an upscale, subtly or strongly."""
        strength: VariationStrength = "subtle" if press.arg == "subtle" else "strong"
        await self.vary(interaction, press.job_id, 1, strength)

    # Managing results and jobs -------------------------------------------------------------

    @guarded
    async def delete(self, interaction: discord.Interaction, job_id: str) -> None:
        """Delete a result message, for its owner or a moderator."""
        actor = self._actor(interaction)
        await self._s.moderation.refuse_if_banned(actor)
        if not _may_manage(actor, await self._job_here(actor, job_id)):
            raise UserError("Only the person who made this image, or a moderator, can delete it.")
        await interaction.response.defer()
        if interaction.message is not None:
            await interaction.message.delete()

    @guarded
    async def cancel(self, interaction: discord.Interaction, job_id: str) -> None:
        """Cancel a waiting or running job, for its owner or a moderator."""
        actor = self._actor(interaction)
        await self._s.moderation.refuse_if_banned(actor)
        job = await self._job_here(actor, job_id)
        if job is None:
            raise UserError("That job is not in this server's queue.")
        if not _may_manage(actor, job):
            raise UserError("Only the person who queued this job, or a moderator, can cancel it.")
        canceled = await self._s.scheduler.cancel(job_id, reason=f"canceled by {actor.name}.")
        text = "Canceled." if canceled else "That job already finished."
        await interaction.response.send_message(text, ephemeral=True)

    @guarded
    async def info(self, interaction: discord.Interaction, job_id: str) -> None:
        """Show a job's full parameters and seeds, privately."""
        actor = self._actor(interaction)
        await self._s.moderation.refuse_if_banned(actor)
        job = await self._job_here(actor, job_id.strip())
        if job is None:
            raise UserError(
                f"There is no job `{job_id[:40]}`. The id is at the bottom of each result."
            )
        delivered = await self._s.deliveries.get(job.id)
        owed = await self._s.outbox.get(job.id)
        state = messages.delivery_state(
            delivered.outcome if delivered else None,
            owed.attempts if owed else None,
            owed.last_error if owed else "",
        )
        embed = messages.info_embed(job, state, show_style_text=self._s.show_style_text)
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @guarded
    async def show_queue(self, interaction: discord.Interaction) -> None:
        """List the caller's jobs in this server (all of its jobs for moderators), to cancel."""
        actor = self._actor(interaction)
        await self._s.moderation.refuse_if_banned(actor)
        here = entries_in_guild(self._s.scheduler.entries(), actor.guild_id)
        shown = [e for e in here if actor.moderator or e.owner == str(actor.user_id)][:10]
        view = discord.ui.View(timeout=None)
        for number, entry in enumerate(shown, start=1):
            view.add_item(self._s.buttons.cancel_button(entry.job_id, f"Cancel {number}"))
        listing = messages.queue_listing(
            shown,
            sum(1 for e in here if e.status == "running"),
            sum(1 for e in here if e.status == "pending"),
            show_owners=actor.moderator,
        )
        troubles = await self._troubles(actor)
        await interaction.response.send_message(
            listing + messages.delivery_troubles(troubles, show_owners=actor.moderator),
            view=view if shown else discord.utils.MISSING,
            ephemeral=True,
            allowed_mentions=discord.AllowedMentions.none(),
        )

    # Internals -----------------------------------------------------------------------------

    async def _troubles(self, actor: Actor) -> list[tuple[JobRecord, str]]:
        """Return the actor's (a moderator: the server's) finished jobs not posted yet."""
        mine: list[tuple[JobRecord, str]] = []
        for entry in await self._s.outbox.all():
            job = await self._job_here(actor, entry.job_id)
            if job is not None:
                mine.append((job, "waiting for Discord to accept it"))
        since = self._s.clock() - TROUBLES_SHOWN_SECONDS
        if actor.guild_id is not None:
            refused = await self._s.deliveries.undeliverable_since(since, guild_id=actor.guild_id)
            mine += [(job, "could not be posted in its channel") for job in refused]
        return [(j, s) for j, s in mine if actor.moderator or j.owner == str(actor.user_id)][:10]

    def _actor(self, interaction: discord.Interaction) -> Actor:
        """Return who acts."""
        return Actor.of(interaction, self._s.moderator_role)

    def settings_here(self, interaction: discord.Interaction) -> JobSettings:
        """Return what the server's, channel's and member's settings say here (no I/O)."""
        return self._s.settings.for_job(
            interaction.guild_id, interaction.channel_id, interaction.user.id
        )

    def _precheck(
        self,
        prompt: str,
        negative: str,
        images: tuple[discord.Attachment | None, discord.Attachment | None],
        model: str | None,
        settings: JobSettings,
    ) -> None:
        """Refuse bad parameters, models and attachments before acknowledging (no I/O).

        ``images`` are the image prompt and the control image, either of which may be absent.
        """
        limits, placeholder = self._s.requests.input_limits, self._s.inputs_dir
        if any(images):
            settings.refuse_image_prompt()
        sizes = [None if image is None else declared_size(image, limits) for image in images]
        self._s.requests.parse(
            prompt,
            negative_prompt=negative,
            init_image=None if sizes[0] is None else placeholder,
            init_size=sizes[0],
            control_image=None if sizes[1] is None else placeholder,
            seed=0,
            model=model,
            defaults=settings.defaults,
        )

    async def _job_here(self, actor: Actor, job_id: str) -> JobRecord | None:
        """Return a job of the server the actor is in; another server's jobs do not exist here."""
        job = await self._s.jobs.get(job_id)
        if job is None or JobContext.of(job).guild_id != actor.guild_id:
            return None
        return job

    async def source(self, interaction: discord.Interaction, job_id: str) -> JobRecord:
        """Return the finished job of this server a button refers to."""
        job = await self._job_here(self._actor(interaction), job_id)
        if job is None or job.status != "done":
            raise UserError(GONE)
        return job

    async def source_image(
        self, interaction: discord.Interaction, job_id: str, index: int
    ) -> tuple[JobRecord, Path]:
        """Return a finished job of this server and the file of its image ``index``."""
        job = await self.source(interaction, job_id)
        if index > len(job.outputs) or not job.outputs[index - 1].exists():
            raise UserError(GONE)
        return job, job.outputs[index - 1]

    async def submit(
        self,
        interaction: discord.Interaction,
        request: GenerationRequest,
        placeholder: int,
        kind: JobKind,
        *,
        source: JobRecord | None = None,
        source_index: int | None = None,
        strength: VariationStrength | None = None,
        moderated: bool = False,
    ) -> None:
        """Moderate (unless done already) and queue a job with all it needs to be delivered.

        A button's job is checked on its source's prompt again, so a filter added since
        then applies to it too.
        """
        if not moderated:
            await self._moderate(interaction, [request.prompt, request.negative_prompt])
        actor = self._actor(interaction)
        context = replace(
            context_of(interaction, kind, placeholder, issued_at=self._s.clock(), source=source),
            unsafe_images=self.settings_here(interaction).unsafe_images,
            rate_charges=await self._s.moderation.rate_charges(actor),
            source_index=source_index,
            strength=strength,
        )
        owner = str(actor.user_id)
        handle = await self._s.scheduler.submit(request, owner, context=context.to_stored())
        logger.info(
            "job %s accepted: %s %dx%d, %d steps (guild %s, user %s, position %s)",
            handle.id,
            kind,
            request.width,
            request.height,
            request.steps,
            actor.guild_id,
            actor.user_id,
            handle.position,
        )
        await self._s.moderation.record(actor, "job", handle.id, f"{kind}: {request.prompt[:900]}")
        self._s.delivery.follow(handle)

    async def _moderate(self, interaction: discord.Interaction, texts: list[str]) -> None:
        """Refuse banned users and prompts the guild's filters block (flags are recorded)."""
        actor = self._actor(interaction)
        await self._s.moderation.refuse_if_banned(actor)
        await self._s.moderation.screen_prompt(actor, texts)


def _may_manage(actor: Actor, job: JobRecord | None) -> bool:
    """Tell whether the actor owns ``job`` or is a moderator."""
    return (job is not None and job.owner == str(actor.user_id)) or actor.moderator
