"""Discord's limits on messages and commands, checked the way Discord checks them."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from . import errors
from .errors import FormErrors
from .models import IS_COMPONENTS_V2

if TYPE_CHECKING:
    from collections.abc import Sequence

MAX_CONTENT = 2000
MAX_ATTACHMENTS = 10
MAX_EMBEDS = 10
MAX_ROWS = 5
MAX_ROW_ITEMS = 5
MAX_CUSTOM_ID = 100
MAX_LABEL = 80
MAX_V2_COMPONENTS = 40
MAX_SELECT_OPTIONS = 25
MAX_COMMAND_OPTIONS = 25
MAX_CHOICES = 25

ACTION_ROW = 1
BUTTON = 2
SELECT_TYPES = frozenset({3, 5, 6, 7, 8})
LINK_STYLE = 5
PREMIUM_STYLE = 6

# Discord's pattern for command and option names (lower case for slash commands).
COMMAND_NAME = re.compile(r"^[-_'\w]{1,32}$")

Path = tuple[str | int, ...]


def _max_length(problems: FormErrors, path: Path, value: Any, limit: int) -> None:
    if isinstance(value, str) and len(value) > limit:
        problems.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")


def check_file_sizes(sizes: Sequence[int], limit: int) -> None:
    """Refuse any file over the limit with 40005, before the body is read as a form."""
    if any(size > limit for size in sizes):
        raise errors.entity_too_large()


def check_message_body(payload: dict[str, Any], *, file_count: int) -> None:
    """Raise 50035 listing every field of a message body that breaks Discord's limits."""
    problems = FormErrors()
    _max_length(problems, ("content",), payload.get("content"), MAX_CONTENT)
    _check_embeds(problems, payload.get("embeds") or [])
    attachments = payload.get("attachments")
    if file_count > MAX_ATTACHMENTS or (
        isinstance(attachments, list) and len(attachments) > MAX_ATTACHMENTS
    ):
        problems.add(
            ("attachments",),
            "BASE_TYPE_MAX_LENGTH",
            f"Must be {MAX_ATTACHMENTS} or fewer in length.",
        )
    components = payload.get("components")
    if components:
        v2 = bool(int(payload.get("flags") or 0) & IS_COMPONENTS_V2)
        _check_components(problems, components, v2=v2)
    problems.raise_if_any()


def _check_embeds(problems: FormErrors, embeds: list[dict[str, Any]]) -> None:
    if len(embeds) > MAX_EMBEDS:
        problems.add(
            ("embeds",), "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_EMBEDS} or fewer in length."
        )
    for index, embed in enumerate(embeds):
        _max_length(problems, ("embeds", index, "title"), embed.get("title"), 256)
        _max_length(problems, ("embeds", index, "description"), embed.get("description"), 4096)
        if len(embed.get("fields") or []) > 25:
            problems.add(
                ("embeds", index, "fields"),
                "BASE_TYPE_MAX_LENGTH",
                "Must be 25 or fewer in length.",
            )


def _check_components(problems: FormErrors, components: list[dict[str, Any]], *, v2: bool) -> None:
    seen: set[str] = set()
    if not v2 and len(components) > MAX_ROWS:
        problems.add(
            ("components",), "BASE_TYPE_BAD_LENGTH", f"Must be between 1 and {MAX_ROWS} in length."
        )
    if v2 and len(components) > MAX_V2_COMPONENTS:
        problems.add(
            ("components",),
            "BASE_TYPE_BAD_LENGTH",
            f"Must be between 1 and {MAX_V2_COMPONENTS} in length.",
        )
    for index, component in enumerate(components):
        path: Path = ("components", index)
        if not v2 and component.get("type") != ACTION_ROW:
            problems.add(
                (*path, "type"), "UNION_TYPE_CHOICES", 'Value of field "type" must be one of (1,).'
            )
            continue
        _check_component(problems, component, path, seen)


