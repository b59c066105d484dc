"""What ``python -m bot --check`` says about the Ray cluster, without deploying anything.

``address: local`` is only looked up (Ray installed, and the instance it would start);
any other address is joined and left again: the nodes, the GPUs and Easel's applications
running there are named, so an owner sees at once whether the bot's start-up will find them.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any

from pipeline.cluster.backend import join
from pipeline.cluster.loopback import prepare_environment
from pipeline.errors import ModelLoadError

if TYPE_CHECKING:
    from pipeline.cluster.settings import ClusterSettings

INSTALL_HINT = "install the extra: pip install '.[ray]'"
JOIN_HINT = (
    "start the head node (ray start --head), correct cluster.address, or give this machine "
    "the cluster's token"
)


def describe_cluster(settings: ClusterSettings) -> str:
    """Return a line on the cluster the bot would use, or raise ModelLoadError saying why not."""
    if importlib.util.find_spec("ray") is None:
        raise ModelLoadError(f"cluster.backend is ray but Ray is not installed\n{INSTALL_HINT}")
    prepare_environment()
    import ray  # noqa: PLC0415 - the optional extra

    if settings.address == "local":
        return (
            f"Ray {ray.__version__}: address local starts a Ray instance on 127.0.0.1 "
            f"at start-up, {_replicas(settings)} per model"
        )
    try:
        join(settings.address)
    except ModelLoadError as error:
        raise ModelLoadError(f"{error}\n{JOIN_HINT}") from error
    try:
        return f"joined Ray at {settings.address}: {_inventory(settings)}"
    finally:
        ray.shutdown()


def _inventory(settings: ClusterSettings) -> str:
    """Name the live nodes, the GPUs and the applications of ours running on the cluster."""
    import ray  # noqa: PLC0415
    from ray import serve  # noqa: PLC0415

    listed: list[dict[str, Any]] = ray.nodes()  # type: ignore[no-untyped-call]
    nodes = sum(1 for node in listed if node.get("Alive"))
    resources: dict[str, float] = ray.cluster_resources()  # type: ignore[no-untyped-call]
    gpus = resources.get("GPU", 0)
    try:
        applications = serve.status().applications
    except Exception:  # Serve not started there yet: the bot's start-up starts it
        applications = {}
    ours = sorted(name for name in applications if name.startswith(f"{settings.app_prefix}-"))
    running = ", ".join(f"{name} ({applications[name].status})" for name in ours) or "none yet"
    return f"{nodes} node(s), {gpus:g} GPU(s); applications: {running}"


def _replicas(settings: ClusterSettings) -> str:
    """Say how many replicas each model gets."""
    if settings.min_replicas is not None:
        return f"{settings.min_replicas}-{settings.max_replicas} replicas (autoscaled)"
    return f"{settings.replicas} replica(s)"
