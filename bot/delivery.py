"""Show a job's life in its own message, then deliver the outcome, whatever happens to tokens.

While the interaction token has more than a minute to live, the job's message (the deferred
"thinking" placeholder) is edited in place, at most once per ``progress_interval``. After
that, or if the placeholder is gone, the outcome is posted as the bot's own channel message
that mentions the owner, so a job longer than Discord's 15-minute token life is still
delivered. Every delivery is recorded, so a restart delivers what was left undelivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import time
from typing import TYPE_CHECKING, Any

import discord
from PIL import Image

from bot import messages
from bot.job_context import JobContext
from bot.result_image import encode_to_fit
from pipeline.images import make_grid

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

    from bot.buttons import JobButtons
    from bot.moderation.gate import ModerationGate, Screened
    from bot.store.deliveries import DeliveryOutcome, DeliveryStore
    from pipeline.handles import JobHandle
    from pipeline.jobs import JobEvent, JobRecord

logger = logging.getLogger(__name__)

PREVIEW_SIDE = 256


class JobDelivery:
    """Follow jobs' events and deliver their outcomes for one bot."""

    def __init__(
        self,
        client: discord.Client,
        deliveries: DeliveryStore,
        moderation: ModerationGate,
        buttons: JobButtons,
        *,
        progress_interval: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._deliveries = deliveries
        self._moderation = moderation
        self._buttons = buttons
        self._interval = progress_interval
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    def follow(self, handle: JobHandle) -> None:
        """Follow a job in the background until its outcome is delivered."""
        self._in_background(self._follow(handle), f"follow-{handle.id}")

    def deliver_later(self, job: JobRecord) -> None:
        """Deliver, in the background, a job that finished while nobody followed it."""
        self._in_background(self._deliver_finished(job), f"deliver-{job.id}")

    async def close(self) -> None:
        """Stop following (at shutdown); undelivered outcomes are delivered after restart."""
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _in_background(self, work: Coroutine[Any, Any, None], name: str) -> None:
        """Run a delivery in the background until it ends or the bot shuts down."""
        if self._closed:
            work.close()
            return  # shutting down: the outcome is delivered after the restart
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver_finished(self, job: JobRecord) -> None:
        """Deliver a job that finished while nobody was following it (e.g. before a restart)."""
        logger.info("delivering job %s, which finished before the restart", job.id)
        try:
            if job.status == "done":
                await self._deliver_done(job, await asyncio.to_thread(_load_images, job), ())
            else:
                await self._deliver_end(job, job.status, job.error or "")
        except Exception:
            logger.exception("delivering job %s failed", job.id)

    async def _follow(self, handle: JobHandle) -> None:
        """Render events at most once per interval, then deliver the outcome."""
        events: asyncio.Queue[JobEvent] = asyncio.Queue()

        async def pump() -> None:
            async for event in handle.events():
                await events.put(event)

        pumping = asyncio.create_task(pump())
        pending: JobEvent | None = None
        previews: tuple[Image.Image, ...] = ()
        # The "thinking…" placeholder counts as shown: the first edit comes one interval
        # later, so a burst of commands is acknowledged before any of them is decorated,
        # and a quick job goes straight to its result.
        last_shown = time.monotonic()
        try:
            while True:
                timeout = (
                    None if pending is None else last_shown + self._interval - time.monotonic()
                )
                try:
                    event = await asyncio.wait_for(events.get(), timeout=timeout)
                except TimeoutError:
                    event = None
                if event is not None:
                    _log_event(handle.record, event)
                if event is not None and event.is_final:
                    await self._deliver(handle, event)
                    return
                if event is not None:
                    pending = event
                    if event.progress is not None and event.progress.previews:
                        previews = event.progress.previews
                if pending is not None and time.monotonic() - last_shown >= self._interval:
                    await self._show(handle.record, pending, previews)
                    last_shown, pending = time.monotonic(), None
        except Exception:
            logger.exception("presenting job %s failed", handle.id)
        finally:
            pumping.cancel()

    async def _show(
        self, job: JobRecord, event: JobEvent, previews: tuple[Image.Image, ...]
    ) -> None:
        """Edit the job's message to show its place in line, or its progress and last preview."""
        target = JobContext.of(job)
        if target.message_id is None or not target.token_usable(self._clock()):
            return  # progress is a courtesy; the outcome will arrive as a channel message
        if event.kind == "queued":
            content, files = messages.queued_text(job, event.position), []
        else:
            content = messages.progress_text(job, event.progress)
            files = [_preview_file(list(previews))] if previews else []
        with contextlib.suppress(discord.HTTPException):
            await self._webhook(target).edit_message(
                target.message_id,
                content=content,
                attachments=files,
                allowed_mentions=discord.AllowedMentions.none(),
            )

    async def _deliver(self, handle: JobHandle, event: JobEvent) -> None:
        """Deliver a final event: the images, or the reason it failed or was canceled."""
        job = handle.record
        if event.kind == "done":
            result = await handle.result()
            logger.info(
                "job %s done in %.2f s (%s, %d image(s))",
                job.id,
                result.duration,
                _whose(job),
                len(result.images),
            )
            await self._deliver_done(result.job, result.images, result.flagged)
        else:
            await self._deliver_end(job, event.kind, event.message or "")

    async def _deliver_done(
        self, job: JobRecord, images: list[Image.Image], flagged: tuple[bool, ...]
    ) -> None:
        """Screen the images, then post the grid (or the upscaled image) with its buttons."""
        target = JobContext.of(job)
        screened = await self._moderation.screen_images(job, images, flagged)
        if screened.withheld:
            # Replace withheld images on disk too, so no button can bring them back.
            await asyncio.to_thread(_overwrite, job, screened)
        shown = screened.images
        picture = shown[0] if len(shown) == 1 else make_grid(shown)
        encoded = await asyncio.to_thread(
            encode_to_fit, picture, target.upload_limit, f"easel-{job.id}"
        )
        buttons = self._buttons
        view = buttons.upscale_view(job.id) if len(images) == 1 else buttons.grid_view(job.id)

        def file() -> discord.File:
            return discord.File(
                io.BytesIO(encoded.data), filename=encoded.filename, spoiler=screened.spoiler
            )

        text = messages.done_text(job)
        if screened.withheld:
            text += messages.withheld_note(len(screened.withheld), len(images))
        await self._send(job, target, text, "done", file=file, view=view)

    async def _deliver_end(self, job: JobRecord, kind: str, reason: str) -> None:
        """Tell the owner that a job failed or was canceled, and why."""
        if kind == "canceled":
            await self._send(
                job, JobContext.of(job), messages.canceled_text(job, reason), "canceled"
            )
        else:
            await self._send(job, JobContext.of(job), messages.failed_text(job, reason), "failed")

    async def _send(
        self,
        job: JobRecord,
        target: JobContext,
        content: str,
        outcome: DeliveryOutcome,
        *,
        file: Callable[[], discord.File] | None = None,
        view: discord.ui.View | None = None,
    ) -> None:
        """Edit the job's message if the token allows, else post to the channel; record it."""
        if target.message_id is not None and target.token_usable(self._clock()):
            try:
                await self._webhook(target).edit_message(
                    target.message_id,
                    content=content,
                    attachments=[file()] if file else [],
                    view=view,
                    allowed_mentions=discord.AllowedMentions.none(),
                )
                await self._deliveries.record(
                    job.id, outcome, channel_id=target.channel_id, message_id=target.message_id
                )
                return
            except discord.HTTPException as error:
                logger.info("editing job %s's message failed (%s); posting instead", job.id, error)
        await self._post(job, target, content, outcome, file=file, view=view)

    async def _post(
        self,
        job: JobRecord,
        target: JobContext,
        content: str,
        outcome: DeliveryOutcome,
        *,
        file: Callable[[], discord.File] | None,
        view: discord.ui.View | None,
    ) -> None:
        """Post the outcome as a channel message that mentions the owner."""
        channel = self._client.get_partial_messageable(target.channel_id, guild_id=target.guild_id)
        reply_to = target.message_id or target.reply_to
        reference = (
            discord.MessageReference(
                message_id=reply_to, channel_id=target.channel_id, fail_if_not_exists=False
            )
            if reply_to
            else None
        )
        extra: dict[str, Any] = {"file": file()} if file else {}
        if view is not None:
            extra["view"] = view
        try:
            message = await channel.send(
                content,
                reference=reference,  # type: ignore[arg-type]
                allowed_mentions=discord.AllowedMentions(users=[discord.Object(int(job.owner))]),
                **extra,
            )
        except (discord.NotFound, discord.Forbidden) as error:
            logger.warning(
                "job %s is undeliverable: channel %s refused it (%s)",
                job.id,
                target.channel_id,
                error.text or error.status,
            )
            await self._deliveries.record(job.id, "undeliverable", channel_id=target.channel_id)
            return
        except discord.HTTPException:
            logger.exception("could not deliver job %s to channel %s", job.id, target.channel_id)
            await self._deliveries.record(job.id, "undeliverable", channel_id=target.channel_id)
            return
        await self._deliveries.record(
            job.id, outcome, channel_id=target.channel_id, message_id=message.id
        )
        await self._retire_placeholder(target)

    async def _retire_placeholder(self, target: JobContext) -> None:
        """Point the stale progress message at the result, if it can still be edited."""
        if target.message_id is None:
            return
        placeholder = self._client.get_partial_messageable(
            target.channel_id, guild_id=target.guild_id
        ).get_partial_message(target.message_id)
        with contextlib.suppress(discord.HTTPException):
            await placeholder.edit(content="✅ Finished — the result is in the message below.")

    def _webhook(self, target: JobContext) -> discord.Webhook:
        """Return the interaction's webhook, bound to the bot's own session and state."""
        return discord.Webhook.partial(
            target.application_id,
            target.token or "",
            client=self._client,
        )


def _whose(job: JobRecord) -> str:
    """Describe where a job comes from, for log lines."""
    return f"guild {JobContext.of(job).guild_id}, user {job.owner}"


def _log_event(job: JobRecord, event: JobEvent) -> None:
    """Log the events worth a line: start (with the wait), failure, cancellation."""
    if event.kind == "started":
        waited = time.time() - job.created_at
        logger.info("job %s started after %.1f s in the queue (%s)", job.id, waited, _whose(job))
    elif event.kind == "failed":
        logger.warning("job %s failed (%s): %s", job.id, _whose(job), event.message)
    elif event.kind == "canceled":
        logger.info("job %s canceled (%s): %s", job.id, _whose(job), event.message)


def _preview_file(previews: list[Image.Image]) -> discord.File:
    """Compose a small JPEG of the in-progress previews."""
    picture = previews[0] if len(previews) == 1 else make_grid(previews)
    picture.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
    buffer = io.BytesIO()
    picture.convert("RGB").save(buffer, format="JPEG", quality=70)
    buffer.seek(0)
    return discord.File(buffer, filename="preview.jpg")


def _overwrite(job: JobRecord, screened: Screened) -> None:
    """Save the placeholders over the withheld images' files."""
    for index in screened.withheld:
        if index < len(job.outputs):
            screened.images[index].save(job.outputs[index], format="PNG")


def _load_images(job: JobRecord) -> list[Image.Image]:
    """Load a finished job's saved images from disk."""
    images = []
    for path in job.outputs:
        with Image.open(path) as image:
            images.append(image.convert("RGB"))
    return images
