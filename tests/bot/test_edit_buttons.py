"""The editing set under an upscale: its layout, Zoom Out, Pan, Make Square and their forms."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.bot.harness import bot_config, is_result, running_easel
from tests.bot.test_buttons import LONG, imagine, job_of, press

if TYPE_CHECKING:
    from pathlib import Path

    from pipeline.engine import Engine
    from tests.fakediscord.emulator import DiscordEmulator
    from tests.fakediscord.models import MessageRecord

FIRST_ROWS = [
    ["Vary (Subtle)", "Vary (Strong)", "Vary (Region)"],
    ["Upscale (Subtle)", "Upscale (Creative)"],
]


def rows_of(message: MessageRecord) -> list[list[str]]:
    """Return each row's button labels (an emoji stands in for a missing label)."""
    rows: list[list[str]] = []
    for row in message.components:
        rows.append(
            [str(b.get("label") or (b.get("emoji") or {}).get("name")) for b in row["components"]]
        )
    return rows


async def upscale_of(emulator: DiscordEmulator, prompt: str) -> MessageRecord:
    """Run /imagine, press U1, and return the upscaled image's message."""
    grid = await imagine(emulator, prompt)
    return await press(emulator, grid, f"easel:u:{job_of(grid)}:1")


async def test_an_upscale_offers_the_editing_set_a_row_per_tool(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Lay out Vary / Upscale / Zoom / Pan / 🗑️ in five rows, Make Square only when not square."""
    async with running_easel(emulator, tiny_engine, bot_config(tmp_path, tiny_model_dir)):
        square = await upscale_of(emulator, "a red circle --seed 10")
        wide = await upscale_of(emulator, "a red circle --seed 10 --ar 2:1")
    assert rows_of(square) == [
        *FIRST_ROWS,
        ["Zoom Out 2x", "Zoom Out 1.5x", "Custom Zoom"],
        ["⬅️", "➡️", "⬆️", "⬇️"],
        ["🗑️"],
    ]
    assert rows_of(wide)[2] == ["Zoom Out 2x", "Zoom Out 1.5x", "Custom Zoom", "Make Square"]
    emulator.assert_no_errors()


async def test_zoom_out_draws_a_grid_owned_by_whoever_pressed(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Press Zoom Out 2x as another member: a grid of four, theirs, on the same model."""
    async with running_easel(emulator, tiny_engine, bot_config(tmp_path, tiny_model_dir)) as easel:
        upscaled = await upscale_of(emulator, "a red circle --seed 10")
        stranger = emulator.create_member("stranger")
        zoomed = await press(emulator, upscaled, f"easel:z:{job_of(upscaled)}:2", user=stranger)
        source = await easel.stores.jobs.get(job_of(upscaled))
        job = await easel.stores.jobs.get(job_of(zoomed))
    assert source is not None
    assert job is not None
    assert job.owner == str(stranger.user.id)
    assert job.request.operation == "edit"
    assert job.request.edit is not None
    assert job.request.edit.kind == "zoom"
    assert job.request.init_image == source.outputs[0]
    assert job.request.model == source.request.model
    assert len(job.outputs) == 4
    assert "(zoom out 2x)" in zoomed.content
    assert job_of(zoomed) == zoomed.custom_ids()[0].split(":")[2]
    assert zoomed.custom_ids()[0].startswith("easel:u:")
    emulator.assert_no_errors()


async def test_each_pan_grows_the_canvas_towards_its_arrow(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Pan right makes the canvas wider, pan up makes it taller."""
    async with running_easel(emulator, tiny_engine, bot_config(tmp_path, tiny_model_dir)) as easel:
        upscaled = await upscale_of(emulator, "a red circle --seed 10")
        right = await press(emulator, upscaled, f"easel:p:{job_of(upscaled)}:right")
        up = await press(emulator, upscaled, f"easel:p:{job_of(upscaled)}:up")
        jobs = [await easel.stores.jobs.get(job_of(m)) for m in (right, up)]
    wide, tall = (job.request for job in jobs if job is not None)
    assert wide.width > wide.height
    assert tall.height > tall.width
    assert "pan right" in right.content
    emulator.assert_no_errors()


async def test_make_square_extends_a_wide_image_to_a_square(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Press Make Square under a 2:1 upscale and get square images."""
    async with running_easel(emulator, tiny_engine, bot_config(tmp_path, tiny_model_dir)) as easel:
        upscaled = await upscale_of(emulator, "a red circle --seed 10 --ar 2:1")
        squared = await press(emulator, upscaled, f"easel:sq:{job_of(upscaled)}")
        job = await easel.stores.jobs.get(job_of(squared))
    assert job is not None
    assert job.request.width == job.request.height
    emulator.assert_no_errors()


async def test_custom_zoom_opens_a_form_and_its_submit_queues_the_zoom(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Fill Custom Zoom with a new prompt, 1.5 and --ar 2:1: the zoom follows all three."""
    async with running_easel(emulator, tiny_engine, bot_config(tmp_path, tiny_model_dir)) as easel:
        upscaled = await upscale_of(emulator, "a red circle --seed 10")
        shown = await emulator.click(upscaled, f"easel:zc:{job_of(upscaled)}")
        await shown.wait_for_response()
        assert shown.modal is not None
        answers = {"prompt": "a blue circle", "zoom": "1.5", "ar": "2:1"}
        submitted = await emulator.submit_modal(shown, answers)  # type: ignore[arg-type]
        zoomed = await submitted.wait_for_original(is_result, timeout=LONG)
        job = await easel.stores.jobs.get(job_of(zoomed))
    assert shown.modal["title"] == "Custom Zoom"
    assert job is not None
    assert job.request.prompt == "a blue circle"
    assert job.request.edit is not None
    assert job.request.edit.factor == 1.5
    assert job.request.width == 2 * job.request.height
    emulator.assert_no_errors()


async def test_a_custom_zoom_out_of_range_is_refused_privately(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Refuse a zoom of 3 with the range it takes, and queue nothing."""
    async with running_easel(emulator, tiny_engine, bot_config(tmp_path, tiny_model_dir)) as easel:
        upscaled = await upscale_of(emulator, "a red circle --seed 10")
        shown = await emulator.click(upscaled, f"easel:zc:{job_of(upscaled)}")
        await shown.wait_for_response()
        submitted = await emulator.submit_modal(shown, {"zoom": "3"})
        refusal = await submitted.wait_for_original(timeout=LONG)
        jobs = len(easel.scheduler.entries())
    assert refusal.ephemeral
    assert "from 1 to 2" in refusal.content
    assert jobs == 0
    emulator.assert_no_errors()


async def test_a_form_closed_without_submitting_queues_nothing(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Open Vary (Region) and close it: no job, no message."""
    async with running_easel(emulator, tiny_engine, bot_config(tmp_path, tiny_model_dir)) as easel:
        upscaled = await upscale_of(emulator, "a red circle --seed 10")
        before = len(emulator.messages)
        shown = await emulator.click(upscaled, f"easel:vr:{job_of(upscaled)}")
        await shown.wait_for_response()
        jobs = len(easel.scheduler.entries())
    assert shown.modal is not None
    assert shown.modal["title"] == "Vary (Region)"
    assert jobs == 0
    assert len(emulator.messages) == before
    emulator.assert_no_errors()


async def test_vary_region_redraws_the_chosen_cells(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Choose the top row in the form: the job redraws those three cells."""
    async with running_easel(emulator, tiny_engine, bot_config(tmp_path, tiny_model_dir)) as easel:
        upscaled = await upscale_of(emulator, "a red circle --seed 10")
        shown = await emulator.click(upscaled, f"easel:vr:{job_of(upscaled)}")
        await shown.wait_for_response()
        submitted = await emulator.submit_modal(shown, {"cells": ["0", "1", "2"]})
        varied = await submitted.wait_for_original(is_result, timeout=LONG)
        job = await easel.stores.jobs.get(job_of(varied))
    assert job is not None
    assert job.request.edit is not None
    assert job.request.edit.cells == (0, 1, 2)
    assert job.request.prompt == "a red circle"
    assert "vary region: top left, top, top right" in varied.content
    emulator.assert_no_errors()


async def test_zoom_and_forms_work_after_a_restart(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Press Zoom Out on an upscale, and submit a form opened, from before the restart."""
    config = bot_config(tmp_path, tiny_model_dir)
    async with running_easel(emulator, tiny_engine, config):
        upscaled = await upscale_of(emulator, "a red circle --seed 10")
        shown = await emulator.click(upscaled, f"easel:vr:{job_of(upscaled)}")
        await shown.wait_for_response()
    async with running_easel(emulator, tiny_engine, config) as easel:
        zoomed = await press(emulator, upscaled, f"easel:z:{job_of(upscaled)}:15")
        submitted = await emulator.submit_modal(shown, {"cells": ["4"]})
        varied = await submitted.wait_for_original(is_result, timeout=LONG)
        jobs = [await easel.stores.jobs.get(job_of(m)) for m in (zoomed, varied)]
    assert [job.request.operation for job in jobs if job is not None] == ["edit", "edit"]
    emulator.assert_no_errors()


async def test_editing_a_grid_asks_for_an_upscale_first(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Refuse Zoom Out pressed on a grid's job (a forged id): upscale first."""
    async with running_easel(emulator, tiny_engine, bot_config(tmp_path, tiny_model_dir)):
        grid = await imagine(emulator, "a red circle --seed 10")
        custom_id = f"easel:z:{job_of(grid)}:2"
        button = {"type": 2, "style": 2, "label": "x", "custom_id": custom_id}
        forged = emulator.seed_message(components=[{"type": 1, "components": [button]}])
        click = await emulator.click(forged, custom_id)
        refusal = await click.wait_for_followup(timeout=LONG)
    assert refusal.ephemeral
    assert "Upscale an image first" in refusal.content
