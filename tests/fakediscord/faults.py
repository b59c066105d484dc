"""Discord's bad days on demand: outages, 429s, lost answers; kept apart from the bot's errors.

Faults touch REST requests only (paths under /api/v10); the CDN and the gateway socket are
never refused. Every fault the emulator injects is recorded as a `FaultRecord` in
`faults.records`, never in `state.errors`, so `assert_no_errors()` still speaks only of the
bot's own mistakes. Routes are matched on the path without `/api/v10`: a string is a glob
(`fnmatch`, `*` also spans `/`), optionally prefixed by a method (`"POST /channels/*/messages"`);
a compiled `re.Pattern` is searched in the path.
"""

from __future__ import annotations

import fnmatch
import hashlib
import math
import re
import socket
import struct
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING, Literal

from aiohttp import web

from .models import RequestRecord
from .routing import API, json_response

if TYPE_CHECKING:
    import random

    from aiohttp.typedefs import Middleware

    from .routing import Handler
    from .state import EmulatorState

FaultKind = Literal["outage", "rate_limit", "dropped_answer", "gateway_cut"]
RouteSpec = str | re.Pattern[str]

# What Discord's 429s carry besides the body; discord.py takes a 429 without Via for a
# Cloudflare ban and raises at once instead of waiting.
RATE_LIMIT_HEADERS = {"Via": "1.1 google", "X-RateLimit-Limit": "5", "X-RateLimit-Scope": "user"}


@dataclass
class FaultRecord:
    """One fault the emulator injected: which request (or socket) it hit, and how."""

    kind: FaultKind
    method: str
    path: str
    status: int | None  # the status answered (or, for a dropped answer, the one lost)
    at: float


@dataclass(frozen=True)
class RouteFilter:
    """Which requests a fault applies to: a method ("*" for any) and a path glob or regex."""

    method: str
    path: RouteSpec

    @classmethod
    def parse(cls, spec: RouteSpec, method: str = "*") -> RouteFilter:
        """Read "GLOB", "METHOD GLOB" or a compiled regex."""
        if isinstance(spec, str) and " " in spec:
            method, spec = spec.split(" ", 1)
        return cls(method.upper(), spec)

    def matches(self, method: str, path: str) -> bool:
        """Return whether a request (path without /api/v10) falls under this filter."""
        if self.method not in ("*", method):
            return False
        if isinstance(self.path, str):
            return fnmatch.fnmatchcase(path, self.path)
        return self.path.search(path) is not None


@dataclass
class Outage:
    """Answer every matching request with `status` until `until` (emulator clock)."""

    status: int
    until: float
    routes: RouteFilter


@dataclass
class RateLimit:
    """Answer a seeded random share of matching requests with 429."""

    share: float
    retry_after: float
    routes: RouteFilter
    rng: random.Random


@dataclass
class AnswerDrop:
    """Apply the next `remaining` matching requests, then cut the connection unanswered."""

    routes: RouteFilter
    remaining: int
    reset: bool


@dataclass
class FaultInjector:
    """Hold the faults in force and the record of those injected."""

    state: EmulatorState
    outages: list[Outage] = field(default_factory=list)
    rate_limits: list[RateLimit] = field(default_factory=list)
    drops: list[AnswerDrop] = field(default_factory=list)
    records: list[FaultRecord] = field(default_factory=list)

    def record(self, kind: FaultKind, method: str, path: str, status: int | None) -> None:
        """Note an injected fault and wake the test's waiters."""
        self.records.append(FaultRecord(kind, method, path, status, self.state.clock.now()))
        self.state.changed()

    def refusal(self, request: web.Request, path: str) -> web.Response | None:
        """Return the outage or 429 answer due for this request, if any."""
        now = self.state.clock.now()
        self.outages = [o for o in self.outages if o.until > now]
        for outage in self.outages:
            if outage.routes.matches(request.method, path):
                self.record("outage", request.method, request.path, outage.status)
                return server_error(outage.status)
        for limit in self.rate_limits:
            if limit.routes.matches(request.method, path) and limit.rng.random() < limit.share:
                self.record("rate_limit", request.method, request.path, 429)
                return self._rate_limited(request, limit.retry_after)
        return None

    def _rate_limited(self, request: web.Request, retry_after: float) -> web.Response:
        resource = request.match_info.route.resource
        template = resource.canonical if resource is not None else request.path
        bucket = hashlib.sha1(f"{request.method} {template}".encode()).hexdigest()[:32]
        reset_at = self.state.clock.wall().timestamp() + retry_after
        headers = RATE_LIMIT_HEADERS | {
            "Retry-After": str(max(1, math.ceil(retry_after))),  # whole seconds, as Discord's
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": f"{reset_at:.3f}",
            "X-RateLimit-Reset-After": f"{retry_after:.3f}",
            "X-RateLimit-Bucket": bucket,
        }
        body = {
            "message": "You are being rate limited.",
            "retry_after": retry_after,
            "global": False,
        }
        return json_response(body, status=429, headers=headers)

    def take_drop(self, method: str, path: str) -> AnswerDrop | None:
        """Claim one use of the first drop that matches, if any."""
        for drop in self.drops:
            if drop.remaining > 0 and drop.routes.matches(method, path):
                drop.remaining -= 1
                return drop
        return None


def server_error(status: int) -> web.Response:
    """Answer like Discord's own 5xx (and other generic) errors: {"message", "code": 0}."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:  # a status the standard library does not name, such as Cloudflare's 524
        phrase = "Error"
    return json_response({"message": f"{status}: {phrase}", "code": 0}, status=status)


def cut_connection(request: web.Request, *, reset: bool) -> None:
    """Close the request's TCP connection unanswered: a FIN, or with `reset` an RST."""
    transport = request.transport
    if transport is None:
        return
    if reset:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # A zero linger time makes close() send RST instead of FIN.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    else:
        transport.close()


def fault_middleware(faults: FaultInjector) -> Middleware:
    """Build the outermost middleware: refuse, or apply and then drop the answer."""
    state = faults.state

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(API + "/"):
            return await handler(request)  # the CDN and the gateway are never faulted
        path = request.path.removeprefix(API)
        refusal = faults.refusal(request, path)
        if refusal is not None:
            await request.read()  # take the whole body, so the client sees the answer
            state.requests.append(
                RequestRecord(
                    request.method,
                    request.path,
                    dict(request.query),
                    refusal.status,
                    state.clock.now(),
                )
            )
            return refusal
        drop = faults.take_drop(request.method, path)
        response = await handler(request)
        if drop is not None:
            faults.record("dropped_answer", request.method, request.path, response.status)
            cut_connection(request, reset=drop.reset)
        return response

    return middleware
