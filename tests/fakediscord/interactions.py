"""Interaction records: what the bot answered, when, and the messages that came of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from collections.abc import Callable

    from .models import ApiErrorRecord, ChannelRecord, MessageRecord, UserRecord
    from .waiting import Notifier

# Discord's rules for an interaction token.
INITIAL_RESPONSE_DEADLINE = 3.0
TOKEN_LIFETIME = 15 * 60.0

# Callback (interaction response) types.
PONG = 1
CHANNEL_MESSAGE = 4
DEFERRED_CHANNEL_MESSAGE = 5
DEFERRED_UPDATE_MESSAGE = 6
UPDATE_MESSAGE = 7
AUTOCOMPLETE_RESULT = 8
MODAL = 9

InteractionKind = Literal["slash", "component", "modal_submit", "autocomplete"]


@dataclass
class CallbackRecord:
    """The bot's initial response to an interaction."""

    type: int
    at: float
    data: dict[str, Any]


@dataclass(eq=False)  # an interaction is itself: compare by identity
class InteractionRecord:
    """One injected interaction; a test awaits its response, messages and errors."""

    id: int
    token: str
    type: int
    kind: InteractionKind
    user: UserRecord
    channel: ChannelRecord
    created_at: float
    payload: dict[str, Any]
    attachment_size_limit: int
    notifier: Notifier = field(repr=False)
    source_message: MessageRecord | None = None
    callback: CallbackRecord | None = None
    original: MessageRecord | None = None
    followups: list[MessageRecord] = field(default_factory=list)
    errors: list[ApiErrorRecord] = field(default_factory=list)
    modal: dict[str, Any] | None = None

    @property
    def responded(self) -> bool:
        """Return whether the bot sent its initial response."""
        return self.callback is not None

    @property
    def deferred(self) -> bool:
        """Return whether the initial response was a defer (type 5 or 6)."""
        return self.callback is not None and self.callback.type in (
            DEFERRED_CHANNEL_MESSAGE,
            DEFERRED_UPDATE_MESSAGE,
        )

    @property
    def response_delay(self) -> float | None:
        """Return how long, on the emulator's clock, the bot took to respond."""
        return None if self.callback is None else self.callback.at - self.created_at

    @property
    def messages(self) -> list[MessageRecord]:
        """Return the original response (if any) then every follow-up."""
        return ([self.original] if self.original else []) + self.followups

    async def wait_for_response(self, timeout: float = 5.0) -> CallbackRecord:  # noqa: ASYNC109 - a default keeps a broken bot from hanging the test
        """Wait until the bot sends its initial response."""
        return await self.notifier.wait_for(
            lambda: self.callback, timeout=timeout, what=f"a response to interaction {self.id}"
        )

    async def wait_for_original(
        self,
        predicate: Callable[[MessageRecord], bool] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 - a default keeps a broken bot from hanging the test
    ) -> MessageRecord:
        """Wait until the original response exists and matches (default: it finished loading)."""
        check = predicate or (lambda message: not message.loading)

        def probe() -> MessageRecord | None:
            original = self.original
            return original if original is not None and check(original) else None

        return await self.notifier.wait_for(
            probe, timeout=timeout, what=f"the original response of interaction {self.id}"
        )

    async def wait_for_followup(
        self,
        predicate: Callable[[MessageRecord], bool] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 - a default keeps a broken bot from hanging the test
    ) -> MessageRecord:
        """Wait for a follow-up message that matches the predicate."""
        check = predicate or (lambda _message: True)
        return await self.notifier.wait_for(
            lambda: next((m for m in self.followups if check(m)), None),
            timeout=timeout,
            what=f"a follow-up to interaction {self.id}",
        )

    async def wait_for_error(self, code: int | None = None, timeout: float = 5.0) -> ApiErrorRecord:  # noqa: ASYNC109 - a default keeps a broken bot from hanging the test
        """Wait until the emulator refused one of the bot's requests for this interaction."""
        return await self.notifier.wait_for(
            lambda: next((e for e in self.errors if code is None or e.code == code), None),
            timeout=timeout,
            what=f"error {code or 'any'} on interaction {self.id}",
        )
