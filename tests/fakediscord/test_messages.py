"""Channel messages: replies, edits with the attachments array, deletes, permissions, routes."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import aiohttp
import discord
import pytest
from discord.http import Route

from .models import MESSAGE_REPLY

if TYPE_CHECKING:
    from .emulator import DiscordEmulator
    from .sample_bot import SampleBot

pytest_plugins = ["pytester"]


def _text_channel(bot: SampleBot, emulator: DiscordEmulator) -> discord.TextChannel:
    channel = bot.get_channel(emulator.channel.id)
    assert isinstance(channel, discord.TextChannel)
    return channel


async def test_reply_records_the_reference_and_the_ping(
    emulator: DiscordEmulator, bot: SampleBot
) -> None:
    """Record a reply's message_reference, type 19 and allowed_mentions."""
    channel = _text_channel(bot, emulator)
    first = await channel.send("first")
    reply = await first.reply("second", mention_author=False)
    assert reply.reference is not None
    assert reply.reference.message_id == first.id
    record = await emulator.wait_for_message(lambda m: m.content == "second")
    assert record.type == MESSAGE_REPLY
    assert record.message_reference is not None
    assert record.message_reference["message_id"] == str(first.id)
    assert record.current.allowed_mentions is not None
    assert record.current.allowed_mentions["replied_user"] is False
    assert record.current.mention_ids == []


async def test_reply_to_unknown_message_is_invalid(
    emulator: DiscordEmulator, bot: SampleBot
) -> None:
    """Refuse a reply to a message that does not exist with 50035."""
    channel = _text_channel(bot, emulator)
    missing = channel.get_partial_message(123)
    with pytest.raises(discord.HTTPException) as caught:
        await channel.send("hello?", reference=missing)
    assert caught.value.code == 50035


async def test_edit_keeps_listed_attachments_and_adds_new_ones(
    emulator: DiscordEmulator, bot: SampleBot
) -> None:
    """Apply the attachments array: listed ones stay, unlisted go, new files join."""
    channel = _text_channel(bot, emulator)
    files = [discord.File(io.BytesIO(b"a"), "a.txt"), discord.File(io.BytesIO(b"b"), "b.txt")]
    message = await channel.send("two files", files=files)
    kept = message.attachments[0]
    await message.edit(attachments=[kept, discord.File(io.BytesIO(b"c"), "c.txt")])
    record = await emulator.wait_for_message(lambda m: m.id == message.id)
    first, second = record.versions
    assert [a.data for a in first.attachments] == [b"a", b"b"]
    assert [a.data for a in second.attachments] == [b"a", b"c"]
    assert second.attachments[0].id == kept.id


async def test_edit_and_delete_are_recorded(emulator: DiscordEmulator, bot: SampleBot) -> None:
    """Keep every version of a message and mark it deleted rather than forgetting it."""
    message = await _text_channel(bot, emulator).send("draft")
    await message.edit(content="final")
    await message.delete()
    record = emulator.messages[-1]
    assert [v.content for v in record.versions] == ["draft", "final"]
    assert record.deleted
    with pytest.raises(discord.NotFound):
        await _text_channel(bot, emulator).fetch_message(message.id)


async def test_history_lists_newest_first(emulator: DiscordEmulator, bot: SampleBot) -> None:
    """Return channel history newest first, as discord.py expects."""
    channel = _text_channel(bot, emulator)
    for text in ("one", "two", "three"):
        await channel.send(text)
    assert [m.content async for m in channel.history(limit=2)] == ["three", "two"]


async def test_history_after_returns_the_ones_right_after_newest_first(
    emulator: DiscordEmulator, bot: SampleBot
) -> None:
    """Answer `after` with the oldest messages past it, listed newest first as Discord does."""
    channel = _text_channel(bot, emulator)
    sent = [await channel.send(str(n)) for n in range(5)]
    data = await bot.http.logs_from(channel.id, 2, after=sent[0].id)
    assert [m["content"] for m in data] == ["2", "1"]


async def test_history_after_reads_oldest_first_in_discord_py(
    emulator: DiscordEmulator, bot: SampleBot
) -> None:
    """Let discord.py's history(after=...) page forward and yield oldest first."""
    channel = _text_channel(bot, emulator)
    sent = [await channel.send(str(n)) for n in range(4)]
    seen = [m.content async for m in channel.history(limit=None, after=sent[0])]
    assert seen == ["1", "2", "3"]


async def test_history_before_returns_the_newest_older_ones(
    emulator: DiscordEmulator, bot: SampleBot
) -> None:
    """Answer `before` with the messages right before it, newest first."""
    channel = _text_channel(bot, emulator)
    sent = [await channel.send(str(n)) for n in range(5)]
    data = await bot.http.logs_from(channel.id, 2, before=sent[3].id)
    assert [m["content"] for m in data] == ["2", "1"]


async def test_history_around_centres_on_the_message(
    emulator: DiscordEmulator, bot: SampleBot
) -> None:
    """Answer `around` with limit // 2 each side and the message itself, newest first."""
    channel = _text_channel(bot, emulator)
    sent = [await channel.send(str(n)) for n in range(7)]
    odd = await bot.http.logs_from(channel.id, 3, around=sent[3].id)
    even = await bot.http.logs_from(channel.id, 4, around=sent[3].id)
    assert [m["content"] for m in odd] == ["4", "3", "2"]
    assert [m["content"] for m in even] == [
        "5",
        "4",
        "3",
        "2",
        "1",
    ]  # limit + 1, as discord.py warns


