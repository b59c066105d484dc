"""The records the emulator keeps: users, guilds, channels, messages and their versions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from collections.abc import Iterator
    from datetime import datetime

# Permission bits the emulator reasons about (Discord's values).
ADMINISTRATOR = 1 << 3
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
USE_EXTERNAL_EMOJIS = 1 << 18
USE_APPLICATION_COMMANDS = 1 << 31
ALL_PERMISSIONS = (1 << 53) - 1

# What @everyone may do in a fresh guild (the subset that matters to a bot).
DEFAULT_EVERYONE_PERMISSIONS = (
    VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | USE_EXTERNAL_EMOJIS
    | USE_APPLICATION_COMMANDS
)

# Message flags.
EPHEMERAL = 1 << 6
LOADING = 1 << 7
SUPPRESS_EMBEDS = 1 << 2
IS_COMPONENTS_V2 = 1 << 15

# Channel and message types used here.
GUILD_TEXT = 0
MESSAGE_DEFAULT = 0
MESSAGE_REPLY = 19
MESSAGE_CHAT_INPUT_COMMAND = 20

# Discord's default upload limit for a guild without boosts and for interactions.
DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024

MessageKind = Literal["channel", "response", "followup", "seeded"]


@dataclass
class UserRecord:
    """A Discord user: a person who invokes commands, or the bot itself."""

    id: int
    username: str
    bot: bool = False
    global_name: str | None = None

    @property
    def mention(self) -> str:
        """Return the mention markup for this user."""
        return f"<@{self.id}>"


@dataclass
class RoleRecord:
    """A guild role; a member's permissions are the union of their roles'."""

    id: int
    name: str
    permissions: int
    position: int = 0
    managed: bool = False


@dataclass
class ChannelRecord:
    """A guild text channel; `nsfw` marks it age-restricted."""

    id: int
    guild_id: int
    name: str
    nsfw: bool = False
    position: int = 0
    type: int = GUILD_TEXT
    topic: str | None = None


@dataclass
class MemberRecord:
    """A user's membership in a guild."""

    user: UserRecord
    guild_id: int
    roles: list[int]
    joined_at: datetime
    nick: str | None = None


@dataclass
class GuildRecord:
    """A guild with its channels, roles and members."""

    id: int
    name: str
    owner_id: int
    channels: dict[int, ChannelRecord] = field(default_factory=dict)
    roles: dict[int, RoleRecord] = field(default_factory=dict)
    members: dict[int, MemberRecord] = field(default_factory=dict)
    locale: str = "en-US"
    upload_limit: int = DEFAULT_UPLOAD_LIMIT

    def permissions_of(self, member: MemberRecord) -> int:
        """Compute a member's guild permissions the way Discord does (owner and admin = all)."""
        if member.user.id == self.owner_id:
            return ALL_PERMISSIONS
        value = self.roles[self.id].permissions  # @everyone shares the guild's id
        for role_id in member.roles:
            value |= self.roles[role_id].permissions
        return ALL_PERMISSIONS if value & ADMINISTRATOR else value


@dataclass
class AttachmentRecord:
    """A file stored on the fake CDN, with its bytes."""

    id: int
    channel_id: int
    filename: str
    data: bytes
    url: str
    proxy_url: str
    content_type: str | None = None
    width: int | None = None
    height: int | None = None
    description: str | None = None
    title: str | None = None
    ephemeral: bool = False

    @property
    def size(self) -> int:
        """Return the size in bytes, as Discord reports it."""
        return len(self.data)


@dataclass
class MessageVersion:
    """One state of a message: what it showed after its creation or an edit."""

    content: str
    embeds: list[dict[str, Any]]
    components: list[dict[str, Any]]
    attachments: list[AttachmentRecord]
    flags: int
    at: float
    timestamp: datetime
    allowed_mentions: dict[str, Any] | None = None
    mention_ids: list[int] = field(default_factory=list)
    tts: bool = False


def walk_components(components: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Yield every component, nested ones included (rows, sections, containers)."""
    for component in components:
        yield component
        yield from walk_components(component.get("components", []))
        accessory = component.get("accessory")
        if isinstance(accessory, dict):
            yield accessory


@dataclass(eq=False)  # a message is itself: compare by identity, not by content
class MessageRecord:
    """A message and the full history of its versions."""

    id: int
    channel_id: int
    guild_id: int | None
    author: UserRecord
    kind: MessageKind
    type: int
    versions: list[MessageVersion]
    interaction_id: int | None = None
    webhook_id: int | None = None
    message_reference: dict[str, Any] | None = None
    deleted_at: float | None = None
    nonce: int | str | None = None  # as sent on creation; Discord de-duplicates on it

    @property
    def current(self) -> MessageVersion:
        """Return the latest version."""
        return self.versions[-1]

    @property
    def content(self) -> str:
        """Return the current content."""
        return self.current.content

    @property
    def embeds(self) -> list[dict[str, Any]]:
        """Return the current embeds."""
        return self.current.embeds

    @property
    def components(self) -> list[dict[str, Any]]:
        """Return the current top-level components."""
        return self.current.components

    @property
    def attachments(self) -> list[AttachmentRecord]:
        """Return the current attachments, bytes included."""
        return self.current.attachments

    @property
    def flags(self) -> int:
        """Return the current message flags."""
        return self.current.flags

    @property
    def ephemeral(self) -> bool:
        """Return whether only the invoking user can see the message."""
        return bool(self.flags & EPHEMERAL)

    @property
    def loading(self) -> bool:
        """Return whether this is still a deferred "is thinking..." placeholder."""
        return bool(self.flags & LOADING)

    @property
    def deleted(self) -> bool:
        """Return whether the message was deleted."""
        return self.deleted_at is not None

    @property
    def edit_count(self) -> int:
        """Return how many times the message was edited."""
        return len(self.versions) - 1

    def buttons(self) -> list[dict[str, Any]]:
        """Return every button in the current components."""
        return [c for c in walk_components(self.components) if c.get("type") == 2]

    def custom_ids(self) -> list[str]:
        """Return every custom_id in the current components, in order."""
        return [c["custom_id"] for c in walk_components(self.components) if "custom_id" in c]

    def component(self, custom_id: str) -> dict[str, Any] | None:
        """Return the current component with that custom_id, if any."""
        for candidate in walk_components(self.components):
            if candidate.get("custom_id") == custom_id:
                return candidate
        return None


@dataclass
class CommandRecord:
    """An application command as registered by the bot (global when guild_id is None)."""

    id: int
    application_id: int
    guild_id: int | None
    name: str
    type: int
    payload: dict[str, Any]
    version: int

    @property
    def options(self) -> list[dict[str, Any]]:
        """Return the registered option schema."""
        options: list[dict[str, Any]] = self.payload.get("options") or []
        return options


@dataclass
class ApiErrorRecord:
    """An error the emulator answered with, as discord.py received it."""

    method: str
    path: str
    status: int
    code: int
    message: str
    errors: dict[str, Any] | None
    at: float
    interaction_id: int | None = None


@dataclass
class RequestRecord:
    """One HTTP request the emulator answered."""

    method: str
    path: str
    query: dict[str, str]
    status: int
    at: float


@dataclass
class Upload:
    """A file a test's user attaches to a slash command option."""

    filename: str
    data: bytes
    content_type: str | None = None
    description: str | None = None