def _check_component(
    problems: FormErrors, component: dict[str, Any], path: Path, seen: set[str]
) -> None:
    kind = component.get("type")
    if kind == ACTION_ROW:
        _check_row(problems, component.get("components") or [], path, seen)
        return
    if kind == BUTTON:
        _check_button(problems, component, path)
    elif kind in SELECT_TYPES:
        options = component.get("options")
        if kind == 3 and not 1 <= len(options or []) <= MAX_SELECT_OPTIONS:
            problems.add(
                (*path, "options"),
                "BASE_TYPE_BAD_LENGTH",
                f"Must be between 1 and {MAX_SELECT_OPTIONS} in length.",
            )
        _max_length(problems, (*path, "placeholder"), component.get("placeholder"), 150)
    custom_id = component.get("custom_id")
    if isinstance(custom_id, str):
        _max_length(problems, (*path, "custom_id"), custom_id, MAX_CUSTOM_ID)
        if custom_id in seen:
            problems.add(
                (*path, "custom_id"),
                "COMPONENT_CUSTOM_ID_DUPLICATED",
                "Component custom id cannot be duplicated",
            )
        seen.add(custom_id)
    for index, child in enumerate(component.get("components") or []):
        _check_component(problems, child, (*path, "components", index), seen)
    accessory = component.get("accessory")
    if isinstance(accessory, dict):
        _check_component(problems, accessory, (*path, "accessory"), seen)


def _check_row(
    problems: FormErrors, children: list[dict[str, Any]], path: Path, seen: set[str]
) -> None:
    if not 1 <= len(children) <= MAX_ROW_ITEMS:
        problems.add(
            (*path, "components"),
            "BASE_TYPE_BAD_LENGTH",
            f"Must be between 1 and {MAX_ROW_ITEMS} in length.",
        )
    # A select menu fills its row on its own: it is five buttons wide.
    if len(children) > 1 and any(child.get("type") in SELECT_TYPES for child in children):
        problems.add(
            (*path, "components"),
            "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
            "The specified component exceeds the maximum width",
        )
    for index, child in enumerate(children):
        _check_component(problems, child, (*path, "components", index), seen)


def _check_button(problems: FormErrors, button: dict[str, Any], path: Path) -> None:
    _max_length(problems, (*path, "label"), button.get("label"), MAX_LABEL)
    style = button.get("style")
    if style == LINK_STYLE:
        if not button.get("url"):
            problems.add((*path, "url"), "BASE_TYPE_REQUIRED", "This field is required")
        if "custom_id" in button:
            problems.add(
                (*path, "custom_id"),
                "COMPONENT_INVALID_FIELD",
                "A link button cannot have a custom_id",
            )
    elif style != PREMIUM_STYLE and not button.get("custom_id"):
        problems.add((*path, "custom_id"), "BASE_TYPE_REQUIRED", "This field is required")


def is_empty_message(
    content: str, embeds: list[Any], components: list[Any], attachment_count: int
) -> bool:
    """Return whether a message would show nothing, which Discord refuses with 50006."""
    return not content and not embeds and not components and attachment_count == 0


def check_commands(commands: list[dict[str, Any]], *, is_global: bool) -> None:
    """Raise 50035 for command payloads Discord would refuse on a bulk overwrite."""
    problems = FormErrors()
    if is_global and len(commands) > 100:
        problems.add((), "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.")
    names: set[tuple[str, int]] = set()
    for index, command in enumerate(commands):
        kind = int(command.get("type", 1))
        key = (str(command.get("name")), kind)
        if key in names:
            problems.add(
                (index, "name"),
                "APPLICATION_COMMANDS_DUPLICATE_NAME",
                "Application command names must be unique",
            )
        names.add(key)
        _check_named(problems, command, (index,), slash=kind == 1)
        if kind == 1:
            _check_options(problems, command.get("options") or [], (index, "options"))
    problems.raise_if_any()


def _check_named(problems: FormErrors, item: dict[str, Any], path: Path, *, slash: bool) -> None:
    name = str(item.get("name", ""))
    if not 1 <= len(name) <= 32:
        problems.add((*path, "name"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length.")
    elif slash and (not COMMAND_NAME.match(name) or name != name.lower()):
        problems.add((*path, "name"), "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
    if slash:
        description = str(item.get("description", ""))
        if not 1 <= len(description) <= 100:
            problems.add(
                (*path, "description"),
                "BASE_TYPE_BAD_LENGTH",
                "Must be between 1 and 100 in length.",
            )


def _check_options(problems: FormErrors, options: list[dict[str, Any]], path: Path) -> None:
    if len(options) > MAX_COMMAND_OPTIONS:
        problems.add(path, "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    optional_seen = False
    for index, option in enumerate(options):
        option_path = (*path, index)
        _check_named(problems, option, option_path, slash=True)
        if len(option.get("choices") or []) > MAX_CHOICES:
            problems.add(
                (*option_path, "choices"), "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."
            )
        if option.get("type") in (1, 2):
            _check_options(problems, option.get("options") or [], (*option_path, "options"))
            continue
        if option.get("required"):
            if optional_seen:
                problems.add(
                    (*option_path, "required"),
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                )
        else:
            optional_seen = True
