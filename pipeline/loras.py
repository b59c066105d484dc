"""The LoRA files a server offers: found in folders, named by file stem, family read from keys.

Each ``.safetensors`` file in ``loras.dir`` (and ``loras.extra_dirs``) is one LoRA. Only its
header is read here (key names, a few shapes, metadata), never its weights, so listing is
cheap and a folder can be rescanned whenever it changes: a file dropped in is usable at once.

The family is read from the key names, in either layout owners meet:

- kohya/A1111 (what Civitai serves): ``lora_unet_…``, ``lora_te_…`` (SD), ``lora_te1_``/
  ``lora_te2_`` (SDXL's two text encoders), SGM block names (``input_blocks``) for SDXL,
  ``double_blocks``/``single_blocks`` for FLUX;
- diffusers/PEFT: ``unet.…``, ``text_encoder.…``, ``text_encoder_2.…``, ``transformer.…``.

A UNet-only LoRA says SD or SDXL by its blocks (SD's first down block has attention layers,
SDXL's has none) or by the text width its cross-attention reads (768 or 1024: SD; 2048: SDXL).
A file that says neither is ``None`` (unknown) and is tried as it is.
Trigger words come from a sidecar ``NAME.txt``, else the file's ``modelspec.trigger_phrase``
or ``ss_tag_frequency`` metadata.
"""

from __future__ import annotations

import difflib
import json
import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from safetensors import safe_open

from pipeline.errors import ParameterError

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from pathlib import Path

    from pipeline.lora_syntax import LoraUse
    from pipeline.models import ModelProfile

logger = logging.getLogger(__name__)

MAX_TRIGGER_WORDS = 8


@dataclass(frozen=True)
class LoraFile:
    """One LoRA on disk, as /loras shows it and the engine loads it."""

    name: str
    path: Path
    family: str | None  # "sd", "sdxl", "flux", or None when the keys do not tell
    triggers: tuple[str, ...]


# Marks in a key (dots read as underscores) and the family they betray, checked in order.
_FAMILY_MARKS: tuple[tuple[tuple[str, ...], tuple[str, ...], str], ...] = (
    # (prefixes, infixes, family)
    (("transformer_", "lora_transformer_"), ("double_blocks", "single_blocks"), "flux"),
    (("lora_te2_", "text_encoder_2_", "lora_te1_"), ("input_blocks", "output_blocks"), "sdxl"),
    ((), ("down_blocks_0_attentions",), "sd"),  # SDXL's first down block has no attention
)
# The text width a UNet's cross-attention reads: CLIP-L (SD 1), OpenCLIP-H (SD 2), both (SDXL).
_CROSS_ATTENTION_WIDTHS = {768: "sd", 1024: "sd", 2048: "sdxl"}


def lora_family(keys: Iterable[str], cross_width: int | None = None) -> str | None:
    """Tell the model family a LoRA was trained for from its key names (and text width)."""
    names = [key.replace(".", "_") for key in keys]
    for prefixes, infixes, family in _FAMILY_MARKS:
        if any(key.startswith(prefixes) or any(i in key for i in infixes) for key in names):
            return family
    if cross_width in _CROSS_ATTENTION_WIDTHS:
        return _CROSS_ATTENTION_WIDTHS[cross_width]
    if any(key.startswith(("lora_te_", "text_encoder_")) for key in names):
        return "sd"
    return None


def read_lora_file(path: Path) -> LoraFile:
    """Read a LoRA's header and sidecar; raise ValueError for a file that is not a LoRA."""
    with safe_open(str(path), framework="pt") as handle:
        keys = list(handle.keys())
        metadata = handle.metadata() or {}
        down = [
            k for k in keys if "attn2" in k and "to_k" in k and ("lora_down" in k or "lora_A" in k)
        ]
        cross_width = int(handle.get_slice(down[0]).get_shape()[-1]) if down else None
    if not any("lora" in key for key in keys):
        raise ValueError("it holds no LoRA weights (no lora_ keys)")
    return LoraFile(path.stem, path, lora_family(keys, cross_width), _triggers(path, metadata))