async def test_enforced_nonce_returns_the_earlier_message(
    emulator: DiscordEmulator, bot: SampleBot
) -> None:
    """Return the first message again for a repeated nonce with enforce_nonce, storing one."""
    channel = _text_channel(bot, emulator)
    first = await channel.send("job 42 is done", nonce="job-42")
    again = await channel.send("job 42 is done", nonce="job-42")
    assert again.id == first.id
    assert again.nonce == "job-42"
    assert [m.nonce for m in emulator.messages] == ["job-42"]


async def test_message_create_echoes_the_nonce(emulator: DiscordEmulator, bot: SampleBot) -> None:
    """Send the nonce back in MESSAGE_CREATE, so a bot can match the event to its send."""
    sent = await _text_channel(bot, emulator).send("tagged", nonce="job-9")
    received = await bot.wait_for("message", check=lambda m: m.id == sent.id, timeout=5)
    assert received.nonce == "job-9"


async def test_nonce_is_forgotten_after_five_minutes(
    emulator: DiscordEmulator, bot: SampleBot
) -> None:
    """Create a new message once the first with that nonce is over five minutes old."""
    channel = _text_channel(bot, emulator)
    first = await channel.send("hello", nonce="n1")
    emulator.clock.advance(5 * 60 + 1)
    later = await channel.send("hello", nonce="n1")
    assert later.id != first.id
    assert len(emulator.messages) == 2


async def test_nonce_without_enforce_nonce_does_not_deduplicate(
    emulator: DiscordEmulator, bot: SampleBot
) -> None:
    """Create a second message when the nonce is sent without enforce_nonce."""
    route = Route("POST", "/channels/{channel_id}/messages", channel_id=emulator.channel.id)
    for _ in range(2):
        await bot.http.request(route, json={"content": "twice", "nonce": "same"})
    assert [m.content for m in emulator.messages] == ["twice", "twice"]


async def test_nonce_over_25_characters_is_invalid(
    emulator: DiscordEmulator, bot: SampleBot
) -> None:
    """Refuse a nonce longer than 25 characters (a UUID's 36, say) with 50035."""
    with pytest.raises(discord.HTTPException) as caught:
        await _text_channel(bot, emulator).send("hi", nonce="0" * 36)
    assert caught.value.code == 50035
    assert emulator.messages == []


async def test_resend_with_the_nonce_after_a_lost_answer_finds_the_message(
    emulator: DiscordEmulator, bot: SampleBot
) -> None:
    """Recover from a lost answer by posting again with the same nonce: one message."""
    channel = _text_channel(bot, emulator)
    emulator.drop_answer_of("POST", "/channels/*/messages")
    with pytest.raises(aiohttp.ClientError):
        await channel.send("image ready", nonce="job-7")
    recovered = await channel.send("image ready", nonce="job-7")
    (record,) = emulator.messages
    assert recovered.id == record.id


async def test_missing_send_permission_is_forbidden(
    emulator: DiscordEmulator, bot: SampleBot
) -> None:
    """Refuse a send without Send Messages with 50013, which discord.py raises as Forbidden."""
    emulator.set_bot_permissions(discord.Permissions(view_channel=True))
    emulator.guild.roles[emulator.guild.id].permissions = 0  # @everyone grants nothing either
    with pytest.raises(discord.Forbidden) as caught:
        await _text_channel(bot, emulator).send("hello")
    assert caught.value.code == 50013


async def test_own_messages_are_dispatched_back(emulator: DiscordEmulator, bot: SampleBot) -> None:
    """Dispatch MESSAGE_CREATE for the bot's own message when it asked for guild messages."""
    sent = await _text_channel(bot, emulator).send("echo me")
    received = await bot.wait_for("message", check=lambda m: m.id == sent.id, timeout=5)
    assert received.content == "echo me"


async def test_unknown_route_answers_404_and_is_listed(
    emulator: DiscordEmulator, bot: SampleBot
) -> None:
    """Answer a route the emulator lacks with 404 and list it for the test to fail on."""
    with pytest.raises(discord.NotFound):
        await bot.http.request(Route("GET", "/guilds/{guild_id}/bans", guild_id=emulator.guild.id))
    assert [str(r) for r in emulator.unknown_routes] == [
        f"GET /api/v10/guilds/{emulator.guild.id}/bans"
    ]
    emulator.unknown_routes.clear()  # the fixture would otherwise fail this test, by design


def test_fixture_fails_a_test_that_hit_an_unknown_route(pytester: pytest.Pytester) -> None:
    """Fail, at teardown, a test whose bot called a route the emulator does not know."""
    pytester.makeconftest('pytest_plugins = ["tests.fakediscord.fixtures"]')
    pytester.makepyfile(
        """
        import aiohttp

        async def test_calls_unknown(emulator):
            async with aiohttp.ClientSession() as session:
                await session.get(emulator.api_url + "/nowhere")
        """
    )
    result = pytester.runpytest_inprocess(
        "-o", "asyncio_mode=auto", "-o", "asyncio_default_fixture_loop_scope=function"
    )
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*GET /api/v10/nowhere*"])
