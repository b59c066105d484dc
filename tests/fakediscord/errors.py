"""Discord's error responses, shaped exactly as Discord sends them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class APIError(Exception):
    """Abort a request with the status and JSON body Discord would answer with."""

    def __init__(
        self, status: int, code: int, message: str, errors: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def body(self) -> dict[str, Any]:
        """Return the JSON body; discord.py reads `code`, `message` and `errors` from it."""
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors is not None:
            body["errors"] = self.errors
        return body


@dataclass
class FormErrors:
    """Collect field errors and nest them the way Discord's 50035 body does."""

    entries: list[tuple[tuple[str | int, ...], str, str]] = field(default_factory=list)

    def add(self, path: tuple[str | int, ...], code: str, message: str) -> None:
        """Record one problem at a field path such as ("components", 0, "components")."""
        self.entries.append((path, code, message))

    def __bool__(self) -> bool:
        return bool(self.entries)

    def nested(self) -> dict[str, Any]:
        """Return {"field": {"0": {"_errors": [...]}}}, Discord's layout for form errors."""
        root: dict[str, Any] = {}
        for path, code, message in self.entries:
            node = root
            for part in path:
                node = node.setdefault(str(part), {})
            node.setdefault("_errors", []).append({"code": code, "message": message})
        return root

    def raise_if_any(self) -> None:
        """Raise 50035 Invalid Form Body if any problem was recorded."""
        if self.entries:
            raise APIError(400, 50035, "Invalid Form Body", self.nested())


def unauthorized() -> APIError:
    """Answer a request without a valid bot token."""
    return APIError(401, 0, "401: Unauthorized")


def not_found() -> APIError:
    """Answer a route Discord does not have."""
    return APIError(404, 0, "404: Not Found")


def unknown_channel() -> APIError:
    """Answer a channel id that does not exist."""
    return APIError(404, 10003, "Unknown Channel")


def unknown_guild() -> APIError:
    """Answer a guild id that does not exist."""
    return APIError(404, 10004, "Unknown Guild")


def unknown_message() -> APIError:
    """Answer a message id that does not exist (or was deleted)."""
    return APIError(404, 10008, "Unknown Message")


def unknown_user() -> APIError:
    """Answer a user id that does not exist."""
    return APIError(404, 10013, "Unknown User")


def unknown_webhook() -> APIError:
    """Answer a webhook that does not exist, such as a follow-up before any response."""
    return APIError(404, 10015, "Unknown Webhook")


def unknown_command() -> APIError:
    """Answer an application command id that does not exist."""
    return APIError(404, 10063, "Unknown application command")


def unknown_interaction() -> APIError:
    """Answer a callback that came too late (over 3 s) or for an interaction that never was."""
    return APIError(404, 10062, "Unknown interaction")


def already_acknowledged() -> APIError:
    """Answer a second initial response to the same interaction."""
    return APIError(400, 40060, "Interaction has already been acknowledged.")


def invalid_webhook_token() -> APIError:
    """Answer an interaction token used after its 15 minutes."""
    return APIError(401, 50027, "Invalid Webhook Token")


def entity_too_large() -> APIError:
    """Answer a file over the upload limit."""
    return APIError(413, 40005, "Request entity too large")


def empty_message() -> APIError:
    """Answer a message with nothing in it."""
    return APIError(400, 50006, "Cannot send an empty message")


def missing_permissions() -> APIError:
    """Answer an action the bot lacks the permission for."""
    return APIError(403, 50013, "Missing Permissions")


def invalid_form(path: tuple[str | int, ...], code: str, message: str) -> APIError:
    """Build a 50035 with a single field error."""
    errors = FormErrors()
    errors.add(path, code, message)
    return APIError(400, 50035, "Invalid Form Body", errors.nested())