def _triggers(path: Path, metadata: dict[str, str]) -> tuple[str, ...]:
    """Return the trigger words: the sidecar file's, else what the trainer recorded."""
    sidecar = path.with_suffix(".txt")
    if sidecar.is_file():
        text = sidecar.read_text(encoding="utf-8", errors="replace")[:2000]
        words = [word.strip() for word in text.replace("\n", ",").split(",")]
        return tuple(word for word in words if word)[:MAX_TRIGGER_WORDS]
    phrase = metadata.get("modelspec.trigger_phrase", "").strip()
    if phrase:
        return (phrase[:100],)
    try:
        frequencies = json.loads(metadata.get("ss_tag_frequency", "{}"))
    except json.JSONDecodeError:
        return ()
    counts: dict[str, int] = {}
    for tags in frequencies.values() if isinstance(frequencies, dict) else ():
        for tag, count in tags.items() if isinstance(tags, dict) else ():
            counts[str(tag).strip()] = counts.get(str(tag).strip(), 0) + int(count)
    ranked = sorted(counts, key=lambda tag: -counts[tag])
    return tuple(tag for tag in ranked if tag)[:3]


class LoraCatalog:
    """The LoRAs in the configured folders, rescanned when a folder changes (thread-safe)."""

    def __init__(self, folders: Sequence[Path]) -> None:
        self.folders = tuple(folders)
        self._lock = threading.Lock()
        self._seen: dict[Path, tuple[int, int, LoraFile | None]] = {}
        self._files: dict[str, LoraFile] = {}
        self._stamp: tuple[int, ...] | None = None

    def files(self) -> list[LoraFile]:
        """Return every usable LoRA, sorted by name (the first folder wins a name clash)."""
        with self._lock:
            stamp = tuple(_mtime(folder) for folder in self.folders)
            if stamp != self._stamp:
                self._files = self._scan()
                self._stamp = stamp
            return sorted(self._files.values(), key=lambda lora: lora.name.casefold())

    def _scan(self) -> dict[str, LoraFile]:
        """Read the header of every new or changed file; skip (and log) unreadable ones."""
        found: dict[str, LoraFile] = {}
        for folder in self.folders:
            paths = sorted(folder.glob("*.safetensors")) if folder.is_dir() else []
            for path in paths:
                lora = self._read(path)
                if lora is not None and lora.name.casefold() not in found:
                    found[lora.name.casefold()] = lora
        return found

    def _read(self, path: Path) -> LoraFile | None:
        """Read one file, reusing what was read while its size and time are unchanged."""
        stat = path.stat()
        cached = self._seen.get(path)
        if cached is not None and cached[:2] == (stat.st_mtime_ns, stat.st_size):
            return cached[2]
        try:
            lora: LoraFile | None = read_lora_file(path)
        except Exception as error:  # a corrupt header (any error) must not stop the listing
            logger.warning("skipping the LoRA file %s: %s", path, error)
            lora = None
        self._seen[path] = (stat.st_mtime_ns, stat.st_size, lora)
        return lora

    def find(self, name: str) -> LoraFile:
        """Return the LoRA called ``name`` (ignoring case), or the user's error with close names."""
        files = {lora.name.casefold(): lora for lora in self.files()}
        lora = files.get(name.casefold())
        if lora is not None:
            return lora
        close = difflib.get_close_matches(name.casefold(), list(files), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(files[c].name for c in close)}?" if close else ""
        listing = " See /loras." if files else " This server has no LoRAs."
        raise ParameterError(f"There is no LoRA called {name!r:.40} here.{hint}{listing}")

    def matching(self, typed: str, limit: int = 25) -> list[LoraFile]:
        """Return the LoRAs whose names contain what was typed (for autocomplete)."""
        folded = typed.casefold().strip()
        return [lora for lora in self.files() if folded in lora.name.casefold()][:limit]

    def check(self, uses: Sequence[LoraUse], profile: ModelProfile) -> tuple[LoraUse, ...]:
        """Resolve each LoRA's name and refuse one made for another family than the model's."""
        resolved: list[LoraUse] = []
        for use in uses:
            lora = self.find(use.name)
            if lora.family is not None and lora.family != profile.traits.family:
                raise ParameterError(
                    f"`{lora.name}` is {_family_label(lora.family)} LoRA; this job uses "
                    f"{profile.name}, {_family_label(profile.traits.family)} model."
                )
            resolved.append(type(use)(lora.name, use.weight))
        return tuple(resolved)


def _family_label(family: str) -> str:
    """Name a family with its article, as a sentence needs it."""
    return {"sd": "a Stable Diffusion 1/2", "sdxl": "an SDXL", "flux": "a FLUX.1"}.get(
        family, f"a {family}"
    )


def _mtime(folder: Path) -> int:
    """Return a folder's change time (0 when it does not exist): files added or removed move it."""
    try:
        return folder.stat().st_mtime_ns
    except OSError:
        return 0
