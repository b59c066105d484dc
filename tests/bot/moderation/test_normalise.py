"""The normaliser: disguises collapse to one skeleton; ordinary text keeps its words."""

from __future__ import annotations

import pytest

from bot.moderation.normalise import normalise, readings


@pytest.mark.parametrize(
    ("text", "skeleton"),
    [
        ("ｎｕｄｅ", "nude"),
        ("nu\u200bde", "nude"),
        ("n̲u̲d̲e̲", "nude"),
        ("рorn", "porn"),  # Cyrillic р is a look-alike of p, not a transliteration of r
        ("nυde", "nude"),
        ("NUD3", "nude"),
        ("n-u-d-e", "nude"),
        ("n u d e", "nude"),
        ("Crème Brûlée", "creme brulee"),
        ("a well-known fox", "a wellknown fox"),
        ("  lots   of\tspace ", "lots of space"),
    ],
)
def test_text_reduces_to_its_skeleton(text: str, skeleton: str) -> None:
    """Reduce each text to the expected lowercase ASCII skeleton."""
    assert normalise(text) == skeleton


def test_very_long_text_is_bounded() -> None:
    """Cap the work on hostile, huge input."""
    assert len(normalise("x" * 1_000_000)) <= 6000


@pytest.mark.parametrize(
    ("text", "skeleton"),
    [
        ("nudе", "nude"),  # Cyrillic е
        ("nuԁe", "nude"),  # Cyrillic komi de
        ("пude", "nude"),  # Cyrillic п looks like n
        ("nаkеd", "naked"),  # Cyrillic а and е
        ("ηude", "nude"),  # Greek eta looks like n
        ("nυdε", "nude"),  # Greek upsilon and epsilon
        ("tοpless", "topless"),  # Greek omicron
        ("ΝUDΕ", "nude"),  # Greek capital nu and epsilon
        ("NUDЕ", "nude"),  # Cyrillic capital Е
        ("NuDе", "nude"),
        ("NUDΙTY", "nudity"),  # Greek capital iota is an I, not an l
        ("NUDІTY", "nudity"),  # Cyrillic capital І
        ("hеntаi", "hentai"),
        ("ѕех", "sex"),  # every letter a Cyrillic look-alike
        ("a photo of a nudе woman on the beach", "a photo of a nude woman on the beach"),
        ("а рhоtо оf а nаkеd wоmаn", "a photo of a naked woman"),
    ],
)
def test_mixed_script_look_alikes_read_as_latin(text: str, skeleton: str) -> None:
    """Read Cyrillic and Greek look-alikes in a Latin word, or a Latin sentence, as Latin."""
    assert normalise(text) == skeleton


@pytest.mark.parametrize(
    ("text", "skeleton"),
    [
        ("a nudе!", "a nude!"),
        ("(nudе)", "(nude)"),
        ("nudе, please", "nude, please"),
        ("h!gh", "high"),
    ],
)
def test_punctuation_next_to_a_word_stays_punctuation(text: str, skeleton: str) -> None:
    """Keep a closing ! as punctuation while an ! inside a word still reads as i."""
    assert normalise(text) == skeleton


@pytest.mark.parametrize(
    ("text", "skeleton"),
    [
        ("привет", "privet"),
        ("Это красивая рука", "eto krasivaya ruka"),
        ("Убери этот сор", "uberi etot sor"),
        ("Выпей сок", "vypei sok"),
        ("ένα ποτήρι νερό", "ena potiri nero"),
        ("Καλημέρα κόσμε", "kalimera kosme"),
    ],
)
def test_genuine_cyrillic_and_greek_words_are_transliterated(text: str, skeleton: str) -> None:
    """Transliterate real Cyrillic and Greek words instead of reading them as look-alikes."""
    assert normalise(text) == skeleton


def test_a_lone_word_of_only_look_alikes_reads_as_latin() -> None:
    """Read a word made only of look-alike letters as Latin when nothing shows its script."""
    assert normalise("сор") == "cop"
    assert normalise("a cup of сок") == "a cup of cok"


def test_a_mixed_word_has_a_transliterated_reading_too() -> None:
    """Offer the transliteration of a mixed word beside its look-alike reading."""
    assert readings("νice") == ["vice", "nice"]
    assert readings("plain text") == ["plain text"]
