"""A small real discord.py bot that the emulator's own tests drive."""

from __future__ import annotations

import asyncio
import io
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

if TYPE_CHECKING:
    import re

# A 1x1 PNG: enough for the emulator to read a width and height.
TINY_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"
)


class VoteButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"vote:(?P<n>\d+)"):
    """A persistent button that works on messages sent before the bot (re)started."""

    def __init__(self, n: int) -> None:
        super().__init__(discord.ui.Button(label=f"Vote {n}", custom_id=f"vote:{n}"))
        self.n = n

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> VoteButton:
        """Rebuild the button from its custom_id."""
        return cls(int(match["n"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        """Count the vote and say so in place."""
        assert isinstance(interaction.client, SampleBot)
        interaction.client.votes.append(self.n)
        await interaction.response.edit_message(content=f"voted {self.n}")


class AgainView(discord.ui.View):
    """A view with one button whose handler the tests click."""

    def __init__(self, bot: SampleBot) -> None:
        super().__init__(timeout=None)
        self.bot = bot

    @discord.ui.button(label="Again", custom_id="again")
    async def again(self, interaction: discord.Interaction, button: discord.ui.Button[Any]) -> None:
        """Record the click and update the message."""
        self.bot.clicks.append(interaction.user.id)
        await interaction.response.edit_message(content="clicked")


class PickView(discord.ui.View):
    """A view with a select menu."""

    def __init__(self, bot: SampleBot) -> None:
        super().__init__(timeout=None)
        self.bot = bot

    @discord.ui.select(custom_id="size", options=[discord.SelectOption(label=s) for s in "SML"])
    async def size(self, interaction: discord.Interaction, select: discord.ui.Select[Any]) -> None:
        """Record the choice and acknowledge without changing the message."""
        self.bot.record(size=select.values)
        await interaction.response.defer()


class NameModal(discord.ui.Modal, title="Name"):
    """A modal with one text input."""

    name: discord.ui.TextInput[Any] = discord.ui.TextInput(label="Name", custom_id="name")

    async def on_submit(self, interaction: discord.Interaction) -> None:
        """Answer with what was typed."""
        await interaction.response.send_message(f"hello {self.name.value}")


class RecordingTree(app_commands.CommandTree["SampleBot"]):
    """A command tree that keeps command failures for the test to inspect."""

    async def on_error(
        self, interaction: discord.Interaction[SampleBot], error: app_commands.AppCommandError
    ) -> None:
        """Keep the underlying exception (e.g. discord.NotFound) instead of logging it."""
        self.client.failures.append(error.__cause__ or error)
        self.client.failed.set()


class SampleBot(commands.Bot):
    """A bot with one command per emulator behaviour under test."""

    def __init__(self, *, intents: discord.Intents | None = None) -> None:
        super().__init__(
            command_prefix="!",
            intents=intents or discord.Intents.default(),
            tree_cls=RecordingTree,
            # on_ready waits this long after the last GUILD_CREATE; 2 s by default.
            guild_ready_timeout=0.1,
        )
        self.gate = asyncio.Event()  # commands that must wait for the test wait on this
        self.clicks: list[int] = []
        self.votes: list[int] = []
        self.seen: dict[str, Any] = {}
        self._seen_changed = asyncio.Event()
        self.failures: list[BaseException] = []
        self.failed = asyncio.Event()  # set when a command fails
        _add_commands(self)

    def record(self, **values: Any) -> None:
        """Note what a handler saw, for the test to read with `wait_seen`."""
        self.seen.update(values)
        self._seen_changed.set()

    async def wait_seen(self, key: str) -> Any:
        """Wait until a handler recorded `key`; the emulator cannot see the bot's own state."""
        async with asyncio.timeout(5):
            while key not in self.seen:
                self._seen_changed.clear()
                await self._seen_changed.wait()
        return self.seen[key]

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """Identify again at once; discord.py's default waits 5 s to respect Discord's limit."""

    async def setup_hook(self) -> None:
        """Register the persistent button."""
        self.add_dynamic_items(VoteButton)


def _add_commands(bot: SampleBot) -> None:
    """Define the slash commands on the bot's tree."""
    tree = bot.tree

    @tree.command(description="Defer, then edit the original with an image")
    async def draw(interaction: discord.Interaction, prompt: str) -> None:
        await interaction.response.defer(thinking=True)
        image = discord.File(io.BytesIO(TINY_PNG), filename="draw.png")
        await interaction.edit_original_response(content=f"drew {prompt}", attachments=[image])

    @tree.command(description="Send a message with a button")
    async def buttons(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("press it", view=AgainView(bot))

    @tree.command(description="Send a persistent vote button")
    async def poll(interaction: discord.Interaction) -> None:
        view = discord.ui.View(timeout=None).add_item(VoteButton(1))
        await interaction.response.send_message("vote", view=view)

    @tree.command(description="Answer only to the invoking user")
    async def secret(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("psst", ephemeral=True)

    @tree.command(description="Wait for the test, then answer")
    async def slow(interaction: discord.Interaction) -> None:
        await bot.gate.wait()
        await interaction.response.send_message("finally")

    @tree.command(description="Defer, wait for the test, then follow up")
    async def job(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.followup.send("started")
        await bot.gate.wait()
        await interaction.followup.send("done")

    @tree.command(description="Answered by the tree and by a listener: one of them loses")
    async def twice(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("from the command")

    async def on_interaction(interaction: discord.Interaction) -> None:
        # A second handler of the same event: a real way to answer an interaction twice.
        if interaction.data and interaction.data.get("name") == "twice":
            try:
                await interaction.response.send_message("from a listener")
            except discord.HTTPException as error:
                bot.failures.append(error)
                bot.failed.set()

    bot.add_listener(on_interaction)

    @tree.command(description="Send a file of the given size")
    async def upload(interaction: discord.Interaction, size: int, count: int = 1) -> None:
        files = [discord.File(io.BytesIO(b"x" * size), filename=f"f{i}.bin") for i in range(count)]
        await interaction.response.send_message("files", files=files)

    @tree.command(description="Defer publicly, then take it back and answer privately")
    async def retract(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.delete_original_response()
        await interaction.followup.send("only you see this", ephemeral=True)

    @tree.command(description="Echo text back")
    async def echo(interaction: discord.Interaction, text: str) -> None:
        bot.record(callback=await interaction.response.send_message(text))

    @tree.command(description="Respond, follow up, edit the follow-up, delete the original")
    async def steps(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("step 1")
        followup = await interaction.followup.send("step 2", wait=True)
        await followup.edit(content="step 2, edited")
        await interaction.delete_original_response()

    @tree.command(description="Send a select menu")
    async def pick(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("pick one", view=PickView(bot))

    @tree.command(description="Show a modal")
    async def ask(interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(NameModal())

    @tree.command(description="Record every option it receives")
    async def inspect(  # noqa: PLR0917 - discord.py maps each option to a parameter
        interaction: discord.Interaction,
        count: int,
        ratio: float,
        loud: bool,
        who: discord.Member,
        where: discord.TextChannel,
        image: discord.Attachment,
    ) -> None:
        bot.record(
            count=count,
            ratio=ratio,
            loud=loud,
            who=who,
            where=where,
            image=image,
            image_bytes=await image.read(),
            permissions=interaction.permissions,
            filesize_limit=interaction.filesize_limit,
        )
        await interaction.response.send_message("seen", ephemeral=True)

    @tree.command(description="Only for moderators")
    @app_commands.default_permissions(manage_messages=True)
    async def purge(interaction: discord.Interaction) -> None:
        allowed = interaction.permissions.manage_messages
        await interaction.response.send_message("purged" if allowed else "no", ephemeral=True)

    settings = app_commands.Group(name="settings", description="Per-user settings")

    @settings.command(name="show", description="Show a setting")
    async def settings_show(interaction: discord.Interaction, key: str) -> None:
        await interaction.response.send_message(f"{key}=on")

    tree.add_command(settings)
