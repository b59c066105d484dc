"""Prompt filters: disguised banned terms are caught, innocent text is not."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.moderation.defaults import DEFAULT_FILTERS
from bot.moderation.filters import Filter, FilterError, check, compile_filter, describe_verdict

DATA = Path(__file__).parents[2] / "data"


def banned(pattern: str, kind: str = "word", action: str = "block", id: int = 1) -> Filter:  # noqa: A002
    """Return a moderator's filter."""
    return Filter(id, pattern, kind, action, "mod", 0.0)  # type: ignore[arg-type]


FILTERS = [banned("nude"), banned("ass", id=2), banned("red fox", "phrase", id=3)]

EVASIONS = [
    "nude",
    "NUDE",
    "NuDe",
    "n̲u̲d̲e̲",  # combining low lines
    "nu\u200bde",  # zero-width space
    "nu\u200dd\u2060e",  # zero-width joiner, word joiner
    "ｎｕｄｅ",  # full-width
    "𝐧𝐮𝐝𝐞",  # mathematical bold
    "ⓝⓤⓓⓔ",  # circled
    "nudе",  # Cyrillic е
    "nυde",  # Greek upsilon
    "n-u-d-e",
    "n.u.d.e",
    "n u d e",
    "n_u_d_e",
    "nu-de",
    "nuuuude",
    "nnnuuudddeee",
    "NUD3",
    "nüde",
    "ñude",
    "a5s",
    "@ss",
    "a s s",
    "a\u00adss",  # soft hyphen
    "the red fox",
    "the redfox",
    "the r e d f o x",
]


@pytest.mark.parametrize("text", EVASIONS)
def test_disguised_banned_terms_are_blocked(text: str) -> None:
    """Block each disguise of a banned word or phrase."""
    assert check([f"a picture of {text} today"], FILTERS).blocked, text


BENIGN = [
    "a classic car",
    "a bass guitar on a stage",
    "the assassin's creed",
    "Scunthorpe town centre",
    "passionate dancers",
    "an embassy in the rain",
    "as big as a house",
    "a red box and a fox",
    "Привет, мир: a Russian greeting card",
    "雪の中の狐",
    "ضوء القمر فوق البحر",
    "nudibranch on a coral reef",
    "a denuded hillside",
]


@pytest.mark.parametrize("text", BENIGN)
def test_innocent_prompts_are_allowed(text: str) -> None:
    """Leave words that merely contain a banned term, and other scripts, alone."""
    assert not check([text], FILTERS).blocked, text


def test_filters_match_the_negative_prompt_and_parameters_too() -> None:
    """Check every text given: prompt, negative prompt, parameters."""
    assert check(["a landscape", "nude"], FILTERS).blocked
    assert check(["a landscape --no n-u-d-e"], FILTERS).blocked


def test_a_filter_in_another_script_matches_that_script() -> None:
    """Match a non-Latin banned word in non-Latin text."""
    assert check(["ночь и порно"], [banned("порно")]).blocked
    assert not check(["ночь и день"], [banned("порно")]).blocked


def test_flag_filters_allow_but_flag() -> None:
    """Let a flagged prompt through, marked as flagged."""
    verdict = check(["a nude statue"], [banned("nude", action="flag")])
    assert not verdict.blocked
    assert verdict.flagged


def test_regex_filters_run_on_re2() -> None:
    """Match a moderator's regex against the normalised text."""
    assert check(["a b00m box"], [banned(r"bo+m", "regex")]).blocked


@pytest.mark.parametrize("pattern", [r"(a)\1", r"(?<=a)b", r"(?=x)y", "(unclosed"])
def test_regexes_re2_cannot_run_in_linear_time_are_refused(pattern: str) -> None:
    """Refuse backreferences, lookarounds and broken patterns with a clear message."""
    with pytest.raises(FilterError, match="cannot be used"):
        compile_filter(pattern, "regex")


def test_a_catastrophic_regex_runs_on_re2_and_matches_correctly() -> None:
    """Compile (a+)+$ with RE2, which cannot backtrack, and read a hostile text right.

    Python's own engine would take exponential time on this text; how long RE2 takes at
    growing lengths is printed by ``benchmarks/filters.py``.
    """
    assert type(compile_filter(r"(a+)+$", "regex")).__module__ == "re2"
    assert not check(["a" * 5000 + "!"], [banned(r"(a+)+$", "regex")]).blocked
    assert check(["a" * 5000], [banned(r"(a+)+$", "regex")]).blocked


