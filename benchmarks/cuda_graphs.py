"""Measure CUDA graphs two ways: inductor's ``reduce-overhead`` against a hand-captured graph.

``compile: true`` uses inductor's CUDA graphs (``compiled.mode: auto``). The alternative is to
capture the denoiser by hand with ``torch.cuda.CUDAGraph``, once per shape, and replay it with
the step's inputs copied into static buffers. This times one guided UNet call (batch 2×images)
of a random full-size SD 1.5 UNet (nothing downloaded) each way, round by round::

    python benchmarks/cuda_graphs.py [--images 1] [--size 512] [--calls 50] [--rounds 3]
    python benchmarks/cuda_graphs.py --tiny --size 64   # the built-in UNet, on the CPU: a smoke
                                                        # test of eager and compiled only

Variants: eager; eager captured by hand; ``torch.compile`` (inductor's default) captured by
hand; ``torch.compile(mode="reduce-overhead")``. It prints calls per second, each against
eager, and the largest difference of each output from eager's.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.sd15 import SD15_UNET

ROOT = Path(__file__).resolve().parents[1]
Call = Callable[[], torch.Tensor]


def build_unet(arguments: argparse.Namespace, device: torch.device) -> Any:
    """Return the timed UNet: SD 1.5's architecture with random weights, or the built-in one."""
    from diffusers import UNet2DConditionModel  # noqa: PLC0415 - slow import

    dtype = torch.float16 if device.type == "cuda" else torch.float32
    if arguments.tiny:
        unet = UNet2DConditionModel.from_pretrained(ROOT / "models" / "easel-tiny" / "unet")
    else:
        unet = UNet2DConditionModel(**SD15_UNET)
    return unet.to(device, dtype).eval().requires_grad_(False)


def static_inputs(unet: Any, arguments: argparse.Namespace) -> dict[str, torch.Tensor]:
    """Return one guided call's inputs: latents, timestep and text states, batch 2×images."""
    parameter = next(unet.parameters())
    side = arguments.size // 8
    batch = 2 * arguments.images
    generator = torch.Generator().manual_seed(0)

    def random(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=generator).to(parameter.device, parameter.dtype)

    return {
        "sample": random(batch, unet.config.in_channels, side, side),
        "timestep": torch.tensor(500.0, device=parameter.device),
        "encoder_hidden_states": random(batch, 77, unet.config.cross_attention_dim),
    }


def plain_call(module: Any, inputs: dict[str, torch.Tensor]) -> Call:
    """Return a call of ``module`` on ``inputs``."""
    return lambda: module(**inputs, return_dict=False)[0]


def captured(module: Any, inputs: dict[str, torch.Tensor]) -> Call:
    """Capture ``module`` on ``inputs`` in a CUDA graph; return a call that copies and replays.

    The copy into the static buffers is what a denoising loop would pay each step.
    """
    static = {name: tensor.clone() for name, tensor in inputs.items()}
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):  # warm up off the default stream, as capture requires
        for _ in range(3):
            module(**static, return_dict=False)
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        output = module(**static, return_dict=False)[0]

    def replay() -> torch.Tensor:
        for name, tensor in inputs.items():
            static[name].copy_(tensor)
        graph.replay()
        return output

    return replay


def variants(unet: Any, inputs: dict[str, torch.Tensor], device: torch.device) -> dict[str, Call]:
    """Build every variant this device runs (CUDA graphs only on CUDA)."""
    built: dict[str, Call] = {"eager": plain_call(unet, inputs)}
    compiled = torch.compile(unet, dynamic=False)
    built["compiled"] = plain_call(compiled, inputs)
    if device.type == "cuda":
        built["eager, hand-captured"] = captured(unet, inputs)
        built["compiled, hand-captured"] = captured(compiled, inputs)
        overhead = torch.compile(unet, mode="reduce-overhead", dynamic=False)
        built["reduce-overhead"] = plain_call(overhead, inputs)
    return built


def calls_per_second(call: Call, calls: int, device: torch.device) -> float:
    """Time ``calls`` calls and return calls per second."""
    if device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(calls):
        call()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return calls / (time.perf_counter() - started)


def main() -> None:
    """Build each variant (compiling and capturing), then time them round by round."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tiny", action="store_true", help="the built-in UNet (CPU smoke test)")
    parser.add_argument("--sd15-dir", default=None, help="(unused: the UNet is built in memory)")
    parser.add_argument("--steps", type=int, default=None, help="(unused: calls are timed)")
    arguments = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cpu" and not arguments.tiny:
        sys.exit("no CUDA device: pass --tiny --size 64 for a CPU smoke test")
    unet = build_unet(arguments, device)
    inputs = static_inputs(unet, arguments)
    with torch.inference_mode():
        started = time.perf_counter()
        built = variants(unet, inputs, device)
        reference = built["eager"]().clone()
        for name, call in built.items():  # compiles and records on first use
            difference = (call().float() - reference.float()).abs().max().item()
            print(f"{name}: ready, largest difference from eager {difference:.4f}", flush=True)
        print(f"compiled and captured in {time.perf_counter() - started:.1f} s", flush=True)
        speeds: dict[str, list[float]] = {name: [] for name in built}
        for _ in range(arguments.rounds):
            for name, call in built.items():
                speeds[name].append(calls_per_second(call, arguments.calls, device))
    eager = statistics.median(speeds["eager"])
    shape = f"batch {2 * arguments.images}, {arguments.size}²"
    for name in built:
        median = statistics.median(speeds[name])
        print(f"{name:>24}: {median:.1f} calls/s ({shape}), {median / eager:.2f}x eager")


if __name__ == "__main__":
    main()
