"""Follow a job's life in its own message, then hand its outcome to the courier.

While the interaction token has more than a minute to live, the job's message (the deferred
"thinking" placeholder) is edited in place, at most once per ``progress_interval``; an edit
still waiting for Discord makes newer ones be dropped, and the final result never waits
behind one. The outcome is delivered by :class:`~bot.courier.Courier`; when Discord fails it
for now, the job goes to the :class:`~bot.outbox.Outbox`, which tries again until it is
delivered, across restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import aiohttp
import discord

from bot import messages
from bot.job_context import JobContext
from pipeline.images import make_grid

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

    from PIL import Image

    from bot.courier import Courier
    from bot.outbox import Outbox
    from pipeline.handles import JobHandle
    from pipeline.jobs import JobEvent, JobRecord

logger = logging.getLogger(__name__)

PREVIEW_SIDE = 256


class JobDelivery:
    """Follow jobs' events in their messages, and hand each outcome to the courier."""

    def __init__(
        self,
        client: discord.Client,
        courier: Courier,
        outbox: Outbox,
        *,
        progress_interval: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._courier = courier
        self._outbox = outbox
        self._interval = progress_interval
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    def follow(self, handle: JobHandle) -> None:
        """Follow a job in the background until its outcome is delivered (or owed)."""
        if self._closed:
            return  # shutting down: the outcome is delivered after the restart
        task = asyncio.create_task(self._follow(handle), name=f"follow-{handle.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Stop following (at shutdown); undelivered outcomes are delivered after restart."""
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _follow(self, handle: JobHandle) -> None:
        """Show events at most once per interval, then deliver the outcome."""
        events: asyncio.Queue[JobEvent] = asyncio.Queue()

        async def pump() -> None:
            async for event in handle.events():
                await events.put(event)

        pumping = asyncio.create_task(pump())
        progress = _ProgressShown(self._show)
        pending: JobEvent | None = None
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
                    await progress.stop()  # the result comes first, never after a progress edit
                    await self._deliver(handle, event)
                    return
                if event is not None:
                    pending = event
                    progress.keep_previews(event)
                if pending is not None and time.monotonic() - last_shown >= self._interval:
                    progress.show(handle.record, pending)
                    last_shown, pending = time.monotonic(), None
        except Exception:
            logger.exception("following job %s failed", handle.id)
        finally:
            pumping.cancel()
            await progress.stop()

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
        webhook = discord.Webhook.partial(
            target.application_id, target.token or "", client=self._client
        )
        with contextlib.suppress(discord.HTTPException, aiohttp.ClientError, OSError):
            await webhook.edit_message(
                target.message_id,
                content=content,
                attachments=files,
                allowed_mentions=discord.AllowedMentions.none(),
            )

    async def _deliver(self, handle: JobHandle, event: JobEvent) -> None:
        """Deliver a final event now, or owe it to the outbox if Discord is failing."""
        job = handle.record
        images: list[Image.Image] | None = None
        flagged: tuple[bool, ...] = ()
        if event.kind == "done":
            result = await handle.result()
            logger.info(
                "job %s done in %.2f s (%s, %d image(s))",
                job.id,
                result.duration,
                _whose(job),
                len(result.images),
            )
            job, images, flagged = result.job, result.images, result.flagged
        else:
            job = replace(job, status=event.kind, error=event.message or "")  # type: ignore[arg-type]
        began = self._clock()
        try:
            attempt = await self._courier.deliver(job, images=images, flagged=flagged)
        except Exception:
            logger.exception("delivering job %s failed unexpectedly; the outbox retries it", job.id)
            await self._outbox.owe(job.id, "an internal error", began=began, late=False)
            return
        if attempt.result == "retry":
            await self._outbox.owe(job.id, attempt.detail, began=began)


class _ProgressShown:
    """At most one progress edit in flight; while Discord is slow, newer ones are dropped."""

    def __init__(
        self,
        show: Callable[[JobRecord, JobEvent, tuple[Image.Image, ...]], Coroutine[Any, Any, None]],
    ) -> None:
        self._show = show
        self._previews: tuple[Image.Image, ...] = ()
        self._editing: asyncio.Task[None] | None = None

    def keep_previews(self, event: JobEvent) -> None:
        """Remember the latest previews, shown with the next edit."""
        if event.progress is not None and event.progress.previews:
            self._previews = event.progress.previews

    def show(self, job: JobRecord, event: JobEvent) -> None:
        """Start an edit, unless the last one is still waiting for Discord."""
        if self._editing is None or self._editing.done():
            self._editing = asyncio.create_task(self._show(job, event, self._previews))

    async def stop(self) -> None:
        """Cancel an edit still in flight."""
        if self._editing is not None and not self._editing.done():
            self._editing.cancel()
            await asyncio.gather(self._editing, return_exceptions=True)


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
