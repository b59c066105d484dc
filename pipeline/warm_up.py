"""Compile a model's warm-up buckets in the background, while its engine keeps drawing.

The buckets compile on a text-to-image pipeline of their own (the model's modules, its
compiled denoiser), through an engine of their own, so the worker's engine never waits: its
jobs draw eager until their bucket is warm (see :mod:`pipeline.compiled`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from pipeline.engine import Engine
from pipeline.request import size_for_aspect

if TYPE_CHECKING:
    import threading

    from pipeline.shape_buckets import Bucket


def start_warming(engine: Engine) -> threading.Thread | None:
    """Compile ``engine``'s configured shape buckets on a thread (``compile: true`` only)."""
    compiled = engine.compiled
    if compiled is None:
        return None
    family = engine.model.family
    pipe = type(engine.model.txt2img).from_pipe(engine.model.txt2img)
    pipe.set_progress_bar_config(disable=True)
    compiled.install(pipe)
    model = replace(engine.model, txt2img=pipe)
    warm = Engine(model, engine.settings, engine.input_limits, profile=engine.profile)
    width, height = engine.native_size
    buckets = compiled.settings.warm_buckets(
        lambda ratio: size_for_aspect(ratio, width * height, family.size_multiple)
    )
    request = engine.parse("a warm-up drawing --seed 1 --steps 2")

    def draw(bucket: Bucket) -> None:
        shape = replace(request, width=bucket.width, height=bucket.height)
        warm.generate_batch([replace(shape, num_images=bucket.images)])

    return compiled.warm_up(buckets, draw)
