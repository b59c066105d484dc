"""/imagine's control option: a sketch guides the grid through the model's ControlNet."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.bot.cogs.test_imagine import LONG, downloads, png_bytes
from tests.bot.harness import bot_config, is_result, running_easel
from tests.fakediscord.models import Upload
from tests.pipeline.control_files import save_tiny_controlnet

if TYPE_CHECKING:
    from pathlib import Path

    from pipeline.engine import Engine
    from tests.fakediscord.emulator import DiscordEmulator


def sketch() -> Upload:
    """Return a member's sketch as an attachment."""
    return Upload("sketch.png", png_bytes((64, 64), (255, 255, 255)), content_type="image/png")


async def test_a_control_image_guides_the_grid_at_the_asked_weight(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Save the control attachment safely and draw with it, --cw 0.5 as asked."""
    controlnet = save_tiny_controlnet(tiny_engine, tmp_path / "controlnet")
    model = {"controlnets": {"canny": str(controlnet)}}
    config = bot_config(tmp_path / "data", tiny_model_dir, model=model)
    async with running_easel(emulator, tiny_engine, config) as easel:
        options = {"prompt": "a red circle --cw 0.5", "control": sketch()}
        handle = await emulator.invoke_slash("imagine", options)
        message = await handle.wait_for_original(is_result, timeout=LONG)
        job = await easel.stores.jobs.get(message.custom_ids()[0].split(":")[2])
    assert job is not None
    assert job.request.control_image is not None
    assert job.request.control_image.parent == tmp_path / "data" / "inputs"
    assert (job.request.control_mode, job.request.control_weight) == ("canny", 0.5)
    assert job.request.init_image is None
    assert "control canny 0.5" in message.content
    emulator.assert_no_errors()


async def test_a_model_without_controlnets_refuses_before_downloading(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Say privately that the model has no ControlNet, and fetch nothing."""
    async with running_easel(emulator, tiny_engine, bot_config(tmp_path, tiny_model_dir)):
        options = {"prompt": "a red circle", "control": sketch()}
        handle = await emulator.invoke_slash("imagine", options)
        message = await handle.wait_for_original()
    assert message.ephemeral
    assert "no ControlNet for canny" in message.content
    assert not downloads(emulator)


async def test_a_control_attachment_that_is_no_image_is_refused(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Refuse a text file given as the control image with what is accepted."""
    async with running_easel(emulator, tiny_engine, bot_config(tmp_path, tiny_model_dir)):
        upload = Upload("notes.txt", b"hello", content_type="text/plain")
        handle = await emulator.invoke_slash("imagine", {"prompt": "a fox", "control": upload})
        message = await handle.wait_for_original()
    assert message.ephemeral
    assert "PNG, JPEG or WebP" in message.content
