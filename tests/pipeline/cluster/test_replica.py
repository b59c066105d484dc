"""A replica's health check: a stuck draw or a device that no longer computes fails it."""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING

import pytest
import torch

from pipeline.cluster.replica import EngineReplica, probe_device

if TYPE_CHECKING:
    from bot.config import BotConfig
    from pipeline.engine import Engine

HANG_SECONDS = 0.3


@pytest.fixture
def replica(ray_config: BotConfig) -> EngineReplica:
    """Build a replica in-process (as Serve would in its worker), quick to call hung."""
    cluster = ray_config.cluster.model_copy(update={"hang_seconds": HANG_SECONDS})
    config = ray_config.model_copy(update={"cluster": cluster}).model_dump(mode="json")
    return EngineReplica(config, ray_config.default_model.label, "fingerprint")


async def test_a_draw_that_does_not_stop_when_asked_fails_the_health_check(
    replica: EngineReplica, tiny_engine: Engine
) -> None:
    """Pass while the draw is stopping in time, fail once it is stuck past hang_seconds."""
    stuck = threading.Event()
    replica._thread.submit(stuck.wait)  # the draw thread is busy: the next draw cannot start
    stream = replica.run([tiny_engine.parse("a red circle --seed 1")])
    assert (await anext(stream))[0] == "replica"
    waiting = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.05)
    waiting.cancel()  # as Serve does when the caller cancels
    await asyncio.sleep(0.05)
    replica.check_health()
    await asyncio.sleep(HANG_SECONDS)
    with pytest.raises(RuntimeError, match="still running"):
        replica.check_health()
    stuck.set()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    replica.check_health()


def test_a_healthy_replica_says_what_it_was_built_from(replica: EngineReplica) -> None:
    """Pass the health check, and give the deployer's fingerprint back for a re-attach."""
    replica.check_health()
    assert replica.fingerprint() == "fingerprint"


def test_a_device_that_cannot_compute_fails_the_probe() -> None:
    """Raise on a device whose results cannot be read back, as on a poisoned CUDA context."""
    probe_device(torch.device("cpu"))
    with pytest.raises((RuntimeError, NotImplementedError)):
        probe_device(torch.device("meta"))
