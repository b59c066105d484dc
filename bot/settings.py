"""Server, channel and member defaults: validated, kept in memory, saved.

:meth:`SettingsService.for_job` runs before an interaction is acknowledged
(``JobActions._precheck`` parses the prompt under the defaults, so a channel's steps cap or a
default style's refusal is answered privately, with no placeholder), so it must do no I/O.
Every row is therefore read once at start-up (:meth:`SettingsService.load`) and kept in
memory; each change is written to SQLite first, then to memory (write-through), under one lock
so two changes never interleave. Only this process writes these tables.

Every value is checked when it is set, with the choices in the refusal, so a saved default
never fails later for a reason its author could have been told.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from bot.job_defaults import JobSettings, MemberPreferences, PlaceDefaults, settle
from bot.permissions import guild_of, require_moderator
from bot.server_styles import check_negative
from pipeline.errors import ParameterError, UserError
from pipeline.parameters import split_parameters

if TYPE_CHECKING:
    from bot.moderation.image_safety import NsfwChannelMode
    from bot.permissions import Actor
    from bot.server_styles import AuditRecorder, ServerStyles
    from bot.store.settings import SettingsStore
    from pipeline.request_builder import RequestBuilder

PlaceSetting = Literal[
    "model", "style", "max_steps", "max_megapixels", "negative", "image_prompts", "unsafe_images"
]
PreferenceSetting = Literal["aspect", "style", "model", "no"]
_PLACE_FIELDS: dict[str, str] = {"max_megapixels": "max_pixels", "negative": "enforced_negative"}
_PREFERENCE_FIELDS: dict[str, str] = {"no": "avoid"}
R = TypeVar("R", PlaceDefaults, MemberPreferences)


@dataclass(frozen=True)
class PlaceChanges:
    """What one ``/settings server`` or ``/settings channel`` sets; None leaves a value as is."""

    model: str | None = None
    style: str | None = None
    max_steps: int | None = None
    max_megapixels: float | None = None
    negative: str | None = None
    image_prompts: bool | None = None
    unsafe_images: NsfwChannelMode | None = None


@dataclass(frozen=True)
class Layers:
    """The layers in force where a member acts (for ``/settings show``) and what they give."""

    server: PlaceDefaults | None
    channel: PlaceDefaults | None
    member: MemberPreferences | None
    settled: JobSettings


class SettingsService:
    """Every server's, channel's and member's defaults, read from memory and written through."""

    def __init__(
        self,
        store: SettingsStore,
        styles: ServerStyles,
        requests: RequestBuilder,
        record: AuditRecorder,
    ) -> None:
        self.styles = styles
        self._store = store
        self._requests = requests
        self._record = record
        self._lock = asyncio.Lock()
        self._places: dict[tuple[int, int | None], PlaceDefaults] = {}
        self._members: dict[tuple[int, int], MemberPreferences] = {}

    @classmethod
    async def load(
        cls,
        store: SettingsStore,
        styles: ServerStyles,
        requests: RequestBuilder,
        record: AuditRecorder,
    ) -> SettingsService:
        """Read every saved default into memory (once, at start-up)."""
        service = cls(store, styles, requests, record)
        service._places = {(p.guild_id, p.channel_id): p for p in await store.places()}
        service._members = {(m.guild_id, m.user_id): m for m in await store.preferences()}
        return service

    # Reading (memory only) --------------------------------------------------------------------

    def for_job(self, guild_id: int | None, channel_id: int | None, user_id: int) -> JobSettings:
        """Return what a job of this member in this channel runs under (no I/O)."""
        return self.layers(guild_id, channel_id, user_id).settled

    def layers(self, guild_id: int | None, channel_id: int | None, user_id: int) -> Layers:
        """Return each layer in force here and their merge."""
        if guild_id is None:
            return Layers(None, None, None, JobSettings())
        server = self._places.get((guild_id, None))
        channel = self._places.get((guild_id, channel_id)) if channel_id is not None else None
        member = self._members.get((guild_id, user_id))
        settled = settle(server, channel, member, self.styles.presets(guild_id))
        return Layers(server, channel, member, settled)

    # Moderators: server and channel ----------------------------------------------------------

    async def change_place(
        self,
        actor: Actor,
        channel_id: int | None,
        changes: PlaceChanges,
        *,
        nsfw_channel: bool = False,
    ) -> PlaceDefaults:
        """Check and save a moderator's choices for the server (channel None) or a channel."""
        require_moderator(actor)
        guild_id = guild_of(actor)
        values = self._checked_place(guild_id, changes)
        shows_unsafe = changes.unsafe_images in ("spoiler", "as_is")
        if shows_unsafe and channel_id is not None and not nsfw_channel:
            raise UserError(
                "This channel is not age-restricted, so unsafe images are always withheld here; "
                "mark it age-restricted in Discord first."
            )
        if not values:
            raise UserError("Give at least one setting to change (see /settings show).")
        async with self._lock:
            before = self._places.get((guild_id, channel_id), PlaceDefaults(guild_id, channel_id))
            after = dataclasses.replace(before, **values)
            await self._save_place(actor, after, _described(values))
        return after

    async def reset_place(
        self, actor: Actor, channel_id: int | None, setting: PlaceSetting | None
    ) -> PlaceDefaults:
        """Forget one of a server's or channel's choices (None: all of them)."""
        require_moderator(actor)
        guild_id = guild_of(actor)
        async with self._lock:
            before = self._places.get((guild_id, channel_id), PlaceDefaults(guild_id, channel_id))
            empty = PlaceDefaults(guild_id, channel_id)
            field = _PLACE_FIELDS.get(setting or "", setting)
            after = empty if field is None else _replace_field(before, empty, field)
            await self._save_place(actor, after, f"reset {setting or 'all'}")
        return after

    # Members ----------------------------------------------------------------------------------

    async def prefer(
        self,
        actor: Actor,
        *,
        aspect: str | None = None,
        style: str | None = None,
        model: str | None = None,
        avoid: str | None = None,
    ) -> MemberPreferences:
        """Check and save a member's own defaults in this server."""
        guild_id = guild_of(actor)
        values: dict[str, Any] = {}
        if aspect is not None:
            values["aspect"] = self._checked_aspect(aspect)
        if style is not None:
            values["style"] = self.styles.known(guild_id, style)
        if model is not None:
            values["model"] = self._requests.catalog.profile(model).name
        if avoid is not None:
            values["avoid"] = self._checked_avoid(avoid)
        if not values:
            raise UserError("Give at least one preference: aspect, style, model or no.")
        async with self._lock:
            key = (guild_id, actor.user_id)
            before = self._members.get(key, MemberPreferences(guild_id, actor.user_id))
            after = dataclasses.replace(before, **values)
            await self._save_member(after)
        return after

    async def reset_preferences(
        self, actor: Actor, setting: PreferenceSetting | None
    ) -> MemberPreferences:
        """Forget one of the member's preferences here (None: all of them)."""
        guild_id = guild_of(actor)
        async with self._lock:
            key = (guild_id, actor.user_id)
            before = self._members.get(key, MemberPreferences(guild_id, actor.user_id))
            empty = MemberPreferences(guild_id, actor.user_id)
            field = _PREFERENCE_FIELDS.get(setting or "", setting)
            after = empty if field is None else _replace_field(before, empty, field)
            await self._save_member(after)
        return after

    # Internals --------------------------------------------------------------------------------

    def _checked_place(self, guild_id: int, changes: PlaceChanges) -> dict[str, Any]:
        """Return the fields a moderator's changes set, each checked."""
        limits = self._requests.settings
        values: dict[str, Any] = {}
        if changes.model is not None:
            values["model"] = self._requests.catalog.profile(changes.model).name
        if changes.style is not None:
            values["style"] = self.styles.known(guild_id, changes.style)
        if changes.max_steps is not None:
            if changes.max_steps > limits.max_steps:
                raise UserError(
                    f"Easel allows at most {limits.max_steps} steps; a cap can only be lower."
                )
            values["max_steps"] = changes.max_steps
        if changes.max_megapixels is not None:
            pixels = round(changes.max_megapixels * 1_000_000)
            if pixels > limits.max_pixels:
                raise UserError(
                    f"Easel allows at most {limits.max_pixels / 1e6:.2f} megapixels; a cap can "
                    "only be lower."
                )
            values["max_pixels"] = pixels
        if changes.negative is not None:
            values["enforced_negative"] = check_negative(
                changes.negative, "negative prompt", limits.max_prompt_chars
            )
        if changes.image_prompts is not None:
            values["image_prompts"] = changes.image_prompts
        if changes.unsafe_images is not None:
            values["unsafe_images"] = changes.unsafe_images
        return values

    def _checked_aspect(self, aspect: str) -> str:
        """Return an aspect ratio checked as ``--ar`` would be (by parsing a test prompt)."""
        value = _lone_parameter("ar", aspect)
        self._requests.parse(f"a test --ar {value}", seed=0)
        return value

    def _checked_avoid(self, avoid: str) -> str:
        """Return a --no list checked as the prompt's ``--no`` would be."""
        value = _lone_parameter("no", avoid)
        if not any(term.strip() for term in value.split(",")):
            raise UserError("--no needs at least one thing to avoid, like: people, text.")
        return check_negative(value, "--no list", self._requests.settings.max_prompt_chars)

    async def _save_place(self, actor: Actor, place: PlaceDefaults, change: str) -> None:
        """Write a server's or channel's choices through to the database, then memory."""
        await self._store.save_place(place, by=actor.user_id)
        key = (place.guild_id, place.channel_id)
        if place.is_empty():
            self._places.pop(key, None)
        else:
            self._places[key] = place
        where = "server" if place.channel_id is None else f"channel {place.channel_id}"
        await self._record(actor, "settings", where, change)

    async def _save_member(self, preferences: MemberPreferences) -> None:
        """Write a member's preferences through to the database, then memory."""
        await self._store.save_preferences(preferences)
        key = (preferences.guild_id, preferences.user_id)
        if preferences.is_empty():
            self._members.pop(key, None)
        else:
            self._members[key] = preferences


def _replace_field(record: R, empty: R, field: str) -> R:
    """Return ``record`` with one field as it is in ``empty`` (chosen no more)."""
    return dataclasses.replace(record, **{field: getattr(empty, field)})


def _described(values: dict[str, object]) -> str:
    """Describe a change for the audit log."""
    return "; ".join(f"{name} = {value}" for name, value in values.items())[:900]


def _lone_parameter(name: str, value: str) -> str:
    """Return the value of ``--name value`` if it holds no other parameter, else refuse it."""
    try:
        parsed = split_parameters(f"a test --{name} {value}")
    except ParameterError:
        parsed = None
    if parsed is None or set(parsed.values) != {name} or parsed.loras:
        raise UserError(f"Give only the --{name} value, with no other --parameters in it.")
    return parsed.values[name]
