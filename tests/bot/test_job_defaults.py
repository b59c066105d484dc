"""Merging the layers: server < channel < member for defaults, the tighter cap, both negatives."""

from __future__ import annotations

import pytest

from bot.job_defaults import (
    ImagePromptsOffError,
    JobSettings,
    MemberPreferences,
    PlaceDefaults,
    ServerStyle,
    settle,
)
from pipeline.config import StyleSettings

GUILD, CHANNEL, USER = 1, 2, 3
SERVER = PlaceDefaults(GUILD, None, model="server-model", style="server-style")
CHANNEL_LAYER = PlaceDefaults(GUILD, CHANNEL, model="channel-model", style="channel-style")
MEMBER = MemberPreferences(GUILD, USER, aspect="16:9", style="my-style", model="my-model")


def test_nothing_chosen_gives_no_defaults() -> None:
    """Leave every default open and allow image prompts when no layer chose anything."""
    settled = settle(None, None, None, {})
    assert settled == JobSettings()
    assert settled.defaults.model is None
    assert settled.image_prompts


def test_the_channel_beats_the_server() -> None:
    """Take the channel's model and style over the server's."""
    defaults = settle(SERVER, CHANNEL_LAYER, None, {}).defaults
    assert (defaults.model, defaults.style) == ("channel-model", "channel-style")


def test_the_member_beats_the_channel() -> None:
    """Take the member's model, style and aspect over the channel's."""
    defaults = settle(SERVER, CHANNEL_LAYER, MEMBER, {}).defaults
    assert (defaults.model, defaults.style, defaults.aspect) == ("my-model", "my-style", "16:9")


def test_a_layer_that_chose_nothing_is_passed_over() -> None:
    """Fall back to the server's model when the channel and the member chose none."""
    channel = PlaceDefaults(GUILD, CHANNEL, max_steps=10)
    member = MemberPreferences(GUILD, USER, aspect="2:1")
    assert settle(SERVER, channel, member, {}).defaults.model == "server-model"


@pytest.mark.parametrize(
    ("server_cap", "channel_cap", "expected"),
    [(30, 20, 20), (20, 30, 20), (None, 20, 20), (30, None, 30), (None, None, None)],
)
def test_caps_take_the_tighter_of_server_and_channel(
    server_cap: int | None, channel_cap: int | None, expected: int | None
) -> None:
    """Let a channel only narrow its server's steps and pixel caps."""
    server = PlaceDefaults(GUILD, None, max_steps=server_cap, max_pixels=server_cap)
    channel = PlaceDefaults(GUILD, CHANNEL, max_steps=channel_cap, max_pixels=channel_cap)
    defaults = settle(server, channel, None, {}).defaults
    assert (defaults.max_steps, defaults.max_pixels) == (expected, expected)


def test_enforced_negatives_add_up() -> None:
    """Keep both the server's and the channel's enforced negative, each term once."""
    server = PlaceDefaults(GUILD, None, enforced_negative="watermark, text")
    channel = PlaceDefaults(GUILD, CHANNEL, enforced_negative="text, blood")
    assert settle(server, channel, None, {}).defaults.enforced_negative == "watermark, text, blood"


def test_the_members_no_list_is_a_default_not_a_rule() -> None:
    """Pass the member's --no list as avoid, apart from the enforced negative."""
    member = MemberPreferences(GUILD, USER, avoid="fog")
    server = PlaceDefaults(GUILD, None, enforced_negative="watermark")
    defaults = settle(server, None, member, {}).defaults
    assert (defaults.avoid, defaults.enforced_negative) == ("fog", "watermark")


@pytest.mark.parametrize(
    ("server", "channel", "allowed"),
    [(None, None, True), (False, None, False), (False, True, True), (True, False, False)],
)
def test_image_prompts_follow_the_channel_else_the_server(
    server: bool | None, channel: bool | None, allowed: bool
) -> None:
    """Let the channel's choice on image prompts win, and allow them when nobody chose."""
    settled = settle(
        PlaceDefaults(GUILD, None, image_prompts=server),
        PlaceDefaults(GUILD, CHANNEL, image_prompts=channel),
        None,
        {},
    )
    assert settled.image_prompts is allowed


def test_a_refused_image_prompt_says_so() -> None:
    """Raise a user error naming image prompts where they are off."""
    settled = settle(PlaceDefaults(GUILD, None, image_prompts=False), None, None, {})
    with pytest.raises(ImagePromptsOffError, match="Image prompts are turned off"):
        settled.refuse_image_prompt()


def test_the_unsafe_image_policy_follows_the_channel_else_the_server() -> None:
    """Take the channel's image-safety policy, else the server's, else none (the config's)."""
    server = PlaceDefaults(GUILD, None, unsafe_images="as_is")
    channel = PlaceDefaults(GUILD, CHANNEL, unsafe_images="withhold")
    assert settle(server, channel, None, {}).unsafe_images == "withhold"
    assert settle(server, None, None, {}).unsafe_images == "as_is"
    assert settle(None, None, None, {}).unsafe_images is None


def test_the_servers_styles_are_handed_on() -> None:
    """Give the request builder the server's style presets."""
    preset = ServerStyle(GUILD, "neon", "{prompt}, neon", negative="dull").preset()
    defaults = settle(None, None, None, {"neon": preset}).defaults
    assert defaults.styles == {"neon": StyleSettings(prompt="{prompt}, neon", negative="dull")}


def test_an_empty_place_knows_it_is_empty() -> None:
    """Tell an empty layer (nothing to keep) from one that chose something."""
    assert PlaceDefaults(GUILD, CHANNEL).is_empty()
    assert not PlaceDefaults(GUILD, CHANNEL, enforced_negative="x").is_empty()
    assert MemberPreferences(GUILD, USER).is_empty()
    assert not MEMBER.is_empty()
