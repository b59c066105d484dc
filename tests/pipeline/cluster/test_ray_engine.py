"""Batches drawn on Ray Serve replicas: the same pixels, progress, cancel, a replica lost."""

from __future__ import annotations

import os
import signal
import threading
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from pipeline.cluster.backend import connect, deploy
from pipeline.cluster.ray_engine import RayEngine
from pipeline.cluster.settings import ClusterSettings
from pipeline.errors import EngineLostError, GenerationCanceled

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pipeline.config import PipelineConfig
    from pipeline.engine import Engine


@pytest.fixture(scope="session")
def served(tiny_config: PipelineConfig) -> Iterator[dict[str, Any]]:
    """Serve the tiny model as two replicas on a local, loopback-only Ray instance."""
    settings = ClusterSettings(backend="ray", replicas=2, cpus_per_replica=0.5)
    connect(settings, num_cpus=2)
    handles = deploy(tiny_config.model_copy(update={"cluster": settings}), settings)
    yield handles
    import ray  # noqa: PLC0415
    from ray import serve  # noqa: PLC0415

    serve.shutdown()
    ray.shutdown()


def test_a_replica_draws_the_same_pixels_as_the_engine_in_process(
    served: dict[str, Any], tiny_engine: Engine
) -> None:
    """Get exactly the in-process engine's images back through Ray, with progress."""
    request = tiny_engine.parse("a red circle --seed 3")
    steps: list[int] = []
    remote = RayEngine(served).generate_batch([request], progress=lambda p: steps.append(p.step))
    local = tiny_engine.generate_batch([request])
    assert steps == list(range(1, request.steps + 1))
    for ours, theirs in zip(remote[0].images, local[0].images, strict=True):
        assert np.array_equal(np.asarray(ours), np.asarray(theirs))


def test_a_cancel_stops_the_replica_between_steps(
    served: dict[str, Any], tiny_engine: Engine
) -> None:
    """Raise GenerationCanceled once the caller asks, and leave the replica free for the next."""
    request = tiny_engine.parse("a red circle --seed 4 --steps 40")
    seen: list[int] = []
    with pytest.raises(GenerationCanceled):
        RayEngine(served).generate_batch(
            [request], progress=lambda p: seen.append(p.step), cancel=lambda: len(seen) >= 1
        )
    assert len(seen) < request.steps
    assert RayEngine(served).generate_batch([tiny_engine.parse("a blue star --seed 1")])


def test_a_replica_killed_mid_batch_is_an_engine_lost_and_the_retry_draws(
    served: dict[str, Any], tiny_engine: Engine
) -> None:
    """Kill the replicas under a batch: EngineLostError, and a retry waits for Serve's new ones."""
    request = tiny_engine.parse("a red circle --seed 5 --steps 60")
    killed = threading.Event()

    def kill_on_first_step(_progress: object) -> None:
        if not killed.is_set():
            killed.set()
            for pid in replica_pids():  # both: the one drawing among them
                os.kill(pid, signal.SIGKILL)

    with pytest.raises(EngineLostError):
        RayEngine(served).generate_batch([request], progress=kill_on_first_step)
    retry = tiny_engine.parse("a red circle --seed 5")
    assert RayEngine(served).generate_batch([retry])[0].images


def replica_pids() -> list[int]:
    """Return the process ids of this test run's Serve replicas (by their process title).

    Only this process's own Ray children count: another Ray instance on the machine (a
    parallel test run, say) is left alone.
    """
    import psutil  # noqa: PLC0415 - Ray's own dependency

    pids = []
    for process in psutil.Process().children(recursive=True):
        try:
            title = " ".join(process.cmdline())
        except psutil.Error:
            continue
        if "ray::ServeReplica:easel-" in title:
            pids.append(process.pid)
    return pids


def test_concurrent_batches_run_on_both_replicas(
    served: dict[str, Any], tiny_engine: Engine
) -> None:
    """Draw two batches sent at once on two different replicas."""
    engines = [RayEngine(served), RayEngine(served)]
    requests = [tiny_engine.parse(f"a red circle --seed {s} --steps 30") for s in (1, 2)]
    threads = [
        threading.Thread(target=engine.generate_batch, args=([request],))
        for engine, request in zip(engines, requests, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    replicas = {engine.last_replica for engine in engines}
    assert None not in replicas
    assert len(replicas) == 2


def test_ray_listens_and_talks_on_loopback_only(
    served: dict[str, Any], tiny_engine: Engine
) -> None:
    """Find every socket of every Ray process on 127.0.0.1, while a batch is drawn."""
    import psutil  # noqa: PLC0415 - Ray's own dependency

    RayEngine(served).generate_batch([tiny_engine.parse("a red circle --seed 9")])
    processes = psutil.Process().children(recursive=True)
    sockets = [c for p in processes for c in _connections(p)]
    addresses = {c.laddr.ip for c in sockets} | {c.raddr.ip for c in sockets if c.raddr}
    assert len(processes) > 5
    assert sockets
    assert addresses <= {"127.0.0.1", "::ffff:127.0.0.1", "::1"}


def _connections(process: Any) -> list[Any]:
    """Return a process's internet sockets, none for one that has just exited."""
    import psutil  # noqa: PLC0415

    try:
        return list(process.net_connections(kind="inet"))
    except psutil.Error:
        return []
