"""What the settings and styles unit tests share: a request builder, actors, an audit double."""

from __future__ import annotations

from bot.permissions import Actor
from pipeline.config import GenerationSettings, InputImageSettings, StyleSettings
from pipeline.families.base import ModelTraits
from pipeline.models import ModelCatalog, profile_of
from pipeline.request_builder import RequestBuilder
from tests.request_fixtures import sd_profile

GUILD, CHANNEL = 1_111_111_111_111_111_111, 2_222_222_222_222_222_222
SETTINGS = GenerationSettings(steps=25, max_steps=60, max_pixels=2048 * 2048)
MODERATOR = Actor(user_id=3, guild_id=GUILD, name="mod", moderator=True)
MEMBER = Actor(user_id=4, guild_id=GUILD, name="alice", moderator=False)


class Audit:
    """Collect what the service records, as the moderation gate would."""

    def __init__(self) -> None:
        self.entries: list[tuple[int, str, str, str]] = []

    async def __call__(
        self, actor: Actor, action: str, subject: str = "", detail: str = ""
    ) -> None:
        """Keep the entry."""
        self.entries.append((actor.user_id, action, subject, detail))


def requests() -> RequestBuilder:
    """Return a builder over an SD model (the default) and an SDXL one, with one config style."""
    profiles = [sd_profile(), profile_of("xl", ModelTraits("sdxl", (1024, 1024)), None, SETTINGS)]
    styles = {"ink": StyleSettings(prompt="ink drawing of {prompt}")}
    return RequestBuilder(ModelCatalog(profiles, "sd"), SETTINGS, InputImageSettings(), styles)
