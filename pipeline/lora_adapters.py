"""The LoRAs loaded into one model, switched per pipeline call without reading them again.

A LoRA is read from disk the first time a job on this model uses it, then stays loaded as a
named PEFT adapter; each call activates exactly its own set and weights (``set_adapters``),
and a call without LoRAs disables them all (``disable_lora``). Both give exactly the pixels
of a model that never loaded a LoRA for the weights they turn off (tested in
``tests/pipeline/test_lora_adapters.py``), so nothing leaks from one job into the next.
Weights are never fused into the model, which would leave round-off behind.

Like the engine that owns it, this is not thread-safe: one worker thread per engine.
"""

from __future__ import annotations

import hashlib
import logging
import re
import warnings
from typing import TYPE_CHECKING, Any

from pipeline.errors import UserError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pipeline.lora_syntax import LoraUse
    from pipeline.loras import LoraCatalog

logger = logging.getLogger(__name__)


class LoraLoadError(UserError):
    """A LoRA file could not be applied to this model (wrong shapes, a damaged file)."""


class LoraAdapters:
    """Load each LoRA into one pipeline once, and activate the set each call asks for.

    What is loaded and enabled is read from the pipeline itself, not remembered here, so two
    engines over one loaded model (as tests build them) cannot disagree about it.
    """

    def __init__(self, pipe: Any, catalog: LoraCatalog | None, model_name: str) -> None:
        self._pipe = pipe
        self._catalog = catalog
        self._model_name = model_name

    @property
    def loaded(self) -> list[str]:
        """Return the adapter names loaded into the model so far."""
        if not hasattr(self._pipe, "get_list_adapters"):
            return []
        names: list[str] = []
        for adapters in self._pipe.get_list_adapters().values():
            names += [name for name in adapters if name not in names]
        return names

    def activate(self, uses: Sequence[LoraUse]) -> None:
        """Make exactly ``uses`` (names and weights) active; none turns every LoRA off."""
        if not uses:
            if self.loaded:
                self._pipe.disable_lora()
            return
        names = [self._adapter_for(use.name) for use in uses]
        self._pipe.enable_lora()
        self._pipe.set_adapters(names, adapter_weights=[use.weight for use in uses])

    def _adapter_for(self, name: str) -> str:
        """Return the adapter of the LoRA ``name``, loading its file on first use."""
        if self._catalog is None:
            raise LoraLoadError("This server has no LoRAs configured.")
        lora = self._catalog.find(name)
        adapter = adapter_name(lora.name)
        if adapter in self.loaded:
            return adapter
        try:
            with warnings.catch_warnings():
                # PEFT warns whenever a second adapter joins a model, which is the point here.
                warnings.filterwarnings("ignore", message="Already found a `peft_config`")
                self._pipe.load_lora_weights(
                    str(lora.path.parent), weight_name=lora.path.name, adapter_name=adapter
                )
        except Exception as error:
            logger.warning("the LoRA %s did not load into %s", lora.path, self._model_name)
            self._forget(adapter)
            raise LoraLoadError(
                f"The LoRA {lora.name} could not be applied to the model {self._model_name}: "
                f"{str(error)[:200]}"
            ) from error
        logger.info("LoRA %s loaded into %s", lora.name, self._model_name)
        return adapter

    def _forget(self, adapter: str) -> None:
        """Remove what a failed load left behind, so the model stays as it was."""
        try:
            if adapter in self.loaded:
                self._pipe.delete_adapters(adapter)
        except Exception:  # nothing was left, or the pipeline cannot list adapters
            logger.debug("no adapter %s to remove", adapter, exc_info=True)


def adapter_name(lora: str) -> str:
    """Name a LoRA's adapter: a module-safe spelling, kept apart from look-alikes by a hash."""
    digest = hashlib.sha1(lora.casefold().encode(), usedforsecurity=False).hexdigest()[:8]
    return f"lora_{re.sub(r'[^0-9A-Za-z_]', '_', lora.casefold())}_{digest}"
