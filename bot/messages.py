"""The text and embeds users read: a job's message at each stage, /info and /queue.

Prompts are user text: markdown is escaped so a prompt cannot restyle the message, and the
message content stays under Discord's 2000 characters whatever the prompt's length.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord

from bot.job_context import JobContext, JobKind
from pipeline.metadata import grid_parameters_text

if TYPE_CHECKING:
    from collections.abc import Sequence

    from bot.model_roster import ModelLine
    from pipeline.engine import Progress
    from pipeline.jobs import JobRecord
    from pipeline.request import GenerationRequest
    from pipeline.scheduler import QueueEntry

PROMPT_SHOWN_CHARS = 900
PNG_INFO_SHOWN_CHARS = 1000  # an embed field holds 1024 characters, the code fence included
_KIND_TITLES = {
    JobKind.IMAGINE: "",
    JobKind.REROLL: " (reroll)",
    JobKind.VARIATION: " (variations)",
    JobKind.UPSCALE: " (upscale)",
    JobKind.EDIT: " (edit)",
}


def shown_prompt(prompt: str) -> str:
    """Escape and shorten a prompt for display."""
    text = discord.utils.escape_markdown(prompt.replace("\n", " "))
    return text if len(text) <= PROMPT_SHOWN_CHARS else text[: PROMPT_SHOWN_CHARS - 1] + "…"


def headline(job: JobRecord) -> str:
    """Return the first line every stage shares: the prompt, what kind of job, and whose."""
    context = JobContext.of(job)
    title = _KIND_TITLES[context.kind]
    if context.kind == JobKind.UPSCALE:
        title = f" (upscale of image #{context.source_index or '?'})"
    elif context.kind == JobKind.VARIATION:
        title = f" (variations, {context.strength or 'strong'})"
    elif context.kind == JobKind.EDIT and job.request.edit is not None:
        title = f" ({job.request.edit.label})"
    return f"**{shown_prompt(job.request.prompt)}**{title} — <@{job.owner}>"


def queued_text(job: JobRecord, position: int | None) -> str:
    """Describe a job waiting in line."""
    where = f"position {position} in the queue" if position else "waiting to start"
    return f"{headline(job)}\n⏳ Queued — {where}."


def progress_text(job: JobRecord, progress: Progress | None) -> str:
    """Describe a job being drawn: percentage and time left."""
    if progress is None:
        return f"{headline(job)}\n🎨 Starting…"
    if progress.loading_model is not None:
        return f"{headline(job)}\n📦 Loading the model {progress.loading_model}…"
    eta = progress.eta
    left = f", about {max(1, round(eta))} s left" if eta is not None else ""
    return f"{headline(job)}\n🎨 Drawing — {round(progress.fraction * 100)}%{left}."


def job_marker(job: JobRecord) -> str:
    """Return the words every final message of a job carries, to find it again after a retry."""
    return f"job `{job.id}`"


def done_text(job: JobRecord) -> str:
    """Describe a finished job with the parameters needed to reproduce it."""
    request = job.request
    return f"{headline(job)}\n-# {parameters_line(request)} · {job_marker(job)}"


def late_note(*, images: bool) -> str:
    """Explain a result that Discord kept back for a while."""
    what = "your image" if images else "what happened to your job"
    return f"\n-# Discord was unavailable for a while; here is {what}."


def delivery_state(outcome: str | None, owed_attempts: int | None, last_error: str) -> str | None:
    """Say where a finished job's delivery stands, when it is not simply delivered."""
    if owed_attempts is not None:
        tries = f"; {owed_attempts} attempt(s) so far, last: {last_error}" if owed_attempts else ""
        return f"waiting for Discord to accept it{tries}"
    if outcome == "undeliverable":
        return "could not be posted: the bot cannot post in its channel"
    return None


def undeliverable_line(job: JobRecord, reason: str) -> str:
    """Tell the owner, in the job's channel, that the result could not be posted there."""
    return (
        f"<@{job.owner}> the result of {job_marker(job)} could not be posted here ({reason}); "
        "the server's moderators have been told."
    )


def undeliverable_note(job: JobRecord, channel_id: int, reason: str) -> str:
    """Tell the mod-log that a job's result could not be posted, and why."""
    return (
        f"📭 Could not deliver {job_marker(job)} of <@{job.owner}> to <#{channel_id}>: {reason}. "
        "Check the bot's permissions in that channel."
    )


def withheld_note(withheld: int, total: int) -> str:
    """Tell the user that some images were withheld by the image safety check."""
    which = "The image was" if total == 1 else f"{withheld} of the {total} images were"
    return f"\n⚠️ {which} withheld by this server's image safety check."


def failed_text(job: JobRecord, reason: str) -> str:
    """Say that a job failed and why, with the word "failed"."""
    return f"{headline(job)}\n❌ This job failed: {reason}\n-# {job_marker(job)}"


def canceled_text(job: JobRecord, reason: str) -> str:
    """Say that a job was canceled and why."""
    return f"{headline(job)}\n🚫 Canceled: {reason}\n-# {job_marker(job)}"


