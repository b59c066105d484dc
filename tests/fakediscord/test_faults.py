"""Fault injection: outages, 429s and lost answers, as discord.py meets them."""

from __future__ import annotations

import asyncio
import errno
import re
from typing import TYPE_CHECKING, Any

import aiohttp
import discord
import pytest

from .faults import RouteFilter
from .sample_bot import TINY_PNG

if TYPE_CHECKING:
    from .emulator import DiscordEmulator
    from .sample_bot import SampleBot


def _text_channel(bot: SampleBot, emulator: DiscordEmulator) -> discord.TextChannel:
    channel = bot.get_channel(emulator.channel.id)
    assert isinstance(channel, discord.TextChannel)
    return channel


async def _get(emulator: DiscordEmulator, path: str) -> tuple[int, Any, dict[str, str]]:
    """GET a REST path with the bot's token; return status, JSON body and headers."""
    headers = {"Authorization": f"Bot {emulator.token}"}
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.get(emulator.api_url + path) as response,
    ):
        return response.status, await response.json(), dict(response.headers)


# Routes.


def test_route_filter_reads_globs_methods_and_regexes() -> None:
    """Match a glob on the path, a glob after a method, and a regex searched in the path."""
    assert RouteFilter.parse("*").matches("GET", "/channels/1/messages")
    post_only = RouteFilter.parse("POST /channels/*/messages")
    assert post_only.matches("POST", "/channels/1/messages")
    assert not post_only.matches("GET", "/channels/1/messages")
    assert not post_only.matches("POST", "/channels/1/messages/2")
    webhooks = RouteFilter.parse(re.compile(r"^/(webhooks|interactions)/"))
    assert webhooks.matches("PATCH", "/webhooks/1/token/messages/@original")
    assert not webhooks.matches("POST", "/channels/1/messages")


# Outages.


async def test_outage_answers_discord_json_until_the_clock_passes_it(
    emulator: DiscordEmulator,
) -> None:
    """Answer 503 with Discord's generic body, then serve again once the clock moves on."""
    path = f"/channels/{emulator.channel.id}"
    emulator.outage(60)
    status, body, _ = await _get(emulator, path)
    assert (status, body) == (503, {"message": "503: Service Unavailable", "code": 0})
    emulator.clock.advance(60)
    status, body, _ = await _get(emulator, path)
    assert status == 200
    assert [(f.kind, f.status) for f in emulator.faults] == [("outage", 503)]
    emulator.assert_no_errors()  # an injected fault is not the bot's mistake


async def test_outage_spares_the_cdn(emulator: DiscordEmulator) -> None:
    """Keep serving attachments during an outage: only the REST API is down."""
    attachment = emulator.state.store_attachment(emulator.channel.id, "a.png", TINY_PNG)
    emulator.outage(60)
    async with aiohttp.ClientSession() as session, session.get(attachment.url) as response:
        assert response.status == 200
        assert await response.read() == TINY_PNG
    assert emulator.faults == []


async def test_outage_of_some_routes_spares_the_others(emulator: DiscordEmulator) -> None:
    """Refuse only the routes named, here message creation, and serve the rest."""
    emulator.outage(60, routes="POST /channels/*/messages")
    status, _, _ = await _get(emulator, f"/channels/{emulator.channel.id}/messages")
    assert status == 200


async def test_end_outage_restores_service(emulator: DiscordEmulator) -> None:
    """End an outage before its time."""
    emulator.outage(60, 500)
    emulator.end_outage()
    status, _, _ = await _get(emulator, f"/channels/{emulator.channel.id}")
    assert status == 200


async def test_channel_post_is_retried_through_a_500(
    emulator: DiscordEmulator, bot: SampleBot
) -> None:
    """Let discord.py retry a 500 after its 1 s sleep and create the message once."""
    emulator.outage(60, 500, routes="POST /channels/*/messages")
    task = asyncio.ensure_future(_text_channel(bot, emulator).send("after the outage"))
    await emulator.wait_for_fault("outage")
    emulator.clock.advance(60)  # over before discord.py's retry, 1 s later
    sent = await task
    assert [m.id for m in emulator.messages] == [sent.id]
    assert len(emulator.faults) == 1


async def test_channel_post_raises_discord_server_error_on_503(
    emulator: DiscordEmulator, bot: SampleBot
) -> None:
    """Raise DiscordServerError at once: discord.py's REST client does not retry a 503."""
    emulator.outage(60, 503, routes="POST /channels/*/messages")
    with pytest.raises(discord.DiscordServerError) as caught:
        await _text_channel(bot, emulator).send("lost")
    assert caught.value.status == 503
    assert emulator.messages == []
    assert len(emulator.faults) == 1


