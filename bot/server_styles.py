"""Servers' own style presets, beside config.yaml's: checked, kept in memory, saved.

Like :mod:`bot.settings`, every style is read once at start-up and written through (SQLite
first, then memory), so the presets a job is parsed with are read without I/O before the
interaction is acknowledged. A server's style may not take the name of a config style or
``raw`` (which means no style), in any case: ``--style NAME`` must mean one thing.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import TYPE_CHECKING, Protocol

from pydantic import ValidationError

from bot.job_defaults import ServerStyle
from bot.model_roster import AUTOCOMPLETE_LIMIT
from bot.permissions import guild_of, require_moderator
from pipeline.errors import UserError
from pipeline.prompt_syntax import parse_weighted_prompt

if TYPE_CHECKING:
    from collections.abc import Mapping

    from bot.permissions import Actor
    from bot.store.settings import SettingsStore
    from pipeline.config import StyleSettings
    from pipeline.request_builder import RequestBuilder

STYLE_NAME = re.compile(r"^[A-Za-z0-9][\w.-]{0,31}$")  # as config.yaml's style names
MAX_STYLES = 50  # per server: /style list and autocomplete stay readable
NO_STYLE = "raw"


class AuditRecorder(Protocol):
    """Record what a moderator changed (``ModerationGate.record``)."""

    async def __call__(
        self, actor: Actor, action: str, subject: str = "", detail: str = ""
    ) -> None:
        """Add an audit entry."""


class ServerStyles:
    """Every server's own styles, read from memory and written through."""

    def __init__(
        self, store: SettingsStore, requests: RequestBuilder, record: AuditRecorder
    ) -> None:
        self._store = store
        self._requests = requests
        self._record = record
        self._lock = asyncio.Lock()
        self._styles: dict[int, dict[str, ServerStyle]] = {}  # guild → folded name → style
        self._presets: dict[int, dict[str, StyleSettings]] = {}

    @classmethod
    async def load(
        cls, store: SettingsStore, requests: RequestBuilder, record: AuditRecorder
    ) -> ServerStyles:
        """Read every server's styles into memory (once, at start-up)."""
        styles = cls(store, requests, record)
        for style in await store.styles():
            styles._styles.setdefault(style.guild_id, {})[style.name.casefold()] = style
        for guild_id in styles._styles:
            styles._rebuild_presets(guild_id)
        return styles

    # Reading (memory only)

    def of(self, guild_id: int | None) -> list[ServerStyle]:
        """Return a server's own styles, oldest first."""
        return list(self._styles.get(guild_id, {}).values()) if guild_id is not None else []

    def presets(self, guild_id: int | None) -> Mapping[str, StyleSettings]:
        """Return a server's styles as the request builder applies them."""
        return self._presets.get(guild_id, {}) if guild_id is not None else {}

    def config_names(self) -> list[str]:
        """Return the names of the styles every server has (config.yaml's)."""
        return list(self._requests.styles)

    def names(self, guild_id: int | None) -> list[str]:
        """Return every style name ``--style`` takes here: the config's, the server's, raw."""
        return [*self.config_names(), *(s.name for s in self.of(guild_id)), NO_STYLE]

    def matching(self, guild_id: int | None, typed: str) -> list[str]:
        """Return the style names here containing what was typed (for autocomplete)."""
        needle = typed.casefold().strip()
        return [n for n in self.names(guild_id) if needle in n.casefold()][:AUTOCOMPLETE_LIMIT]

    def known(self, guild_id: int, name: str) -> str:
        """Return a style's name as defined here, or refuse it with the choices."""
        wanted = name.strip().casefold()
        names = self.names(guild_id)
        for known in names:
            if known.casefold() == wanted:
                return known
        raise UserError(f"There is no style called {name!r:.40} here. Styles: {', '.join(names)}.")

    # Moderators' changes

    async def add(
        self, actor: Actor, name: str, prompt: str, negative: str = "", model: str | None = None
    ) -> tuple[ServerStyle, bool]:
        """Check and save a server style; return it and whether it replaced one of that name."""
        require_moderator(actor)
        guild_id = guild_of(actor)
        name = self._free_name(name)
        if model is not None:
            model = self._requests.catalog.profile(model).name
        negative = check_negative(negative, "style's negative prompt", self._prompt_limit)
        style = ServerStyle(guild_id, name, prompt, negative, model, actor.user_id, time.time())
        try:
            style.preset()  # the template is checked exactly as config.yaml's styles are
        except ValidationError as error:
            reason = error.errors()[0]["msg"].removeprefix("Value error, ")
            raise UserError(f"The style's template {reason}.") from None
        async with self._lock:
            own = self._styles.setdefault(guild_id, {})
            replaced = name.casefold() in own
            if not replaced and len(own) >= MAX_STYLES:
                raise UserError(f"A server may have {MAX_STYLES} styles; remove one first.")
            await self._store.save_style(style)
            own[name.casefold()] = style
            self._rebuild_presets(guild_id)
        await self._record(actor, "style_add", name, f"{prompt} | {negative} | {model or ''}")
        return style, replaced

    async def remove(self, actor: Actor, name: str) -> ServerStyle:
        """Delete one of the server's styles."""
        require_moderator(actor)
        guild_id = guild_of(actor)
        async with self._lock:
            own = self._styles.get(guild_id, {})
            style = own.get(name.strip().casefold())
            if style is None:
                raise UserError(f"This server has no style called {name!r:.40}; see /style list.")
            await self._store.remove_style(guild_id, style.name)
            del own[style.name.casefold()]
            self._rebuild_presets(guild_id)
        await self._record(actor, "style_remove", style.name)
        return style

    # Internals

    @property
    def _prompt_limit(self) -> int:
        """Return how long a prompt (or negative prompt) may be."""
        return self._requests.settings.max_prompt_chars

    def _free_name(self, name: str) -> str:
        """Return a new style's name, refusing bad names and those every server has."""
        name = name.strip()
        if not STYLE_NAME.match(name):
            raise UserError("A style name is 1-32 letters, digits, '.', '_' or '-'.")
        taken = [*self.config_names(), NO_STYLE]
        if name.casefold() in {t.casefold() for t in taken}:
            raise UserError(
                f"{name} is taken: every server has the styles {', '.join(taken)} "
                f"('{NO_STYLE}' means no style). Choose another name."
            )
        return name

    def _rebuild_presets(self, guild_id: int) -> None:
        """Rebuild the presets the request builder applies for a server's styles."""
        own = self._styles.get(guild_id, {}).values()
        self._presets[guild_id] = {style.name: style.preset() for style in own}


def check_negative(text: str, what: str, limit: int) -> str:
    """Return a negative prompt after checking its length and weighting, as a prompt's are."""
    text = text.strip()
    if len(text) > limit:
        raise UserError(f"The {what} is {len(text)} characters long; the limit is {limit}.")
    parse_weighted_prompt(text)
    return text
