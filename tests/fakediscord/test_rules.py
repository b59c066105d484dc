"""Discord's limits, enforced with the error codes Discord answers with."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
import pytest
from discord.http import Route

if TYPE_CHECKING:
    from .emulator import DiscordEmulator
    from .sample_bot import SampleBot


def _button(custom_id: str, label: str = "Go") -> dict[str, Any]:
    return {"type": 2, "style": 1, "label": label, "custom_id": custom_id}


def _row(*buttons: dict[str, Any]) -> dict[str, Any]:
    return {"type": 1, "components": list(buttons)}


async def _post(bot: SampleBot, emulator: DiscordEmulator, payload: dict[str, Any]) -> Any:
    """Send a raw message body through discord.py's own HTTP client."""
    route = Route("POST", "/channels/{channel_id}/messages", channel_id=emulator.channel.id)
    return await bot.http.request(route, json=payload)


async def test_file_over_the_interaction_limit_is_too_large(
    emulator: DiscordEmulator, bot: SampleBot
) -> None:
    """Refuse a file over the interaction's attachment_size_limit with 40005 (HTTP 413)."""
    handle = await emulator.invoke_slash("upload", {"size": 2048}, attachment_size_limit=1024)
    error = await handle.wait_for_error()
    assert (error.status, error.code, error.message) == (413, 40005, "Request entity too large")
    await bot.failed.wait()
    assert isinstance(bot.failures[0], discord.HTTPException)
    assert bot.failures[0].code == 40005


async def test_file_within_the_limit_is_accepted(emulator: DiscordEmulator, bot: SampleBot) -> None:
    """Accept a file exactly at the limit."""
    handle = await emulator.invoke_slash("upload", {"size": 1024}, attachment_size_limit=1024)
    message = await handle.wait_for_original()
    assert message.attachments[0].data == b"x" * 1024


async def test_more_than_ten_attachments_is_invalid(
    emulator: DiscordEmulator, bot: SampleBot
) -> None:
    """Refuse eleven files with 50035."""
    handle = await emulator.invoke_slash("upload", {"size": 1, "count": 11})
    error = await handle.wait_for_error()
    assert error.code == 50035
    assert error.errors is not None
    assert "attachments" in error.errors


async def test_content_over_2000_characters_is_invalid(
    emulator: DiscordEmulator, bot: SampleBot
) -> None:
    """Refuse content over 2000 characters with 50035 on the content field."""
    handle = await emulator.invoke_slash("echo", {"text": "x" * 2001})
    error = await handle.wait_for_error()
    assert (error.status, error.code, error.message) == (400, 50035, "Invalid Form Body")
    assert error.errors == {
        "content": {
            "_errors": [
                {"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer in length."}
            ]
        }
    }


@pytest.mark.parametrize(
    ("components", "field"),
    [
        pytest.param([_row(_button(f"b{i}")) for i in range(6)], "components", id="six-rows"),
        pytest.param(
            [_row(*[_button(f"b{i}") for i in range(6)])],
            "components.0.components",
            id="six-buttons",
        ),
        pytest.param(
            [_row(_button("x" * 101))], "components.0.components.0.custom_id", id="long-custom-id"
        ),
        pytest.param(
            [_row(_button("same"), _button("same"))],
            "components.0.components.1.custom_id",
            id="duplicate-custom-id",
        ),
        pytest.param(
            [_row(_button("ok", label="x" * 81))],
            "components.0.components.0.label",
            id="long-label",
        ),
    ],
)
async def test_component_limits_are_invalid_form_body(
    emulator: DiscordEmulator, bot: SampleBot, components: list[dict[str, Any]], field: str
) -> None:
    """Refuse components over Discord's limits with 50035 naming the offending field."""
    with pytest.raises(discord.HTTPException) as caught:
        await _post(bot, emulator, {"content": "hi", "components": components})
    assert (caught.value.status, caught.value.code) == (400, 50035)
    node = emulator.errors[-1].errors
    for part in field.split("."):
        assert node is not None
        node = node[part]
    assert node is not None
    assert "_errors" in node
    assert emulator.messages == []


async def test_five_rows_of_five_buttons_are_accepted(
    emulator: DiscordEmulator, bot: SampleBot
) -> None:
    """Accept the largest legal layout."""
    rows = [_row(*[_button(f"r{r}b{b}") for b in range(5)]) for r in range(5)]
    await _post(bot, emulator, {"content": "grid", "components": rows})
    assert len(emulator.messages[-1].buttons()) == 25


async def test_empty_message_is_refused(emulator: DiscordEmulator, bot: SampleBot) -> None:
    """Refuse a message with nothing in it with 50006."""
    with pytest.raises(discord.HTTPException) as caught:
        await _post(bot, emulator, {"content": ""})
    assert caught.value.code == 50006
