"""The settings service: every value checked when set, kept in memory, written through."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from bot.job_defaults import MemberPreferences, PlaceDefaults
from bot.permissions import NotAModeratorError
from bot.server_styles import ServerStyles
from bot.settings import PlaceChanges, SettingsService
from bot.store.settings import SettingsStore
from pipeline.errors import UserError
from tests.bot.settings_parts import CHANNEL, GUILD, MEMBER, MODERATOR, Audit, requests

if TYPE_CHECKING:
    from bot.store.database import Database


async def service_on(database: Database, audit: Audit | None = None) -> SettingsService:
    """Load the service from the database, as the composition root does."""
    store, builder, record = SettingsStore(database), requests(), audit or Audit()
    styles = await ServerStyles.load(store, builder, record)
    return await SettingsService.load(store, styles, builder, record)


async def test_a_change_is_saved_and_read_back_after_a_restart(database: Database) -> None:
    """Keep a moderator's choice in memory and in SQLite, so a new service loads it."""
    service = await service_on(database)
    await service.change_place(MODERATOR, CHANNEL, PlaceChanges(model="XL", max_steps=30))
    reloaded = await service_on(database)
    for each in (service, reloaded):
        assert each.layers(GUILD, CHANNEL, MEMBER.user_id).channel == PlaceDefaults(
            GUILD, CHANNEL, model="xl", max_steps=30
        )


async def test_members_cannot_change_server_settings(database: Database) -> None:
    """Refuse a member's change, saving nothing."""
    service = await service_on(database)
    with pytest.raises(NotAModeratorError, match="Only moderators"):
        await service.change_place(MEMBER, None, PlaceChanges(model="xl"))
    assert await SettingsStore(database).places() == []


async def test_an_unknown_model_is_refused_with_the_choices(database: Database) -> None:
    """Name the configured models when a default names another."""
    service = await service_on(database)
    with pytest.raises(UserError, match="Models: sd, xl"):
        await service.change_place(MODERATOR, None, PlaceChanges(model="nope"))


async def test_an_unknown_style_is_refused_with_the_choices(database: Database) -> None:
    """Name the styles this server has when a default names another."""
    service = await service_on(database)
    with pytest.raises(UserError, match="Styles: ink, raw"):
        await service.prefer(MEMBER, style="neon")


async def test_caps_above_easels_own_limits_are_refused(database: Database) -> None:
    """Refuse a steps or size cap that would loosen the config's limits."""
    service = await service_on(database)
    with pytest.raises(UserError, match="at most 60 steps"):
        await service.change_place(MODERATOR, None, PlaceChanges(max_steps=61))
    with pytest.raises(UserError, match="megapixels"):
        await service.change_place(MODERATOR, None, PlaceChanges(max_megapixels=20.0))


async def test_a_size_cap_is_kept_in_pixels(database: Database) -> None:
    """Store 0.5 megapixels as 500,000 pixels."""
    service = await service_on(database)
    saved = await service.change_place(MODERATOR, None, PlaceChanges(max_megapixels=0.5))
    assert saved.max_pixels == 500_000


async def test_showing_unsafe_images_needs_an_age_restricted_channel(
    database: Database,
) -> None:
    """Refuse spoiler or as-is in a channel that is not age-restricted; allow withhold."""
    service = await service_on(database)
    with pytest.raises(UserError, match="not age-restricted"):
        await service.change_place(MODERATOR, CHANNEL, PlaceChanges(unsafe_images="as_is"))
    await service.change_place(MODERATOR, CHANNEL, PlaceChanges(unsafe_images="withhold"))
    await service.change_place(
        MODERATOR, CHANNEL, PlaceChanges(unsafe_images="as_is"), nsfw_channel=True
    )


@pytest.mark.parametrize("aspect", ["16x9", "0:1", "9:1", "16:9 --steps 200", "2:1 --lora x"])
async def test_a_bad_aspect_is_refused_like_ar(database: Database, aspect: str) -> None:
    """Refuse what --ar refuses, and values that smuggle in other parameters."""
    service = await service_on(database)
    with pytest.raises(UserError):
        await service.prefer(MEMBER, aspect=aspect)


async def test_a_no_list_with_parameters_is_refused(database: Database) -> None:
    """Refuse a --no list that would add parameters to every prompt."""
    service = await service_on(database)
    with pytest.raises(UserError, match="no other --parameters"):
        await service.prefer(MEMBER, avoid="text --steps 200")


async def test_preferences_are_checked_and_kept_as_defined(database: Database) -> None:
    """Save a member's aspect, style, model and --no list, names as configured."""
    service = await service_on(database)
    saved = await service.prefer(MEMBER, aspect="16:9", style="INK", model="XL", avoid="fog")
    assert saved == MemberPreferences(GUILD, MEMBER.user_id, "16:9", "ink", "xl", "fog")


async def test_resetting_one_preference_keeps_the_others(database: Database) -> None:
    """Forget the member's style only, then everything."""
    service = await service_on(database)
    await service.prefer(MEMBER, aspect="2:1", style="ink")
    kept = await service.reset_preferences(MEMBER, "style")
    assert kept == MemberPreferences(GUILD, MEMBER.user_id, aspect="2:1")
    assert (await service.reset_preferences(MEMBER, None)).is_empty()
    assert service.layers(GUILD, CHANNEL, MEMBER.user_id).member is None


async def test_resetting_the_negative_clears_it(database: Database) -> None:
    """Forget a channel's enforced negative prompt, keeping its other choices."""
    service = await service_on(database)
    await service.change_place(MODERATOR, CHANNEL, PlaceChanges(negative="text", max_steps=9))
    kept = await service.reset_place(MODERATOR, CHANNEL, "negative")
    assert kept == PlaceDefaults(GUILD, CHANNEL, max_steps=9)


async def test_moderators_changes_are_audited(database: Database) -> None:
    """Record who changed which setting to what."""
    audit = Audit()
    service = await service_on(database, audit)
    await service.change_place(MODERATOR, None, PlaceChanges(image_prompts=False))
    assert audit.entries == [(MODERATOR.user_id, "settings", "server", "image_prompts = False")]


async def test_a_job_reads_the_layers_without_io(database: Database) -> None:
    """Merge the server's, channel's and member's choices from memory for a job."""
    service = await service_on(database)
    await service.change_place(MODERATOR, None, PlaceChanges(negative="watermark", max_steps=40))
    await service.change_place(MODERATOR, CHANNEL, PlaceChanges(max_steps=20, style="ink"))
    await service.prefer(MEMBER, model="xl")
    await database.close()  # nothing below may touch the database
    defaults = service.for_job(GUILD, CHANNEL, MEMBER.user_id).defaults
    assert (defaults.model, defaults.style, defaults.max_steps) == ("xl", "ink", 20)
    assert defaults.enforced_negative == "watermark"
