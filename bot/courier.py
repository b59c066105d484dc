"""One attempt to deliver a finished job's outcome, exactly once, whatever Discord answers.

The outcome goes into the job's own message while the interaction token lives, and as a
channel message that mentions the owner otherwise, or when that message is really gone. A
transient failure (see :mod:`bot.discord_failures`) is reported as ``retry`` and nothing is
recorded, so the outbox tries again later; a channel that refuses the bot ends the delivery
as undeliverable, and the owner is told where the bot can still be heard.

Exactly once: channel posts carry a nonce that Discord de-duplicates, and every retry first
looks for the job's message (the placeholder, then the channel's recent history) in case an
earlier attempt reached Discord but its answer was lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import aiohttp
import discord
from PIL import Image

from bot import messages
from bot.discord_failures import describe, meaning_of
from bot.job_context import JobContext
from bot.result_image import encode_to_fit
from pipeline.images import make_grid
from pipeline.metadata import grid_parameters_text, parameters_text

if TYPE_CHECKING:
    from collections.abc import Callable

    from bot.buttons import JobButtons
    from bot.moderation.gate import ModerationGate, Screened
    from bot.store.deliveries import DeliveryOutcome, DeliveryStore
    from pipeline.jobs import JobRecord

logger = logging.getLogger(__name__)

HISTORY_LOOKBACK = 200
AttemptResult = Literal["delivered", "retry", "undeliverable"]


@dataclass(frozen=True)
class Attempt:
    """How one delivery attempt ended, and Discord's answer when it did not succeed."""

    result: AttemptResult
    detail: str = ""


@dataclass(frozen=True)
class Parcel:
    """A job's final message, ready to send as often as needed."""

    content: str
    outcome: DeliveryOutcome
    file: Callable[[], discord.File] | None = None
    view: discord.ui.View | None = None


