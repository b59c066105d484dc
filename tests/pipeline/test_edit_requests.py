"""Edit requests: they keep the job's model, LoRAs and style, and take a rewritten prompt."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pipeline.edit_requests import EditRequests
from pipeline.errors import ParameterError, PromptError

if TYPE_CHECKING:
    from pipeline.engine import Engine

IMAGE = Path("upscaled.png")  # requests only name the file; nothing here reads it


def upscaled(engine: Engine, text: str = "a red circle --seed 3"):  # type: ignore[no-untyped-def]
    """Return an upscale's request, the source of every edit."""
    grid = engine.parse(text)
    return engine.requests.upscale_request(grid, IMAGE)


def test_an_edit_keeps_the_jobs_model_loras_and_style(tiny_engine: Engine) -> None:
    """Carry the source's model, LoRAs and style into the zoom."""
    source = replace(upscaled(tiny_engine), style="ink", styled_prompt="ink of a red circle")
    zoom = EditRequests(tiny_engine.requests).zoom(source, IMAGE, 2.0, seed=1)
    assert (zoom.model, zoom.loras, zoom.style) == (source.model, source.loras, source.style)
    assert zoom.operation == "edit"
    assert zoom.num_images == 4
    assert zoom.pixels == tiny_engine.native_size[0] * tiny_engine.native_size[1]


def test_a_remixed_prompt_replaces_the_prompt_inside_its_style(tiny_engine: Engine) -> None:
    """Put the new prompt where the old one was in the style's text."""
    source = replace(upscaled(tiny_engine), style="ink", styled_prompt="ink of a red circle")
    zoom = EditRequests(tiny_engine.requests).zoom(source, IMAGE, 1.5, prompt="a blue star")
    assert zoom.prompt == "a blue star"
    assert zoom.styled_prompt == "ink of a blue star"


def test_a_remixed_prompt_takes_no_parameters(tiny_engine: Engine) -> None:
    """Refuse --parameters in the form's prompt with a reason."""
    edits = EditRequests(tiny_engine.requests)
    with pytest.raises(ParameterError, match="without --parameters"):
        edits.region(upscaled(tiny_engine), IMAGE, (4,), prompt="a red circle --steps 90")


def test_an_empty_remixed_prompt_is_refused(tiny_engine: Engine) -> None:
    """Refuse a blank prompt as /imagine would."""
    with pytest.raises(PromptError, match="empty"):
        EditRequests(tiny_engine.requests).zoom(upscaled(tiny_engine), IMAGE, 2.0, prompt="  ")


def test_the_buttons_of_an_edits_grid_start_from_its_image(tiny_engine: Engine) -> None:
    """Upscale and vary an edit's image as plain images, not as the edit again."""
    zoom = EditRequests(tiny_engine.requests).zoom(upscaled(tiny_engine), IMAGE, 2.0)
    assert tiny_engine.requests.upscale_request(zoom, IMAGE).edit is None
    assert tiny_engine.requests.variation_request(zoom, IMAGE).edit is None


def test_an_edit_survives_being_stored(tiny_engine: Engine) -> None:
    """Round-trip an edit request through its stored dict."""
    region = EditRequests(tiny_engine.requests).region(upscaled(tiny_engine), IMAGE, (0, 8))
    assert type(region).from_dict(region.to_dict()) == region
