"""Reading LoRAs from a prompt: ``--lora NAME[:WEIGHT]`` and A1111's ``<lora:NAME:WEIGHT>``."""

from __future__ import annotations

import pytest

from pipeline.errors import ParameterError
from pipeline.lora_syntax import LoraUse, merge_uses, read_lora_values, take_a1111_tags


def test_lora_values_take_a_name_and_an_optional_weight() -> None:
    """Read NAME as weight 1 and NAME:WEIGHT as that weight."""
    assert read_lora_values(("ink", "pixel-art:0.6", "x:-1.5")) == [
        LoraUse("ink"),
        LoraUse("pixel-art", 0.6),
        LoraUse("x", -1.5),
    ]


def test_a1111_tags_leave_the_prompt_and_name_their_loras() -> None:
    """Take <lora:…> tags out of the prompt text, weight and all."""
    prompt, uses = take_a1111_tags("a fox <lora:ink:0.8> in snow <LORA:pixel> --ar 2:1")
    assert prompt == "a fox in snow --ar 2:1"
    assert uses == [LoraUse("ink", 0.8), LoraUse("pixel")]


def test_a1111_tags_with_a_text_encoder_weight_are_read() -> None:
    """Accept A1111's third field (a separate text-encoder weight), using the first weight."""
    assert take_a1111_tags("<lora:ink:0.5:0.2> fox")[1] == [LoraUse("ink", 0.5)]


@pytest.mark.parametrize("value", ["ink:2.5", "ink:-3", "ink:nan", "ink:heavy"])
def test_a_weight_outside_minus_two_to_two_is_refused(value: str) -> None:
    """Refuse weights that are not numbers from -2 to 2, naming the range."""
    with pytest.raises(ParameterError, match="from -2 to 2"):
        read_lora_values((value,))


@pytest.mark.parametrize("value", ["", "a b", "../etc/passwd", "x" * 65])
def test_a_malformed_name_is_refused(value: str) -> None:
    """Refuse empty names, spaces and paths."""
    with pytest.raises(ParameterError):
        read_lora_values((value,))


def test_a_lora_named_twice_is_refused() -> None:
    """Refuse the same LoRA twice, whatever the case."""
    with pytest.raises(ParameterError, match="named twice"):
        merge_uses([LoraUse("ink"), LoraUse("INK", 0.5)], limit=4)


def test_more_loras_than_the_limit_are_refused_with_the_limit() -> None:
    """Refuse a job naming more LoRAs than the server allows."""
    with pytest.raises(ParameterError, match="at most 2"):
        merge_uses([LoraUse("a"), LoraUse("b"), LoraUse("c")], limit=2)


def test_a_tag_spells_a_use_as_a1111_does() -> None:
    """Spell a LoRA as <lora:NAME:WEIGHT> for the PNG parameters."""
    assert LoraUse("ink", 0.75).tag() == "<lora:ink:0.75>"
