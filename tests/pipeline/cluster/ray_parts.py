"""What the Ray tests share besides their fixtures: the cluster settings, engines, replicas."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pipeline.cluster.backend import application_name
from pipeline.cluster.ray_engine import RayEngine

if TYPE_CHECKING:
    from bot.config import BotConfig

RAY_CLUSTER = {"backend": "ray", "replicas": 2, "cpus_per_replica": 0.5, "hang_seconds": 5}


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
