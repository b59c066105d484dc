"""Several models at once, through the bot: --model, the model option, /models, and buttons."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import pytest
from PIL import Image

from tests.bot.harness import bot_config, is_result, running_easel

if TYPE_CHECKING:
    from pathlib import Path

    from bot.config import BotConfig
    from pipeline.engine import Engine
    from tests.fakediscord.emulator import DiscordEmulator
    from tests.fakediscord.models import MessageRecord

LONG = 60
SD_SIZE, SDXL_SIZE = (32, 32), (64, 64)


@pytest.fixture
def two_models(tmp_path: Path, tiny_model_dir: Path, tiny_sdxl_dir: Path) -> BotConfig:
    """Configure the tiny SD model (the default, first) and the tiny SDXL one."""
    common = {"device": "cpu", "cpu_threads": 1}
    return bot_config(
        tmp_path,
        tiny_model_dir,
        models=[
            {"name": "tiny-sd", "path": str(tiny_model_dir), **common},
            {"name": "tiny-sdxl", "path": str(tiny_sdxl_dir), **common},
        ],
    )


def job_of(message: MessageRecord) -> str:
    """Return the job id carried by a result's buttons."""
    return message.custom_ids()[0].split(":")[2]


def size_of(message: MessageRecord) -> tuple[int, int]:
    """Return the pixel size of a result's image."""
    return Image.open(io.BytesIO(message.attachments[0].data)).size


async def imagine(emulator: DiscordEmulator, prompt: str, **options: str) -> MessageRecord:
    """Run /imagine and return the finished grid message."""
    handle = await emulator.invoke_slash("imagine", {"prompt": prompt, **options})
    return await handle.wait_for_original(is_result, timeout=LONG)


async def press(emulator: DiscordEmulator, message: MessageRecord, custom_id: str) -> MessageRecord:
    """Click a button that starts a job and return the job's finished message."""
    click = await emulator.click(message, custom_id)
    return await click.wait_for_original(is_result, timeout=LONG)


async def test_inline_model_draws_with_that_model(
    emulator: DiscordEmulator, tiny_engine: Engine, two_models: BotConfig
) -> None:
    """Draw with --model tiny-sdxl at SDXL's size, and say which model drew it."""
    async with running_easel(emulator, tiny_engine, two_models) as easel:
        grid = await imagine(emulator, "a red circle --model tiny-sdxl --seed 3")
        job = await easel.stores.jobs.get(job_of(grid))
    assert job is not None
    assert job.request.model == "tiny-sdxl"
    assert size_of(grid) == (SDXL_SIZE[0] * 2, SDXL_SIZE[1] * 2)
    assert "tiny-sdxl" in grid.content
    emulator.assert_no_errors()


async def test_model_option_draws_with_that_model(
    emulator: DiscordEmulator, tiny_engine: Engine, two_models: BotConfig
) -> None:
    """Draw with the /imagine model option."""
    async with running_easel(emulator, tiny_engine, two_models) as easel:
        grid = await imagine(emulator, "a red circle", model="tiny-sdxl")
        job = await easel.stores.jobs.get(job_of(grid))
    assert job is not None
    assert job.request.model == "tiny-sdxl"


async def test_no_model_named_draws_with_the_default(
    emulator: DiscordEmulator, tiny_engine: Engine, two_models: BotConfig
) -> None:
    """Draw with the first configured model when the prompt names none."""
    async with running_easel(emulator, tiny_engine, two_models) as easel:
        grid = await imagine(emulator, "a red circle")
        job = await easel.stores.jobs.get(job_of(grid))
    assert job is not None
    assert job.request.model == "tiny-sd"
    assert size_of(grid) == (SD_SIZE[0] * 2, SD_SIZE[1] * 2)


async def test_an_unknown_model_is_refused_privately_with_the_names(
    emulator: DiscordEmulator, tiny_engine: Engine, two_models: BotConfig
) -> None:
    """Refuse --model with a name not configured, listing the models, and queue nothing."""
    async with running_easel(emulator, tiny_engine, two_models) as easel:
        handle = await emulator.invoke_slash("imagine", {"prompt": "a fox --model tiny-sdx1"})
        reply = await handle.wait_for_original()
        waiting = easel.scheduler.waiting + easel.scheduler.running
    assert reply.ephemeral
    assert "no model called" in reply.content
    assert "tiny-sd, tiny-sdxl" in reply.content
    assert waiting == 0


async def test_buttons_keep_each_jobs_model_across_a_restart(
    emulator: DiscordEmulator, tiny_engine: Engine, two_models: BotConfig
) -> None:
    """Press U1 on an SDXL grid and V1 on an SD grid after a restart; each keeps its model."""
    async with running_easel(emulator, tiny_engine, two_models):
        sdxl_grid = await imagine(emulator, "a blue star --model tiny-sdxl")
        sd_grid = await imagine(emulator, "a blue star")
    async with running_easel(emulator, tiny_engine, two_models) as easel:
        upscaled = await press(emulator, sdxl_grid, f"easel:u:{job_of(sdxl_grid)}:1")
        varied = await press(emulator, sd_grid, f"easel:v:{job_of(sd_grid)}:1")
        sdxl_varied = await press(emulator, upscaled, f"easel:vary:{job_of(upscaled)}:subtle")
        jobs = [await easel.stores.jobs.get(job_of(m)) for m in (upscaled, varied, sdxl_varied)]
    models = [job.request.model if job else None for job in jobs]
    assert models == ["tiny-sdxl", "tiny-sd", "tiny-sdxl"]
    assert size_of(upscaled) == (SDXL_SIZE[0] * 2, SDXL_SIZE[1] * 2)
    assert size_of(sdxl_varied) == (SDXL_SIZE[0] * 2, SDXL_SIZE[1] * 2)  # a grid at native size
    emulator.assert_no_errors()


async def test_models_lists_every_model_with_its_family_and_state(
    emulator: DiscordEmulator, tiny_engine: Engine, two_models: BotConfig
) -> None:
    """List both models, the default marked, SDXL not loaded until used."""
    async with running_easel(emulator, tiny_engine, two_models):
        handle = await emulator.invoke_slash("models")
        before = await handle.wait_for_original()
        await imagine(emulator, "a red circle --model tiny-sdxl")
        handle = await emulator.invoke_slash("models")
        after = await handle.wait_for_original()
    assert before.ephemeral
    assert "`tiny-sd` Stable Diffusion 1/2, 32×32 — default, loaded" in before.content
    assert "`tiny-sdxl` SDXL, 64×64 — loads on first use" in before.content
    assert "`tiny-sdxl` SDXL, 64×64 — loaded" in after.content


async def test_model_option_autocompletes_the_configured_names(
    emulator: DiscordEmulator, tiny_engine: Engine, two_models: BotConfig
) -> None:
    """Offer the model names containing what was typed."""
    async with running_easel(emulator, tiny_engine, two_models):
        handle = await emulator.autocomplete("imagine", {"prompt": "a fox", "model": "xl"}, "model")
        answer = await handle.wait_for_response()
    assert answer.data["choices"] == [{"name": "tiny-sdxl", "value": "tiny-sdxl"}]
