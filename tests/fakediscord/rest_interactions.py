"""REST routes for interaction callbacks and the interaction webhook (follow-ups, @original)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import errors
from .interactions import (
    AUTOCOMPLETE_RESULT,
    CHANNEL_MESSAGE,
    DEFERRED_CHANNEL_MESSAGE,
    DEFERRED_UPDATE_MESSAGE,
    INITIAL_RESPONSE_DEADLINE,
    MODAL,
    TOKEN_LIFETIME,
    UPDATE_MESSAGE,
    CallbackRecord,
    InteractionRecord,
)
from .messages import MessageBody, build_version, check_body, read_body, require_live
from .models import (
    EPHEMERAL,
    LOADING,
    MESSAGE_CHAT_INPUT_COMMAND,
    MESSAGE_DEFAULT,
    MessageRecord,
    MessageVersion,
)
from .routing import (
    API,
    INTERACTION_KEY,
    Services,
    json_response,
    no_content,
    snowflake,
    truthy,
)

if TYPE_CHECKING:
    from aiohttp import web

MESSAGE_CALLBACKS = (CHANNEL_MESSAGE, UPDATE_MESSAGE)


class InteractionRoutes:
    """Answer interaction callbacks and webhook calls, enforcing the 3 s and 15 min rules."""

    def __init__(self, services: Services) -> None:
        self.state = services.state
        self.gateway = services.gateway

    def register(self, router: web.UrlDispatcher) -> None:
        """Add this module's routes."""
        webhook = API + "/webhooks/{application_id}/{token}"
        router.add_post(API + "/interactions/{interaction_id}/{token}/callback", self.callback)
        router.add_post(webhook, self.followup)
        router.add_get(webhook + "/messages/{message_id}", self.fetch)
        router.add_patch(webhook + "/messages/{message_id}", self.edit)
        router.add_delete(webhook + "/messages/{message_id}", self.delete)

    # The initial response.

    async def callback(self, request: web.Request) -> web.Response:
        """Take the initial response; later than 3 s it is 10062, a second one 40060."""
        interaction = self.state.interactions.get(snowflake(request, "interaction_id"))
        if interaction is None or interaction.token != request.match_info["token"]:
            raise errors.unknown_interaction()
        request[INTERACTION_KEY] = interaction
        now = self.state.clock.now()
        if now - interaction.created_at > INITIAL_RESPONSE_DEADLINE:
            raise errors.unknown_interaction()
        if interaction.callback is not None:
            raise errors.already_acknowledged()
        body = await read_body(request)
        kind = int(body.payload.get("type", 0))
        data: dict[str, Any] = body.payload.get("data") or {}
        message_body = MessageBody(data, body.files)
        if kind in MESSAGE_CALLBACKS:
            check_body(message_body, upload_limit=interaction.attachment_size_limit)
        message = self._respond(interaction, kind, message_body)
        interaction.callback = CallbackRecord(kind, now, data)
        self.state.changed()
        if not truthy(request.query.get("with_response")):
            return no_content()
        return json_response(self._callback_response(interaction, kind, message))

    def _respond(
        self, interaction: InteractionRecord, kind: int, body: MessageBody
    ) -> MessageRecord | None:
        """Apply a callback type; return the message it created or updated, if any."""
        is_component = interaction.source_message is not None
        if kind == CHANNEL_MESSAGE:
            version = build_version(self.state, body, channel_id=interaction.channel.id)
            return self._create_original(interaction, version)
        if kind == DEFERRED_CHANNEL_MESSAGE:
            flags = LOADING | (int(body.payload.get("flags") or 0) & EPHEMERAL)
            clock = self.state.clock
            placeholder = MessageVersion("", [], [], [], flags, clock.now(), clock.wall())
            return self._create_original(interaction, placeholder)
        if kind in (DEFERRED_UPDATE_MESSAGE, UPDATE_MESSAGE) and is_component:
            source = require_live(interaction.source_message)
            interaction.original = source
            if kind == UPDATE_MESSAGE:
                version = build_version(
                    self.state, body, channel_id=source.channel_id, previous=source.current
                )
                self.state.add_version(source, version)
                self.gateway.publish_message("MESSAGE_UPDATE", source)
            return source
        if kind == MODAL and interaction.kind != "modal_submit":
            interaction.modal = body.payload
            return None
        if kind == AUTOCOMPLETE_RESULT:
            return None
        raise errors.invalid_form(
            ("type",), "INTERACTION_CALLBACK_TYPE_INVALID", "Invalid interaction callback type"
        )

    def _create_original(
        self, interaction: InteractionRecord, version: MessageVersion
    ) -> MessageRecord:
        message = self.state.add_message(
            interaction.channel,
            self.state.bot_user,
            version,
            kind="response",
            message_type=MESSAGE_CHAT_INPUT_COMMAND
            if interaction.kind == "slash"
            else MESSAGE_DEFAULT,
            interaction_id=interaction.id,
        )
        interaction.original = message
        self.gateway.publish_message("MESSAGE_CREATE", message)
        return message

    def _callback_response(
        self, interaction: InteractionRecord, kind: int, message: MessageRecord | None
    ) -> dict[str, Any]:
        """Build the `with_response` body (InteractionCallbackResponse) discord.py parses."""
        summary: dict[str, Any] = {"id": str(interaction.id), "type": interaction.type}
        if message is not None:
            summary["response_message_id"] = str(message.id)
            summary["response_message_loading"] = message.loading
            summary["response_message_ephemeral"] = message.ephemeral
        body: dict[str, Any] = {"interaction": summary}
        if message is not None and kind != DEFERRED_UPDATE_MESSAGE:
            body["resource"] = {"type": kind, "message": self.state.message_json(message)}
        return body

    # The webhook: follow-ups and edits, valid for 15 minutes.

    def _interaction(self, request: web.Request) -> InteractionRecord:
        if snowflake(request, "application_id") != self.state.application_id:
            raise errors.unknown_webhook()
        token = request.match_info["token"]
        interaction = next((i for i in self.state.interactions.values() if i.token == token), None)
        if interaction is None:
            raise errors.invalid_webhook_token()
        request[INTERACTION_KEY] = interaction
        if self.state.clock.now() - interaction.created_at > TOKEN_LIFETIME:
            raise errors.invalid_webhook_token()
        return interaction

    def _target(self, request: web.Request, interaction: InteractionRecord) -> MessageRecord:
        raw_id = request.match_info["message_id"]
        if raw_id == "@original":
            return require_live(interaction.original)
        message = self.state.messages.get(snowflake(request, "message_id"))
        if message is None or message not in interaction.messages:
            raise errors.unknown_message()
        return require_live(message)

    async def followup(self, request: web.Request) -> web.Response:
        """Send a follow-up; the first after a thinking defer completes the placeholder."""
        interaction = self._interaction(request)
        if interaction.callback is None:
            raise errors.unknown_webhook()
        body = await read_body(request)
        check_body(body, upload_limit=interaction.attachment_size_limit)
        original = interaction.original
        if original is not None and original.loading and not original.deleted:
            # Discord turns the "is thinking..." message into this follow-up, keeping its flags;
            # once the bot has deleted that placeholder, follow-ups are new messages again.
            body.payload.pop("flags", None)
            version = build_version(
                self.state, body, channel_id=original.channel_id, previous=original.current
            )
            self.state.add_version(original, version)
            self.gateway.publish_message("MESSAGE_UPDATE", original)
            message = original
        else:
            version = build_version(self.state, body, channel_id=interaction.channel.id)
            message = self.state.add_message(
                interaction.channel,
                self.state.bot_user,
                version,
                kind="followup",
                message_type=MESSAGE_DEFAULT,
                interaction_id=interaction.id,
            )
            interaction.followups.append(message)
            self.state.changed()
            self.gateway.publish_message("MESSAGE_CREATE", message)
        if not truthy(request.query.get("wait")):
            return no_content()
        return json_response(self.state.message_json(message))

    async def fetch(self, request: web.Request) -> web.Response:
        """Return the original response or a follow-up."""
        interaction = self._interaction(request)
        return json_response(self.state.message_json(self._target(request, interaction)))

    async def edit(self, request: web.Request) -> web.Response:
        """Edit the original response (completing a defer) or a follow-up."""
        interaction = self._interaction(request)
        message = self._target(request, interaction)
        body = await read_body(request)
        check_body(body, upload_limit=interaction.attachment_size_limit)
        version = build_version(
            self.state, body, channel_id=message.channel_id, previous=message.current
        )
        self.state.add_version(message, version)
        self.gateway.publish_message("MESSAGE_UPDATE", message)
        return json_response(self.state.message_json(message))

    async def delete(self, request: web.Request) -> web.Response:
        """Delete the original response or a follow-up."""
        interaction = self._interaction(request)
        message = self._target(request, interaction)
        self.state.delete_message(message)
        self.gateway.publish_message("MESSAGE_DELETE", message)
        return no_content()
