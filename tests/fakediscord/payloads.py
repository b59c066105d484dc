"""Turn records into the JSON objects Discord sends, complete enough for discord.py to parse."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .clock import iso

if TYPE_CHECKING:
    from .models import (
        AttachmentRecord,
        ChannelRecord,
        CommandRecord,
        GuildRecord,
        MemberRecord,
        MessageRecord,
        RoleRecord,
        UserRecord,
    )


def user_payload(user: UserRecord) -> dict[str, Any]:
    """Serialise a user."""
    return {
        "id": str(user.id),
        "username": user.username,
        "discriminator": "0",
        "global_name": user.global_name,
        "avatar": None,
        "bot": user.bot,
        "system": False,
        "public_flags": 0,
        "flags": 0,
    }


def role_payload(role: RoleRecord) -> dict[str, Any]:
    """Serialise a role."""
    return {
        "id": str(role.id),
        "name": role.name,
        "permissions": str(role.permissions),
        "position": role.position,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "managed": role.managed,
        "mentionable": False,
        "icon": None,
        "unicode_emoji": None,
        "flags": 0,
    }


def channel_payload(channel: ChannelRecord, *, permissions: int | None = None) -> dict[str, Any]:
    """Serialise a guild channel; interactions add the invoker's `permissions` in it."""
    payload: dict[str, Any] = {
        "id": str(channel.id),
        "type": channel.type,
        "guild_id": str(channel.guild_id),
        "name": channel.name,
        "position": channel.position,
        "nsfw": channel.nsfw,
        "topic": channel.topic,
        "parent_id": None,
        "rate_limit_per_user": 0,
        "permission_overwrites": [],
        "last_message_id": None,
        "flags": 0,
    }
    if permissions is not None:
        payload["permissions"] = str(permissions)
    return payload


def member_payload(member: MemberRecord, *, permissions: int | None = None) -> dict[str, Any]:
    """Serialise a member; interactions add their resolved `permissions`."""
    payload: dict[str, Any] = {
        "user": user_payload(member.user),
        "roles": [str(role_id) for role_id in member.roles],
        "joined_at": iso(member.joined_at),
        "nick": member.nick,
        "avatar": None,
        "banner": None,
        "deaf": False,
        "mute": False,
        "pending": False,
        "premium_since": None,
        "communication_disabled_until": None,
        "flags": 0,
    }
    if permissions is not None:
        payload["permissions"] = str(permissions)
    return payload


def guild_payload(guild: GuildRecord, *, joined: bool = False) -> dict[str, Any]:
    """Serialise a guild as GUILD_CREATE carries it: channels, roles and members included.

    Discord marks a guild that becomes available with `unavailable: false` and leaves the
    key out when the bot has just joined; discord.py tells guild_available from guild_join so.
    """
    bot_member = next((m for m in guild.members.values() if m.user.bot), None)
    payload = {
        "id": str(guild.id),
        "name": guild.name,
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "banner": None,
        "description": None,
        "owner_id": str(guild.owner_id),
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "nsfw_level": 0,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "system_channel_id": None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "public_updates_channel_id": None,
        "preferred_locale": guild.locale,
        "features": [],
        "roles": [role_payload(role) for role in guild.roles.values()],
        "emojis": [],
        "stickers": [],
        "channels": [channel_payload(channel) for channel in guild.channels.values()],
        "threads": [],
        "members": [member_payload(member) for member in guild.members.values()],
        "member_count": len(guild.members),
        "large": False,
        "unavailable": False,
        "joined_at": iso(bot_member.joined_at) if bot_member else None,
        "voice_states": [],
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
        "premium_progress_bar_enabled": False,
    }
    if joined:
        del payload["unavailable"]
    return payload


def attachment_payload(attachment: AttachmentRecord) -> dict[str, Any]:
    """Serialise an attachment with its fake-CDN URLs."""
    payload: dict[str, Any] = {
        "id": str(attachment.id),
        "filename": attachment.filename,
        "size": attachment.size,
        "url": attachment.url,
        "proxy_url": attachment.proxy_url,
        "content_type": attachment.content_type,
        "width": attachment.width,
        "height": attachment.height,
        "description": attachment.description,
        "ephemeral": attachment.ephemeral,
        "flags": 0,
    }
    if attachment.title is not None:
        payload["title"] = attachment.title
    return payload


def message_payload(
    message: MessageRecord,
    *,
    referenced: MessageRecord | None = None,
    interaction_metadata: dict[str, Any] | None = None,
    application_id: int | None = None,
) -> dict[str, Any]:
    """Serialise a message's current version the way Discord returns and dispatches it."""
    version = message.current
    first = message.versions[0]
    payload: dict[str, Any] = {
        "id": str(message.id),
        "type": message.type,
        "channel_id": str(message.channel_id),
        "author": user_payload(message.author),
        "content": version.content,
        "timestamp": iso(first.timestamp),
        "edited_timestamp": iso(version.timestamp) if len(message.versions) > 1 else None,
        "tts": version.tts,
        "mention_everyone": False,
        "mentions": [],
        "mention_roles": [],
        "attachments": [attachment_payload(a) for a in version.attachments],
        "embeds": version.embeds,
        "components": version.components,
        "pinned": False,
        "flags": version.flags,
        "reactions": [],
    }
    if message.guild_id is not None:
        payload["guild_id"] = str(message.guild_id)
    if message.webhook_id is not None:
        payload["webhook_id"] = str(message.webhook_id)
    if application_id is not None:
        payload["application_id"] = str(application_id)
    if message.message_reference is not None:
        payload["message_reference"] = message.message_reference
        payload["referenced_message"] = message_payload(referenced) if referenced else None
    if interaction_metadata is not None:
        payload["interaction_metadata"] = interaction_metadata
    return payload


def command_payload(command: CommandRecord) -> dict[str, Any]:
    """Serialise a registered application command with the fields Discord fills in."""
    payload = dict(command.payload)
    payload.update(
        id=str(command.id),
        application_id=str(command.application_id),
        version=str(command.version),
        type=command.type,
        description=payload.get("description", ""),
        options=payload.get("options") or [],
        default_member_permissions=payload.get("default_member_permissions"),
        nsfw=payload.get("nsfw", False),
        name_localizations=payload.get("name_localizations"),
        description_localizations=payload.get("description_localizations"),
    )
    if command.guild_id is not None:
        payload["guild_id"] = str(command.guild_id)
    return payload