@pytest.mark.parametrize("pattern", ["", "   ", "x" * 301, "---"])
def test_empty_overlong_or_letterless_patterns_are_refused(pattern: str) -> None:
    """Refuse patterns that would match nothing or too much to be useful."""
    with pytest.raises(FilterError):
        compile_filter(pattern, "word")


def test_the_test_answer_starts_with_the_verdict_and_shows_the_normalised_text() -> None:
    """Begin with Blocked or Allowed, name the filter, and show the normalised text."""
    blocked = describe_verdict(check(["ｎｕｄｅ art"], FILTERS))
    assert blocked.startswith("Blocked by word filter #1 (`nude`)")
    assert "Normalised text: `nude art`" in blocked
    assert describe_verdict(check(["a landscape"], FILTERS)).startswith("Allowed")


def test_the_default_list_names_the_class_of_what_it_blocks() -> None:
    """Tell users the class of a built-in filter, not the term."""
    verdict = check(["a n4ked man"], DEFAULT_FILTERS)
    assert verdict.blocked
    assert verdict.blocking[0].describe() == "nudity"


def test_naughty_strings_never_break_the_filters() -> None:
    """Check every string of the Big List of Naughty Strings excerpt without raising."""
    lines = (DATA / "blns_excerpt.txt").read_text(encoding="utf-8").splitlines()
    assert len(lines) > 50
    for line in lines:
        check([line], [*FILTERS, *DEFAULT_FILTERS])


MIXED_SCRIPT_EVASIONS = [
    "nudе",  # Cyrillic е
    "NUDЕ",  # Cyrillic capital Е
    "NuDе",
    "nuԁe",  # Cyrillic komi de
    "пude",  # Cyrillic п looks like n
    "νude",  # Greek nu stands for n
    "ηude",  # Greek eta looks like n
    "ΝUDΕ",  # Greek capitals
    "n u d е",
    "(nudе)",
    "nudе!",
    "nudе, please",
    "аѕѕ",  # only Cyrillic look-alikes
    "ΑSS",  # Greek capital alpha
    "red fох",  # Cyrillic о and х
    "RЕD FОХ",
    "rеd fοx",  # Cyrillic е, Greek ο
]


@pytest.mark.parametrize("text", MIXED_SCRIPT_EVASIONS)
def test_mixed_script_look_alikes_are_blocked(text: str) -> None:
    """Block a banned word or phrase with Cyrillic or Greek look-alikes mixed into it."""
    assert check([f"a photo of a {text} woman on the beach"], FILTERS).blocked, text


def test_a_sentence_of_mixed_script_words_is_blocked() -> None:
    """Block a sentence whose every word has look-alikes mixed in."""
    verdict = check(["а рhоtо оf а nаkеd wоmаn оn thе bеасh"], DEFAULT_FILTERS)
    assert verdict.blocked
    assert verdict.normalised == "a photo of a naked woman on the beach"


@pytest.mark.parametrize(
    "text",
    ["Убери этот сор", "сор и мусор", "Это сор, a Russian word", "Привет, мир"],
)
def test_genuine_cyrillic_words_are_not_read_as_latin(text: str) -> None:
    """Leave a Russian word alone though its letters look like a banned Latin word."""
    assert not check([text], [banned("cop"), banned("mip", id=2)]).blocked, text


def test_genuine_greek_words_are_not_read_as_latin() -> None:
    """Leave a Greek sentence alone though its letters look like a banned Latin word."""
    assert not check(["ένα ποτήρι νερό"], [banned("vepo"), banned("eva", id=2)]).blocked


def test_a_filter_of_look_alike_letters_matches_its_own_script() -> None:
    """Match a Cyrillic filter made of look-alike letters in Russian and in Latin text."""
    assert check(["Выпей сок"], [banned("сок")]).blocked
    assert check(["a glass of сок"], [banned("сок")]).blocked
    assert not check(["a glass of milk"], [banned("сок")]).blocked
