"""Turn a message body (JSON or multipart) into a message version, as Discord applies it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import BodyPartReader, web

from . import errors, rules
from .models import (
    EPHEMERAL,
    IS_COMPONENTS_V2,
    LOADING,
    SUPPRESS_EMBEDS,
    AttachmentRecord,
    MessageRecord,
    MessageVersion,
)

if TYPE_CHECKING:
    from .state import EmulatorState

# Flags a sender may set on a new message; Discord ignores the rest.
SETTABLE_FLAGS = SUPPRESS_EMBEDS | EPHEMERAL | (1 << 12) | IS_COMPONENTS_V2
# Flags an edit may change.
EDITABLE_FLAGS = SUPPRESS_EMBEDS | IS_COMPONENTS_V2
USER_MENTION = re.compile(r"<@!?(\d+)>")
FILE_FIELD = re.compile(r"^files\[(\d+)\]$")


@dataclass
class FilePart:
    """One uploaded file from a multipart body."""

    index: int
    filename: str
    data: bytes
    content_type: str | None


@dataclass
class MessageBody:
    """A parsed request body: the JSON payload and any uploaded files."""

    payload: dict[str, Any]
    files: list[FilePart]


async def read_body(request: web.Request) -> MessageBody:
    """Read a JSON or multipart (`payload_json` + `files[n]`) body."""
    if not request.content_type.startswith("multipart/"):
        raw = await request.read()
        payload = _parse_json(raw) if raw else {}
        if not isinstance(payload, dict):
            raise errors.invalid_form((), "DICT_TYPE_CONVERT", "Only dictionaries may be used.")
        return MessageBody(payload, [])
    payload = {}
    files: list[FilePart] = []
    reader = await request.multipart()
    async for part in reader:
        if not isinstance(part, BodyPartReader):
            continue
        data = await part.read(decode=False)
        if part.name == "payload_json":
            payload = _parse_json(data)
            continue
        match = FILE_FIELD.match(part.name or "")
        # Discord also accepts any other field name carrying a file, numbered in order.
        index = int(match.group(1)) if match else len(files)
        files.append(
            FilePart(index, part.filename or "file", bytes(data), part.headers.get("Content-Type"))
        )
    return MessageBody(payload, files)


def _parse_json(raw: bytes | bytearray) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        raise errors.APIError(400, 50109, "The request body contains invalid JSON.") from None


def check_body(body: MessageBody, *, upload_limit: int) -> None:
    """Apply Discord's limits to a message body: 40005 for big files, 50035 for the rest."""
    rules.check_file_sizes([len(f.data) for f in body.files], upload_limit)
    rules.check_message_body(body.payload, file_count=len(body.files))


def build_version(
    state: EmulatorState,
    body: MessageBody,
    *,
    channel_id: int,
    previous: MessageVersion | None = None,
    reply_to: MessageRecord | None = None,
) -> MessageVersion:
    """Build the next version of a message: a new one, or `previous` with the body's edits."""
    payload = body.payload
    attachments = _attachments(state, body, channel_id, previous)
    if previous is None:
        flags = int(payload.get("flags") or 0) & SETTABLE_FLAGS
        content = payload.get("content") or ""
        embeds = payload.get("embeds") or []
        components = payload.get("components") or []
        allowed = payload.get("allowed_mentions")
        tts = bool(payload.get("tts", False))
    else:
        flags = previous.flags & ~LOADING
        if "flags" in payload:
            flags = (flags & ~EDITABLE_FLAGS) | (int(payload["flags"] or 0) & EDITABLE_FLAGS)
        content = (payload.get("content") or "") if "content" in payload else previous.content
        embeds = (payload.get("embeds") or []) if "embeds" in payload else previous.embeds
        components = (
            (payload.get("components") or []) if "components" in payload else previous.components
        )
        allowed = payload.get("allowed_mentions", previous.allowed_mentions)
        tts = previous.tts
    if len(attachments) > rules.MAX_ATTACHMENTS:
        # Kept and new attachments together: an edit can break the limit too.
        raise errors.invalid_form(
            ("attachments",),
            "BASE_TYPE_MAX_LENGTH",
            f"Must be {rules.MAX_ATTACHMENTS} or fewer in length.",
        )
    if rules.is_empty_message(content, embeds, components, len(attachments)):
        raise errors.empty_message()
    if flags & EPHEMERAL:
        for attachment in attachments:
            attachment.ephemeral = True
    return MessageVersion(
        content=content,
        embeds=embeds,
        components=components,
        attachments=attachments,
        flags=flags,
        at=state.clock.now(),
        timestamp=state.clock.wall(),
        allowed_mentions=allowed,
        mention_ids=_mentions(state, content, allowed, reply_to),
        tts=tts,
    )


def _attachments(
    state: EmulatorState, body: MessageBody, channel_id: int, previous: MessageVersion | None
) -> list[AttachmentRecord]:
    """Apply the `attachments` array: it lists every attachment the message keeps or gains."""
    kept = {a.id: a for a in (previous.attachments if previous else [])}
    files = {f.index: f for f in body.files}
    listed = body.payload.get("attachments")
    if listed is None:
        # Without the array, an edit keeps what it had and new files are added.
        return list(kept.values()) + [_store(state, channel_id, f, {}) for f in body.files]
    result = []
    used: set[int] = set()
    for position, entry in enumerate(listed):
        entry_id = int(entry.get("id", -1))
        if entry_id in kept:
            result.append(kept[entry_id])
        elif entry_id in files:
            used.add(entry_id)
            result.append(_store(state, channel_id, files[entry_id], entry))
        else:
            raise errors.invalid_form(
                ("attachments", position, "id"), "ATTACHMENT_NOT_FOUND", "Unknown attachment"
            )
    result.extend(_store(state, channel_id, f, {}) for i, f in files.items() if i not in used)
    return result


def _store(
    state: EmulatorState, channel_id: int, file: FilePart, entry: dict[str, Any]
) -> AttachmentRecord:
    return state.store_attachment(
        channel_id,
        entry.get("filename") or file.filename,
        file.data,
        content_type=file.content_type,
        description=entry.get("description"),
        title=entry.get("title"),
    )


def _mentions(
    state: EmulatorState,
    content: str,
    allowed: dict[str, Any] | None,
    reply_to: MessageRecord | None,
) -> list[int]:
    """Return who the message pings, honouring allowed_mentions as Discord does."""
    found = [int(match) for match in USER_MENTION.findall(content)]
    if allowed is None or "users" in (allowed.get("parse") or []):
        pinged = found
    else:
        listed = {int(user_id) for user_id in allowed.get("users") or []}
        pinged = [user_id for user_id in found if user_id in listed]
    if reply_to is not None and (allowed is None or allowed.get("replied_user", False)):
        pinged.append(reply_to.author.id)
    return [user_id for user_id in dict.fromkeys(pinged) if user_id in state.users]


def require_live(message: MessageRecord | None) -> MessageRecord:
    """Return the message, or raise 10008 if it does not exist or was deleted."""
    if message is None or message.deleted:
        raise errors.unknown_message()
    return message
