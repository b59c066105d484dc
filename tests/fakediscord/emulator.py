"""The emulator as a test sees it: build a guild, act as its users, read what the bot did."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord

from .invoke import Invoker
from .models import (
    ATTACH_FILES,
    DEFAULT_EVERYONE_PERMISSIONS,
    DEFAULT_UPLOAD_LIMIT,
    EMBED_LINKS,
    MESSAGE_DEFAULT,
    ApiErrorRecord,
    AttachmentRecord,
    ChannelRecord,
    CommandRecord,
    GuildRecord,
    MemberRecord,
    MessageRecord,
    MessageVersion,
    RoleRecord,
    Upload,
    UserRecord,
)
from .payloads import channel_payload, guild_payload, role_payload
from .server import EmulatorServer

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from .clock import Clock
    from .interactions import InteractionRecord
    from .state import UnknownRoute

PermissionsLike = int | discord.Permissions

DEFAULT_BOT_PERMISSIONS = DEFAULT_EVERYONE_PERMISSIONS | EMBED_LINKS | ATTACH_FILES


def _bits(permissions: PermissionsLike) -> int:
    return permissions.value if isinstance(permissions, discord.Permissions) else permissions


class DiscordEmulator(EmulatorServer):
    """Discord for a test: one guild to start with, users to act as, and a record of everything.

    A fresh emulator has one guild (`guild`) with a text channel (`channel`), an age-restricted
    channel (`nsfw_channel`) and a member without special permissions (`member`).
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        token: str = "emulator-bot-token",
        heartbeat_interval_ms: int = 41_250,
        bot_permissions: PermissionsLike = DEFAULT_BOT_PERMISSIONS,
    ) -> None:
        super().__init__(clock=clock, token=token, heartbeat_interval_ms=heartbeat_interval_ms)
        self.invoker = Invoker(self.state)
        self.guild = self.state.create_guild(
            "Emulated Guild", bot_permissions=_bits(bot_permissions)
        )
        self.channel = self.state.create_channel(self.guild, "general")
        self.nsfw_channel = self.state.create_channel(self.guild, "nsfw-art", nsfw=True)
        self.member = self.create_member("alice")

    # Building the world.

    def create_guild(self, name: str) -> GuildRecord:
        """Create another guild with the bot in it (GUILD_CREATE is sent if it is connected)."""
        guild = self.state.create_guild(name, bot_permissions=DEFAULT_BOT_PERMISSIONS)
        if self.gateway.current is not None:
            self.gateway.dispatch("GUILD_CREATE", guild_payload(guild, joined=True))
        return guild

    def create_channel(
        self, name: str, *, nsfw: bool = False, guild: GuildRecord | None = None
    ) -> ChannelRecord:
        """Create a text channel (send the bot no event: create channels before it connects)."""
        return self.state.create_channel(guild or self.guild, name, nsfw=nsfw)

    def delete_channel(self, channel: ChannelRecord) -> None:
        """Delete a channel, as a server admin would: later calls to it get 10003."""
        guild = self.state.guild_of(channel)
        del self.state.channels[channel.id]
        guild.channels.pop(channel.id, None)
        if self.gateway.current is not None:
            payload = channel_payload(channel) | {"guild_id": str(guild.id)}
            self.gateway.dispatch("CHANNEL_DELETE", payload)

    def create_role(
        self, name: str, permissions: PermissionsLike, *, guild: GuildRecord | None = None
    ) -> RoleRecord:
        """Create a role with the given permissions (GUILD_ROLE_CREATE if the bot is connected)."""
        guild = guild or self.guild
        role = self.state.create_role(guild, name, _bits(permissions))
        self._announce_role(guild, role)
        return role

    def create_user(self, name: str, *, bot: bool = False) -> UserRecord:
        """Create a user who is in no guild."""
        return self.state.create_user(name, bot=bot)

    def create_member(
        self,
        name: str,
        *,
        permissions: PermissionsLike = 0,
        roles: Sequence[RoleRecord] = (),
        guild: GuildRecord | None = None,
    ) -> MemberRecord:
        """Create a user in a guild; `permissions` come from a role made for them, as on Discord."""
        guild = guild or self.guild
        role_ids = [role.id for role in roles]
        if _bits(permissions):
            role = self.state.create_role(guild, f"{name}-role", _bits(permissions))
            self._announce_role(guild, role)
            role_ids.append(role.id)
        return self.state.add_member(guild, self.state.create_user(name), roles=role_ids)

    def _announce_role(self, guild: GuildRecord, role: RoleRecord) -> None:
        """Tell a connected bot about a new role, as Discord does under the guilds intent."""
        if self.gateway.current is not None:
            payload = {"guild_id": str(guild.id), "role": role_payload(role)}
            self.gateway.dispatch("GUILD_ROLE_CREATE", payload)

    def set_bot_permissions(
        self, permissions: PermissionsLike, *, guild: GuildRecord | None = None
    ) -> None:
        """Change the permissions of the bot's managed role (GUILD_ROLE_UPDATE if connected)."""
        guild = guild or self.guild
        role = guild.roles[self.state.bot_member(guild).roles[0]]
        role.permissions = _bits(permissions)
        if self.gateway.current is not None:
            update = {"guild_id": str(guild.id), "role": role_payload(role)}
            self.gateway.dispatch("GUILD_ROLE_UPDATE", update)

    def allow_privileged_intents(self, intents: discord.Intents | int) -> None:
        """Enable privileged intents on the application (off by default, as for a new bot)."""
        value = intents.value if isinstance(intents, discord.Intents) else intents
        self.gateway.allowed_privileged_intents = value

    def seed_message(
        self,
        content: str = "",
        *,
        channel: ChannelRecord | None = None,
        author: UserRecord | None = None,
        components: list[dict[str, Any]] | None = None,
        embeds: list[dict[str, Any]] | None = None,
    ) -> MessageRecord:
        """Record a message that already existed, e.g. one the bot posted before a restart."""
        version = MessageVersion(
            content, embeds or [], components or [], [], 0, self.clock.now(), self.clock.wall()
        )
        return self.state.add_message(
            channel or self.channel,
            author or self.bot_user,
            version,
            kind="seeded",
            message_type=MESSAGE_DEFAULT,
        )

    # Acting as users.

    async def invoke_slash(
        self,
        name: str,
        options: dict[str, Any] | None = None,
        *,
        user: MemberRecord | None = None,
        channel: ChannelRecord | None = None,
        attachments: Sequence[Upload] = (),
        attachment_size_limit: int = DEFAULT_UPLOAD_LIMIT,
        locale: str = "en-US",
        ignore_command_permissions: bool = False,
    ) -> InteractionRecord:
        """Invoke a registered slash command ("name" or "group sub") and return its handle.

        `options` maps option names to values: str/int/float/bool, a UserRecord/MemberRecord,
        ChannelRecord or RoleRecord, or an Upload; `attachments` fill attachment options in order.
        """
        record = self.invoker.slash(
            name,
            options or {},
            member=user or self.member,
            channel=channel or self.channel,
            attachments=attachments,
            attachment_size_limit=attachment_size_limit,
            locale=locale,
            ignore_command_permissions=ignore_command_permissions,
        )
        return self._dispatch_interaction(record)

    async def autocomplete(
        self,
        name: str,
        options: dict[str, str],
        focused: str,
        *,
        user: MemberRecord | None = None,
    ) -> InteractionRecord:
        """Type into an autocompleting option of /name ("name" or "group sub"); see the callback."""
        record = self.invoker.autocomplete(
            name, options, focused, member=user or self.member, channel=self.channel
        )
        return self._dispatch_interaction(record)

    async def click(
        self,
        message: MessageRecord,
        custom_id: str,
        *,
        user: MemberRecord | None = None,
        attachment_size_limit: int = DEFAULT_UPLOAD_LIMIT,
        locale: str = "en-US",
    ) -> InteractionRecord:
        """Click a button on a recorded message and return the interaction's handle."""
        record = self.invoker.click(
            message,
            custom_id,
            member=user or self.member,
            values=None,
            attachment_size_limit=attachment_size_limit,
            locale=locale,
        )
        return self._dispatch_interaction(record)

    async def select(
        self,
        message: MessageRecord,
        custom_id: str,
        values: Sequence[str],
        *,
        user: MemberRecord | None = None,
    ) -> InteractionRecord:
        """Choose values in a select menu on a recorded message."""
        record = self.invoker.click(
            message,
            custom_id,
            member=user or self.member,
            values=values,
            attachment_size_limit=DEFAULT_UPLOAD_LIMIT,
            locale="en-US",
        )
        return self._dispatch_interaction(record)

    async def submit_modal(
        self,
        shown_for: InteractionRecord,
        values: dict[str, str | list[str]],
        *,
        user: MemberRecord | None = None,
    ) -> InteractionRecord:
        """Submit the modal the bot showed in answer to `shown_for`, filling text inputs."""
        member = user or self.guild.members[shown_for.user.id]
        record = self.invoker.submit_modal(shown_for, values, member=member)
        return self._dispatch_interaction(record)

    def _dispatch_interaction(self, record: InteractionRecord) -> InteractionRecord:
        self.gateway.dispatch("INTERACTION_CREATE", record.payload)
        self.state.changed()
        return record

    # Records.

    @property
    def messages(self) -> list[MessageRecord]:
        """Return every message ever recorded, deleted ones included, oldest first."""
        return list(self.state.messages.values())

    @property
    def attachments(self) -> list[AttachmentRecord]:
        """Return every file on the fake CDN, oldest first."""
        return list(self.state.attachments.values())

    @property
    def global_commands(self) -> list[CommandRecord]:
        """Return the globally registered application commands."""
        return self.state.commands_for(None)

    def guild_commands(self, guild: GuildRecord | None = None) -> list[CommandRecord]:
        """Return the commands registered in a guild (default: the main guild)."""
        return self.state.commands_for((guild or self.guild).id)

    @property
    def errors(self) -> list[ApiErrorRecord]:
        """Return every Discord error the emulator answered with."""
        return self.state.errors

    @property
    def unknown_routes(self) -> list[UnknownRoute]:
        """Return the requests that hit routes the emulator does not know."""
        return self.state.unknown_routes

    async def wait_for_message(
        self,
        predicate: Callable[[MessageRecord], bool] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 - a default keeps a broken bot from hanging the test
    ) -> MessageRecord:
        """Return the first message (already recorded or yet to come) that matches."""
        check = predicate or (lambda _message: True)
        return await self.state.notifier.wait_for(
            lambda: next((m for m in self.state.messages.values() if check(m)), None),
            timeout=timeout,
            what="a matching message",
        )

    async def wait_for_edit(
        self,
        message: MessageRecord,
        predicate: Callable[[MessageVersion], bool] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 - a default keeps a broken bot from hanging the test
    ) -> MessageVersion:
        """Wait for an edit: the next version, or the first version from now that matches."""
        seen = len(message.versions)

        def probe() -> MessageVersion | None:
            candidates = message.versions if predicate else message.versions[seen:]
            return next((v for v in candidates if predicate is None or predicate(v)), None)

        return await self.state.notifier.wait_for(
            probe, timeout=timeout, what=f"an edit of message {message.id}"
        )

    async def wait_for_error(self, code: int | None = None, timeout: float = 5.0) -> ApiErrorRecord:  # noqa: ASYNC109 - a default keeps a broken bot from hanging the test
        """Wait until the emulator answers any request with that Discord error code."""
        return await self.state.notifier.wait_for(
            lambda: next((e for e in self.errors if code is None or e.code == code), None),
            timeout=timeout,
            what=f"Discord error {code or 'any'}",
        )

    def assert_no_errors(self) -> None:
        """Fail if the bot ever got a Discord error (10062, 50027, 40005, 50035...)."""
        if self.errors:
            listed = "\n".join(
                f"  {e.method} {e.path} -> {e.status} {e.code} {e.message} {e.errors or ''}"
                for e in self.errors
            )
            raise AssertionError(f"the bot hit Discord errors:\n{listed}")

    def assert_no_unknown_routes(self) -> None:
        """Fail if the bot called a route the emulator does not implement."""
        if self.unknown_routes:
            listed = "\n".join(f"  {route}" for route in self.unknown_routes)
            raise AssertionError(f"requests hit routes the emulator does not know:\n{listed}")
