"""Build every kind of request — a prompt, an upscale, a variation, a reroll — for any model.

This is where a job's model is chosen (``--model``, the command's option, or the default)
and where a button's job inherits the model of the image it was pressed on. It reads only
the :class:`~pipeline.models.ModelCatalog`, never a loaded model, so the bot can parse and
queue a prompt for a model that is not loaded yet.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Literal

from pipeline.errors import ParameterError
from pipeline.images import read_input_image
from pipeline.request import parse_request, random_seed, size_for_aspect, split_parameters

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from pipeline.config import GenerationSettings, InputImageSettings, StyleSettings
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
    ) -> None:
        self.catalog = catalog
        self.settings = settings
        self.input_limits = input_limits
        self.styles = dict(styles or {})

    def parse(
        self,
        text: str,
        *,
        negative_prompt: str = "",
        init_image: Path | None = None,
        init_size: tuple[int, int] | None = None,
        seed: int | None = None,
        model: str | None = None,
    ) -> GenerationRequest:
        """Parse a prompt with inline parameters into a request for the model it names.

        ``model`` is the command's option; ``--model`` in the text says the same, and the two
        must agree. An image prompt's size is read from the file unless ``init_size`` says it.
        """
        style_name, style = self._style(text)
        option = model
        if option is None and style is not None and "model" not in split_parameters(text).values:
            option = style.model  # the style's model, unless the prompt names one
        profile = self.profile_for(text, option)
        if init_image is not None and init_size is None and init_image.is_file():
            init_size = read_input_image(init_image, self.input_limits).size
        request = parse_request(
            text,
            settings=self.settings,
            profile=profile,
            negative_prompt=negative_prompt,
            init_image=init_image,
            init_size=init_size,
            seed_source=random_seed if seed is None else (lambda: seed),
        )
        return request if style is None else _styled(request, style_name, style, profile)

    def _style(self, text: str) -> tuple[str, StyleSettings | None]:
        """Return the style preset ``--style`` names (none for ``raw`` or no ``--style``)."""
        asked = split_parameters(text).values.get("style")
        if asked is None or asked.casefold() == "raw":
            return "", None
        by_folded = {name.casefold(): name for name in self.styles}
        name = by_folded.get(asked.casefold())
        if name is None:
            known = ", ".join([*self.styles, "raw"])
            raise ParameterError(f"There is no style called {asked!r:.40} here. Styles: {known}.")
        return name, self.styles[name]

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
        return replace(
            source,
            width=width,
            height=height,
            seed=random_seed() if seed is None else seed,
            num_images=4,
            init_image=image,
            strength=amount,
            operation="variation",
            model=profile.name,
        )

    def upscale_request(
        self, source: GenerationRequest, image: Path, *, seed: int | None = None
    ) -> GenerationRequest:
        """Describe a 2× upscale of one image: Lanczos, then a light img2img refinement."""
        profile = self.source_profile(source)
        width, height = source.width * 2, source.height * 2
        if width * height > self.settings.max_pixels:
            raise ParameterError(
                f"This image is already {source.width}×{source.height}; upscaling it to "
                f"{width}×{height} would exceed this server's limit of "
                f"{self.settings.max_pixels / 1e6:.1f} megapixels."
            )
        return replace(
            source,
            width=width,
            height=height,
            seed=source.seed if seed is None else seed,
            num_images=1,
            init_image=image,
            strength=self.settings.upscale_strength,
            operation="upscale",
            model=profile.name,
        )

    def reroll_request(
        self, source: GenerationRequest, *, seed: int | None = None
    ) -> GenerationRequest:
        """Describe the same request again with a new seed, on the same model."""
        profile = self.source_profile(source)
        rerolled = source.with_seed(random_seed() if seed is None else seed)
        return replace(rerolled, model=profile.name)


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
