"""The bot's use cases: turn Discord actions into queued jobs, and answer everything else.

Commands and buttons call these methods. Each one acknowledges the interaction first (within
Discord's 3 seconds, before any database or model work), turns user mistakes into an
ephemeral message that says what to do, and turns anything unexpected into a logged
traceback and a short apology with an error id: no interaction is ever left "thinking".
"""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec

import discord

from bot import messages
from bot.permissions import is_moderator
from pipeline.errors import InputImageError, UserError
from pipeline.images import ALLOWED_FORMATS, decode_input_image
from pipeline.request import parse_request

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine
    from pathlib import Path

    from bot.config import BotConfig
    from bot.delivery import JobDelivery
    from bot.moderation.service import ModerationService
    from bot.store.jobs import SqliteJobStore
    from pipeline.engine import Engine, VariationStrength
    from pipeline.jobs import JobRecord
    from pipeline.request import GenerationRequest
    from pipeline.scheduler import JobScheduler

logger = logging.getLogger(__name__)
P = ParamSpec("P")

_IMAGE_TYPES = {f"image/{name.lower()}" for name in ALLOWED_FORMATS} | {"image/jpg"}
GONE = "This image is no longer available (it was deleted or has expired)."
RESTARTING = "Easel is restarting and takes no new work right now; try again in a minute."


def guarded(
    method: Callable[Concatenate[JobActions, discord.Interaction, P], Coroutine[Any, Any, None]],
) -> Callable[Concatenate[JobActions, discord.Interaction, P], Coroutine[Any, Any, None]]:
    """Answer user errors ephemerally and unexpected ones with an apology and an error id."""

    @functools.wraps(method)
    async def wrapper(
        self: JobActions, interaction: discord.Interaction, /, *args: P.args, **kwargs: P.kwargs
    ) -> None:
        if self.closing:
            await self.refuse(interaction, RESTARTING)
            return
        self._active += 1
        self._idle.clear()
        try:
            await method(self, interaction, *args, **kwargs)
        except UserError as error:
            await self.refuse(interaction, str(error))
        except Exception:
            reference = secrets.token_hex(4)
            logger.exception(
                "error %s in %s for user %s", reference, method.__name__, interaction.user.id
            )
            await self.refuse(
                interaction, f"Sorry, something went wrong on our side (error id `{reference}`)."
            )
        finally:
            self._active -= 1
            if not self._active:
                self._idle.set()

    return wrapper


@dataclass(frozen=True)
class Services:
    """What the studio works with; built once at start-up."""

    config: BotConfig
    engine: Engine
    scheduler: JobScheduler
    jobs: SqliteJobStore
    presenter: JobDelivery
    guard: ModerationService
    clock: Callable[[], float] = time.time


