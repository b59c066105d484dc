"""One local, loopback-only Ray instance for the Ray tests, serving the tiny model twice.

Ray takes ~10 s to start and Serve ~15 s to deploy two replicas, so every Ray test (all of
them in this package) shares this instance, and it stops when the package's tests end, so
that its background processes do not slow the rest of the run.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pytest

from pipeline.cluster.backend import application_name, connect, deploy
from pipeline.cluster.ray_engine import running_replicas
from tests.bot.harness import bot_config
from tests.pipeline.cluster.ray_parts import RAY_CLUSTER, replica_pids

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from bot.config import BotConfig

REPLACED_WITHIN = 120  # seconds; Serve replaces a lost replica in 4-30 s here


@pytest.fixture(scope="package")
def ray_config(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> BotConfig:
    """Return the config the session's Ray instance serves: the tiny model as two replicas."""
    return bot_config(tmp_path_factory.mktemp("ray-data"), tiny_model_dir, cluster=RAY_CLUSTER)


@pytest.fixture(scope="package")
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
