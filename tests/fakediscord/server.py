"""The emulator's server: start it, point discord.py at it, run a client, steer the gateway.

It also injects Discord's bad days (see faults.py): outages, 429s, answers lost after the
request was applied, and a gateway socket cut without a close frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
from typing import TYPE_CHECKING, TypeVar

import discord
import discord.asset
import discord.gateway
import discord.http
import yarl
from aiohttp import web

from .cdn import CdnRoutes
from .clock import Clock
from .faults import AnswerDrop, FaultInjector, Outage, RateLimit, RouteFilter, fault_middleware
from .gateway import Gateway, IdentifyRecord
from .rest_core import CoreRoutes
from .rest_interactions import InteractionRoutes
from .rest_messages import MessageRoutes
from .routing import Services, recording_middleware, unknown_route
from .state import EmulatorState

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from types import TracebackType
    from typing import Self

    from .faults import FaultKind, FaultRecord, RouteSpec
    from .models import UserRecord

ClientT = TypeVar("ClientT", bound=discord.Client)

# Big enough that our own 40005 check, not aiohttp's limit, decides about large files.
MAX_REQUEST_BYTES = 256 * 1024 * 1024


class EmulatorServer:
    """Serve Discord's REST API, gateway and CDN on 127.0.0.1 for the unmodified discord.py."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        token: str = "emulator-bot-token",
        heartbeat_interval_ms: int = 41_250,
    ) -> None:
        self.clock = clock or Clock()
        self.state = EmulatorState(self.clock, token=token)
        self.gateway = Gateway(self.state, heartbeat_interval_ms=heartbeat_interval_ms)
        self.fault_injector = FaultInjector(self.state)
        self.port = 0
        self._runner: web.AppRunner | None = None

    # Lifecycle.

    @property
    def token(self) -> str:
        """Return the bot token the emulator accepts."""
        return self.state.token

    @property
    def base_url(self) -> str:
        """Return http://127.0.0.1:<port>."""
        return self.state.base_url

    @property
    def api_url(self) -> str:
        """Return the REST base that replaces https://discord.com/api/v10."""
        return f"{self.base_url}/api/v10"

    @property
    def bot_user(self) -> UserRecord:
        """Return the bot's own user."""
        return self.state.bot_user

    @property
    def application_id(self) -> int:
        """Return the application id (equal to the bot user's id)."""
        return self.state.application_id

    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1."""
        app = web.Application(
            middlewares=[fault_middleware(self.fault_injector), recording_middleware(self.state)],
            client_max_size=MAX_REQUEST_BYTES,
        )
        services = Services(self.state, self.gateway)
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get("/gateway/resume", self.gateway.handle)
        for routes in (CoreRoutes(services), MessageRoutes(services), InteractionRoutes(services)):
            routes.register(app.router)
        CdnRoutes(self.state).register(app.router)
        app.router.add_route("*", "/{tail:.*}", unknown_route(self.state))
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))  # port 0: the OS picks a free one
        self.port = listener.getsockname()[1]
        await web.SockSite(self._runner, listener).start()
        self.state.base_url = f"http://127.0.0.1:{self.port}"
        self.gateway.ws_url = f"ws://127.0.0.1:{self.port}/gateway"

    async def stop(self) -> None:
        """Close every connection and stop listening."""
        await self.gateway.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @contextlib.contextmanager
    def install(self) -> Iterator[None]:
        """Point discord.py's REST, gateway and CDN bases at the emulator; restore them after.

        discord.py's webhook and interaction code builds its URLs with the same
        `discord.http.Route`, so one REST base covers bot and webhook requests alike.
        """
        saved = (
            discord.http.Route.BASE,
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY,
            discord.asset.Asset.BASE,
        )
        discord.http.Route.BASE = self.api_url
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway.ws_url)
        discord.asset.Asset.BASE = f"{self.base_url}/cdn"
        try:
            yield
        finally:
            (
                discord.http.Route.BASE,
                discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY,
                discord.asset.Asset.BASE,
            ) = saved

    @contextlib.asynccontextmanager
    async def running(self, client: ClientT, *, timeout: float = 10.0) -> AsyncIterator[ClientT]:  # noqa: ASYNC109 - a default keeps a broken bot from hanging the test
        """Run `client.start(token)` until the gateway is READY; close the client on exit."""
        task = asyncio.create_task(client.start(self.token), name="emulated-discord-client")
        try:
            waiter = asyncio.ensure_future(self.wait_until_ready(timeout))
            done, _ = await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
            if task in done:
                waiter.cancel()
                task.result()  # raises what stopped the client (LoginFailure, intents...)
                raise RuntimeError("the client stopped before it was ready")
            waiter.result()
            yield client
        finally:
            await client.close()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # Gateway control.

    async def wait_until_ready(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109 - a default keeps a broken bot from hanging the test
        """Wait until READY and every GUILD_CREATE have been written to the bot's socket."""
        await self.state.notifier.wait_for(
            lambda: True if self.gateway.ready() else None, timeout=timeout, what="the bot's READY"
        )

    def send_reconnect(self) -> None:
        """Ask the bot to reconnect and resume (op 7); events meanwhile are replayed."""
        self.gateway.send_reconnect()

    def invalidate_session(self, *, resumable: bool = False) -> None:
        """Invalidate the bot's session (op 9); unless resumable, it must IDENTIFY again."""
        self.gateway.invalidate_session(resumable=resumable)

    async def wait_for_resume(self, count: int = 1, timeout: float = 5.0) -> None:  # noqa: ASYNC109 - a default keeps a broken bot from hanging the test
        """Wait until the bot has resumed `count` times in all and RESUMED was sent."""
        await self.state.notifier.wait_for(
            lambda: True if self.gateway.resume_count >= count and self.gateway.ready() else None,
            timeout=timeout,
            what=f"resume number {count}",
        )

    async def wait_for_identify(self, count: int, timeout: float = 5.0) -> None:  # noqa: ASYNC109 - a default keeps a broken bot from hanging the test
        """Wait until the bot has identified `count` times in all and is ready again."""
        await self.state.notifier.wait_for(
            lambda: True if self.gateway.ready_count >= count and self.gateway.ready() else None,
            timeout=timeout,
            what=f"identify number {count}",
        )

    @property
    def identifies(self) -> list[IdentifyRecord]:
        """Return every IDENTIFY the bot sent (intents, properties)."""
        return self.gateway.identifies

    # Fault injection.

    def outage(self, seconds: float, status: int = 503, *, routes: RouteSpec = "*") -> None:
        """Answer matching REST requests with `status` for `seconds` of emulator clock.

        The body is Discord's generic `{"message": "503: Service Unavailable", "code": 0}`.
        `routes` is a path glob without /api/v10, optionally after a method
        ("POST /channels/*/messages", "/webhooks/*"), or a compiled regex searched in the path.
        The CDN and the gateway keep working. Requests refused are not applied.
        """
        until = self.clock.now() + seconds
        self.fault_injector.outages.append(Outage(status, until, RouteFilter.parse(routes)))

    def end_outage(self) -> None:
        """End every outage now."""
        self.fault_injector.outages.clear()

    def rate_limit(
        self, share: float, retry_after: float, *, seed: int = 0, routes: RouteSpec = "*"
    ) -> None:
        """Answer a share (0..1) of matching REST requests with 429 until `end_rate_limit()`.

        Which requests are refused follows `random.Random(seed)`, one draw per matching request
        in arrival order, retries included. Answers carry Discord's body and headers (`Via`,
        `Retry-After`, `X-RateLimit-*`), so discord.py sleeps `retry_after` and retries.
        """
        rng = random.Random(seed)
        limit = RateLimit(share, retry_after, RouteFilter.parse(routes), rng)
        self.fault_injector.rate_limits.append(limit)

    def end_rate_limit(self) -> None:
        """Stop answering 429."""
        self.fault_injector.rate_limits.clear()

    def drop_answer_of(
        self, method: str, path: RouteSpec, count: int = 1, *, reset: bool = False
    ) -> None:
        """Apply the next `count` matching requests, then close the connection unanswered.

        `method` is "POST", "PATCH"... or "*"; `path` a glob or regex as for `outage()`.
        The client sees `aiohttp.ServerDisconnectedError`, or with `reset` (an RST instead of
        a FIN) `aiohttp.ClientOSError` with errno ECONNRESET. aiohttp resends an idempotent
        request (GET, PUT, DELETE) once by itself, so that one request can use up two drops.
        """
        routes = RouteFilter.parse(path, method)
        self.fault_injector.drops.append(AnswerDrop(routes, count, reset))

    def end_dropped_answers(self) -> None:
        """Forget the answer drops still armed."""
        self.fault_injector.drops.clear()

    def cut_gateway(self) -> None:
        """Close the bot's gateway socket without a close frame; discord.py must RESUME."""
        path = self.gateway.cut()
        self.fault_injector.record("gateway_cut", "GET", path, None)

    @property
    def faults(self) -> list[FaultRecord]:
        """Return every fault injected, oldest first (never listed in `errors`)."""
        return self.fault_injector.records

    async def wait_for_fault(
        self,
        kind: FaultKind | None = None,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - a default keeps a broken bot from hanging the test
    ) -> FaultRecord:
        """Wait until `count` faults (of that kind) were injected in all; return the last."""

        def probe() -> FaultRecord | None:
            found = [f for f in self.faults if kind is None or f.kind == kind]
            return found[count - 1] if len(found) >= count else None

        return await self.state.notifier.wait_for(
            probe, timeout=timeout, what=f"{count} injected fault(s) of kind {kind or 'any'}"
        )
