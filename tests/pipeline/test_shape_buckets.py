"""Shape buckets: --ar snapped to the menu on compiled models, batches padded, warm-up list."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from pydantic import ValidationError

from pipeline.config import PipelineConfig
from pipeline.models import ModelCatalog
from pipeline.request_builder import RequestBuilder
from pipeline.shape_buckets import Bucket, CompileSettings, nearest_ratio, padded_images

if TYPE_CHECKING:
    from pathlib import Path


def test_a_ratio_snaps_to_the_nearest_menu_entry_on_a_log_scale() -> None:
    """Draw 7:5 as 4:3, 2:1 as 16:9 and 1:2 as 9:16."""
    menu = ("1:1", "4:3", "3:4", "16:9", "9:16")
    assert nearest_ratio(7 / 5, menu) == 4 / 3
    assert nearest_ratio(2.0, menu) == 16 / 9
    assert nearest_ratio(0.5, menu) == 9 / 16


def test_a_batch_is_padded_up_to_the_next_size_and_left_alone_past_the_menu() -> None:
    """Pad 3 images to 4 and 5 to 8; leave 9 as it is when 8 is the largest size."""
    assert [padded_images(n, (1, 2, 4, 8)) for n in (1, 3, 4, 5, 9)] == [1, 4, 4, 8, 9]


def test_warm_up_entries_become_buckets_at_the_models_size() -> None:
    """Read 1:1x4 and 16:9x3 as a square grid and a wide batch padded to 4."""
    settings = CompileSettings(warm_up=("1:1x4", "16:9x3"))
    buckets = settings.warm_buckets(lambda ratio: (round(64 * ratio), 64))
    assert buckets == [Bucket(64, 64, 4), Bucket(114, 64, 4)]


def test_malformed_menus_and_warm_up_entries_are_refused() -> None:
    """Name the bad entry."""
    with pytest.raises(ValidationError, match="16x9"):
        CompileSettings(aspect_menu=("1:1", "16x9"))
    with pytest.raises(ValidationError, match="RATIOxIMAGES"):
        CompileSettings(warm_up=("square",))
    with pytest.raises(ValidationError, match="from 1 to 256"):
        CompileSettings(batch_sizes=(0, 4))


def request_builder(model_dir: Path, data_dir: Path, *, compile_model: bool) -> RequestBuilder:
    """Build requests for a config whose model compiles, or not, without loading it."""
    config = PipelineConfig.model_validate(
        {
            "data_dir": str(data_dir),
            "model": {"path": str(model_dir), "device": "cpu", "compile": compile_model},
        }
    )
    return RequestBuilder(ModelCatalog.from_config(config), config.generation, config.input_images)


def test_a_compiled_model_draws_ar_at_the_menus_ratio_and_others_as_asked(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Draw --ar 3:1 at the menu's widest, 16:9, on a compiled model, and at 3:1 eager."""
    prompt = "a red circle --ar 3:1"
    compiled = request_builder(tiny_model_dir, tmp_path, compile_model=True).parse(prompt)
    eager = request_builder(tiny_model_dir, tmp_path, compile_model=False).parse(prompt)
    assert compiled.width / compiled.height == pytest.approx(16 / 9, rel=0.1)
    assert eager.width / eager.height > 2.5  # sides are multiples of 8 at 32x32's pixel count