def parameters_line(request: GenerationRequest) -> str:
    """Summarise the parameters of a request in one short line."""
    seeds = request.seeds
    seed_text = f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {seeds[0]}–{seeds[-1]}"
    line = f"{seed_text} · {request.width}×{request.height} · {request.steps} steps"
    if request.model:
        line = f"{request.model} · {line}"
    if request.style:
        line += f" · style {request.style}"
    line += f" · {request.sampler} · cfg {request.guidance:g}"
    if request.strength is not None:
        line += f" · strength {request.strength:g}"
    if request.stop < 100:
        line += f" · stop {request.stop}%"
    if request.chaos:
        line += f" · chaos {request.chaos}"
    if request.loras:
        line += " · " + " ".join(f"{use.name}:{use.weight:g}" for use in request.loras)
    if request.control_image is not None:
        line += f" · control {request.control_mode} {request.control_weight:g}"
    return line + (" · tile" if request.tile else "") + (" · fast" if request.fast else "")


def info_embed(
    job: JobRecord, delivery: str | None = None, *, show_style_text: bool = False
) -> discord.Embed:
    """Describe a job's full parameters, and where its delivery stands if it is not plain.

    A style's hidden text is shown only where the server allows it (``show_style_text``).
    """
    request = job.request
    embed = discord.Embed(title=f"Job {job.id}", description=shown_prompt(request.prompt))
    if request.negative_prompt:
        embed.add_field(
            name="Negative", value=shown_prompt(request.negative_prompt)[:1000], inline=False
        )
    embed.add_field(name="Model", value=request.model or "the default model")
    if request.style:
        embed.add_field(name="Style", value=request.style)
        if show_style_text:
            drawn = shown_prompt(request.drawn_prompt)[:1000]
            embed.add_field(name="Style text", value=drawn, inline=False)
            if request.drawn_negative:
                negative = shown_prompt(request.drawn_negative)[:1000]
                embed.add_field(name="Style negative", value=negative, inline=False)
    if request.loras:
        lines = "\n".join(f"{use.name} at {use.weight:g}" for use in request.loras)
        embed.add_field(name="LoRAs", value=lines[:1000])
    if request.chaos:
        embed.add_field(name="Chaos", value=str(request.chaos))
    embed.add_field(name="Seeds", value=" ".join(str(s) for s in request.seeds))
    embed.add_field(name="Size", value=f"{request.width}×{request.height}")
    embed.add_field(name="Steps", value=str(request.steps))
    embed.add_field(name="Guidance", value=f"{request.guidance:g}")
    embed.add_field(name="Sampler", value=request.sampler)
    context = JobContext.of(job)
    embed.add_field(name="Kind", value=str(context.kind))
    if request.strength is not None:
        embed.add_field(name="Strength", value=f"{request.strength:g}")
    if request.tile:
        embed.add_field(name="Tile", value="yes")
    if request.fast:
        embed.add_field(name="Fast", value="yes (step cache)")
    if context.source_job:
        embed.add_field(name="From job", value=context.source_job)
    embed.add_field(
        name="Status", value=job.status + (f": {job.error}" if job.error else ""), inline=False
    )
    # The text other tools read from the image, to copy (backticks would end the block).
    text = grid_parameters_text(request).replace("`", "\u02cb")
    shown = text if len(text) <= PNG_INFO_SHOWN_CHARS else text[: PNG_INFO_SHOWN_CHARS - 1] + "…"
    embed.add_field(name="PNG Info", value=f"```{shown}```", inline=False)
    if delivery:
        embed.add_field(name="Delivery", value=delivery[:1000], inline=False)
    embed.set_footer(text=f"by user {job.owner}")
    return embed


def queue_listing(
    entries: Sequence[QueueEntry], running: int, waiting: int, *, show_owners: bool
) -> str:
    """List jobs in the queue, numbered as their cancel buttons are."""
    lines = [f"**Queue:** {running} running, {waiting} waiting."]
    for number, entry in enumerate(entries, start=1):
        where = "drawing now" if entry.status == "running" else f"position {entry.position}"
        owner = f" — <@{entry.owner}>" if show_owners else ""
        lines.append(
            f"{number}. `{entry.job_id}` {shown_prompt(entry.request.prompt)[:80]}{owner} — {where}"
        )
    if not entries:
        lines.append("Nothing queued." if show_owners else "You have no jobs waiting or running.")
    return "\n".join(lines)


def delivery_troubles(troubles: Sequence[tuple[JobRecord, str]], *, show_owners: bool) -> str:
    """List finished jobs whose results are not posted: waiting for Discord, or refused."""
    if not troubles:
        return ""
    lines = ["**Finished, not posted yet:**"]
    for job, state in troubles:
        owner = f" — <@{job.owner}>" if show_owners else ""
        lines.append(f"• `{job.id}` {shown_prompt(job.request.prompt)[:60]}{owner} — {state}")
    return "\n" + "\n".join(lines)


def models_listing(lines: Sequence[ModelLine]) -> str:
    """List the configured models for /models, the default first marked."""
    rows = ["**Models** — choose one with `--model NAME` or the `model` option of /imagine."]
    for line in lines:
        width, height = line.native_size
        marks = [m for m, on in (("default", line.default), ("loaded", line.loaded)) if on]
        state = f" — {', '.join(marks)}" if marks else " — loads on first use"
        rows.append(f"• `{line.name}` {line.family}, {width}×{height}{state}")
    return "\n".join(rows)
