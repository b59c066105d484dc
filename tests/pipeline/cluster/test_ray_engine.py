"""Batches drawn on Ray Serve replicas: the same pixels, progress, cancel, a replica lost."""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from pipeline.cluster.backend import ray_engines
from pipeline.errors import EngineLostError, GenerationCanceled
from tests.pipeline.cluster.ray_parts import ray_engine, replica_pids

if TYPE_CHECKING:
    from bot.config import BotConfig
    from pipeline.engine import Engine


def test_a_replica_draws_the_same_pixels_as_the_engine_in_process(
    served: dict[str, Any], ray_config: BotConfig, tiny_engine: Engine
) -> None:
    """Get exactly the in-process engine's images back through Ray, with progress."""
    request = tiny_engine.parse("a red circle --seed 3")
    steps: list[int] = []
    engine = ray_engine(served, ray_config)
    remote = engine.generate_batch([request], progress=lambda p: steps.append(p.step))
    local = tiny_engine.generate_batch([request])
    assert steps == list(range(1, request.steps + 1))
    for ours, theirs in zip(remote[0].images, local[0].images, strict=True):
        assert np.array_equal(np.asarray(ours), np.asarray(theirs))


def test_a_cancel_stops_the_replica_between_steps(
    served: dict[str, Any], ray_config: BotConfig, tiny_engine: Engine
) -> None:
    """Raise GenerationCanceled once the caller asks, and leave the replica free for the next."""
    request = tiny_engine.parse("a red circle --seed 4 --steps 40")
    seen: list[int] = []
    with pytest.raises(GenerationCanceled):
        ray_engine(served, ray_config).generate_batch(
            [request], progress=lambda p: seen.append(p.step), cancel=lambda: len(seen) >= 1
        )
    assert len(seen) < request.steps
    after = tiny_engine.parse("a blue star --seed 1")
    assert ray_engine(served, ray_config).generate_batch([after])


def test_a_replica_killed_mid_batch_is_an_engine_lost_and_the_retry_draws(
    served: dict[str, Any], ray_config: BotConfig, tiny_engine: Engine
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
        ray_engine(served, ray_config).generate_batch([request], progress=kill_on_first_step)
    retry = tiny_engine.parse("a red circle --seed 5")
    assert ray_engine(served, ray_config).generate_batch([retry])[0].images


def test_concurrent_batches_run_on_both_replicas(
    served: dict[str, Any], ray_config: BotConfig, tiny_engine: Engine
) -> None:
    """Draw two batches sent at once on two different replicas."""
    engines = [ray_engine(served, ray_config), ray_engine(served, ray_config)]
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
    served: dict[str, Any], ray_config: BotConfig, tiny_engine: Engine
) -> None:
    """Find every socket of every Ray process on 127.0.0.1, while a batch is drawn."""
    import psutil  # noqa: PLC0415 - Ray's own dependency

    ray_engine(served, ray_config).generate_batch([tiny_engine.parse("a red circle --seed 9")])
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


def test_a_cancel_is_heard_while_the_replica_sends_nothing(
    served: dict[str, Any], ray_config: BotConfig, tiny_engine: Engine
) -> None:
    """Stop waiting within a poll of a cancel, though no step has come back yet."""
    request = tiny_engine.parse("a red circle --seed 6 --steps 60")
    started = time.monotonic()
    with pytest.raises(GenerationCanceled):
        ray_engine(served, ray_config).generate_batch([request], cancel=lambda: True)
    assert time.monotonic() - started < 5


def test_the_served_model_counts_as_loaded_and_an_unserved_one_does_not(
    served: dict[str, Any], ray_config: BotConfig
) -> None:
    """Tell /models the tiny model has replicas running (by name and as the default)."""
    engine = ray_engine(served, ray_config)
    assert engine.has_loaded(ray_config.default_model.label)
    assert engine.has_loaded("")
    assert not engine.has_loaded("no-such-model")


def test_a_restarted_bot_reattaches_to_the_running_replicas(
    served: dict[str, Any], ray_config: BotConfig, tiny_engine: Engine
) -> None:
    """Build the engines again from the same config: the same replica processes draw."""
    before = sorted(replica_pids())
    engines = ray_engines(ray_config, ray_config.cluster)
    assert len(engines) == ray_config.cluster.replicas
    assert engines[0].generate_batch([tiny_engine.parse("a blue star --seed 2")])
    assert sorted(replica_pids()) == before
