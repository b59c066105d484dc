"""The models one worker keeps loaded: loaded on first use, least recently used unloaded first.

A :class:`ModelPool` is the batch engine a worker runs: it routes each batch to the engine
of the batch's model, loading it (and telling the batch's jobs "loading model …") when it is
not resident. At most ``max_loaded`` models stay loaded; on a GPU, a model is also unloaded
when the next one would not fit beside it in free memory. It runs on the worker's own
thread, like the engines it holds; the event loop only asks which models are loaded.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from pipeline.batch_runner import free_memory, is_gpu_fault
from pipeline.engine import Progress
from pipeline.errors import ModelUnavailableError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from pipeline.batch_runner import BatchEngine
    from pipeline.engine import GenerationResult
    from pipeline.models import ModelCatalog
    from pipeline.request import GenerationRequest

logger = logging.getLogger(__name__)

UNAVAILABLE_MESSAGE = (
    "the model {name} could not be loaded; the server owner will find why in the log."
)


@runtime_checkable
class ModelResidency(Protocol):
    """An engine that can say which models it has loaded (so the queue can prefer them)."""

    def has_loaded(self, model: str) -> bool:
        """Tell whether ``model`` ("" for the default) is loaded now."""


class ModelPool:
    """Route batches to their model's engine, loading and unloading models as needed."""

    def __init__(
        self,
        catalog: ModelCatalog,
        load: Callable[[str], BatchEngine],
        *,
        max_loaded: int,
        free_bytes: Callable[[], int | None] = lambda: None,
    ) -> None:
        """Load models with ``load(name)``; ``free_bytes`` reports free GPU memory (None: CPU)."""
        self._catalog = catalog
        self._load = load
        self._max_loaded = max_loaded
        self._free_bytes = free_bytes
        self._engines: OrderedDict[str, BatchEngine] = OrderedDict()

    def adopt(self, name: str, engine: BatchEngine) -> None:
        """Hold an engine loaded elsewhere (the tests' shared one) as model ``name``."""
        self._engines[self._catalog.profile(name).name] = engine

    def loaded_names(self) -> list[str]:
        """Return the loaded models, least recently used first."""
        return list(self._engines)

    def has_loaded(self, model: str) -> bool:
        """Tell whether ``model`` ("" for the default) is loaded now."""
        return (model or self._catalog.default) in self._engines

    def engine_for(self, model: str) -> BatchEngine:
        """Return the loaded engine of ``model``, loading it first if need be."""
        name = self._catalog.profile(model).name
        engine = self._engines.get(name)
        if engine is None:
            engine = self._load_model(name)
        self._engines.move_to_end(name)
        return engine

    def generate_batch(
        self,
        requests: Sequence[GenerationRequest],
        *,
        progress: Callable[[Progress], None] | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> list[GenerationResult]:
        """Run a batch (of one model, as the queue batches) on that model's engine."""
        name = self._catalog.profile(requests[0].model).name
        if name not in self._engines and progress is not None:
            progress(Progress(0, requests[0].steps, 0.0, loading_model=name))
        engine = self.engine_for(name)
        return engine.generate_batch(requests, progress=progress, cancel=cancel)

    def _load_model(self, name: str) -> BatchEngine:
        """Make room, then load ``name``; a failure is the owner's to hear of, not a crash."""
        while len(self._engines) >= self._max_loaded:
            self._unload_oldest()
        needed = self._catalog.profile(name).traits.weights_bytes
        while self._engines and not self._fits(needed):
            self._unload_oldest()
        started = time.perf_counter()
        try:
            engine = self._load(name)
        except Exception as error:
            if is_gpu_fault(error):
                raise  # the worker rebuilds its engine (this pool) and retries
            logger.exception("could not load the model %s", name)
            free_memory()
            raise ModelUnavailableError(UNAVAILABLE_MESSAGE.format(name=name)) from error
        logger.info("model %s loaded in %.1f s", name, time.perf_counter() - started)
        self._engines[name] = engine
        return engine

    def _fits(self, needed: int) -> bool:
        """Tell whether ``needed`` bytes of weights fit in the GPU's free memory."""
        free = self._free_bytes()
        return free is None or needed <= free

    def _unload_oldest(self) -> None:
        """Unload the least recently used model and give its memory back."""
        name, _engine = self._engines.popitem(last=False)
        del _engine
        free_memory()
        logger.info("unloaded the model %s to make room", name)


def cuda_free_bytes(device: str) -> Callable[[], int | None]:
    """Return a probe of free memory on ``device`` when it is a CUDA GPU, else of nothing."""
    import torch  # noqa: PLC0415 - only needed where a GPU is configured

    if not device.startswith("cuda") or not torch.cuda.is_available():
        return lambda: None

    def probe() -> int | None:
        free, _total = torch.cuda.mem_get_info(torch.device(device))
        return int(free)

    return probe
