"""Interactions: responses, defers, follow-ups, clicks, modals, and the 3 s / 15 min rules."""

from __future__ import annotations

from typing import TYPE_CHECKING

import aiohttp
import discord
import pytest

from .interactions import (
    CHANNEL_MESSAGE,
    DEFERRED_CHANNEL_MESSAGE,
    DEFERRED_UPDATE_MESSAGE,
    MODAL,
    UPDATE_MESSAGE,
)
from .models import LOADING
from .sample_bot import TINY_PNG, SampleBot, VoteButton

if TYPE_CHECKING:
    from .emulator import DiscordEmulator


async def test_defer_then_edit_original_with_an_attachment(
    emulator: DiscordEmulator, bot: SampleBot
) -> None:
    """Record the thinking placeholder, then the edit that completes it with the image bytes."""
    handle = await emulator.invoke_slash("draw", {"prompt": "a cat"})
    original = await handle.wait_for_original()
    assert handle.deferred
    assert handle.callback is not None
    assert handle.callback.type == DEFERRED_CHANNEL_MESSAGE
    placeholder, final = original.versions
    assert placeholder.content == ""
    assert placeholder.flags & LOADING
    assert final.content == "drew a cat"
    assert not original.loading
    (attachment,) = final.attachments
    assert (attachment.filename, attachment.data) == ("draw.png", TINY_PNG)
    assert (attachment.content_type, attachment.width, attachment.height) == ("image/png", 1, 1)


async def test_cdn_serves_attachment_bytes(emulator: DiscordEmulator, bot: SampleBot) -> None:
    """Serve a recorded attachment at the URL the message payload gave."""
    handle = await emulator.invoke_slash("draw", {"prompt": "a dog"})
    (attachment,) = (await handle.wait_for_original()).attachments
    async with aiohttp.ClientSession() as session, session.get(attachment.url) as response:
        assert response.status == 200
        assert await response.read() == TINY_PNG


async def test_button_click_runs_the_handler(emulator: DiscordEmulator, bot: SampleBot) -> None:
    """Click a recorded button; the view's callback runs and updates the message in place."""
    handle = await emulator.invoke_slash("buttons")
    message = await handle.wait_for_original()
    assert message.custom_ids() == ["again"]
    click = await emulator.click(message, "again")
    response = await click.wait_for_response()
    assert response.type == UPDATE_MESSAGE
    assert bot.clicks == [emulator.member.user.id]
    assert [v.content for v in message.versions] == ["press it", "clicked"]


async def test_dynamic_item_button_survives_a_restart(
    emulator: DiscordEmulator, bot: SampleBot
) -> None:
    """Click a persistent DynamicItem button on a message sent before the bot started."""
    view = discord.ui.View(timeout=None).add_item(VoteButton(7))
    old = emulator.seed_message("vote", components=view.to_components())
    click = await emulator.click(old, "vote:7")
    await click.wait_for_response()
    assert bot.votes == [7]
    assert old.content == "voted 7"


async def test_callback_response_body_names_the_created_message(
    emulator: DiscordEmulator, bot: SampleBot
) -> None:
    """Return the `with_response` body discord.py turns into an InteractionCallbackResponse."""
    handle = await emulator.invoke_slash("echo", {"text": "hi"})
    original = await handle.wait_for_original()
    callback: discord.InteractionCallbackResponse[SampleBot] = await bot.wait_seen("callback")
    assert callback.message_id == original.id
    assert isinstance(callback.resource, discord.InteractionMessage)
    assert callback.resource.content == "hi"


async def test_followup_edit_and_original_delete(emulator: DiscordEmulator, bot: SampleBot) -> None:
    """Record a follow-up, its edit through the webhook, and the original's deletion."""
    handle = await emulator.invoke_slash("steps")
    followup = await handle.wait_for_followup()
    version = await emulator.wait_for_edit(followup, lambda v: v.content == "step 2, edited")
    assert version is followup.current
    await emulator.state.notifier.wait_for(
        lambda: True if handle.original and handle.original.deleted else None,
        timeout=5,
        what="the original's deletion",
    )
    assert [m.content for m in handle.messages] == ["step 1", "step 2, edited"]


