"""The gateway WebSocket: HELLO, heartbeats, IDENTIFY/READY, RESUME and server-sent reconnects."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from .payloads import guild_payload, member_payload, user_payload

if TYPE_CHECKING:
    from collections.abc import Callable

    from .models import MessageRecord
    from .state import EmulatorState

# Gateway opcodes.
DISPATCH = 0
HEARTBEAT = 1
IDENTIFY = 2
PRESENCE_UPDATE = 3
VOICE_STATE_UPDATE = 4
RESUME = 6
RECONNECT = 7
REQUEST_GUILD_MEMBERS = 8
INVALID_SESSION = 9
HELLO = 10
HEARTBEAT_ACK = 11

# Intents Discord only grants when enabled on the application's page.
GUILD_MEMBERS = 1 << 1
GUILD_PRESENCES = 1 << 8
GUILD_MESSAGES = 1 << 9
MESSAGE_CONTENT = 1 << 15
PRIVILEGED_INTENTS = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT
# Application flags that tell a client which privileged intents it may use.
INTENT_FLAGS = {GUILD_PRESENCES: 1 << 13, GUILD_MEMBERS: 1 << 15, MESSAGE_CONTENT: 1 << 19}


@dataclass
class IdentifyRecord:
    """What the bot sent in IDENTIFY: intents, properties, shard."""

    intents: int
    properties: dict[str, Any]
    shard: list[int] | None
    presence: dict[str, Any] | None

    @property
    def privileged_intents(self) -> int:
        """Return the privileged intent bits the bot asked for."""
        return self.intents & PRIVILEGED_INTENTS


@dataclass
class ConnectionRecord:
    """One WebSocket connection the bot opened, with its URL query (v, encoding, compress)."""

    path: str
    query: dict[str, str]
    close_code: int | None = None


@dataclass
class _Close:
    code: int
    reason: str


class _Connection:
    """A WebSocket with one writer task, so frames leave in the order they were queued."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        request: web.Request,
        on_sent: Callable[[int], None],
    ) -> None:
        self.ws = ws
        self.path = request.path
        self.transport = request.transport
        self._on_sent = on_sent
        self._queue: asyncio.Queue[dict[str, Any] | _Close | None] = asyncio.Queue()
        self._writer = asyncio.create_task(self._write())

    def send(self, frame: dict[str, Any]) -> None:
        """Queue a frame."""
        self._queue.put_nowait(frame)

    def close(self, code: int, reason: str) -> None:
        """Queue a close with a gateway close code, after the frames already queued."""
        self._queue.put_nowait(_Close(code, reason))

    def cut(self) -> None:
        """Drop the TCP connection at once: no close frame, nothing queued is flushed."""
        if self.transport is not None:
            self.transport.abort()

    async def _write(self) -> None:
        while (item := await self._queue.get()) is not None:
            if isinstance(item, _Close):
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await self.ws.close(code=item.code, message=item.reason.encode())
                return
            # Text frames: discord.py asks for zlib-stream but parses uncompressed text as well.
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self.ws.send_str(json.dumps(item, separators=(",", ":")))
            if item.get("s") is not None:
                self._on_sent(item["s"])

    async def finish(self) -> None:
        """Stop the writer once it has flushed what was queued."""
        self._queue.put_nowait(None)
        await self._writer


@dataclass
class GatewaySession:
    """A gateway session: its events by sequence number outlive a connection, for RESUME."""

    session_id: str
    identify: IdentifyRecord
    events: list[dict[str, Any]] = field(default_factory=list)
    connection: _Connection | None = field(default=None, repr=False)
    delivered: int = 0
    ready_seq: int = 0

    @property
    def seq(self) -> int:
        """Return the last sequence number used."""
        return len(self.events)


