"""The words on a job's message at each stage: queued, drawing, done, failed.

Prompts are user text: markdown is escaped so a prompt cannot restyle the message, and the
message content stays under Discord's 2000 characters whatever the prompt's length.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord

if TYPE_CHECKING:
    from pipeline.engine import Progress
    from pipeline.jobs import JobRecord
    from pipeline.request import GenerationRequest

PROMPT_SHOWN_CHARS = 900
_KIND_TITLES = {
    "imagine": "",
    "reroll": " (reroll)",
    "variation": " (variations)",
    "upscale": " (upscale)",
}


def shown_prompt(prompt: str) -> str:
    """Escape and shorten a prompt for display."""
    text = discord.utils.escape_markdown(prompt.replace("\n", " "))
    return text if len(text) <= PROMPT_SHOWN_CHARS else text[: PROMPT_SHOWN_CHARS - 1] + "…"


def headline(job: JobRecord) -> str:
    """Return the first line every stage shares: the prompt, what kind of job, and whose."""
    kind = str(job.context.get("kind", "imagine"))
    title = _KIND_TITLES.get(kind, "")
    if kind == "upscale":
        title = f" (upscale of image #{job.context.get('source_index', '?')})"
    elif kind == "variation":
        title = f" (variations, {job.context.get('strength', 'strong')})"
    return f"**{shown_prompt(job.request.prompt)}**{title} — <@{job.owner}>"


def queued_text(job: JobRecord, position: int | None) -> str:
    """Describe a job waiting in line."""
    where = f"position {position} in the queue" if position else "waiting to start"
    return f"{headline(job)}\n⏳ Queued — {where}."


def progress_text(job: JobRecord, progress: Progress | None) -> str:
    """Describe a job being drawn: percentage and time left."""
    if progress is None:
        return f"{headline(job)}\n🎨 Starting…"
    eta = progress.eta
    left = f", about {max(1, round(eta))} s left" if eta is not None else ""
    return f"{headline(job)}\n🎨 Drawing — {round(progress.fraction * 100)}%{left}."


def done_text(job: JobRecord) -> str:
    """Describe a finished job with the parameters needed to reproduce it."""
    request = job.request
    return f"{headline(job)}\n-# {parameters_line(request)} · job `{job.id}`"


def failed_text(job: JobRecord, reason: str) -> str:
    """Say that a job failed and why, with the word "failed"."""
    return f"{headline(job)}\n❌ This job failed: {reason}"


def canceled_text(job: JobRecord, reason: str) -> str:
    """Say that a job was canceled and why."""
    return f"{headline(job)}\n🚫 Canceled: {reason}"


def parameters_line(request: GenerationRequest) -> str:
    """Summarise the parameters of a request in one short line."""
    seeds = request.seeds
    seed_text = f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {seeds[0]}–{seeds[-1]}"
    line = f"{seed_text} · {request.width}×{request.height} · {request.steps} steps"
    line += f" · {request.sampler} · cfg {request.guidance:g}"
    if request.strength is not None:
        line += f" · strength {request.strength:g}"
    return line + (" · tile" if request.tile else "")
