"""REST routes for login, the gateway URL, application commands, guilds and channels."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import errors, rules
from .payloads import (
    channel_payload,
    command_payload,
    guild_payload,
    member_payload,
    role_payload,
    user_payload,
)
from .routing import API, Services, json_response, no_content, require_bot, snowflake

if TYPE_CHECKING:
    from aiohttp import web

    from .models import CommandRecord, GuildRecord


class CoreRoutes:
    """Answer the routes discord.py calls to log in, sync commands and look things up."""

    def __init__(self, services: Services) -> None:
        self.state = services.state
        self.gateway = services.gateway

    def register(self, router: web.UrlDispatcher) -> None:
        """Add this module's routes."""
        commands = API + "/applications/{application_id}/commands"
        guild_commands = API + "/applications/{application_id}/guilds/{guild_id}/commands"
        router.add_get(API + "/gateway", self.get_gateway)
        router.add_get(API + "/gateway/bot", self.get_gateway_bot)
        router.add_get(API + "/users/@me", self.get_me)
        router.add_get(API + "/users/{user_id}", self.get_user)
        router.add_get(API + "/oauth2/applications/@me", self.get_application)
        router.add_get(API + "/applications/@me", self.get_application)
        for base in (commands, guild_commands):
            router.add_get(base, self.list_commands)
            router.add_put(base, self.overwrite_commands)
            router.add_post(base, self.upsert_command)
            router.add_get(base + "/{command_id}", self.get_command)
            router.add_patch(base + "/{command_id}", self.edit_command)
            router.add_delete(base + "/{command_id}", self.delete_command)
        router.add_get(API + "/guilds/{guild_id}", self.get_guild)
        router.add_get(API + "/guilds/{guild_id}/channels", self.get_guild_channels)
        router.add_get(API + "/guilds/{guild_id}/roles", self.get_guild_roles)
        router.add_get(API + "/guilds/{guild_id}/members/{user_id}", self.get_member)
        router.add_get(API + "/channels/{channel_id}", self.get_channel)
        router.add_post(API + "/channels/{channel_id}/typing", self.trigger_typing)

    # Login and gateway.

    async def get_gateway(self, request: web.Request) -> web.Response:
        """Return the gateway URL."""
        return json_response({"url": self.gateway.ws_url})

    async def get_gateway_bot(self, request: web.Request) -> web.Response:
        """Return the gateway URL with the shard count and session start limit."""
        require_bot(request, self.state)
        limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
        return json_response(
            {"url": self.gateway.ws_url, "shards": 1, "session_start_limit": limit}
        )

    async def get_me(self, request: web.Request) -> web.Response:
        """Return the bot user; a wrong token is Discord's 401 (discord.py's LoginFailure)."""
        require_bot(request, self.state)
        me = user_payload(self.state.bot_user) | {"verified": True, "mfa_enabled": False}
        return json_response(me)

    async def get_user(self, request: web.Request) -> web.Response:
        """Return a user."""
        require_bot(request, self.state)
        user = self.state.users.get(snowflake(request, "user_id"))
        if user is None:
            raise errors.unknown_user()
        return json_response(user_payload(user))

    async def get_application(self, request: web.Request) -> web.Response:
        """Return the application, whose flags say which privileged intents are enabled."""
        require_bot(request, self.state)
        state = self.state
        return json_response(
            {
                "id": str(state.application_id),
                "name": state.bot_user.username,
                "description": "",
                "icon": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": user_payload(state.owner),
                "team": None,
                "verify_key": "0" * 64,
                "flags": self.gateway.application_flags,
                "bot": user_payload(state.bot_user),
                "interactions_endpoint_url": None,
                "redirect_uris": [],
                "approximate_guild_count": len(state.guilds),
            }
        )

    # Application commands.

    def _scope(self, request: web.Request) -> int | None:
        require_bot(request, self.state)
        if snowflake(request, "application_id") != self.state.application_id:
            raise errors.APIError(403, 50001, "Missing Access")
        if "guild_id" not in request.match_info:
            return None
        guild_id = snowflake(request, "guild_id")
        if guild_id not in self.state.guilds:
            raise errors.APIError(403, 50001, "Missing Access")
        return guild_id

    def _find(self, request: web.Request, guild_id: int | None) -> CommandRecord:
        command_id = snowflake(request, "command_id")
        for command in self.state.commands_for(guild_id):
            if command.id == command_id:
                return command
        raise errors.unknown_command()

    async def list_commands(self, request: web.Request) -> web.Response:
        """List the registered commands of a scope."""
        guild_id = self._scope(request)
        return json_response([command_payload(c) for c in self.state.commands_for(guild_id)])

    async def overwrite_commands(self, request: web.Request) -> web.Response:
        """Replace a scope's commands (what `tree.sync()` does)."""
        guild_id = self._scope(request)
        payloads = await request.json()
        if not isinstance(payloads, list):
            raise errors.invalid_form((), "ARRAY_TYPE_CONVERT", "Only iterables may be used.")
        rules.check_commands(payloads, is_global=guild_id is None)
        records = self.state.overwrite_commands(guild_id, payloads)
        return json_response([command_payload(c) for c in records])

    async def upsert_command(self, request: web.Request) -> web.Response:
        """Create or replace one command by name."""
        guild_id = self._scope(request)
        payload: dict[str, Any] = await request.json()
        others = [
            c.payload
            for c in self.state.commands_for(guild_id)
            if (c.name, c.type) != (payload.get("name"), int(payload.get("type", 1)))
        ]
        rules.check_commands([*others, payload], is_global=guild_id is None)
        records = self.state.overwrite_commands(guild_id, [*others, payload])
        return json_response(command_payload(records[-1]), status=201)

    async def get_command(self, request: web.Request) -> web.Response:
        """Return one command."""
        guild_id = self._scope(request)
        return json_response(command_payload(self._find(request, guild_id)))

    async def edit_command(self, request: web.Request) -> web.Response:
        """Edit one command's fields."""
        guild_id = self._scope(request)
        command = self._find(request, guild_id)
        changes: dict[str, Any] = await request.json()
        merged = [
            c.payload | changes if c is command else c.payload
            for c in self.state.commands_for(guild_id)
        ]
        rules.check_commands(merged, is_global=guild_id is None)
        records = self.state.overwrite_commands(guild_id, merged)
        return json_response(command_payload(next(r for r in records if r.id == command.id)))

    async def delete_command(self, request: web.Request) -> web.Response:
        """Delete one command."""
        guild_id = self._scope(request)
        command = self._find(request, guild_id)
        self.state.commands[guild_id] = [
            c for c in self.state.commands_for(guild_id) if c is not command
        ]
        self.state.changed()
        return no_content()

    # Guilds and channels.

    def _guild(self, request: web.Request) -> GuildRecord:
        require_bot(request, self.state)
        guild = self.state.guilds.get(snowflake(request, "guild_id"))
        if guild is None:
            raise errors.unknown_guild()
        return guild

    async def get_guild(self, request: web.Request) -> web.Response:
        """Return a guild."""
        payload = guild_payload(self._guild(request))
        for key in ("channels", "members", "threads", "voice_states", "presences"):
            payload.pop(key)
        return json_response(payload)

    async def get_guild_channels(self, request: web.Request) -> web.Response:
        """Return a guild's channels."""
        guild = self._guild(request)
        return json_response([channel_payload(c) for c in guild.channels.values()])

    async def get_guild_roles(self, request: web.Request) -> web.Response:
        """Return a guild's roles."""
        guild = self._guild(request)
        return json_response([role_payload(r) for r in guild.roles.values()])

    async def get_member(self, request: web.Request) -> web.Response:
        """Return a guild member."""
        guild = self._guild(request)
        member = guild.members.get(snowflake(request, "user_id"))
        if member is None:
            raise errors.APIError(404, 10007, "Unknown Member")
        return json_response(member_payload(member))

    async def get_channel(self, request: web.Request) -> web.Response:
        """Return a channel."""
        require_bot(request, self.state)
        channel = self.state.channels.get(snowflake(request, "channel_id"))
        if channel is None:
            raise errors.unknown_channel()
        return json_response(channel_payload(channel))

    async def trigger_typing(self, request: web.Request) -> web.Response:
        """Accept a typing indicator."""
        require_bot(request, self.state)
        if snowflake(request, "channel_id") not in self.state.channels:
            raise errors.unknown_channel()
        return no_content()