class Gateway:
    """Serve the bot's gateway connections and dispatch events into its session."""

    def __init__(self, state: EmulatorState, *, heartbeat_interval_ms: int) -> None:
        self.state = state
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.allowed_privileged_intents = 0
        self.ws_url = ""
        self.connections: list[ConnectionRecord] = []
        self.identifies: list[IdentifyRecord] = []
        self.presence_updates: list[dict[str, Any]] = []
        self.sessions: dict[str, GatewaySession] = {}
        self.current: GatewaySession | None = None
        self.heartbeats = 0
        self.ready_count = 0
        self.resume_count = 0
        self._sockets: set[web.WebSocketResponse] = set()

    @property
    def resume_url(self) -> str:
        """Return the URL READY hands out for resuming, distinct so a test can tell them apart."""
        return f"{self.ws_url}/resume"

    @property
    def application_flags(self) -> int:
        """Return the application flags granting the privileged intents that are enabled."""
        return sum(
            flag for bit, flag in INTENT_FLAGS.items() if self.allowed_privileged_intents & bit
        )

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """Run one gateway connection until either side closes it."""
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        record = ConnectionRecord(request.path, dict(request.query))
        self.connections.append(record)
        self._sockets.add(ws)
        session: GatewaySession | None = None

        def on_sent(seq: int) -> None:
            if session is not None:
                session.delivered = max(session.delivered, seq)
            self.state.changed()

        connection = _Connection(ws, request, on_sent)
        connection.send({"op": HELLO, "d": {"heartbeat_interval": self.heartbeat_interval_ms}})
        # This emulates API v10 with JSON only; Discord closes other requests the same way.
        if request.query.get("v") != "10":
            connection.close(4012, "Invalid API version.")
        elif request.query.get("encoding", "json") != "json":
            connection.close(4002, "Error while decoding payload.")
        try:
            async for message in ws:
                if message.type is WSMsgType.ERROR:
                    break  # the socket is gone (cut_gateway, or the client vanished)
                if message.type is not WSMsgType.TEXT:
                    connection.close(4002, "Error while decoding payload.")
                    break
                frame = json.loads(message.data)
                session = self._receive(connection, session, frame)
        finally:
            if session is not None and session.connection is connection:
                session.connection = None
            await connection.finish()
            record.close_code = ws.close_code
            self._sockets.discard(ws)
            self.state.changed()
        return ws

    def _receive(
        self, connection: _Connection, session: GatewaySession | None, frame: dict[str, Any]
    ) -> GatewaySession | None:
        op = frame.get("op")
        raw = frame.get("d")
        data: dict[str, Any] = raw if isinstance(raw, dict) else {}
        if op == HEARTBEAT:
            self.heartbeats += 1
            connection.send({"op": HEARTBEAT_ACK})
            self.state.changed()
            return session
        if op == IDENTIFY:
            if session is not None:
                connection.close(4005, "Already authenticated.")
                return session
            return self._identify(connection, data)
        if op == RESUME:
            return self._resume(connection, data)
        if session is None:
            connection.close(4003, "Not authenticated.")
            return None
        if op == PRESENCE_UPDATE:
            self.presence_updates.append(data)
        elif op == REQUEST_GUILD_MEMBERS:
            self._send_members(session, data)
        elif op != VOICE_STATE_UPDATE:
            connection.close(4001, "Unknown opcode.")
        return session

    def _identify(self, connection: _Connection, data: dict[str, Any]) -> GatewaySession | None:
        if data.get("token") != self.state.token:
            connection.close(4004, "Authentication failed.")
            return None
        identify = IdentifyRecord(
            intents=int(data.get("intents", 0)),
            properties=data.get("properties", {}),
            shard=data.get("shard"),
            presence=data.get("presence"),
        )
        self.identifies.append(identify)
        if identify.privileged_intents & ~self.allowed_privileged_intents:
            connection.close(4014, "Disallowed intent(s).")
            return None
        session = GatewaySession(secrets.token_hex(16), identify, connection=connection)
        self.sessions[session.session_id] = session
        self.current = session
        self._dispatch(session, "READY", self._ready_payload(session))
        for guild in self.state.guilds.values():
            self._dispatch(session, "GUILD_CREATE", guild_payload(guild))
        session.ready_seq = session.seq
        self.ready_count += 1
        return session

    def _ready_payload(self, session: GatewaySession) -> dict[str, Any]:
        user = user_payload(self.state.bot_user) | {"verified": True, "mfa_enabled": False}
        return {
            "v": 10,
            "user": user,
            "guilds": [{"id": str(g), "unavailable": True} for g in self.state.guilds],
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": self.resume_url,
            "shard": session.identify.shard or [0, 1],
            "application": {"id": str(self.state.application_id), "flags": self.application_flags},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "user_settings": {},
            "_trace": ["fakediscord"],
        }

    def _resume(self, connection: _Connection, data: dict[str, Any]) -> GatewaySession | None:
        session = self.sessions.get(str(data.get("session_id")))
        if session is None or data.get("token") != self.state.token:
            connection.send({"op": INVALID_SESSION, "d": False})
            return None
        if session.connection is not None and session.connection is not connection:
            session.connection.close(4000, "Session resumed elsewhere.")
        session.connection = connection
        self.current = session
        last_seen = int(data.get("seq") or 0)
        for event in session.events[last_seen:]:
            connection.send(event)
        self.resume_count += 1
        self._dispatch(session, "RESUMED", {"_trace": ["fakediscord"]})
        return session

    def _send_members(self, session: GatewaySession, data: dict[str, Any]) -> None:
        guild = self.state.guilds.get(int(data["guild_id"]))
        if guild is None:
            return
        query = str(data.get("query") or "").lower()
        user_ids = {int(u) for u in data.get("user_ids") or []}
        wanted = [
            member
            for member in guild.members.values()
            if member.user.id in user_ids
            or (not user_ids and member.user.username.lower().startswith(query))
        ]
        members = [member_payload(member) for member in wanted]
        chunk = {
            "guild_id": str(guild.id),
            "members": members,
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if "nonce" in data:
            chunk["nonce"] = data["nonce"]
        self._dispatch(session, "GUILD_MEMBERS_CHUNK", chunk)

    def _dispatch(self, session: GatewaySession, event: str, data: dict[str, Any]) -> None:
        frame = {"op": DISPATCH, "t": event, "s": session.seq + 1, "d": data}
        session.events.append(frame)
        if session.connection is not None:
            session.connection.send(frame)

    # What the test and the REST side call.

    def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Dispatch an event to the bot; held for RESUME while it is disconnected."""
        if self.current is None:
            raise RuntimeError("the bot has no gateway session: start it and wait_until_ready()")
        self._dispatch(self.current, event, data)

    def publish_message(self, event: str, message: MessageRecord) -> None:
        """Dispatch a message event if the bot asked for guild messages; never ephemeral ones."""
        if message.ephemeral or not self.wants(GUILD_MESSAGES):
            return
        if event == "MESSAGE_DELETE":
            data: dict[str, Any] = {
                "id": str(message.id),
                "channel_id": str(message.channel_id),
                "guild_id": str(message.guild_id),
            }
        else:
            # Discord echoes a create's nonce in MESSAGE_CREATE, as in the REST answer.
            data = self.state.message_json(message, nonce=event == "MESSAGE_CREATE")
        self.dispatch(event, data)

    def wants(self, intent: int) -> bool:
        """Return whether the current session asked for an intent."""
        return self.current is not None and bool(self.current.identify.intents & intent)

    def ready(self) -> bool:
        """Return whether READY and every GUILD_CREATE have been written to the bot's socket."""
        session = self.current
        return (
            session is not None
            and session.connection is not None
            and session.delivered >= session.ready_seq > 0
        )

    def send_reconnect(self) -> None:
        """Send RECONNECT (op 7); events until the bot resumes wait for the replay."""
        connection = self._detach()
        connection.send({"op": RECONNECT, "d": None})

    def invalidate_session(self, *, resumable: bool) -> None:
        """Send INVALID_SESSION (op 9); when not resumable the session is gone for good."""
        session = self.current
        connection = self._detach()
        connection.send({"op": INVALID_SESSION, "d": resumable})
        if not resumable and session is not None:
            self.sessions.pop(session.session_id, None)
            self.current = None

    def cut(self) -> str:
        """Cut the bot's socket without a close frame; events wait for its RESUME.

        Return the path of the connection that was cut.
        """
        connection = self._detach()
        connection.cut()
        return connection.path

    def _detach(self) -> _Connection:
        session = self.current
        if session is None or session.connection is None:
            raise RuntimeError("the bot is not connected to the gateway")
        connection = session.connection
        session.connection = None
        return connection

    async def close_all(self) -> None:
        """Close every open socket, as Discord going away would."""
        for ws in list(self._sockets):
            await ws.close(code=1001, message=b"Emulator stopping.")