async def test_followup_after_deleting_the_placeholder_is_a_new_ephemeral_message(
    emulator: DiscordEmulator, bot: SampleBot
) -> None:
    """Send a fresh ephemeral follow-up once the thinking placeholder was deleted."""
    handle = await emulator.invoke_slash("retract")
    followup = await handle.wait_for_followup()
    assert handle.original is not None
    assert handle.original.deleted
    assert followup.ephemeral
    assert followup.content == "only you see this"


async def test_select_menu_choice_reaches_the_view(
    emulator: DiscordEmulator, bot: SampleBot
) -> None:
    """Choose a value in a recorded select menu; the view receives it."""
    handle = await emulator.invoke_slash("pick")
    message = await handle.wait_for_original()
    choice = await emulator.select(message, "size", ["M"])
    assert (await choice.wait_for_response()).type == DEFERRED_UPDATE_MESSAGE
    assert await bot.wait_seen("size") == ["M"]


async def test_ephemeral_flag_is_recorded(emulator: DiscordEmulator, bot: SampleBot) -> None:
    """Record flag 64 on an ephemeral response."""
    handle = await emulator.invoke_slash("secret")
    message = await handle.wait_for_original()
    assert handle.callback is not None
    assert handle.callback.type == CHANNEL_MESSAGE
    assert message.ephemeral
    assert message.content == "psst"


async def test_initial_response_after_three_seconds_is_unknown_interaction(
    emulator: DiscordEmulator, bot: SampleBot
) -> None:
    """Answer a response later than 3 s with 10062, which discord.py raises as NotFound."""
    handle = await emulator.invoke_slash("slow")
    emulator.clock.advance(3.1)
    bot.gate.set()
    error = await handle.wait_for_error(10062)
    assert (error.status, error.message) == (404, "Unknown interaction")
    assert not handle.responded
    await bot.failed.wait()
    assert isinstance(bot.failures[0], discord.NotFound)
    assert bot.failures[0].code == 10062


async def test_assert_no_errors_raises_naming_the_error_the_bot_hit(
    emulator: DiscordEmulator, bot: SampleBot
) -> None:
    """Pass while the bot hit no error, then fail naming the route and code once it did."""
    emulator.assert_no_errors()
    handle = await emulator.invoke_slash("slow")
    emulator.clock.advance(3.1)
    bot.gate.set()
    await handle.wait_for_error(10062)
    with pytest.raises(AssertionError, match=r"callback -> 404 10062 Unknown interaction"):
        emulator.assert_no_errors()


async def test_followup_after_fifteen_minutes_is_invalid_webhook_token(
    emulator: DiscordEmulator, bot: SampleBot
) -> None:
    """Answer a follow-up with a token older than 15 min with 50027."""
    handle = await emulator.invoke_slash("job")
    started = await handle.wait_for_original()
    assert started.content == "started"  # the first follow-up completed the thinking message
    emulator.clock.advance(15 * 60 + 1)
    bot.gate.set()
    error = await handle.wait_for_error(50027)
    assert (error.status, error.message) == (401, "Invalid Webhook Token")
    assert handle.followups == []


async def test_second_initial_response_is_already_acknowledged(
    emulator: DiscordEmulator, bot: SampleBot
) -> None:
    """Answer a second initial response to the same interaction with 40060."""
    handle = await emulator.invoke_slash("twice")
    error = await handle.wait_for_error()
    assert (error.status, error.code) == (400, 40060)
    await bot.failed.wait()
    assert isinstance(bot.failures[0], discord.HTTPException)
    assert bot.failures[0].code == 40060
    assert len([m for m in emulator.messages if m.interaction_id == handle.id]) == 1


async def test_modal_is_recorded_and_can_be_submitted(
    emulator: DiscordEmulator, bot: SampleBot
) -> None:
    """Record the modal the bot shows, then submit it with the user's text."""
    shown = await emulator.invoke_slash("ask")
    response = await shown.wait_for_response()
    assert response.type == MODAL
    assert shown.modal is not None
    assert shown.modal["title"] == "Name"
    submitted = await emulator.submit_modal(shown, {"name": "Ada"})
    assert (await submitted.wait_for_original()).content == "hello Ada"


async def test_no_discord_error_on_a_clean_run(emulator: DiscordEmulator, bot: SampleBot) -> None:
    """Let a test assert that the bot never hit a Discord error."""
    handle = await emulator.invoke_slash("draw", {"prompt": "tidy"})
    await handle.wait_for_original()
    emulator.assert_no_errors()