class JobActions:
    """Handle /imagine, the buttons, /info and /queue."""

    def __init__(self, services: Services) -> None:
        self._s = services
        self.closing = False
        self._active = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def close(self, *, drain_seconds: float) -> None:
        """Refuse new actions and wait (up to ``drain_seconds``) for those in flight."""
        self.closing = True
        try:
            await asyncio.wait_for(self._idle.wait(), drain_seconds)
        except TimeoutError:
            logger.warning("%d action(s) still running at shutdown", self._active)

    # Starting jobs -------------------------------------------------------------------------

    @guarded
    async def imagine(
        self,
        interaction: discord.Interaction,
        prompt: str,
        negative: str | None,
        image: discord.Attachment | None,
    ) -> None:
        """Queue a new grid from a prompt (and an optional image prompt)."""
        self._precheck(prompt, negative or "", image)
        placeholder = await self._acknowledge(interaction)
        # Moderate before downloading anything a banned user or blocked prompt came with.
        await self._moderate(interaction, [prompt, negative or ""])
        init = await self._save_attachment(image) if image else None
        request = self._s.engine.parse(prompt, negative_prompt=negative or "", init_image=init)
        await self._submit(interaction, request, placeholder, kind="imagine", moderated=True)

    @guarded
    async def upscale(self, interaction: discord.Interaction, job_id: str, index: int) -> None:
        """Queue a 2× upscale of image ``index`` of a grid."""
        placeholder = await self._acknowledge(interaction)
        source, image = await self._source_image(job_id, index)
        seed = source.request.seeds[index - 1] if index <= len(source.request.seeds) else None
        request = self._s.engine.upscale_request(source.request, image, seed=seed)
        await self._submit(
            interaction, request, placeholder, kind="upscale", source=source, source_index=index
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
        placeholder = await self._acknowledge(interaction)
        source, image = await self._source_image(job_id, index)
        request = self._s.engine.variation_request(source.request, image, strength=strength)
        await self._submit(
            interaction,
            request,
            placeholder,
            kind="variation",
            source=source,
            source_index=index,
            strength=strength,
        )

    @guarded
    async def reroll(self, interaction: discord.Interaction, job_id: str) -> None:
        """Queue the same job again with a new seed."""
        placeholder = await self._acknowledge(interaction)
        source = await self._source(job_id)
        request = self._s.engine.reroll_request(source.request)
        kind = str(source.context.get("kind", "imagine"))
        await self._submit(
            interaction,
            request,
            placeholder,
            kind="reroll" if kind == "imagine" else kind,
            source=source,
        )

    async def press(
        self, interaction: discord.Interaction, action: str, job_id: str, arg: str
    ) -> None:
        """Run the use case a result's button stands for (its custom_id's action)."""
        if action == "u":
            await self.upscale(interaction, job_id, int(arg))
        elif action == "v":
            await self.vary(interaction, job_id, int(arg), "strong")
        elif action == "vary":
            await self.vary(interaction, job_id, 1, "subtle" if arg == "subtle" else "strong")
        elif action == "r":
            await self.reroll(interaction, job_id)
        elif action == "d":
            await self.delete(interaction, job_id)
        elif action == "c":
            await self.cancel(interaction, job_id)

    # Managing results and jobs -------------------------------------------------------------

    @guarded
    async def delete(self, interaction: discord.Interaction, job_id: str) -> None:
        """Delete a result message, for its owner or a moderator."""
        await self._s.guard.refuse_if_banned(interaction)
        job = await self._s.jobs.get(job_id)
        if not self._may_manage(interaction, job):
            raise UserError("Only the person who made this image, or a moderator, can delete it.")
        await interaction.response.defer()
        if interaction.message is not None:
            await interaction.message.delete()

    @guarded
    async def cancel(self, interaction: discord.Interaction, job_id: str) -> None:
        """Cancel a waiting or running job, for its owner or a moderator."""
        await self._s.guard.refuse_if_banned(interaction)
        job = await self._s.jobs.get(job_id)
        if not self._may_manage(interaction, job):
            raise UserError("Only the person who queued this job, or a moderator, can cancel it.")
        canceled = await self._s.scheduler.cancel(
            job_id, reason=f"canceled by {interaction.user.display_name}."
        )
        text = "Canceled." if canceled else "That job already finished."
        await interaction.response.send_message(text, ephemeral=True)

    @guarded
    async def info(self, interaction: discord.Interaction, job_id: str) -> None:
        """Show a job's full parameters and seeds, privately."""
        await self._s.guard.refuse_if_banned(interaction)
        job = await self._s.jobs.get(job_id.strip())
        if job is None:
            raise UserError(
                f"There is no job `{job_id[:40]}`. The id is at the bottom of each result."
            )
        await interaction.response.send_message(embed=messages.info_embed(job), ephemeral=True)

    @guarded
    async def show_queue(self, interaction: discord.Interaction) -> None:
        """List the caller's jobs (everyone's for moderators), with cancel buttons."""
        await self._s.guard.refuse_if_banned(interaction)
        from bot.buttons import cancel_button  # noqa: PLC0415 - avoid an import cycle

        moderator = is_moderator(interaction, self._s.config.discord.moderator_role)
        scheduler = self._s.scheduler
        shown = [
            entry
            for entry in scheduler.entries()
            if moderator or entry.owner == str(interaction.user.id)
        ][:10]
        view = discord.ui.View(timeout=None)
        for number, entry in enumerate(shown, start=1):
            view.add_item(cancel_button(entry.job_id, f"Cancel {number}"))
        await interaction.response.send_message(
            messages.queue_listing(
                shown, scheduler.running, scheduler.waiting, show_owners=moderator
            ),
            view=view if shown else discord.utils.MISSING,
            ephemeral=True,
            allowed_mentions=discord.AllowedMentions.none(),
        )

    # Replies -------------------------------------------------------------------------------

    async def refuse(self, interaction: discord.Interaction, text: str) -> None:
        """Tell only the user, taking back a public "thinking" placeholder if one was posted."""
        try:
            if not interaction.response.is_done():
                await interaction.response.send_message(text, ephemeral=True)
                return
            # A follow-up after a public defer would be public; remove the placeholder first.
            if (
                interaction.response.type
                == discord.InteractionResponseType.deferred_channel_message
            ):
                try:
                    await interaction.delete_original_response()
                except discord.HTTPException:
                    logger.info(
                        "could not remove the placeholder for interaction %s", interaction.id
                    )
            await interaction.followup.send(text, ephemeral=True)
        except discord.HTTPException:
            logger.exception("could not tell user %s: %s", interaction.user.id, text)

    # Internals -----------------------------------------------------------------------------

    def _precheck(self, prompt: str, negative: str, image: discord.Attachment | None) -> None:
        """Refuse bad parameters and attachments before acknowledging (no I/O needed)."""
        settings = self._s.engine.settings
        init = None
        if image is not None:
            if image.size > self._s.engine.input_limits.max_bytes:
                raise InputImageError(
                    f"The image is {image.size / 1048576:.1f} MB; the limit is "
                    f"{self._s.engine.input_limits.max_bytes / 1048576:.1f} MB."
                )
            if image.content_type and image.content_type.split(";")[0] not in _IMAGE_TYPES:
                raise InputImageError("That file is not a PNG, JPEG or WebP image.")
            init = (image.width or 512, image.height or 512)
        parse_request(
            prompt,
            settings=settings,
            native_size=self._s.engine.native_size,
            negative_prompt=negative,
            init_image=None if init is None else self._s.config.inputs_dir,
            init_size=init,
            seed_source=lambda: 0,
        )

    async def _acknowledge(self, interaction: discord.Interaction) -> int:
        """Defer publicly ("thinking…") and return the placeholder message's id."""
        response = await interaction.response.defer(thinking=True)
        message_id = getattr(response, "message_id", None)
        if message_id is None:
            message_id = (await interaction.original_response()).id
        return int(message_id)

    async def _save_attachment(self, attachment: discord.Attachment) -> Path:
        """Download, check and re-save an attached image as PNG under the data directory."""
        data = await attachment.read()
        image = await asyncio.to_thread(decode_input_image, data, self._s.engine.input_limits)
        folder = self._s.config.inputs_dir
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{uuid.uuid4().hex}.png"
        await asyncio.to_thread(image.save, path, "PNG")
        return path

    async def _source(self, job_id: str) -> JobRecord:
        """Return the finished job a button refers to."""
        job = await self._s.jobs.get(job_id)
        if job is None or job.status != "done":
            raise UserError(GONE)
        return job

    async def _source_image(self, job_id: str, index: int) -> tuple[JobRecord, Path]:
        """Return a finished job and the file of its image ``index``."""
        job = await self._source(job_id)
        if index > len(job.outputs) or not job.outputs[index - 1].exists():
            raise UserError(GONE)
        return job, job.outputs[index - 1]

    async def _submit(
        self,
        interaction: discord.Interaction,
        request: GenerationRequest,
        placeholder: int,
        *,
        kind: str,
        source: JobRecord | None = None,
        source_index: int | None = None,
        strength: str | None = None,
        moderated: bool = False,
    ) -> None:
        """Moderate (unless done already) and queue a job with all it needs to be delivered.

        A button's job is checked on its source's prompt again, so a filter added since
        then applies to it too.
        """
        guard = self._s.guard
        if not moderated:
            await self._moderate(interaction, [request.prompt, request.negative_prompt])
        channel = interaction.channel
        context: dict[str, Any] = {
            "kind": kind,
            "guild_id": str(interaction.guild_id) if interaction.guild_id else None,
            "channel_id": str(interaction.channel_id),
            "application_id": str(interaction.application_id),
            "token": interaction.token,
            "token_issued_at": self._s.clock(),
            "message_id": str(placeholder),
            "upload_limit": interaction.filesize_limit,
            "nsfw_channel": bool(isinstance(channel, discord.TextChannel) and channel.is_nsfw()),
            "rate_limits": await guard.rate_limits(interaction),
        }
        if source is not None:
            context["source_job"] = source.id
            message = interaction.message
            context["reply_to"] = str(message.id) if message is not None else None
        if source_index is not None:
            context["source_index"] = source_index
        if strength is not None:
            context["strength"] = strength
        handle = await self._s.scheduler.submit(request, str(interaction.user.id), context=context)
        logger.info(
            "job %s accepted: %s %dx%d, %d steps (guild %s, user %s, position %s)",
            handle.id,
            kind,
            request.width,
            request.height,
            request.steps,
            interaction.guild_id,
            interaction.user.id,
            handle.position,
        )
        await guard.record(interaction, "job", handle.id, f"{kind}: {request.prompt[:900]}")
        self._s.presenter.follow(handle)

    async def _moderate(self, interaction: discord.Interaction, texts: list[str]) -> None:
        """Refuse banned users and prompts the guild's filters block (flags are recorded)."""
        await self._s.guard.refuse_if_banned(interaction)
        await self._s.guard.screen_prompt(interaction, texts)

    def _may_manage(self, interaction: discord.Interaction, job: JobRecord | None) -> bool:
        """Tell whether the interaction's user owns ``job`` or is a moderator."""
        if job is not None and job.owner == str(interaction.user.id):
            return True
        return is_moderator(interaction, self._s.config.discord.moderator_role)
