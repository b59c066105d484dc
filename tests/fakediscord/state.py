"""Everything the emulator knows: guilds, users, messages, attachments, commands, interactions."""

from __future__ import annotations

import mimetypes
import struct
from dataclasses import dataclass, field
from io import BytesIO
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .clock import Clock, SnowflakeFactory
from .models import (
    DEFAULT_EVERYONE_PERMISSIONS,
    ApiErrorRecord,
    AttachmentRecord,
    ChannelRecord,
    CommandRecord,
    GuildRecord,
    MemberRecord,
    MessageKind,
    MessageRecord,
    MessageVersion,
    RequestRecord,
    RoleRecord,
    UserRecord,
)
from .payloads import message_payload, user_payload
from .waiting import Notifier

if TYPE_CHECKING:
    from .interactions import InteractionRecord

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass
class UnknownRoute:
    """A request to a route the emulator does not implement; the test should fail on it."""

    method: str
    path: str
    query: dict[str, str]
    body: bytes = field(repr=False, default=b"")

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


class EmulatorState:
    """Hold every record and mint ids; every change wakes the test's waiters."""

    def __init__(self, clock: Clock, *, token: str) -> None:
        self.clock = clock
        self.ids = SnowflakeFactory(clock)
        self.notifier = Notifier()
        self.token = token
        self.base_url = ""
        # Modern applications share their id with their bot user.
        self.application_id = self.ids.next()
        self.bot_user = UserRecord(self.application_id, "Emulated Bot", bot=True)
        self.owner = UserRecord(self.ids.next(), "app-owner")
        self.users: dict[int, UserRecord] = {u.id: u for u in (self.bot_user, self.owner)}
        self.guilds: dict[int, GuildRecord] = {}
        self.channels: dict[int, ChannelRecord] = {}
        self.messages: dict[int, MessageRecord] = {}
        self.attachments: dict[int, AttachmentRecord] = {}
        self.interactions: dict[int, InteractionRecord] = {}
        self.commands: dict[int | None, list[CommandRecord]] = {None: []}
        self.errors: list[ApiErrorRecord] = []
        self.requests: list[RequestRecord] = []
        self.unknown_routes: list[UnknownRoute] = []

    def changed(self) -> None:
        """Wake waiters after a change."""
        self.notifier.notify()

    # Guild structure.

    def create_user(self, username: str, *, bot: bool = False) -> UserRecord:
        """Create a user who can join guilds and invoke commands."""
        user = UserRecord(self.ids.next(), username, bot=bot, global_name=username.title())
        self.users[user.id] = user
        return user

    def create_guild(self, name: str, *, bot_permissions: int) -> GuildRecord:
        """Create a guild the bot is in, with @everyone and the bot's managed role."""
        guild = GuildRecord(self.ids.next(), name, owner_id=self.owner.id)
        guild.roles[guild.id] = RoleRecord(guild.id, "@everyone", DEFAULT_EVERYONE_PERMISSIONS)
        bot_role = self.create_role(guild, self.bot_user.username, bot_permissions)
        bot_role.managed = True
        self.guilds[guild.id] = guild
        self.add_member(guild, self.owner)
        self.add_member(guild, self.bot_user, roles=[bot_role.id])
        return guild

    def create_role(self, guild: GuildRecord, name: str, permissions: int) -> RoleRecord:
        """Create a role carrying the given permission bits."""
        role = RoleRecord(self.ids.next(), name, permissions, position=len(guild.roles))
        guild.roles[role.id] = role
        return role

    def create_channel(self, guild: GuildRecord, name: str, *, nsfw: bool = False) -> ChannelRecord:
        """Create a text channel; `nsfw=True` makes it age-restricted."""
        channel = ChannelRecord(
            self.ids.next(), guild.id, name, nsfw=nsfw, position=len(guild.channels)
        )
        guild.channels[channel.id] = channel
        self.channels[channel.id] = channel
        return channel

    def add_member(
        self, guild: GuildRecord, user: UserRecord, *, roles: list[int] | None = None
    ) -> MemberRecord:
        """Add a user to a guild with the given roles."""
        member = MemberRecord(user, guild.id, list(roles or []), joined_at=self.clock.wall())
        guild.members[user.id] = member
        return member

    def guild_of(self, channel: ChannelRecord) -> GuildRecord:
        """Return the guild a channel belongs to."""
        return self.guilds[channel.guild_id]

    def bot_member(self, guild: GuildRecord) -> MemberRecord:
        """Return the bot's own membership."""
        return guild.members[self.bot_user.id]

    # Attachments and messages.

    def store_attachment(
        self,
        channel_id: int,
        filename: str,
        data: bytes,
        *,
        content_type: str | None = None,
        description: str | None = None,
        title: str | None = None,
        ephemeral: bool = False,
    ) -> AttachmentRecord:
        """Put bytes on the fake CDN, guessing the type and size of images as Discord does."""
        if not self.base_url:
            raise RuntimeError("start the emulator before storing attachments")
        if content_type in (None, "application/octet-stream"):
            content_type = mimetypes.guess_type(filename)[0] or content_type
        attachment_id = self.ids.next()
        path = f"attachments/{channel_id}/{attachment_id}/{quote(filename)}"
        width, height = (
            _image_size(data) if (content_type or "").startswith("image/") else (None, None)
        )
        attachment = AttachmentRecord(
            id=attachment_id,
            channel_id=channel_id,
            filename=filename,
            data=data,
            url=f"{self.base_url}/cdn/{path}",
            proxy_url=f"{self.base_url}/media/{path}",
            content_type=content_type,
            width=width,
            height=height,
            description=description,
            title=title,
            ephemeral=ephemeral,
        )
        self.attachments[attachment_id] = attachment
        return attachment

    def add_message(
        self,
        channel: ChannelRecord,
        author: UserRecord,
        version: MessageVersion,
        *,
        kind: MessageKind,
        message_type: int,
        interaction_id: int | None = None,
        message_reference: dict[str, Any] | None = None,
        nonce: int | str | None = None,
    ) -> MessageRecord:
        """Record a new message."""
        message = MessageRecord(
            id=self.ids.next(),
            channel_id=channel.id,
            guild_id=channel.guild_id,
            author=author,
            kind=kind,
            type=message_type,
            versions=[version],
            interaction_id=interaction_id,
            webhook_id=self.application_id if interaction_id is not None else None,
            message_reference=message_reference,
            nonce=nonce,
        )
        self.messages[message.id] = message
        self.changed()
        return message

    def add_version(self, message: MessageRecord, version: MessageVersion) -> None:
        """Record an edit of a message."""
        message.versions.append(version)
        self.changed()

    def delete_message(self, message: MessageRecord) -> None:
        """Mark a message deleted; it stays in the record."""
        message.deleted_at = self.clock.now()
        self.changed()

    def live_message(self, message_id: int) -> MessageRecord | None:
        """Return a message that exists and is not deleted."""
        message = self.messages.get(message_id)
        return None if message is None or message.deleted else message

    def message_json(self, message: MessageRecord, *, nonce: bool = False) -> dict[str, Any]:
        """Serialise a message with its reply, mentions and interaction metadata.

        With `nonce`, add the nonce it was created with: Discord sends it back only in the
        create answer and MESSAGE_CREATE, not when a message is fetched.
        """
        referenced = None
        if message.message_reference is not None:
            referenced = self.messages.get(int(message.message_reference["message_id"]))
        payload = message_payload(
            message,
            referenced=referenced,
            interaction_metadata=self._interaction_metadata(message),
            application_id=self.application_id if message.webhook_id else None,
        )
        payload["mentions"] = [
            user_payload(self.users[user_id])
            for user_id in message.current.mention_ids
            if user_id in self.users
        ]
        if nonce and message.nonce is not None:
            payload["nonce"] = message.nonce
        return payload

    def _interaction_metadata(self, message: MessageRecord) -> dict[str, Any] | None:
        interaction = self.interactions.get(message.interaction_id or 0)
        if interaction is None:
            return None
        metadata: dict[str, Any] = {
            "id": str(interaction.id),
            "type": interaction.type,
            "user": user_payload(interaction.user),
            "authorizing_integration_owners": {"0": str(interaction.channel.guild_id)},
        }
        if interaction.kind == "slash":
            metadata["name"] = interaction.payload["data"]["name"]
            metadata["command_type"] = 1
        if interaction.source_message is not None:
            metadata["interacted_message_id"] = str(interaction.source_message.id)
        if interaction.original is not None and message is not interaction.original:
            metadata["original_response_message_id"] = str(interaction.original.id)
        return metadata

    # Commands.

    def commands_for(self, guild_id: int | None) -> list[CommandRecord]:
        """Return the commands registered globally (None) or in one guild."""
        return self.commands.setdefault(guild_id, [])

    def overwrite_commands(
        self, guild_id: int | None, payloads: list[dict[str, Any]]
    ) -> list[CommandRecord]:
        """Replace a scope's commands, keeping ids of commands that stay, as Discord does."""
        previous = {(c.name, c.type): c for c in self.commands_for(guild_id)}
        records = []
        for payload in payloads:
            kind = int(payload.get("type", 1))
            old = previous.get((payload["name"], kind))
            records.append(
                CommandRecord(
                    id=old.id if old else self.ids.next(),
                    application_id=self.application_id,
                    guild_id=guild_id,
                    name=payload["name"],
                    type=kind,
                    payload=payload,
                    version=self.ids.next(),
                )
            )
        self.commands[guild_id] = records
        self.changed()
        return records


def _image_size(data: bytes) -> tuple[int | None, int | None]:
    """Read an image's size; PNG headers directly, other formats through Pillow."""
    if data.startswith(PNG_SIGNATURE) and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    try:
        # Imported here: Pillow is slow to import and only non-PNG images need it.
        from PIL import Image  # noqa: PLC0415

        with Image.open(BytesIO(data)) as image:
            return image.size
    except Exception:  # a file that is not an image has no size, as on Discord
        return None, None
