"""The normaliser: disguises collapse to one skeleton; ordinary text keeps its words."""

from __future__ import annotations

import pytest

from bot.moderation.normalise import normalise


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
