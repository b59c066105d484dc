"""Servers' own styles: checked like config.yaml's, unique names, walls between servers."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from bot.permissions import Actor, NotAModeratorError
from bot.server_styles import MAX_STYLES, ServerStyles
from bot.store.settings import SettingsStore
from pipeline.errors import UserError
from tests.bot.settings_parts import GUILD, MEMBER, MODERATOR, Audit, requests

if TYPE_CHECKING:
    from bot.store.database import Database

OTHER_MODERATOR = Actor(user_id=5, guild_id=GUILD + 1, name="other", moderator=True)


async def styles_on(database: Database) -> ServerStyles:
    """Load the styles from the database, as the composition root does."""
    return await ServerStyles.load(SettingsStore(database), requests(), Audit())


async def test_an_added_style_is_a_preset_of_that_server_only(database: Database) -> None:
    """Hand the new style to that server's jobs, and to no other server's."""
    styles = await styles_on(database)
    await styles.add(MODERATOR, "neon", "{prompt}, neon glow", "dull", "XL")
    preset = styles.presets(GUILD)["neon"]
    assert (preset.prompt, preset.negative, preset.model) == ("{prompt}, neon glow", "dull", "xl")
    assert styles.presets(OTHER_MODERATOR.guild_id) == {}
    assert styles.names(GUILD) == ["ink", "neon", "raw"]


async def test_styles_are_loaded_at_start_up(database: Database) -> None:
    """Read the saved styles back into a new instance."""
    await (await styles_on(database)).add(MODERATOR, "neon", "{prompt}, neon")
    assert [s.name for s in (await styles_on(database)).of(GUILD)] == ["neon"]


async def test_members_cannot_add_styles(database: Database) -> None:
    """Refuse a member's /style add."""
    styles = await styles_on(database)
    with pytest.raises(NotAModeratorError):
        await styles.add(MEMBER, "neon", "{prompt}, neon")


@pytest.mark.parametrize("name", ["ink", "INK", "raw", "Raw"])
async def test_names_of_config_styles_and_raw_are_refused(database: Database, name: str) -> None:
    """Keep --style NAME meaning one thing: refuse the config's names and raw in any case."""
    styles = await styles_on(database)
    with pytest.raises(UserError, match="is taken"):
        await styles.add(MODERATOR, name, "{prompt}, x")


@pytest.mark.parametrize("template", ["no placeholder", "{prompt} and {prompt}", "{prompt} (x:9)"])
async def test_a_template_is_checked_like_the_configs(database: Database, template: str) -> None:
    """Refuse a template without exactly one {prompt}, or with unreadable weighting."""
    styles = await styles_on(database)
    with pytest.raises(UserError, match="template"):
        await styles.add(MODERATOR, "neon", template)


async def test_a_bad_style_name_is_refused(database: Database) -> None:
    """Refuse names --style could not be typed with."""
    styles = await styles_on(database)
    with pytest.raises(UserError, match="1-32 letters"):
        await styles.add(MODERATOR, "two words", "{prompt}")


async def test_adding_a_style_again_replaces_it(database: Database) -> None:
    """Replace a style of the same name in any case, and say so."""
    styles = await styles_on(database)
    await styles.add(MODERATOR, "neon", "{prompt}, neon")
    _, replaced = await styles.add(MODERATOR, "NEON", "{prompt}, glow")
    assert replaced
    assert [(s.name, s.prompt) for s in styles.of(GUILD)] == [("NEON", "{prompt}, glow")]


async def test_a_server_has_at_most_fifty_styles(database: Database) -> None:
    """Refuse one style more than the limit."""
    styles = await styles_on(database)
    for number in range(MAX_STYLES):
        await styles.add(MODERATOR, f"s{number}", "{prompt}")
    with pytest.raises(UserError, match="remove one first"):
        await styles.add(MODERATOR, "more", "{prompt}")


async def test_removing_a_style_takes_it_from_the_presets(database: Database) -> None:
    """Forget a removed style, and refuse removing it twice."""
    styles = await styles_on(database)
    await styles.add(MODERATOR, "neon", "{prompt}, neon")
    await styles.remove(MODERATOR, "NEON")
    assert styles.presets(GUILD) == {}
    with pytest.raises(UserError, match="no style called"):
        await styles.remove(MODERATOR, "neon")


async def test_another_servers_moderator_cannot_remove_a_style(database: Database) -> None:
    """Treat another server's style as not existing."""
    styles = await styles_on(database)
    await styles.add(MODERATOR, "neon", "{prompt}, neon")
    with pytest.raises(UserError, match="no style called"):
        await styles.remove(OTHER_MODERATOR, "neon")
    assert [s.name for s in styles.of(GUILD)] == ["neon"]
