"""Measure what Ray Serve replicas buy: the same jobs on 1 and 2 replicas, and Ray's overhead.

Every mode runs the same concurrent 4-image jobs of the config's default model through the real
job queue (with its SQLite store): the in-process engine with one worker (for reference), then
Ray Serve on a local, loopback-only Ray instance at 1 and 2 replicas, one worker per replica::

    python benchmarks/cluster.py [--config config.yaml] [--jobs 16] [--rounds 3] [--steps 6]

Each replica draws with ``--cpu-threads`` torch threads (1: two replicas on a 2-core machine do
not fight over the cores), and so does the in-process engine. It prints images per second per
mode (the median of the rounds), the ratio of 2 replicas to 1, and Ray's dispatch overhead per
job: the median wall time of a 1-step, 32x32 single image through ``RayEngine.generate_batch``
minus the same through the in-process ``Engine.generate_batch``, both medians shown.

The replica counts run one after the other (each deployed as its own Serve application, deleted
after its rounds), not alternated round by round like ``batching.py``: a 2-core machine has no
room for both deployments at once. On a machine with K GPUs, one card per replica prints the
per-card scaling for 1..K replicas::

    python benchmarks/cluster.py --gpus-per-replica 1 --replicas-max K
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.queue_rounds import run_round
from pipeline.cluster.backend import application_name, connect, deploy
from pipeline.cluster.ray_engine import RayEngine
from pipeline.cluster.settings import ClusterSettings
from pipeline.config import PipelineConfig, QueueSettings
from pipeline.config_file import load_config
from pipeline.engine import Engine

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pipeline.batch_runner import BatchEngine
    from pipeline.request import GenerationRequest


@dataclass(frozen=True)
class Mode:
    """One backend's figures: median images per second, and its first job's images."""

    label: str
    rate: float
    first_job: list[np.ndarray]


async def measure(
    label: str,
    engines: Sequence[BatchEngine],
    base: GenerationRequest,
    queue: QueueSettings,
    arguments: argparse.Namespace,
) -> Mode:
    """Warm the engines up, then time ``--rounds`` rounds; return the median rate."""
    await run_round(engines, replace(base, steps=1), arguments.jobs, queue)  # every replica
    rounds = [
        await run_round(engines, base, arguments.jobs, queue) for _ in range(arguments.rounds)
    ]
    images = arguments.jobs * base.num_images
    rate = images / statistics.median(result.seconds for result in rounds)
    print(f"  {label}: {rate:.3f} images/s", flush=True)
    return Mode(label, rate, rounds[-1].first_job)


def median_call_ms(engine: BatchEngine, request: GenerationRequest, repetitions: int) -> float:
    """Return the median wall time of one ``generate_batch`` call, in milliseconds."""
    engine.generate_batch([request])  # warm-up
    times = []
    for _ in range(repetitions):
        started = time.perf_counter()
        engine.generate_batch([request])
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def only_default_model(config: PipelineConfig, cpu_threads: int) -> PipelineConfig:
    """Return ``config`` serving its default model alone, drawing with ``cpu_threads``."""
    entry = config.default_model.model_copy(update={"cpu_threads": cpu_threads})
    return config.model_copy(update={"model": entry, "models": ()})


def serve_replicas(
    config: PipelineConfig, replicas: int, arguments: argparse.Namespace
) -> tuple[list[RayEngine], str]:
    """Deploy the model as its own application of ``replicas``; return one engine per replica."""
    settings = ClusterSettings(
        backend="ray",
        address="local",
        replicas=replicas,
        cpus_per_replica=arguments.cpus_per_replica,
        gpus_per_replica=arguments.gpus_per_replica,
        app_prefix=f"bench{replicas}",
    )
    started = time.perf_counter()
    handles = deploy(config.model_copy(update={"cluster": settings}), settings)
    print(f"  deployed {replicas} replica(s) in {time.perf_counter() - started:.1f} s", flush=True)
    model = config.default_model.label
    application = application_name(settings, model)
    engines = [
        RayEngine(handles, applications={model: application}, default=model)
        for _ in range(replicas)
    ]
    return engines, application


async def compare_replicas(
    config: PipelineConfig,
    base: GenerationRequest,
    small: GenerationRequest,
    arguments: argparse.Namespace,
) -> tuple[list[Mode], float]:
    """Time each replica count in turn; return its figures and Ray's median small call (ms)."""
    from ray import serve  # noqa: PLC0415 - the optional extra, imported once Ray has started

    modes: list[Mode] = []
    ray_ms = 0.0
    for replicas in range(1, arguments.replicas_max + 1):
        engines, application = serve_replicas(config, replicas, arguments)
        modes.append(
            await measure(f"Ray, {replicas} replica(s)", engines, base, config.queue, arguments)
        )
        if replicas == 1:
            ray_ms = median_call_ms(engines[0], small, arguments.repetitions)
        serve.delete(application)
    return modes, ray_ms


