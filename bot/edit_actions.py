"""The editing buttons under an upscaled image: Zoom Out, Custom Zoom, Pan, Make Square, Region.

Each becomes a grid of four on the image's model, with its LoRAs and style, moderated like
``/imagine`` and owned by whoever pressed it (:meth:`JobActions.submit`). Custom Zoom and Vary
(Region) first open a form (:mod:`bot.edit_forms`); its submit queues the job.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.buttons import ButtonAction, JobButtons, Press
from bot.edit_forms import FormAnswers, FormKind, JobForms, region_form, zoom_form
from bot.in_flight import guarded
from bot.job_context import JobKind
from bot.replies import acknowledge
from pipeline.canvas import DIRECTIONS
from pipeline.edit_requests import EditRequests
from pipeline.errors import UserError

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    import discord

    from bot.actions import JobActions
    from pipeline.canvas import Direction
    from pipeline.defaults import JobDefaults
    from pipeline.jobs import JobRecord
    from pipeline.request import GenerationRequest
    from pipeline.request_builder import RequestBuilder


class EditActions:
    """Turn the editing buttons and forms into queued edit jobs."""

    def __init__(self, jobs: JobActions, requests: RequestBuilder) -> None:
        self._jobs = jobs
        self._edits = EditRequests(requests)
        self.in_flight = jobs.in_flight

    def register(self, buttons: JobButtons, forms: JobForms) -> None:
        """Give each editing button and form its handler."""
        buttons.on(ButtonAction.ZOOM, self._zoom_button)
        buttons.on(ButtonAction.PAN, self._pan_button)
        buttons.on(ButtonAction.SQUARE, lambda i, p: self.square(i, p.job_id))
        buttons.on(
            ButtonAction.CUSTOM_ZOOM, lambda i, p: self.open_form(i, p.job_id, FormKind.ZOOM)
        )
        buttons.on(
            ButtonAction.VARY_REGION, lambda i, p: self.open_form(i, p.job_id, FormKind.REGION)
        )
        forms.on(FormKind.ZOOM, self.custom_zoom)
        forms.on(FormKind.REGION, self.vary_region)

    async def _zoom_button(self, interaction: discord.Interaction, press: Press) -> None:
        """Zoom out 2x or 1.5x."""
        await self.zoom(interaction, press.job_id, 2.0 if press.arg == "2" else 1.5)

    async def _pan_button(self, interaction: discord.Interaction, press: Press) -> None:
        """Pan towards the button's arrow."""
        if press.arg in DIRECTIONS:
            await self.pan(interaction, press.job_id, press.arg)

    @guarded
    async def zoom(self, interaction: discord.Interaction, job_id: str, factor: float) -> None:
        """Queue a Zoom Out of an upscaled image."""
        await self._queue(
            interaction, job_id, lambda s, image, d: self._edits.zoom(s, image, factor, defaults=d)
        )

    @guarded
    async def pan(
        self, interaction: discord.Interaction, job_id: str, direction: Direction
    ) -> None:
        """Queue a Pan of an upscaled image."""
        await self._queue(
            interaction,
            job_id,
            lambda s, image, d: self._edits.pan(s, image, direction, defaults=d),
        )

    @guarded
    async def square(self, interaction: discord.Interaction, job_id: str) -> None:
        """Queue a Make Square of an upscaled image."""
        await self._queue(
            interaction, job_id, lambda s, image, d: self._edits.square(s, image, defaults=d)
        )

    @guarded
    async def open_form(
        self, interaction: discord.Interaction, job_id: str, kind: FormKind
    ) -> None:
        """Open the Custom Zoom or Vary (Region) form, its prompt filled in."""
        source = await self._jobs.source(interaction, job_id)
        self._refuse_grids(source)
        prompt = source.request.prompt
        form = zoom_form(job_id, prompt) if kind == FormKind.ZOOM else region_form(job_id, prompt)
        await interaction.response.send_modal(form)

    @guarded
    async def custom_zoom(self, interaction: discord.Interaction, answers: FormAnswers) -> None:
        """Queue the zoom a submitted Custom Zoom form asks for."""
        factor = answers.zoom_factor()
        ratio = answers.texts.get("ar", "").strip() or None
        prompt = answers.texts.get("prompt")
        await self._queue(
            interaction,
            answers.job_id,
            lambda s, image, d: self._edits.zoom(
                s, image, factor, ratio=ratio, prompt=prompt, defaults=d
            ),
        )

    @guarded
    async def vary_region(self, interaction: discord.Interaction, answers: FormAnswers) -> None:
        """Queue the redraw a submitted Vary (Region) form asks for."""
        cells, prompt = answers.cells(), answers.texts.get("prompt")
        await self._queue(
            interaction,
            answers.job_id,
            lambda s, image, d: self._edits.region(s, image, cells, prompt=prompt, defaults=d),
        )

    async def _queue(
        self,
        interaction: discord.Interaction,
        job_id: str,
        build: Callable[[GenerationRequest, Path, JobDefaults], GenerationRequest],
    ) -> None:
        """Acknowledge, find the upscaled image, build its edit and queue it."""
        placeholder = await acknowledge(interaction)
        source, image = await self._jobs.source_image(interaction, job_id, 1)
        self._refuse_grids(source)
        request = build(source.request, image, self._jobs.settings_here(interaction).defaults)
        await self._jobs.submit(
            interaction, request, placeholder, JobKind.EDIT, source=source, source_index=1
        )

    @staticmethod
    def _refuse_grids(source: JobRecord) -> None:
        """Edit one image only: a grid's buttons are U1–U4 first."""
        if len(source.outputs) != 1:
            raise UserError("Upscale an image first (U1–U4); the editing tools work on one image.")
