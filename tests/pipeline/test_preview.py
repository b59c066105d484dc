"""The preview lane: previews are made on a thread of their own and come a step later."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import torch

from pipeline.preview import PreviewLane, preview_thread

if TYPE_CHECKING:
    from PIL import Image

    from pipeline.engine import Engine


def test_previews_are_made_off_the_step_thread(tiny_engine: Engine) -> None:
    """Copy and colour-map the latents on the preview thread, never the caller's."""
    previewer = tiny_engine._previewer
    threads: list[str] = []
    original = previewer.images

    def recorded(latents: torch.Tensor, size: tuple[int, int]) -> list[Image.Image]:
        threads.append(threading.current_thread().name)
        return original(latents, size)

    previewer.images = recorded  # type: ignore[method-assign]
    try:
        lane = PreviewLane(previewer, preview_thread())
        lane.submit(torch.zeros(2, 4, 8, 8), (64, 64))
        previews = lane.take()
    finally:
        del previewer.images
    assert threads
    assert all(name.startswith("easel-preview") for name in threads)
    assert [preview.size for preview in previews] == [(64, 64), (64, 64)]


def test_a_preview_is_its_steps_latents_even_if_they_change_after(tiny_engine: Engine) -> None:
    """Snapshot the latents at submit: a pipeline writing into them later changes nothing."""
    lane = PreviewLane(tiny_engine._previewer, preview_thread())
    latents = torch.zeros(1, 4, 8, 8)
    lane.submit(latents, (32, 32))
    latents.fill_(5.0)
    expected = tiny_engine._previewer.images(torch.zeros(1, 4, 8, 8), (32, 32))
    assert lane.take()[0].tobytes() == expected[0].tobytes()


def test_take_without_a_preview_started_gives_none(tiny_engine: Engine) -> None:
    """Give nothing at a step after which no preview was started."""
    assert PreviewLane(tiny_engine._previewer, preview_thread()).take() == ()
