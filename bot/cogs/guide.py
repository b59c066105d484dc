"""/help and /stats: the short user guide, and the server's activity for moderators."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import discord
import torch
from discord import app_commands
from discord.ext import commands

from bot.job_context import entries_in_guild
from bot.permissions import is_moderator
from pipeline.samplers import FLOW_SAMPLERS, UNET_SAMPLERS

if TYPE_CHECKING:
    from bot.store.jobs import SqliteJobStore
    from pipeline.scheduler import JobScheduler

GUIDE = f"""**/imagine** `prompt` — draws four images. Add parameters after the prompt:
• `--ar 16:9` aspect ratio · `--seed 7` repeat a result · `--no text, people` keep things out
• `--steps 30` more detail (slower) · `--cfg 7` follow the prompt more (or less) literally
• `--sampler NAME` one of {", ".join(UNET_SAMPLERS)} (FLUX models: {", ".join(FLOW_SAMPLERS)})
• `--tile` a seamless texture · with an attached image: `--strength 0.5` (0 keeps it, 1 ignores it)
• `--fast` draws faster by reusing work between steps, a little less exact (`--fast off` where
the server makes it the default)
• `--model NAME` (or the `model` option) draws with another of this server's models: see **/models**
• `--style NAME` one of this server's style presets (`--style raw`: none)
• `--lora NAME:0.8` (or `<lora:NAME:0.8>`, or the `lora` option) adds a LoRA, weight -2 to 2,
several allowed: see **/loras**
• the `control` option: a sketch or image whose layout guides the grid · `--control canny|scribble|
lineart|depth|pose` how it is read · `--cw 0–2` how strongly
• Midjourney's: `--q .25|.5|1|2` steps × that · `--s 0–1000` stylize (less literal; 100 = as is) ·
`--stop 10–100` finish early · `--iw 0–3` how much of an attached image to keep ·
`--chaos 0–100` how different the four images are · `--repeat N` N grids at once
(`--v`/`--niji`: use `--model`)
• weights: `(word:1.3)` `(word)` `[word]`, and `cat:: dog::2` to blend ideas
FLUX models take no `--no` or negative prompt, nor `--tile`; FLUX schnell takes no `--cfg`.

**Buttons** under a grid: **U1–U4** upscale that image 2× · **V1–V4** four variations of it ·
🔄 the same prompt with a new seed · 🗑️ delete (yours, or any for moderators).
Under an upscale: **Vary (Subtle / Strong)**, **Vary (Region)** (redraw parts of a 3×3 grid) ·
**Upscale (Subtle / Creative)** (2× again) · **Zoom Out 2x / 1.5x**, **Custom Zoom** (any factor
1–2, a new `--ar`) · **Make Square** · ⬅️ ➡️ ⬆️ ⬇️ pan (paint beyond an edge).
The forms let you edit the prompt (Remix). Anyone may press them; the new job is theirs.

**/info** `job` — every parameter and seed of a result (its id is under the image).
**/queue** — your jobs waiting or running, with cancel buttons.
**/models** — the models you can draw with, their sizes, and which are loaded.
**/loras** — the LoRAs you can add, the models they fit and their trigger words.

**Defaults** go server < channel < you < your prompt:
**/prefer set** `aspect` `style` `model` `no` — your own defaults here (**/prefer show**,
**/prefer reset**) · **/settings show** — what the server, this channel and you chose ·
**/style list** — the presets `--style` takes here.
Moderators: **/settings server** and **/settings channel** (default model and style, caps on
steps and megapixels, a negative prompt no member can remove, image prompts on or off, what
age-restricted channels do with unsafe images), **/settings reset**, **/style add**
`name` `prompt` (with `{{prompt}}`), **/style remove**."""


class GuideCog(commands.Cog):
    """Explain the bot, and show moderators what it has been doing."""

    def __init__(
        self, jobs: SqliteJobStore, scheduler: JobScheduler, *, moderator_role: str | None
    ) -> None:
        self._jobs = jobs
        self._scheduler = scheduler
        self._moderator_role = moderator_role
        self.started = time.time()

    @app_commands.command(name="help", description="How to use Easel: parameters and buttons")
    async def help(self, interaction: discord.Interaction) -> None:
        """Send the short user guide, privately."""
        embed = discord.Embed(title="Easel", description=GUIDE)
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @app_commands.command(name="stats", description="Queue, activity today, speed and uptime")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_messages=True)
    async def stats(self, interaction: discord.Interaction) -> None:
        """Show the server's activity to moderators (Discord hides it from others by default)."""
        if not is_moderator(interaction, self._moderator_role):
            await interaction.response.send_message(
                "Only moderators can see the bot's statistics.", ephemeral=True
            )
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        guild_id = interaction.guild_id or 0  # /stats is guild-only
        today = await self._jobs.activity_since(midnight.timestamp(), guild_id=guild_id)
        here = entries_in_guild(self._scheduler.entries(), guild_id)
        running = sum(1 for entry in here if entry.status == "running")
        median = f"{today.median_seconds:.1f} s" if today.median_seconds is not None else "—"
        embed = discord.Embed(title="Easel statistics")
        embed.add_field(name="Queue", value=f"{running} running, {len(here) - running} waiting")
        embed.add_field(name="Today (UTC)", value=f"{today.jobs} jobs, {today.images} images")
        embed.add_field(name="Failed today", value=str(today.failed))
        embed.add_field(name="Median generation", value=median)
        embed.add_field(name="GPU memory", value=_gpu_memory())
        embed.add_field(name="Uptime", value=_duration(time.time() - self.started))
        await interaction.followup.send(embed=embed, ephemeral=True)


def _gpu_memory() -> str:
    """Describe the GPU memory in use by this process, or say that it runs on the CPU."""
    if not torch.cuda.is_available():
        return "— (running on the CPU)"
    used = torch.cuda.memory_allocated() / 2**30
    reserved = torch.cuda.memory_reserved() / 2**30
    total = torch.cuda.get_device_properties(0).total_memory / 2**30
    return f"{used:.1f} GiB in use, {reserved:.1f} reserved, of {total:.0f} GiB"


def _duration(seconds: float) -> str:
    """Format a duration as days, hours and minutes."""
    minutes, _ = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h {minutes} min" if days else f"{hours} h {minutes} min"