def print_figures(
    local: Mode, ray: list[Mode], local_ms: float, ray_ms: float, small: GenerationRequest
) -> None:
    """Print each mode's rate, the scaling against one replica and the dispatch overhead."""
    print()
    print(f"in-process engine (one worker): {local.rate:.3f} images/s")
    single = ray[0].rate
    for replicas, mode in enumerate(ray, start=1):
        scaling = mode.rate / single
        print(
            f"Ray Serve, {replicas} replica(s): {mode.rate:.3f} images/s "
            f"({scaling:.2f}x one replica, {scaling / replicas:.0%} per replica; "
            f"{mode.rate / local.rate:.2f}x in-process)"
        )
    if len(ray) >= 2:
        print(f"throughput 2 replicas / 1 replica: {ray[1].rate / single:.2f}x")
    print(
        f"dispatch overhead per job: {ray_ms - local_ms:.1f} ms "
        f"(medians of a {small.steps}-step {small.width}x{small.height} single image: "
        f"Ray {ray_ms:.1f} ms, in-process {local_ms:.1f} ms)"
    )
    difference = max(
        int(np.abs(ours - theirs).max())
        for ours, theirs in zip(local.first_job, ray[-1].first_job, strict=True)
    )
    print(f"largest pixel difference, first job in-process vs Ray: {difference} of 255 levels")


def parse_arguments() -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=Path("config.yaml"))
    parser.add_argument("--jobs", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--cpu-threads", type=int, default=1, help="torch threads per engine")
    parser.add_argument("--replicas-max", type=int, default=2, help="time 1..K replicas")
    parser.add_argument("--cpus-per-replica", type=float, default=1.0)
    parser.add_argument("--gpus-per-replica", type=float, default=0.0)
    parser.add_argument(
        "--repetitions", type=int, default=20, help="calls timed for the dispatch overhead"
    )
    return parser.parse_args()


async def main() -> None:
    """Time the in-process engine, then Ray at each replica count, and print the figures."""
    import ray  # noqa: PLC0415 - the optional extra
    from ray import serve  # noqa: PLC0415

    arguments = parse_arguments()
    config = only_default_model(
        load_config(arguments.config, PipelineConfig), arguments.cpu_threads
    )
    # 1. The in-process reference: one worker, the same jobs.
    engine = Engine.from_config(config, config.default_model)
    base = replace(engine.parse("a yellow star on a purple background"), steps=arguments.steps)
    small = replace(base, steps=1, num_images=1, width=32, height=32)
    place = f"{engine.model.device} ({engine.model.dtype}, {torch.get_num_threads()} CPU threads)"
    print(f"model: {engine.model.name} on {place}")
    print(
        f"{arguments.jobs} concurrent jobs x {base.num_images} images, {base.width}x{base.height}, "
        f"{base.steps} steps, median of {arguments.rounds} rounds, "
        f"max_batch_images {config.queue.max_batch_images}",
        flush=True,
    )
    local = await measure("in-process, one worker", [engine], base, config.queue, arguments)
    local_ms = median_call_ms(engine, small, arguments.repetitions)
    # 2. Ray on this machine only, with room for the most replicas timed.
    cpus = max(2, math.ceil(arguments.replicas_max * arguments.cpus_per_replica))
    connect(ClusterSettings(backend="ray", address="local"), num_cpus=cpus)
    try:
        ray_modes, ray_ms = await compare_replicas(config, base, small, arguments)
    finally:
        serve.shutdown()  # type: ignore[no-untyped-call]
        ray.shutdown()
    print_figures(local, ray_modes, local_ms, ray_ms, small)


if __name__ == "__main__":
    asyncio.run(main())
