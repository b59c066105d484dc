"""The built-in filter list a guild can switch on with ``/filter defaults on``.

Deliberately short: unambiguous terms for sexual content and graphic violence, the two things
a community server most often wants kept out of shared channels. Each entry names its class,
which is what a blocked user is told ("blocked: nudity"), never a lecture. Moderators add
their own filters for anything else. Checked against the 1,632 benign PartiPrompts: no match.
"""

from __future__ import annotations

from bot.moderation.filters import Filter, FilterKind

_TERMS: tuple[tuple[str, FilterKind, str], ...] = (
    ("nude", "word", "nudity"),
    ("nudes", "word", "nudity"),
    ("naked", "word", "nudity"),
    ("topless", "word", "nudity"),
    ("nsfw", "word", "sexual content"),
    ("porn", "word", "sexual content"),
    ("porno", "word", "sexual content"),
    ("pornographic", "word", "sexual content"),
    ("hentai", "word", "sexual content"),
    ("sex", "word", "sexual content"),
    ("sexual", "word", "sexual content"),
    ("genitals", "word", "sexual content"),
    ("gore", "word", "graphic violence"),
    ("gory", "word", "graphic violence"),
    ("dismembered", "word", "graphic violence"),
    ("decapitated", "word", "graphic violence"),
    ("disembowelled", "word", "graphic violence"),
)

DEFAULT_FILTERS: tuple[Filter, ...] = tuple(
    Filter(
        id=-(index + 1),
        pattern=pattern,
        kind=kind,
        action="block",
        added_by="easel",
        added_at=0.0,
        label=label,
    )
    for index, (pattern, kind, label) in enumerate(_TERMS)
)
