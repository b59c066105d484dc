"""The LoRA catalog: files found by folder, families read from keys, trigger words, names."""

from __future__ import annotations

import json
import shutil
from typing import TYPE_CHECKING

import pytest
import torch
from safetensors.torch import save_file

from pipeline.errors import ParameterError
from pipeline.lora_syntax import LoraUse
from pipeline.loras import LoraCatalog, lora_family, read_lora_file
from tests.request_fixtures import sd_profile

if TYPE_CHECKING:
    from pathlib import Path


def test_each_layout_and_family_is_read_from_the_keys(lora_catalog: LoraCatalog) -> None:
    """Tell SD (both layouts), SDXL and FLUX LoRAs apart by their keys."""
    families = {lora.name: lora.family for lora in lora_catalog.files()}
    assert families == {
        "flux-ink": "flux",
        "sd-blur": None,  # UNet only, on a tiny model whose first block has no attention
        "sd-ink": "sd",
        "sd-ink-kohya": "sd",
        "xl-ink": "sdxl",
    }


@pytest.mark.parametrize(
    ("key", "family"),
    [
        ("lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight", "sd"),
        ("lora_unet_input_blocks_4_1_proj_in.lora_down.weight", "sdxl"),
        ("lora_te2_text_model_encoder_layers_0_mlp_fc1.lora_up.weight", "sdxl"),
        ("unet.down_blocks.0.attentions.0.proj_in.lora_A.weight", "sd"),
        ("transformer.transformer_blocks.0.attn.to_q.lora_A.weight", "flux"),
        ("lora_unet_double_blocks_0_img_attn_proj.lora_down.weight", "flux"),
    ],
)
def test_the_key_layouts_owners_download_name_their_family(key: str, family: str) -> None:
    """Read the family from kohya's, SGM's and diffusers' key names as Civitai serves them."""
    assert lora_family([key]) == family


@pytest.mark.parametrize(("width", "family"), [(768, "sd"), (1024, "sd"), (2048, "sdxl")])
def test_a_unet_only_lora_is_told_by_its_cross_attention_width(width: int, family: str) -> None:
    """Tell SD from SDXL by the text width a UNet-only LoRA's cross-attention reads."""
    key = "unet.up_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.lora_A.weight"
    assert lora_family([key], cross_width=width) == family


def test_trigger_words_come_from_the_sidecar_file(lora_catalog: LoraCatalog) -> None:
    """Read trigger words from NAME.txt next to the LoRA."""
    assert lora_catalog.find("sd-ink").triggers == ("inked", "bold lines")


def test_trigger_words_come_from_the_trainers_metadata(tmp_path: Path) -> None:
    """Read trigger words from kohya's tag frequencies when there is no sidecar."""
    tags = {"set": {"pxl style": 40, "sky": 3}}
    _save(tmp_path / "pxl.safetensors", metadata={"ss_tag_frequency": json.dumps(tags)})
    assert read_lora_file(tmp_path / "pxl.safetensors").triggers == ("pxl style", "sky")


def test_names_are_found_ignoring_case(lora_catalog: LoraCatalog) -> None:
    """Find a LoRA by its name in any case."""
    assert lora_catalog.find("SD-INK").name == "sd-ink"


def test_an_unknown_name_is_refused_with_close_names(lora_catalog: LoraCatalog) -> None:
    """Refuse an unknown name with the names it is close to."""
    with pytest.raises(ParameterError, match="Did you mean sd-ink"):
        lora_catalog.find("sd-inks")


def test_a_file_dropped_in_is_found_without_a_restart(tmp_path: Path, lora_dir: Path) -> None:
    """Find a LoRA copied into the folder after the catalog was made."""
    catalog = LoraCatalog([tmp_path])
    assert catalog.files() == []
    shutil.copy(lora_dir / "sd-ink.safetensors", tmp_path / "fresh.safetensors")
    assert [lora.name for lora in catalog.files()] == ["fresh"]


def test_a_damaged_file_is_skipped_not_fatal(tmp_path: Path, lora_dir: Path) -> None:
    """Skip a file that is not a readable LoRA and list the others."""
    (tmp_path / "broken.safetensors").write_bytes(b"\x00garbage")
    _save(tmp_path / "weights.safetensors", key="conv.weight")  # not a LoRA
    shutil.copy(lora_dir / "sd-ink.safetensors", tmp_path / "good.safetensors")
    assert [lora.name for lora in LoraCatalog([tmp_path]).files()] == ["good"]


def test_the_first_folder_wins_a_name_clash(tmp_path: Path, lora_dir: Path) -> None:
    """Take a name from the main folder before the extra ones."""
    shutil.copy(lora_dir / "xl-ink.safetensors", tmp_path / "sd-ink.safetensors")
    assert LoraCatalog([tmp_path, lora_dir]).find("sd-ink").family == "sdxl"


def test_a_missing_folder_offers_no_loras(tmp_path: Path) -> None:
    """List nothing, and fail no one, for a folder that does not exist."""
    assert LoraCatalog([tmp_path / "absent"]).files() == []


def test_check_resolves_names_to_the_files_spelling(lora_catalog: LoraCatalog) -> None:
    """Store a LoRA under its file's name, whatever case the prompt used."""
    (use,) = lora_catalog.check([LoraUse("SD-Ink", 0.5)], sd_profile())
    assert use == LoraUse("sd-ink", 0.5)


def _save(
    path: Path, *, key: str = "lora_unet_x.lora_down.weight", metadata: dict[str, str] | None = None
) -> None:
    """Write a small safetensors file with one tensor."""
    save_file({key: torch.zeros(2, 2)}, str(path), metadata=metadata)
