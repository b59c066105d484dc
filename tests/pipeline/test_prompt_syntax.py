"""Prompt weighting syntax: A1111 brackets and Midjourney multi-prompts."""

from __future__ import annotations

import pytest

from pipeline.errors import PromptError
from pipeline.prompt_syntax import Fragment, parse_weighted_prompt


def fragments(text: str) -> list[tuple[str, float]]:
    """Return the (text, weight) pairs of a single-part prompt, weights rounded."""
    parsed = parse_weighted_prompt(text)
    assert len(parsed.parts) == 1
    return [(f.text, round(f.weight, 4)) for f in parsed.parts[0].fragments]


def test_plain_prompt_is_one_fragment_of_weight_one() -> None:
    """Leave a prompt without syntax as one plain fragment."""
    assert fragments("a red fox") == [("a red fox", 1.0)]
    assert parse_weighted_prompt("a red fox").is_plain


def test_explicit_weight_sets_the_weight() -> None:
    """Give (word:1.3) the weight 1.3."""
    assert fragments("a (red:1.3) fox") == [("a ", 1.0), ("red", 1.3), (" fox", 1.0)]


def test_round_brackets_multiply_by_one_point_one() -> None:
    """Give (word) 1.1 and ((word)) 1.21."""
    assert fragments("(red) ((fox))") == [("red", 1.1), (" ", 1.0), ("fox", 1.21)]


def test_square_brackets_divide_by_one_point_one() -> None:
    """Give [word] 1/1.1."""
    assert fragments("[snow]") == [("snow", round(1 / 1.1, 4))]


def test_nested_weights_multiply() -> None:
    """Multiply an explicit weight by the brackets around it."""
    assert fragments("((fox:1.5))") == [("fox", 1.65)]


def test_escaped_brackets_are_literal_text() -> None:
    r"""Keep \\( and \\) as plain characters."""
    assert fragments(r"a \(red\) fox") == [("a (red) fox", 1.0)]


def test_unbalanced_brackets_are_forgiven() -> None:
    """Treat a stray closer as text and an unclosed opener as weighing what follows."""
    assert fragments("a fox)") == [("a fox)", 1.0)]
    assert fragments("a (red fox") == [("a ", 1.0), ("red fox", 1.1)]


def test_colon_without_weight_is_text() -> None:
    """Keep ordinary colons, like 'ratio: 2', as text."""
    assert fragments("caption: a fox") == [("caption: a fox", 1.0)]


@pytest.mark.parametrize("text", ["(fox:4)", "(fox:-1)", "(fox:99999)"])
def test_out_of_range_fragment_weight_is_refused(text: str) -> None:
    """Refuse weights no model can use sensibly, with the allowed range."""
    with pytest.raises(PromptError, match="from 0 to 3"):
        parse_weighted_prompt(text)


def test_multi_prompt_splits_on_double_colons_with_weights() -> None:
    """Split 'hot:: dog::2' into parts weighted 1 and 2."""
    parsed = parse_weighted_prompt("hot:: dog::2")
    assert [(p.text.strip(), p.weight) for p in parsed.parts] == [("hot", 1.0), ("dog", 2.0)]


def test_multi_prompt_trailing_part_weighs_one() -> None:
    """Give the text after the last '::N' the weight 1."""
    parsed = parse_weighted_prompt("space::2 ship")
    assert [(p.text.strip(), p.weight) for p in parsed.parts] == [("space", 2.0), ("ship", 1.0)]


def test_multi_prompt_allows_negative_weights_that_sum_positive() -> None:
    """Accept 'garden:: flowers::-0.5' as Midjourney does."""
    parsed = parse_weighted_prompt("garden:: flowers::-0.5")
    assert [p.weight for p in parsed.parts] == [1.0, -0.5]


def test_multi_prompt_weights_summing_to_zero_are_refused() -> None:
    """Refuse parts whose weights cancel out."""
    with pytest.raises(PromptError, match="more than 0"):
        parse_weighted_prompt("cat::1 dog::-1")


def test_parts_keep_their_own_bracket_weights() -> None:
    """Parse brackets inside each part."""
    parsed = parse_weighted_prompt("a (red:1.2) fox:: snow::0.5")
    assert parsed.parts[0].fragments[1] == Fragment("red", 1.2)
    assert parsed.parts[1].weight == 0.5


def test_text_strips_the_syntax_for_moderation() -> None:
    """Expose the words alone, so filters read 'red fox' and not '(red:1.3)'."""
    assert parse_weighted_prompt("a (red:1.3) [fox]:: snow").text == "a red fox snow"
