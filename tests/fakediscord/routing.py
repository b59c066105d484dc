"""What every REST route shares: auth, JSON answers, and recording of requests and errors."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import errors
from .errors import APIError
from .interactions import InteractionRecord
from .models import ApiErrorRecord, RequestRecord
from .state import EmulatorState, UnknownRoute

if TYPE_CHECKING:
    from aiohttp.typedefs import Middleware

    from .gateway import Gateway

API = "/api/v10"
INTERACTION_KEY = web.RequestKey("interaction", InteractionRecord)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Services:
    """The state and gateway that route handlers act on."""

    state: EmulatorState
    gateway: Gateway


def require_bot(request: web.Request, state: EmulatorState) -> None:
    """Refuse a request without the bot's token, with Discord's 401."""
    if request.headers.get("Authorization") != f"Bot {state.token}":
        raise errors.unauthorized()


def snowflake(request: web.Request, name: str) -> int:
    """Read a snowflake path parameter; a malformed one is a 50035 like Discord's."""
    value = request.match_info[name]
    if not value.isdigit():
        raise errors.invalid_form(
            (name,), "NUMBER_TYPE_COERCE", f'Value "{value}" is not snowflake.'
        )
    return int(value)


def json_response(
    data: Any, status: int = 200, *, headers: dict[str, str] | None = None
) -> web.Response:
    """Answer with JSON, typed exactly `application/json` as discord.py insists (no charset)."""
    body = json.dumps(data, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json"} | (headers or {})
    return web.Response(body=body, status=status, headers=headers)


def no_content() -> web.Response:
    """Answer 204 No Content."""
    return web.Response(status=204)


def truthy(value: str | None) -> bool:
    """Read a boolean query parameter the way Discord does."""
    return (value or "").lower() in ("1", "true")


def recording_middleware(state: EmulatorState) -> Middleware:
    """Build the middleware that turns APIError into Discord's answer and records it."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            response = await handler(request)
        except APIError as error:
            response = json_response(error.body(), status=error.status)
            interaction = request.get(INTERACTION_KEY)
            record = ApiErrorRecord(
                method=request.method,
                path=request.path,
                status=error.status,
                code=error.code,
                message=error.message,
                errors=error.errors,
                at=state.clock.now(),
                interaction_id=interaction.id if interaction else None,
            )
            state.errors.append(record)
            if interaction is not None:
                interaction.errors.append(record)
        state.requests.append(
            RequestRecord(
                request.method,
                request.path,
                dict(request.query),
                response.status,
                state.clock.now(),
            )
        )
        state.changed()
        return response

    return middleware


def unknown_route(state: EmulatorState) -> Handler:
    """Build the catch-all that answers 404 and lists the route for the test to fail on."""

    async def handler(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        state.unknown_routes.append(
            UnknownRoute(request.method, request.path, dict(request.query), body)
        )
        return json_response({"message": "404: Not Found", "code": 0}, status=404)

    return handler
