"""The gateway: connecting, heartbeats, intents, and the reconnect paths discord.py takes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
import discord.http
import discord.webhook.async_
import pytest

from .sample_bot import SampleBot

if TYPE_CHECKING:
    from .emulator import DiscordEmulator


async def test_connect_delivers_ready_and_guild_create(
    emulator: DiscordEmulator, bot: SampleBot
) -> None:
    """Connect and find the emulated guild, its channels and the bot's own member cached."""
    guild = bot.get_guild(emulator.guild.id)
    assert guild is not None
    assert guild.me is not None
    assert guild.me.id == emulator.bot_user.id
    channels = {channel.name: channel for channel in guild.text_channels}
    assert set(channels) == {"general", "nsfw-art"}
    assert channels["nsfw-art"].is_nsfw()
    assert not channels["general"].is_nsfw()
    assert bot.user is not None
    assert bot.user.id == emulator.application_id


async def test_client_asks_for_compression_and_accepts_text_frames(
    emulator: DiscordEmulator, bot: SampleBot
) -> None:
    """Record the zlib-stream request while answering in plain text frames discord.py parses."""
    (connection,) = emulator.gateway.connections
    assert connection.query["v"] == "10"
    assert connection.query["encoding"] == "json"
    assert connection.query["compress"] == "zlib-stream"
    assert bot.get_guild(emulator.guild.id) is not None  # READY and GUILD_CREATE were parsed


async def test_sharded_client_connects_through_gateway_bot(emulator: DiscordEmulator) -> None:
    """Serve GET /gateway/bot, which AutoShardedClient asks for before connecting."""
    client = discord.AutoShardedClient(intents=discord.Intents.default())
    async with emulator.running(client):
        assert client.shard_count == 1
        assert client.get_guild(emulator.guild.id) is not None
    assert any(r.path == "/api/v10/gateway/bot" for r in emulator.state.requests)
    assert emulator.identifies[0].shard == [0, 1]


async def test_heartbeats_are_acknowledged(emulator: DiscordEmulator) -> None:
    """Acknowledge every heartbeat so the client measures a finite latency."""
    emulator.gateway.heartbeat_interval_ms = 20
    client = SampleBot()
    async with emulator.running(client):
        await emulator.state.notifier.wait_for(
            lambda: True if emulator.gateway.heartbeats >= 3 else None,
            timeout=5,
            what="three heartbeats",
        )
        assert client.latency != float("inf")


async def test_identify_records_intents_without_privileged_ones(
    emulator: DiscordEmulator, bot: SampleBot
) -> None:
    """Record IDENTIFY's intents so a test can assert no privileged intent is requested."""
    (identify,) = emulator.identifies
    assert identify.intents == discord.Intents.default().value
    assert identify.privileged_intents == 0


async def test_privileged_intent_not_enabled_closes_with_4014(emulator: DiscordEmulator) -> None:
    """Refuse privileged intents the application has not enabled, as Discord does."""
    client = SampleBot(intents=discord.Intents.default() | discord.Intents(message_content=True))
    with pytest.raises(discord.PrivilegedIntentsRequired):
        async with emulator.running(client):
            pass


async def test_wrong_token_fails_login(emulator: DiscordEmulator) -> None:
    """Answer a bad token with 401, which discord.py reports as LoginFailure."""
    client = SampleBot()
    with pytest.raises(discord.LoginFailure):
        await client.login("not-the-token")
    await client.close()


async def test_reconnect_resumes_and_replays_missed_dispatch(
    emulator: DiscordEmulator, bot: SampleBot
) -> None:
    """Send RECONNECT, take the RESUME on resume_gateway_url, and replay what was missed."""
    emulator.send_reconnect()
    handle = await emulator.invoke_slash("echo", {"text": "missed while away"})
    await emulator.wait_for_resume()
    original = await handle.wait_for_original()
    assert original.content == "missed while away"
    assert [c.path for c in emulator.gateway.connections] == ["/gateway", "/gateway/resume"]
    assert len(emulator.identifies) == 1


async def test_invalid_session_makes_the_client_identify_again(
    emulator: DiscordEmulator, bot: SampleBot
) -> None:
    """Send a non-resumable INVALID_SESSION and get a fresh IDENTIFY and READY."""
    emulator.invalidate_session(resumable=False)
    await emulator.wait_for_identify(2)
    handle = await emulator.invoke_slash("echo", {"text": "new session"})
    assert (await handle.wait_for_original()).content == "new session"


async def test_resumable_invalid_session_resumes(emulator: DiscordEmulator, bot: SampleBot) -> None:
    """Send a resumable INVALID_SESSION and take the client's RESUME."""
    emulator.invalidate_session(resumable=True)
    await emulator.wait_for_resume()
    assert len(emulator.identifies) == 1


async def test_guild_created_while_connected_is_dispatched(
    emulator: DiscordEmulator, bot: SampleBot
) -> None:
    """Send GUILD_CREATE when the bot joins another guild while connected."""
    await bot.wait_until_ready()  # before on_ready, discord.py counts it as guild_available
    second = emulator.create_guild("Second")
    joined = await bot.wait_for("guild_join", timeout=5)
    assert joined.id == second.id


async def test_bot_permission_change_reaches_its_cache(
    emulator: DiscordEmulator, bot: SampleBot
) -> None:
    """Send GUILD_ROLE_UPDATE when a test changes the bot's permissions."""
    emulator.set_bot_permissions(discord.Permissions(administrator=True))
    await bot.wait_for("guild_role_update", timeout=5)
    guild = bot.get_guild(emulator.guild.id)
    assert guild is not None
    assert guild.me.guild_permissions.administrator


async def test_webhook_routes_share_the_patched_rest_base(emulator: DiscordEmulator) -> None:
    """Rely on discord.py 2.7's webhook code reusing http.Route, so one base covers both."""
    assert vars(discord.webhook.async_)["Route"] is discord.http.Route
    assert emulator.api_url == discord.http.Route.BASE


async def test_cut_gateway_makes_the_client_resume(
    emulator: DiscordEmulator, bot: SampleBot
) -> None:
    """Drop the socket without a close frame; discord.py resumes and gets what it missed."""
    emulator.cut_gateway()
    handle = await emulator.invoke_slash("echo", {"text": "sent during the cut"})
    await emulator.wait_for_resume()
    assert (await handle.wait_for_original()).content == "sent during the cut"
    assert [c.path for c in emulator.gateway.connections] == ["/gateway", "/gateway/resume"]
    assert len(emulator.identifies) == 1
    assert [f.kind for f in emulator.faults] == ["gateway_cut"]
    emulator.assert_no_errors()
