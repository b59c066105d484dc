"""One local, loopback-only Ray instance for the whole test run, serving the tiny model twice.

Ray takes ~10 s to start and Serve ~15 s to deploy two replicas, so every Ray test shares
this instance (session scope), and only the tests that ask for it pay for it.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pytest

from pipeline.cluster.backend import application_name, connect, deploy
from pipeline.cluster.ray_engine import RayEngine, running_replicas
from tests.bot.harness import bot_config

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from bot.config import BotConfig

REPLACED_WITHIN = 120  # seconds; Serve replaces a lost replica in 4-30 s here
RAY_CLUSTER = {"backend": "ray", "replicas": 2, "cpus_per_replica": 0.5, "hang_seconds": 5}


@pytest.fixture(scope="session")
def ray_config(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> BotConfig:
    """Return the config the session's Ray instance serves: the tiny model as two replicas."""
    return bot_config(tmp_path_factory.mktemp("ray-data"), tiny_model_dir, cluster=RAY_CLUSTER)


@pytest.fixture(scope="session")
def ray_instance(ray_config: BotConfig) -> Iterator[dict[str, Any]]:
    """Start Ray on 127.0.0.1 with two CPUs, deploy the tiny model; return its handles."""
    connect(ray_config.cluster, num_cpus=2)
    handles = deploy(ray_config, ray_config.cluster)
    yield handles
    import ray  # noqa: PLC0415 - the optional extra
    from ray import serve  # noqa: PLC0415

    serve.shutdown()
    ray.shutdown()


@pytest.fixture
def served(ray_instance: dict[str, Any], ray_config: BotConfig) -> dict[str, Any]:
    """Return the handles once both replicas run (an earlier test may have killed one)."""
    model = ray_config.default_model.label
    applications = {model: application_name(ray_config.cluster, model)}
    deadline = time.monotonic() + REPLACED_WITHIN
    while running_replicas(applications)[model] < 2 or len(replica_pids()) < 2:
        if time.monotonic() > deadline:
            raise AssertionError(f"Serve did not bring back two replicas in {REPLACED_WITHIN} s")
        time.sleep(0.2)
    return ray_instance


def ray_engine(served: dict[str, Any], config: BotConfig) -> RayEngine:
    """Return a worker's engine over the session's replicas."""
    model = config.default_model.label
    return RayEngine(
        served, applications={model: application_name(config.cluster, model)}, default=model
    )


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
