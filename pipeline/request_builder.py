"""Build every kind of request — a prompt, an upscale, a variation, a reroll — for any model.

This is where a job's model is chosen (``--model``, the command's option, or the default)
and where a button's job inherits the model of the image it was pressed on. It reads only
the :class:`~pipeline.models.ModelCatalog`, never a loaded model, so the bot can parse and
queue a prompt for a model that is not loaded yet.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Literal

from pipeline.defaults import (
    NO_DEFAULTS,
    JobDefaults,
    capped_profile,
    enforced,
    with_default_parameters,
    with_default_style,
    within_pixels,
)
from pipeline.errors import ParameterError
from pipeline.images import read_input_image
from pipeline.lora_syntax import LoraUse, merge_uses, read_lora_values, take_a1111_tags
from pipeline.parameters import split_parameters, whole_number
from pipeline.request import parse_request, random_seed, size_for_aspect

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from pipeline.config import GenerationSettings, InputImageSettings, StyleSettings
    from pipeline.loras import LoraCatalog
    from pipeline.models import ModelCatalog, ModelProfile
    from pipeline.request import GenerationRequest

VariationStrength = Literal["subtle", "strong"]


class RequestBuilder:
    """Turn prompts and button presses into requests, checked against the chosen model."""

    def __init__(
        self,
        catalog: ModelCatalog,
        settings: GenerationSettings,
        input_limits: InputImageSettings,
        styles: Mapping[str, StyleSettings] | None = None,
        loras: LoraCatalog | None = None,
    ) -> None:
        self.catalog = catalog
        self.settings = settings
        self.input_limits = input_limits
        self.styles = dict(styles or {})
        self.loras = loras

    def parse(
        self,
        text: str,
        *,
        negative_prompt: str = "",
        init_image: Path | None = None,
        init_size: tuple[int, int] | None = None,
        control_image: Path | None = None,
        seed: int | None = None,
        model: str | None = None,
        defaults: JobDefaults = NO_DEFAULTS,
    ) -> GenerationRequest:
        """Parse a prompt with inline parameters into a request for the model it names.

        ``model`` is the command's option; ``--model`` in the text says the same, and the two
        must agree. An image prompt's size is read from the file unless ``init_size`` says it.
        ``defaults`` (the server's, channel's and member's) fill in what the prompt leaves open.
        """
        # 1. A1111's <lora:…> tags leave the prompt; the style and model are chosen
        text, tagged = take_a1111_tags(text)
        styles = {**defaults.styles, **self.styles}
        text = with_default_style(text, defaults.style, styles)
        style_name, style = self._style(text, styles)
        values = split_parameters(text).values
        profile = self.profile_for(text, self._model_option(model, values, style, defaults))

        # 2. Defaults fill what the prompt leaves open, within the channel's caps
        text = with_default_parameters(text, defaults, profile, has_image=init_image is not None)
        settings = self.limits(defaults)
        if style is not None and style.steps and not {"steps", "quality"} & set(values):
            profile = replace(profile, defaults=replace(profile.defaults, steps=style.steps))
        profile = capped_profile(profile, settings.max_steps)
        if init_image is not None and init_size is None and init_image.is_file():
            init_size = read_input_image(init_image, self.input_limits).size
        request = parse_request(
            text,
            settings=settings,
            profile=profile,
            negative_prompt=negative_prompt,
            init_image=init_image,
            init_size=init_size,
            control_image=control_image,
            seed_source=random_seed if seed is None else (lambda: seed),
        )
        # 3. The LoRAs, the style's text and the enforced negative prompt
        uses = tagged + read_lora_values(split_parameters(text).loras)
        if style is not None:
            named = {use.name.casefold() for use in uses}
            uses += [LoraUse(n, w) for n, w in style.loras.items() if n.casefold() not in named]
        request = replace(
            within_pixels(request, settings.max_pixels, profile),
            loras=self._checked_loras(uses, profile),
        )
        if style is not None:
            request = _styled(request, style_name, style, profile)
        return enforced(request, defaults, profile)

    def repeats(self, text: str) -> int:
        """Return how many jobs ``--repeat N`` asks for (1 without it), within the limit."""
        value = split_parameters(text).values.get("repeat")
        if value is None:
            return 1
        return whole_number(value, "repeat", 1, self.settings.max_repeat)

    def _checked_loras(self, uses: list[LoraUse], profile: ModelProfile) -> tuple[LoraUse, ...]:
        """Resolve the LoRAs' names and families, within the server's per-job limit."""
        if not uses:
            return ()
        if self.loras is None or self.settings.max_loras == 0:
            raise ParameterError("This server does not offer LoRAs.")
        return self.loras.check(merge_uses(uses, self.settings.max_loras), profile)

    def _style(
        self, text: str, styles: Mapping[str, StyleSettings]
    ) -> tuple[str, StyleSettings | None]:
        """Return the style preset ``--style`` names (none for ``raw`` or no ``--style``)."""
        asked = split_parameters(text).values.get("style")
        if asked is None or asked.casefold() == "raw":
            return "", None
        by_folded = {name.casefold(): name for name in styles}
        name = by_folded.get(asked.casefold())
        if name is None:
            known = ", ".join([*styles, "raw"])
            raise ParameterError(f"There is no style called {asked!r:.40} here. Styles: {known}.")
        return name, styles[name]

    def _model_option(
        self,
        model: str | None,
        values: Mapping[str, str],
        style: StyleSettings | None,
        defaults: JobDefaults,
    ) -> str | None:
        """Return the model asked for besides ``--model``: the option, the style's, the default.

        The member's or channel's default model counts only when the server still has it, and
        none of these when the prompt names a model itself.
        """
        if model is not None or "model" in values:
            return model
        chosen = style.model if style is not None and style.model else None
        return chosen or self._known_model(defaults.model)

    def _known_model(self, name: str | None) -> str | None:
        """Return a default model's name if the server still has it (else no preference)."""
        if not name:
            return None
        try:
            return self.catalog.profile(name).name
        except ParameterError:
            return None

    def limits(self, defaults: JobDefaults) -> GenerationSettings:
        """Return the config's limits, tightened by a server's or channel's caps."""
        update: dict[str, int] = {}
        if defaults.max_steps is not None:
            update["max_steps"] = max(1, min(self.settings.max_steps, defaults.max_steps))
            update["steps"] = min(self.settings.steps, update["max_steps"])
        if defaults.max_pixels is not None:
            update["max_pixels"] = min(self.settings.max_pixels, defaults.max_pixels)
        return self.settings.model_copy(update=update) if update else self.settings

    def profile_for(self, text: str, option: str | None = None) -> ModelProfile:
        """Return the model a prompt asks for: ``--model``, else the option, else the default."""
        inline = split_parameters(text).values.get("model")
        if inline is not None and not inline:
            raise ParameterError(f"--model needs a name: one of {', '.join(self.catalog.names)}.")
        if inline and option and inline.casefold() != option.casefold():
            raise ParameterError(
                f"The prompt says --model {inline:.40} but the model option says {option:.40}; "
                "choose one."
            )
        return self.catalog.profile(inline or option)

    def source_profile(self, source: GenerationRequest) -> ModelProfile:
        """Return the model an earlier job used, which its buttons keep using."""
        try:
            return self.catalog.profile(source.model)
        except ParameterError:
            raise ParameterError(
                f"This image was made with the model {source.model}, which this server no "
                "longer has configured."
            ) from None

    def variation_request(
        self,
        source: GenerationRequest,
        image: Path,
        *,
        strength: VariationStrength | float = "subtle",
        seed: int | None = None,
        defaults: JobDefaults = NO_DEFAULTS,
    ) -> GenerationRequest:
        """Describe four variations of one image: img2img from it with the source's prompt."""
        if isinstance(strength, str):
            amount = (
                self.settings.variation_subtle
                if strength == "subtle"
                else self.settings.variation_strong
            )
        else:
            amount = strength
        profile = self.source_profile(source)
        width, height = (source.width, source.height)
        if source.operation == "upscale":
            native = profile.native_size
            width, height = size_for_aspect(
                width / height, native[0] * native[1], profile.family.size_multiple
            )
        varied = replace(
            source,
            width=width,
            height=height,
            seed=random_seed() if seed is None else seed,
            num_images=4,
            init_image=image,
            strength=amount,
            operation="variation",
            model=profile.name,
            edit=None,
            control_image=None,  # the image itself now guides it
        )
        return enforced(varied, defaults, profile)

    def upscale_request(
        self,
        source: GenerationRequest,
        image: Path,
        *,
        seed: int | None = None,
        defaults: JobDefaults = NO_DEFAULTS,
        creative: bool = False,
    ) -> GenerationRequest:
        """Describe a 2× upscale of one image: enlarged, then refined by img2img.

        The refinement is light (``upscale_strength``: Upscale Subtle, and U1–U4) or, with
        ``creative``, strong enough to add detail of its own (``upscale_creative``).
        """
        profile = self.source_profile(source)
        width, height = source.width * 2, source.height * 2
        limit = self.limits(defaults).max_pixels
        if width * height > limit:
            raise ParameterError(
                f"This image is already {source.width}×{source.height}; upscaling it to "
                f"{width}×{height} would exceed this server's limit of "
                f"{limit / 1e6:.1f} megapixels."
            )
        upscaled = replace(
            source,
            width=width,
            height=height,
            seed=source.seed if seed is None else seed,
            num_images=1,
            init_image=image,
            strength=(
                self.settings.upscale_creative if creative else self.settings.upscale_strength
            ),
            operation="upscale",
            model=profile.name,
            edit=None,
            control_image=None,  # the image itself now guides it
        )
        return enforced(upscaled, defaults, profile)

    def reroll_request(
        self,
        source: GenerationRequest,
        *,
        seed: int | None = None,
        defaults: JobDefaults = NO_DEFAULTS,
    ) -> GenerationRequest:
        """Describe the same request again with a new seed, on the same model."""
        profile = self.source_profile(source)
        rerolled = source.with_seed(random_seed() if seed is None else seed)
        return enforced(replace(rerolled, model=profile.name), defaults, profile)


def _styled(
    request: GenerationRequest, name: str, style: StyleSettings, profile: ModelProfile
) -> GenerationRequest:
    """Wrap the request's prompt in the style's template; the member still sees their own."""
    if style.negative and not profile.family.negative_prompts:
        raise ParameterError(
            f"The style {name} adds a negative prompt, which {profile.family.label} models "
            "cannot use; choose another style or --style raw."
        )
    negative = ", ".join(text for text in (request.negative_prompt, style.negative) if text)
    return replace(
        request,
        style=name,
        styled_prompt=style.prompt.replace("{prompt}", request.prompt),
        styled_negative=negative,
    )
