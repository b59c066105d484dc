"""``python -m pipeline "a red circle on a blue background --seed 7" -o out.png``.

Generate without Discord: the same engine, config and prompt syntax as the bot. Writes the
2×2 grid (``--single`` also writes the four images), or img2img from ``--init``, or a 2×
upscale of ``--init`` with ``--upscale``, or a Zoom Out (``--zoom-out 2``) or Pan
(``--pan left``) of ``--init``, or a grid guided by a ControlNet (``--control SKETCH``, read as
``--control-mode``); prints the seeds and the timing.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.canvas import DIRECTIONS
from pipeline.config import CONTROL_MODES, PipelineConfig
from pipeline.config_file import load_config
from pipeline.errors import ConfigError, ModelLoadError, UserError

if TYPE_CHECKING:
    from pipeline.engine import GenerationResult, Progress
    from pipeline.request import GenerationRequest
    from pipeline.request_builder import RequestBuilder

EXIT_USAGE = 2
EXIT_FAILURE = 1


def build_parser() -> argparse.ArgumentParser:
    """Describe the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m pipeline",
        description="Generate images with Easel's engine, without Discord.",
        epilog="Inline parameters: --ar W:H --seed N --no a,b --steps N --cfg X --strength X "
        "--sampler NAME --tile --model NAME --q Q --s N --iw W, "
        'e.g. "a red fox in the snow --ar 16:9 --seed 7". '
        "--model picks one of the config's models: entries (the default one otherwise).",
    )
    parser.add_argument("prompt", help="what to draw, with any inline --parameters")
    parser.add_argument(
        "--config",
        type=Path,
        default=Path("config.yaml"),
        help="config file (default: %(default)s)",
    )
    parser.add_argument("-o", "--output", type=Path, help="output PNG (default: easel-SEED.png)")
    parser.add_argument("--negative", default="", help="negative prompt: what to avoid")
    parser.add_argument("--single", action="store_true", help="also write each image separately")
    parser.add_argument("--init", type=Path, help="start from this image (img2img)")
    parser.add_argument("--upscale", action="store_true", help="upscale the --init image 2×")
    parser.add_argument("--control", type=Path, metavar="IMAGE", help="guide with a ControlNet")
    parser.add_argument(
        "--control-mode",
        choices=CONTROL_MODES,
        help="how the --control image is read (default canny); the model needs a ControlNet for it",
    )
    parser.add_argument(
        "--zoom-out", type=float, metavar="F", help="zoom out of the --init image by F (1-2)"
    )
    parser.add_argument("--pan", choices=DIRECTIONS, help="extend the --init image towards a side")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the process exit code."""
    arguments = build_parser().parse_args(argv)
    edits = [name for name in ("upscale", "zoom_out", "pan") if getattr(arguments, name)]
    if edits and arguments.init is None:
        option = "--" + edits[0].replace("_", "-")
        print(f"error: {option} needs the image to work on: --init IMAGE", file=sys.stderr)
        return EXIT_USAGE
    if len(edits) > 1:
        print("error: choose one of --upscale, --zoom-out and --pan", file=sys.stderr)
        return EXIT_USAGE
    # transformers announces optional packages it lacks at import; users need not see that.
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    try:
        config = load_config(arguments.config, PipelineConfig)
        from pipeline.engine import Engine  # noqa: PLC0415 - torch loads only when needed
        from pipeline.loras import LoraCatalog  # noqa: PLC0415
        from pipeline.models import ModelCatalog  # noqa: PLC0415
        from pipeline.request_builder import RequestBuilder  # noqa: PLC0415

        loras = LoraCatalog(config.lora_dirs)
        requests = RequestBuilder(
            ModelCatalog.from_config(config),
            config.generation,
            config.input_images,
            styles=config.styles,
            loras=loras,
        )
        request = _build_request(requests, arguments)
        engine = Engine.from_config(config, config.model_named(request.model), loras=loras)
        print(_describe(request))
        result = engine.generate(request, progress=_show_progress)
    except (ConfigError, UserError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except ModelLoadError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILURE
    written = _write(result, arguments.output, single=arguments.single)
    print(f"seeds: {' '.join(str(seed) for seed in result.seeds)}")
    print(
        f"wrote {', '.join(str(path) for path in written)} in {result.duration:.2f} s "
        f"(model loaded in {engine.model.load_seconds:.2f} s)"
    )
    return 0


def _build_request(requests: RequestBuilder, arguments: argparse.Namespace) -> GenerationRequest:
    """Turn the command line into the request to run, for the model it names."""
    mode = f" --control {arguments.control_mode}" if arguments.control_mode else ""
    request = requests.parse(
        arguments.prompt + mode,
        negative_prompt=arguments.negative,
        init_image=arguments.init,
        control_image=arguments.control,
    )
    if not (arguments.upscale or arguments.zoom_out or arguments.pan):
        return request
    from pipeline.edit_requests import EditRequests  # noqa: PLC0415 - only for edits
    from pipeline.images import read_input_image  # noqa: PLC0415

    width, height = read_input_image(arguments.init, requests.input_limits).size
    multiple = requests.profile_for(arguments.prompt).family.size_multiple
    source = replace(request, width=width - width % multiple, height=height - height % multiple)
    edits = EditRequests(requests)
    if arguments.zoom_out:
        return edits.zoom(source, arguments.init, arguments.zoom_out, seed=request.seed)
    if arguments.pan:
        return edits.pan(source, arguments.init, arguments.pan, seed=request.seed)
    return requests.upscale_request(source, arguments.init)


def _describe(request: GenerationRequest) -> str:
    """Summarise what is about to be drawn."""
    what = (
        f"{request.operation} on {request.model}: "
        f"{request.num_images} × {request.width}×{request.height}"
    )
    how = f"{request.steps} steps, {request.sampler}, guidance {request.guidance:g}"
    if request.strength is not None:
        how += f", strength {request.strength:g}"
    if request.loras:
        how += ", LoRAs " + " ".join(use.tag() for use in request.loras)
    return f"{what}, {how}\nprompt: {request.prompt}" + (
        f"\nnegative: {request.negative_prompt}" if request.negative_prompt else ""
    )


def _show_progress(progress: Progress) -> None:
    """Draw a one-line progress counter on an interactive terminal."""
    if sys.stderr.isatty():
        end = "\n" if progress.step == progress.total_steps else ""
        print(f"\rstep {progress.step}/{progress.total_steps}", end=end, file=sys.stderr)


def _write(result: GenerationResult, output: Path | None, *, single: bool) -> list[Path]:
    """Write the grid (or the lone image) and, with ``single``, each image; return the paths."""
    path = output or Path(f"easel-{result.request.seed}.png")
    path.parent.mkdir(parents=True, exist_ok=True)
    from pipeline.metadata import (  # noqa: PLC0415 - only once there is something to write
        grid_parameters_text,
        parameters_text,
        png_info,
    )

    request = result.request
    if len(result.images) == 1:
        result.images[0].save(path, pnginfo=png_info(parameters_text(request)))
    else:
        result.grid().save(path, pnginfo=png_info(grid_parameters_text(request)))
    written = [path]
    if single and len(result.images) > 1:
        for index, (image, seed) in enumerate(zip(result.images, result.seeds, strict=True), 1):
            single_path = path.with_name(f"{path.stem}-{index}{path.suffix}")
            image.save(single_path, pnginfo=png_info(parameters_text(request, seed=seed)))
            written.append(single_path)
    return written


if __name__ == "__main__":
    sys.exit(main())