class Courier:
    """Deliver finished jobs' outcomes for one bot."""

    def __init__(
        self,
        client: discord.Client,
        deliveries: DeliveryStore,
        moderation: ModerationGate,
        buttons: JobButtons,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._deliveries = deliveries
        self._moderation = moderation
        self._buttons = buttons
        self._clock = clock

    async def deliver(
        self,
        job: JobRecord,
        *,
        images: list[Image.Image] | None = None,
        flagged: tuple[bool, ...] = (),
        late: bool = False,
        since: float | None = None,
    ) -> Attempt:
        """Make one attempt; ``since`` (the first attempt's time) marks it as a retry."""
        target = JobContext.of(job)
        try:
            parcel = await self._pack(job, images, flagged, late=late)
        except OSError as error:  # its images were deleted or expired meanwhile
            return await self._give_up(job, target, f"its images are gone ({error.strerror})")
        try:
            if since is not None and (found := await self._find_delivered(job, target, since)):
                await self._record(job, target, parcel.outcome, found)
                return Attempt("delivered")
            return await self._send(job, target, parcel)
        except Exception as error:  # only a Discord call's error gets here; bugs are raised
            if meaning_of(error) == "transient":
                logger.info("delivering job %s failed for now (%s)", job.id, describe(error))
                return Attempt("retry", describe(error))
            return await self._give_up(job, target, describe(error))

    async def _pack(
        self,
        job: JobRecord,
        images: list[Image.Image] | None,
        flagged: tuple[bool, ...],
        *,
        late: bool,
    ) -> Parcel:
        """Compose the final message: the screened grid with its buttons, or the reason."""
        if job.status != "done":
            reason = job.error or ""
            done = job.status == "canceled"
            text = (
                messages.canceled_text(job, reason) if done else messages.failed_text(job, reason)
            )
            text += messages.late_note(images=False) if late else ""
            return Parcel(text, "canceled" if done else "failed")
        if images is None:
            images = await asyncio.to_thread(_load_images, job)
        screened = await self._moderation.screen_images(job, images, flagged)
        if screened.withheld:
            # Replace withheld images on disk too, so no button can bring them back.
            await asyncio.to_thread(_overwrite, job, screened)
        shown = screened.images
        picture = shown[0] if len(shown) == 1 else make_grid(shown)
        limit = JobContext.of(job).upload_limit
        request = job.request
        parameters = parameters_text(request) if len(shown) == 1 else grid_parameters_text(request)
        encoded = await asyncio.to_thread(
            encode_to_fit, picture, limit, f"easel-{job.id}", parameters
        )
        buttons = self._buttons
        view = (
            buttons.upscale_view(job.id, square=job.request.width == job.request.height)
            if len(images) == 1
            else buttons.grid_view(job.id)
        )

        def file() -> discord.File:
            return discord.File(
                io.BytesIO(encoded.data), filename=encoded.filename, spoiler=screened.spoiler
            )

        text = messages.done_text(job)
        if screened.withheld:
            text += messages.withheld_note(len(screened.withheld), len(images))
        text += messages.late_note(images=True) if late else ""
        return Parcel(text, "done", file, view)

    async def _send(self, job: JobRecord, target: JobContext, parcel: Parcel) -> Attempt:
        """Edit the job's message while the token lives, else (or if it is gone) post."""
        if target.message_id is not None and target.token_usable(self._clock()):
            try:
                await self._webhook(target).edit_message(
                    target.message_id,
                    content=parcel.content,
                    attachments=[parcel.file()] if parcel.file else [],
                    view=parcel.view,
                    allowed_mentions=discord.AllowedMentions.none(),
                )
            except discord.HTTPException as error:
                if meaning_of(error) == "transient":
                    raise  # not a reason to post: the message is still there
                logger.info("editing job %s's message failed (%s); posting instead", job.id, error)
            else:
                await self._record(job, target, parcel.outcome, target.message_id)
                return Attempt("delivered")
        return await self._post(job, target, parcel)

    async def _post(self, job: JobRecord, target: JobContext, parcel: Parcel) -> Attempt:
        """Post the outcome as a channel message that mentions the owner, once."""
        channel = self._channel(target)
        reply_to = target.message_id or target.reply_to
        extra: dict[str, Any] = {"file": parcel.file()} if parcel.file else {}
        if parcel.view is not None:
            extra["view"] = parcel.view
        if reply_to:
            extra["reference"] = discord.MessageReference(
                message_id=reply_to, channel_id=target.channel_id, fail_if_not_exists=False
            )
        message = await channel.send(
            parcel.content,
            nonce=f"easel-{job.id}",  # Discord returns the first message for a repeated nonce
            allowed_mentions=discord.AllowedMentions(users=[discord.Object(int(job.owner))]),
            **extra,
        )
        await self._record(job, target, parcel.outcome, message.id)
        await self._retire_placeholder(target)
        return Attempt("delivered")

    async def _find_delivered(self, job: JobRecord, target: JobContext, since: float) -> int | None:
        """Return the id of a message an earlier attempt delivered, if Discord has one.

        Reading may be refused (no Read Message History) or find the placeholder gone; then
        the nonce alone keeps a repeated post from appearing twice.
        """
        marker = messages.job_marker(job)
        channel = self._channel(target)
        if target.message_id is not None:
            with contextlib.suppress(discord.NotFound, discord.Forbidden):
                placeholder = await channel.fetch_message(target.message_id)
                if marker in placeholder.content:
                    return placeholder.id
        after = discord.Object(discord.utils.time_snowflake(datetime.fromtimestamp(since, UTC)))
        with contextlib.suppress(discord.Forbidden, discord.NotFound):
            async for message in channel.history(limit=HISTORY_LOOKBACK, after=after):
                mine = self._client.user is not None and message.author.id == self._client.user.id
                if mine and marker in message.content:
                    return message.id
        return None

    async def _give_up(self, job: JobRecord, target: JobContext, reason: str) -> Attempt:
        """End the delivery as undeliverable, and tell the server's moderators why."""
        logger.warning(
            "job %s is undeliverable to channel %s: %s", job.id, target.channel_id, reason
        )
        await self._deliveries.record(job.id, "undeliverable", channel_id=target.channel_id)
        # Tell the owner where the bot may still be heard: a plain line in the job's channel
        # (the image may have been what it refused), and the moderators in the mod-log.
        with contextlib.suppress(discord.HTTPException, aiohttp.ClientError, OSError):
            await self._channel(target).send(
                messages.undeliverable_line(job, reason),
                allowed_mentions=discord.AllowedMentions(users=[discord.Object(int(job.owner))]),
            )
        if target.guild_id is not None:
            note = messages.undeliverable_note(job, target.channel_id, reason)
            await self._moderation.modlog(target.guild_id, note)
        return Attempt("undeliverable", reason)

    async def _record(
        self, job: JobRecord, target: JobContext, outcome: DeliveryOutcome, message_id: int
    ) -> None:
        """Record the delivery (it also leaves the outbox)."""
        await self._deliveries.record(
            job.id, outcome, channel_id=target.channel_id, message_id=message_id
        )

    async def _retire_placeholder(self, target: JobContext) -> None:
        """Point the stale progress message at the result, if it can still be edited."""
        if target.message_id is None:
            return
        placeholder = self._channel(target).get_partial_message(target.message_id)
        with contextlib.suppress(discord.HTTPException):
            await placeholder.edit(content="✅ Finished — the result is in the message below.")

    def _channel(self, target: JobContext) -> discord.PartialMessageable:
        """Return the job's channel."""
        return self._client.get_partial_messageable(target.channel_id, guild_id=target.guild_id)

    def _webhook(self, target: JobContext) -> discord.Webhook:
        """Return the interaction's webhook, bound to the bot's own session and state."""
        return discord.Webhook.partial(
            target.application_id, target.token or "", client=self._client
        )


def _overwrite(job: JobRecord, screened: Screened) -> None:
    """Save the placeholders over the withheld images' files.

    Every result made from a file is screened again, so a full disk here is logged rather
    than allowed to hold the delivery back.
    """
    for index in screened.withheld:
        if index < len(job.outputs):
            try:
                screened.images[index].save(job.outputs[index], format="PNG")
            except OSError:
                logger.exception("could not overwrite withheld image %s", job.outputs[index])


def _load_images(job: JobRecord) -> list[Image.Image]:
    """Load a finished job's saved images from disk."""
    images = []
    for path in job.outputs:
        with Image.open(path) as image:
            images.append(image.convert("RGB"))
    return images
