"""Build the interactions a user's client would send: slash commands, clicks, modal submits."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from .interactions import InteractionKind, InteractionRecord
from .models import (
    ADMINISTRATOR,
    DEFAULT_UPLOAD_LIMIT,
    ChannelRecord,
    CommandRecord,
    GuildRecord,
    MemberRecord,
    MessageRecord,
    RoleRecord,
    Upload,
    UserRecord,
)
from .payloads import (
    attachment_payload,
    channel_payload,
    member_payload,
    role_payload,
    user_payload,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .state import EmulatorState

APPLICATION_COMMAND = 2
APPLICATION_COMMAND_AUTOCOMPLETE = 4
MESSAGE_COMPONENT = 3
MODAL_SUBMIT = 5
SUB_COMMAND, SUB_COMMAND_GROUP = 1, 2
STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER, ATTACHMENT = (
    3, 4, 5, 6, 7, 8, 9, 10, 11,
)  # fmt: skip
SELECT_TYPES = frozenset({3, 5, 6, 7, 8})


class InvocationError(ValueError):
    """A test asked for something Discord's client would never let a user send."""


class Invoker:
    """Turn a test's request into an interaction payload, as the user's Discord client would."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def slash(
        self,
        name: str,
        options: dict[str, Any],
        *,
        member: MemberRecord,
        channel: ChannelRecord,
        attachments: Sequence[Upload],
        attachment_size_limit: int,
        locale: str,
        ignore_command_permissions: bool,
    ) -> InteractionRecord:
        """Build a slash command interaction from the command's registered schema."""
        guild = self.state.guild_of(channel)
        path = name.split()
        command = self._command(path[0], guild)
        self._check_visible(command, guild, member, channel, ignore_command_permissions)
        resolved: dict[str, dict[str, Any]] = {}
        schema = command.options
        data_options: list[dict[str, Any]] = []
        container = data_options
        for part in path[1:]:
            sub = next((o for o in schema if o["name"] == part and o["type"] in (1, 2)), None)
            if sub is None:
                raise InvocationError(f"/{path[0]} has no subcommand {part!r}")
            entry: dict[str, Any] = {"name": part, "type": sub["type"], "options": []}
            container.append(entry)
            container, schema = entry["options"], sub.get("options") or []
        if any(o["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP) for o in schema):
            raise InvocationError(f"/{name} needs a subcommand")
        uploads = list(attachments)
        for option in schema:
            if option["name"] not in options and option["type"] == ATTACHMENT and uploads:
                options = {**options, option["name"]: uploads.pop(0)}
        if uploads:
            raise InvocationError(
                f"/{name} has no attachment option left for {len(uploads)} file(s)"
            )
        context = _Context(self.state, member, channel, resolved)
        container.extend(_options(schema, options, context, f"/{name}"))
        data: dict[str, Any] = {"id": str(command.id), "name": command.name, "type": 1}
        if data_options:
            data["options"] = data_options
        if resolved:
            data["resolved"] = resolved
        if command.guild_id is not None:
            data["guild_id"] = str(command.guild_id)
        return self._create(
            "slash",
            APPLICATION_COMMAND,
            data,
            member=member,
            channel=channel,
            attachment_size_limit=attachment_size_limit,
            locale=locale,
        )

    def autocomplete(
        self,
        name: str,
        options: dict[str, str],
        focused: str,
        *,
        member: MemberRecord,
        channel: ChannelRecord,
    ) -> InteractionRecord:
        """Build the autocomplete interaction a client sends while the user types ``focused``.

        Discord sends the partial values as typed, unvalidated, with the focused one marked;
        for a subcommand ("group sub"), inside the subcommand's entry, as for invoking it.
        """
        guild = self.state.guild_of(channel)
        path = name.split()
        command = self._command(path[0], guild)
        options_schema = command.options
        data_options: list[dict[str, Any]] = []
        container = data_options
        for part in path[1:]:
            sub = next(
                (o for o in options_schema if o["name"] == part and o["type"] in (1, 2)), None
            )
            if sub is None:
                raise InvocationError(f"/{path[0]} has no subcommand {part!r}")
            entry: dict[str, Any] = {"name": part, "type": sub["type"], "options": []}
            container.append(entry)
            container, options_schema = entry["options"], sub.get("options") or []
        schema = {option["name"]: option for option in options_schema}
        if not schema.get(focused, {}).get("autocomplete"):
            raise InvocationError(f"/{name} option {focused!r} does not autocomplete")
        container.extend(
            {"name": key, "type": schema[key]["type"], "value": value, "focused": key == focused}
            for key, value in options.items()
        )
        data: dict[str, Any] = {
            "id": str(command.id),
            "name": command.name,
            "type": 1,
            "options": data_options,
        }
        return self._create(
            "autocomplete",
            APPLICATION_COMMAND_AUTOCOMPLETE,
            data,
            member=member,
            channel=channel,
            attachment_size_limit=DEFAULT_UPLOAD_LIMIT,
            locale="en-US",
        )

    def _command(self, name: str, guild: GuildRecord) -> CommandRecord:
        for scope in (guild.id, None):
            for command in self.state.commands_for(scope):
                if command.name == name and command.type == 1:
                    return command
        known = sorted(
            {c.name for scope in (guild.id, None) for c in self.state.commands_for(scope)}
        )
        raise InvocationError(
            f"no slash command /{name} is registered for this guild (registered: {known}); "
            "Discord only offers synced commands, so sync the tree first"
        )

    def _check_visible(
        self,
        command: CommandRecord,
        guild: GuildRecord,
        member: MemberRecord,
        channel: ChannelRecord,
        ignore_command_permissions: bool,
    ) -> None:
        """Refuse what Discord's client hides: commands the member may not use, NSFW ones."""
        payload = command.payload
        if payload.get("nsfw") and not channel.nsfw:
            raise InvocationError(f"/{command.name} is age-restricted; #{channel.name} is not")
        contexts = payload.get("contexts")
        if contexts is not None and 0 not in contexts:
            raise InvocationError(f"/{command.name} is not available in guilds")
        required = payload.get("default_member_permissions")
        granted = guild.permissions_of(member)
        if ignore_command_permissions or required is None or granted & ADMINISTRATOR:
            return
        if int(required) & ~granted:
            raise InvocationError(
                f"Discord hides /{command.name} from {member.user.username}: it needs permissions "
                f"{int(required):#x}; pass ignore_command_permissions=True to model an override"
            )

    def click(
        self,
        message: MessageRecord,
        custom_id: str,
        *,
        member: MemberRecord,
        values: Sequence[str] | None,
        attachment_size_limit: int,
        locale: str,
    ) -> InteractionRecord:
        """Build a component interaction for a button (or select) on a recorded message."""
        if message.deleted:
            raise InvocationError(f"message {message.id} was deleted")
        component = message.component(custom_id)
        if component is None:
            known = message.custom_ids()
            raise InvocationError(f"message {message.id} has no {custom_id!r} (it has {known})")
        if component.get("disabled"):
            raise InvocationError(f"component {custom_id!r} is disabled")
        if message.ephemeral and message.interaction_id is not None:
            owner = self.state.interactions[message.interaction_id].user
            if owner.id != member.user.id:
                raise InvocationError("only the user who invoked it can see an ephemeral message")
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": component["type"]}
        if component["type"] in SELECT_TYPES:
            if values is None:
                raise InvocationError(f"{custom_id!r} is a select menu: pass values=[...]")
            data["values"] = list(values)
        elif component["type"] != 2 or values is not None:
            raise InvocationError(f"{custom_id!r} is not a clickable button")
        channel = self.state.channels[message.channel_id]
        record = self._create(
            "component",
            MESSAGE_COMPONENT,
            data,
            member=member,
            channel=channel,
            attachment_size_limit=attachment_size_limit,
            locale=locale,
            source=message,
        )
        record.payload["message"] = self.state.message_json(message)
        return record

    def submit_modal(
        self,
        shown_for: InteractionRecord,
        values: dict[str, str | list[str]],
        *,
        member: MemberRecord,
    ) -> InteractionRecord:
        """Build the MODAL_SUBMIT for a modal the bot showed, with the user's text."""
        modal = shown_for.modal
        if modal is None:
            raise InvocationError(f"interaction {shown_for.id} did not show a modal")
        data = {
            "custom_id": modal["custom_id"],
            "components": [_submitted(c, values) for c in modal.get("components", [])],
        }
        return self._create(
            "modal_submit",
            MODAL_SUBMIT,
            data,
            member=member,
            channel=shown_for.channel,
            attachment_size_limit=shown_for.attachment_size_limit,
            locale=shown_for.payload["locale"],
            source=shown_for.source_message,
        )

    def _create(
        self,
        kind: InteractionKind,
        interaction_type: int,
        data: dict[str, Any],
        *,
        member: MemberRecord,
        channel: ChannelRecord,
        attachment_size_limit: int,
        locale: str,
        source: MessageRecord | None = None,
    ) -> InteractionRecord:
        state = self.state
        guild = state.guild_of(channel)
        permissions = guild.permissions_of(member)
        interaction_id, token = state.ids.next(), secrets.token_urlsafe(48)
        payload: dict[str, Any] = {
            "id": str(interaction_id),
            "application_id": str(state.application_id),
            "type": interaction_type,
            "data": data,
            "guild_id": str(guild.id),
            "guild": {"id": str(guild.id), "locale": guild.locale, "features": []},
            "channel_id": str(channel.id),
            "channel": channel_payload(channel, permissions=permissions),
            "member": member_payload(member, permissions=permissions),
            "token": token,
            "version": 1,
            "app_permissions": str(guild.permissions_of(state.bot_member(guild))),
            "locale": locale,
            "guild_locale": guild.locale,
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": attachment_size_limit,
            "context": 0,
            "authorizing_integration_owners": {"0": str(guild.id)},
        }
        record = InteractionRecord(
            id=interaction_id,
            token=token,
            type=interaction_type,
            kind=kind,
            user=member.user,
            channel=channel,
            created_at=state.clock.now(),
            payload=payload,
            attachment_size_limit=attachment_size_limit,
            notifier=state.notifier,
            source_message=source,
        )
        state.interactions[interaction_id] = record
        return record


class _Context:
    """What option coercion needs: who invokes where, and the `resolved` map to fill."""

    def __init__(
        self,
        state: EmulatorState,
        invoker: MemberRecord,
        channel: ChannelRecord,
        resolved: dict[str, dict[str, Any]],
    ) -> None:
        self.state, self.invoker, self.channel, self.resolved = state, invoker, channel, resolved
        self.guild = state.guild_of(channel)

    def add(self, section: str, key: int, payload: dict[str, Any]) -> str:
        self.resolved.setdefault(section, {})[str(key)] = payload
        return str(key)

    def user(self, value: Any) -> str:
        user = value.user if isinstance(value, MemberRecord) else value
        if not isinstance(user, UserRecord):
            user = self.state.users[int(user)]
        member = self.guild.members.get(user.id)
        if member is not None:
            partial = member_payload(member, permissions=self.guild.permissions_of(member))
            partial.pop("user")
            self.add("members", user.id, partial)
        return self.add("users", user.id, user_payload(user))

    def channel_option(self, value: Any) -> str:
        channel = value if isinstance(value, ChannelRecord) else self.state.channels[int(value)]
        # A resolved channel carries the invoking member's permissions in it.
        payload = channel_payload(channel, permissions=self.guild.permissions_of(self.invoker))
        return self.add("channels", channel.id, payload)

    def role(self, value: Any) -> str:
        role = value if isinstance(value, RoleRecord) else self.guild.roles[int(value)]
        return self.add("roles", role.id, role_payload(role))

    def attachment(self, value: Any) -> str:
        if not isinstance(value, Upload):
            raise InvocationError("attachment options take an Upload(filename, data)")
        stored = self.state.store_attachment(
            self.channel.id,
            value.filename,
            value.data,
            content_type=value.content_type,
            description=value.description,
            ephemeral=True,  # files a user attaches to a command are ephemeral on Discord
        )
        return self.add("attachments", stored.id, attachment_payload(stored))


def _options(
    schema: list[dict[str, Any]], given: dict[str, Any], context: _Context, where: str
) -> list[dict[str, Any]]:
    """Coerce the test's values to the registered option types, as the client would."""
    by_name = {option["name"]: option for option in schema}
    unknown = set(given) - set(by_name)
    if unknown:
        raise InvocationError(f"{where} has no option(s) {sorted(unknown)}; it has {list(by_name)}")
    result = []
    for option in schema:
        name = option["name"]
        if name not in given:
            if option.get("required"):
                raise InvocationError(f"{where} needs option {name!r}")
            continue
        value = _coerce(option, given[name], context, f"{where} {name}")
        result.append({"name": name, "type": option["type"], "value": value})
    return result


def _coerce(option: dict[str, Any], value: Any, context: _Context, where: str) -> Any:
    kind = option["type"]
    if kind == STRING:
        value = str(value)
        if not option.get("min_length", 0) <= len(value) <= option.get("max_length", 6000):
            raise InvocationError(f"{where}: length {len(value)} is outside the allowed range")
    elif kind in (INTEGER, NUMBER):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvocationError(f"{where}: expected a number, got {value!r}")
        value = int(value) if kind == INTEGER else float(value)
        low, high = option.get("min_value"), option.get("max_value")
        if (low is not None and value < low) or (high is not None and value > high):
            raise InvocationError(f"{where}: {value} is outside [{low}, {high}]")
    elif kind == BOOLEAN:
        value = bool(value)
    elif kind == USER or (kind == MENTIONABLE and not isinstance(value, RoleRecord)):
        return context.user(value)
    elif kind == CHANNEL:
        return context.channel_option(value)
    elif kind in (ROLE, MENTIONABLE):
        return context.role(value)
    elif kind == ATTACHMENT:
        return context.attachment(value)
    choices = option.get("choices")
    if choices and value not in [choice["value"] for choice in choices]:
        raise InvocationError(f"{where}: {value!r} is not one of the choices")
    return value


def _submitted(component: dict[str, Any], values: dict[str, str | list[str]]) -> dict[str, Any]:
    """Echo a modal component back as a submission: text inputs' values, selects' choices."""
    if component.get("type") == 1:
        return {"type": 1, "components": [_submitted(c, values) for c in component["components"]]}
    if component.get("type") == 18:
        return {"type": 18, "component": _submitted(component["component"], values)}
    submitted = {"type": component["type"], "custom_id": component.get("custom_id")}
    answer = values.get(component.get("custom_id") or "")
    if component.get("type") == 4:
        submitted["value"] = answer if isinstance(answer, str) else component.get("value") or ""
    elif component.get("type") == 3:  # a select menu inside a label: the chosen values
        submitted["values"] = answer if isinstance(answer, list) else []
    return submitted