async def test_interaction_response_is_retried_through_a_503(
    emulator: DiscordEmulator, bot: SampleBot
) -> None:
    """Let discord.py's webhook client retry any 5xx, 503 included, within the 3 s."""
    emulator.outage(60, 503, routes="/interactions/*")
    handle = await emulator.invoke_slash("echo", {"text": "late but there"})
    await emulator.wait_for_fault("outage")
    emulator.end_outage()  # before discord.py's retry 1 s later; the clock must not jump 3 s
    original = await handle.wait_for_original()
    assert original.content == "late but there"
    assert [f.kind for f in emulator.faults] == ["outage"]


# Rate limits.


async def test_rate_limit_answers_429_with_the_headers_discord_py_needs(
    emulator: DiscordEmulator,
) -> None:
    """Send Discord's 429 body with Via and X-RateLimit-* headers."""
    emulator.rate_limit(1.0, 0.25)
    status, body, headers = await _get(emulator, f"/channels/{emulator.channel.id}")
    assert status == 429
    assert body == {"message": "You are being rate limited.", "retry_after": 0.25, "global": False}
    assert headers["Via"]
    assert headers["Retry-After"] == "1"
    assert headers["X-RateLimit-Remaining"] == "0"
    assert headers["X-RateLimit-Reset-After"] == "0.250"
    assert headers["X-RateLimit-Bucket"]


async def test_rate_limited_posts_are_retried_after_retry_after(
    emulator: DiscordEmulator, bot: SampleBot
) -> None:
    """Make discord.py sleep retry_after and retry, so every message arrives exactly once."""
    emulator.rate_limit(0.5, 0.01, seed=1)
    channel = _text_channel(bot, emulator)
    for n in range(5):
        await channel.send(f"message {n}")
    assert [m.content for m in emulator.messages] == [f"message {n}" for n in range(5)]
    refused = [f for f in emulator.faults if f.kind == "rate_limit"]
    posts = [r for r in emulator.state.requests if r.method == "POST" and r.status == 200]
    assert refused
    assert len(posts) == 5


async def test_full_rate_limit_exhausts_discord_py_retries(
    emulator: DiscordEmulator, bot: SampleBot
) -> None:
    """Raise HTTPException 429 after discord.py's five tries when every answer is 429."""
    emulator.rate_limit(1.0, 0.01)
    with pytest.raises(discord.HTTPException) as caught:
        await _text_channel(bot, emulator).send("never")
    assert caught.value.status == 429
    assert len(emulator.faults) == 5


async def test_same_seed_refuses_the_same_requests(emulator: DiscordEmulator) -> None:
    """Draw the refused requests from the seed, so a failing test fails again."""
    path = f"/channels/{emulator.channel.id}"

    async def pattern() -> list[int]:
        emulator.rate_limit(0.5, 0.01, seed=7)
        statuses = [(await _get(emulator, path))[0] for _ in range(8)]
        emulator.end_rate_limit()
        return statuses

    first = await pattern()
    assert first == await pattern()
    assert set(first) == {200, 429}


# Lost answers.


async def test_dropped_post_is_created_once_and_raises_server_disconnected(
    emulator: DiscordEmulator, bot: SampleBot
) -> None:
    """Apply the post, then cut the connection: aiohttp raises ServerDisconnectedError."""
    emulator.drop_answer_of("POST", "/channels/*/messages")
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await _text_channel(bot, emulator).send("did it arrive?")
    assert [m.content for m in emulator.messages] == ["did it arrive?"]
    assert [(f.kind, f.status) for f in emulator.faults] == [("dropped_answer", 200)]


async def test_dropped_post_with_reset_raises_client_os_error(
    emulator: DiscordEmulator, bot: SampleBot
) -> None:
    """Cut with an RST instead: aiohttp raises ClientOSError ECONNRESET, still not retried."""
    emulator.drop_answer_of("POST", "/channels/*/messages", reset=True)
    with pytest.raises(aiohttp.ClientOSError) as caught:
        await _text_channel(bot, emulator).send("reset")
    assert caught.value.errno == errno.ECONNRESET
    assert len(emulator.messages) == 1


async def test_dropped_interaction_response_is_applied(
    emulator: DiscordEmulator, bot: SampleBot
) -> None:
    """Record the initial response even though the bot never heard that it worked."""
    emulator.drop_answer_of("POST", "/interactions/*")
    handle = await emulator.invoke_slash("echo", {"text": "answered"})
    await bot.failed.wait()
    assert isinstance(bot.failures[0], aiohttp.ServerDisconnectedError)
    assert handle.original is not None
    assert handle.original.content == "answered"


async def test_aiohttp_resends_an_idempotent_request_once(
    emulator: DiscordEmulator, bot: SampleBot
) -> None:
    """Resend a DELETE whose answer was lost, so the bot sees 10008 for its own delete."""
    message = await _text_channel(bot, emulator).send("to delete")
    emulator.drop_answer_of("DELETE", "/channels/*/messages/*")
    with pytest.raises(discord.NotFound) as caught:
        await message.delete()
    assert caught.value.code == 10008
    assert emulator.messages[0].deleted
    assert [e.code for e in emulator.errors] == [10008]  # the bot's to handle, as on Discord
