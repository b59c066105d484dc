"""The forms (Discord modals) behind Custom Zoom and Vary (Region), and where submits go.

A form's ``custom_id`` is ``easel:form:<kind>:<job>``. discord.py keeps a modal in memory only
until the bot restarts, so Easel never lets it: each modal is sent already stopped (nothing is
stored), and every submit is read here from the interaction's own data, which carries the
id and the member's answers. A form opened before a restart is therefore submitted after it
like any other.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import discord

from pipeline.canvas import CELL_NAMES, MAX_ZOOM, MIN_ZOOM
from pipeline.errors import ParameterError

logger = logging.getLogger(__name__)

PROMPT_FIELD_CHARS = 4000  # Discord's limit for a text input
_CUSTOM_ID = re.compile(r"^easel:form:(?P<kind>[a-z]{1,16}):(?P<job>[0-9a-z]{1,32})$")


class FormKind(StrEnum):
    """Which form: the value is the code kept in its ``custom_id``."""

    ZOOM = "zoom"
    REGION = "region"


@dataclass(frozen=True)
class FormAnswers:
    """A submitted form: which one, for which job, and each field's answer."""

    kind: FormKind
    job_id: str
    texts: dict[str, str]
    choices: dict[str, list[str]]

    def zoom_factor(self) -> float:
        """Read the Custom Zoom factor, or say what it accepts."""
        text = self.texts.get("zoom", "").strip().removesuffix("x")
        try:
            factor = float(text)
        except ValueError:
            factor = -1.0
        if not MIN_ZOOM <= factor <= MAX_ZOOM:
            raise ParameterError(
                f"The zoom takes a number from {MIN_ZOOM:g} to {MAX_ZOOM:g}, like 1.5 "
                f"(got {text[:20]!r})."
            )
        return factor

    def cells(self) -> tuple[int, ...]:
        """Read the chosen cells of the 3×3 grid."""
        chosen = self.choices.get("cells", [])
        return tuple(int(value) for value in chosen if value.isdigit())


FormHandler = Callable[[discord.Interaction, FormAnswers], Awaitable[None]]


class JobForms:
    """The registry of form handlers, and the forms themselves."""

    def __init__(self) -> None:
        self._handlers: dict[FormKind, FormHandler] = {}

    def on(self, kind: FormKind, handler: FormHandler) -> None:
        """Register the handler of a form (once, at set-up)."""
        if kind in self._handlers:
            raise ValueError(f"the {kind.name} form already has a handler")
        self._handlers[kind] = handler

    async def dispatch(self, interaction: discord.Interaction) -> None:
        """Hand a submitted Easel form to its handler; anything else is not ours."""
        answers = read_answers(interaction)
        if answers is None:
            return
        handler = self._handlers.get(answers.kind)
        if handler is None:
            logger.error("no handler is registered for the %s form", answers.kind.name)
            return
        await handler(interaction, answers)


def zoom_form(job_id: str, prompt: str) -> discord.ui.Modal:
    """Return the Custom Zoom form: the prompt (Remix), the factor and an optional --ar."""
    modal = _modal("Custom Zoom", FormKind.ZOOM, job_id, prompt)
    modal.add_item(
        discord.ui.TextInput(
            label=f"Zoom out by ({MIN_ZOOM:g} to {MAX_ZOOM:g})",
            custom_id="zoom",
            default="2",
            max_length=8,
        )
    )
    modal.add_item(
        discord.ui.TextInput(
            label="Aspect ratio (optional, e.g. 16:9)",
            custom_id="ar",
            required=False,
            max_length=16,
        )
    )
    return _stopped(modal)


def region_form(job_id: str, prompt: str) -> discord.ui.Modal:
    """Return the Vary (Region) form: the prompt (Remix) and the cells to redraw."""
    modal = _modal("Vary (Region)", FormKind.REGION, job_id, prompt)
    options = [
        discord.SelectOption(label=name.capitalize(), value=str(cell))
        for cell, name in enumerate(CELL_NAMES)
    ]
    select: discord.ui.Select[Any] = discord.ui.Select(
        custom_id="cells",
        options=options,
        min_values=1,
        max_values=len(options) - 1,
        placeholder="Which parts to redraw",
    )
    modal.add_item(discord.ui.Label(text="Parts of a 3×3 grid to redraw", component=select))
    return _stopped(modal)


def read_answers(interaction: discord.Interaction) -> FormAnswers | None:
    """Return the answers of a submitted Easel form, or None for any other interaction."""
    data: Any = interaction.data or {}
    match = _CUSTOM_ID.match(str(data.get("custom_id", "")))
    if interaction.type != discord.InteractionType.modal_submit or match is None:
        return None
    try:
        kind = FormKind(match["kind"])
    except ValueError:
        return None
    texts: dict[str, str] = {}
    choices: dict[str, list[str]] = {}
    pending = list(data.get("components", []))
    while pending:
        component = pending.pop()
        pending += component.get("components", [])
        if "component" in component:
            pending.append(component["component"])
        if "value" in component:
            texts[str(component.get("custom_id"))] = str(component["value"])
        if "values" in component:
            choices[str(component.get("custom_id"))] = [str(v) for v in component["values"]]
    return FormAnswers(kind, match["job"], texts, choices)


def _modal(title: str, kind: FormKind, job_id: str, prompt: str) -> discord.ui.Modal:
    """Start a form with its id and the editable prompt."""
    modal = discord.ui.Modal(title=title, custom_id=f"easel:form:{kind}:{job_id}")
    modal.add_item(
        discord.ui.TextInput(
            label="Prompt (edit it to Remix)",
            custom_id="prompt",
            style=discord.TextStyle.paragraph,
            default=prompt[:PROMPT_FIELD_CHARS],
            max_length=PROMPT_FIELD_CHARS,
        )
    )
    return modal


def _stopped(modal: discord.ui.Modal) -> discord.ui.Modal:
    """Stop the modal, so discord.py does not keep it: submits are read from their data."""
    modal.stop()
    return modal
