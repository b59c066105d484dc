"""REST routes for channel messages: send (with replies and nonces), history, fetch, edit, delete.

A send with `nonce` and `enforce_nonce: true` that repeats the nonce of a live message the
bot sent in the same channel within `NONCE_WINDOW` seconds (emulator clock) returns that
message again instead of creating one. Discord documents the window only as "the past few
minutes"; five minutes is our reading.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import errors
from .messages import MessageBody, build_version, check_body, read_body, require_live
from .models import (
    ATTACH_FILES,
    EPHEMERAL,
    MANAGE_MESSAGES,
    MESSAGE_DEFAULT,
    MESSAGE_REPLY,
    READ_MESSAGE_HISTORY,
    SEND_MESSAGES,
    VIEW_CHANNEL,
    ChannelRecord,
    MessageRecord,
)
from .routing import API, Services, json_response, no_content, require_bot, snowflake

if TYPE_CHECKING:
    from aiohttp import web

NONCE_WINDOW = 5 * 60
MAX_NONCE_LENGTH = 25


class MessageRoutes:
    """Answer the channel message routes, checking the bot's permissions as Discord does."""

    def __init__(self, services: Services) -> None:
        self.state = services.state
        self.gateway = services.gateway

    def register(self, router: web.UrlDispatcher) -> None:
        """Add this module's routes."""
        base = API + "/channels/{channel_id}/messages"
        router.add_post(base, self.create)
        router.add_get(base, self.history)
        router.add_get(base + "/{message_id}", self.fetch)
        router.add_patch(base + "/{message_id}", self.edit)
        router.add_delete(base + "/{message_id}", self.delete)

    def _channel(self, request: web.Request, needs: int) -> ChannelRecord:
        require_bot(request, self.state)
        channel = self.state.channels.get(snowflake(request, "channel_id"))
        if channel is None:
            raise errors.unknown_channel()
        guild = self.state.guild_of(channel)
        granted = guild.permissions_of(self.state.bot_member(guild))
        if granted & (VIEW_CHANNEL | needs) != VIEW_CHANNEL | needs:
            raise errors.missing_permissions()
        return channel

    def _message(self, request: web.Request, channel: ChannelRecord) -> MessageRecord:
        message = require_live(self.state.messages.get(snowflake(request, "message_id")))
        # Ephemeral messages exist only for their user; to the channel they are unknown.
        if message.channel_id != channel.id or message.ephemeral:
            raise errors.unknown_message()
        return message

    async def create(self, request: web.Request) -> web.Response:
        """Send a message, optionally as a reply (message_reference)."""
        channel = self._channel(request, SEND_MESSAGES)
        body = await read_body(request)
        if body.files:
            self._channel(request, SEND_MESSAGES | ATTACH_FILES)
        check_body(body, upload_limit=self.state.guild_of(channel).upload_limit)
        earlier = self._same_nonce(channel, body)
        if earlier is not None:
            return json_response(self.state.message_json(earlier, nonce=True))
        body.payload["flags"] = int(body.payload.get("flags") or 0) & ~EPHEMERAL
        reference, replied = self._reference(channel, body)
        version = build_version(self.state, body, channel_id=channel.id, reply_to=replied)
        message = self.state.add_message(
            channel,
            self.state.bot_user,
            version,
            kind="channel",
            message_type=MESSAGE_REPLY if reference else MESSAGE_DEFAULT,
            message_reference=reference,
            nonce=body.payload.get("nonce"),
        )
        payload = self.state.message_json(message, nonce=True)
        self.gateway.publish_message("MESSAGE_CREATE", message)
        return json_response(payload)

    def _same_nonce(self, channel: ChannelRecord, body: MessageBody) -> MessageRecord | None:
        """Return the recent message an enforced nonce repeats, if any."""
        nonce = body.payload.get("nonce")
        if nonce is None:
            return None
        if isinstance(nonce, str) and len(nonce) > MAX_NONCE_LENGTH:
            raise errors.invalid_form(
                ("nonce",),
                "BASE_TYPE_MAX_LENGTH",
                f"Must be {MAX_NONCE_LENGTH} or fewer in length.",
            )
        if body.payload.get("enforce_nonce") is not True:
            return None
        since = self.state.clock.now() - NONCE_WINDOW
        for message in reversed(self.state.messages.values()):
            if message.versions[0].at < since:
                break  # ids and creation times grow together: nothing older can match
            if (
                message.channel_id == channel.id
                and message.author.id == self.state.bot_user.id
                and message.nonce is not None
                and str(message.nonce) == str(nonce)
                and not message.deleted
            ):
                return message
        return None

    def _reference(
        self, channel: ChannelRecord, body: MessageBody
    ) -> tuple[dict[str, Any] | None, MessageRecord | None]:
        raw = body.payload.get("message_reference")
        if not raw:
            return None, None
        target_id = int(raw.get("message_id", 0))
        target = self.state.live_message(target_id)
        if target is None or target.channel_id != int(raw.get("channel_id", channel.id)):
            if raw.get("fail_if_not_exists", True):
                raise errors.invalid_form(
                    ("message_reference",), "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message"
                )
            return None, None
        reference = {
            "type": 0,
            "message_id": str(target.id),
            "channel_id": str(target.channel_id),
            "guild_id": str(channel.guild_id),
        }
        return reference, target

    async def history(self, request: web.Request) -> web.Response:
        """Return up to `limit` messages, newest first, as Discord does for every anchor.

        `around` takes limit // 2 older messages, the message itself and limit // 2 newer
        ones; `before` the newest older ones; `after` the oldest newer ones (the ones right
        after it, still listed newest first). Discord makes the three exclusive; here
        `around` wins over `before`, which wins over `after`.
        """
        channel = self._channel(request, READ_MESSAGE_HISTORY)
        limit = max(1, min(100, int(request.query.get("limit", 50))))
        visible = sorted(
            (
                m
                for m in self.state.messages.values()
                if m.channel_id == channel.id and not m.deleted and not m.ephemeral
            ),
            key=lambda m: m.id,
        )
        if "around" in request.query:
            picked = _around(visible, _query_snowflake(request, "around"), limit)
        elif "before" in request.query:
            before = _query_snowflake(request, "before")
            picked = [m for m in visible if m.id < before][-limit:]
        elif "after" in request.query:
            after = _query_snowflake(request, "after")
            picked = [m for m in visible if m.id > after][:limit]
        else:
            picked = visible[-limit:]
        return json_response([self.state.message_json(m) for m in reversed(picked)])

    async def fetch(self, request: web.Request) -> web.Response:
        """Return one message."""
        channel = self._channel(request, READ_MESSAGE_HISTORY)
        return json_response(self.state.message_json(self._message(request, channel)))

    async def edit(self, request: web.Request) -> web.Response:
        """Edit a message the bot wrote."""
        channel = self._channel(request, 0)
        message = self._message(request, channel)
        if message.author.id != self.state.bot_user.id:
            raise errors.APIError(403, 50005, "Cannot edit a message authored by another user")
        body = await read_body(request)
        check_body(body, upload_limit=self.state.guild_of(channel).upload_limit)
        version = build_version(self.state, body, channel_id=channel.id, previous=message.current)
        self.state.add_version(message, version)
        self.gateway.publish_message("MESSAGE_UPDATE", message)
        return json_response(self.state.message_json(message))

    async def delete(self, request: web.Request) -> web.Response:
        """Delete a message; others' messages need Manage Messages."""
        channel = self._channel(request, 0)
        message = self._message(request, channel)
        if message.author.id != self.state.bot_user.id:
            self._channel(request, MANAGE_MESSAGES)
        self.state.delete_message(message)
        self.gateway.publish_message("MESSAGE_DELETE", message)
        return no_content()


def _query_snowflake(request: web.Request, name: str) -> int:
    """Read a snowflake query parameter; a malformed one is Discord's 50035."""
    value = request.query[name]
    if not value.isdigit():
        raise errors.invalid_form(
            (name,), "NUMBER_TYPE_COERCE", f'Value "{value}" is not snowflake.'
        )
    return int(value)


def _around(visible: list[MessageRecord], anchor: int, limit: int) -> list[MessageRecord]:
    """Pick limit // 2 messages each side of `anchor` and the anchor itself, oldest first."""
    half = limit // 2
    older = [m for m in visible if m.id < anchor][-half:] if half else []
    newer = [m for m in visible if m.id > anchor][:half]
    return [*older, *(m for m in visible if m.id == anchor), *newer]
