"""Start or join Ray, deploy one Serve application per configured model, hand out engines.

``cluster.address: local`` starts a Ray instance in this process, on 127.0.0.1 only, with no
dashboard and no HTTP proxy (for trying it and for the tests); any other address joins a
running cluster, where the applications of an earlier run are found again and kept (the bot
restarting re-attaches), and redeployed only when their settings changed.
"""

from __future__ import annotations

import logging
import socket
from typing import TYPE_CHECKING, Any

from pipeline.cluster.loopback import LOOPBACK, bind_replicas_to_loopback, prepare_environment
from pipeline.cluster.ray_engine import RayEngine
from pipeline.errors import ModelLoadError

if TYPE_CHECKING:
    from pipeline.cluster.settings import ClusterSettings
    from pipeline.config import PipelineConfig

logger = logging.getLogger(__name__)


def connect(settings: ClusterSettings, *, num_cpus: int | None = None) -> None:
    """Start (``local``) or join the Ray cluster, or raise :class:`ModelLoadError` saying why."""
    prepare_environment()
    import ray  # noqa: PLC0415 - the optional extra
    from ray import serve  # noqa: PLC0415

    if ray.is_initialized():
        return
    try:
        if settings.address == "local":
            ray.init(
                num_cpus=num_cpus,
                include_dashboard=False,
                _node_ip_address=LOOPBACK,
                runtime_env={"worker_process_setup_hook": bind_replicas_to_loopback},
                log_to_driver=False,
            )
        else:
            check_reachable(settings.address)
            ray.init(address=settings.address, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as error:
        reason = str(error).splitlines()[0][:300]
        raise ModelLoadError(
            f"cluster.address {settings.address}: cannot reach Ray: {reason}"
        ) from error
    serve.start(proxy_location="Disabled")


def check_reachable(address: str, timeout: float = 5.0) -> None:
    """Refuse a HOST:PORT nobody listens on at once: Ray itself would retry for minutes."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # "auto": Ray finds the cluster this machine belongs to, or says it found none
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as error:
        raise ConnectionError(f"nothing answers at {host}:{port} ({error})") from error


def deploy(config: PipelineConfig, settings: ClusterSettings) -> dict[str, Any]:
    """Deploy (or find) each model's application; return its handle by model name."""
    from ray import serve  # noqa: PLC0415

    from pipeline.cluster.replica import EngineReplica  # noqa: PLC0415

    handles: dict[str, Any] = {}
    data = config.model_dump(mode="json")
    for entry in config.model_entries:
        name = f"{settings.app_prefix}-{entry.label}"
        deployment: Any = serve.deployment(
            EngineReplica,
            name="engine",
            max_ongoing_requests=1,
            health_check_period_s=10,
            ray_actor_options={
                "num_cpus": settings.cpus_per_replica,
                "num_gpus": settings.gpus_per_replica,
            },
            **_scaling(settings),
        )
        handles[entry.label] = serve.run(
            deployment.bind(data, entry.label), name=name, route_prefix=None
        )
        logger.info("model %s is served by Ray application %s", entry.label, name)
    return handles


def ray_engines(config: PipelineConfig, settings: ClusterSettings) -> list[RayEngine]:
    """Return one engine per worker thread: as many as a model may have replicas."""
    connect(settings)
    handles = deploy(config, settings)
    return [RayEngine(handles) for _ in range(settings.most_replicas)]


def _scaling(settings: ClusterSettings) -> dict[str, Any]:
    """Return a fixed replica count, or Serve's autoscaling between the two bounds."""
    if settings.min_replicas is None or settings.max_replicas is None:
        return {"num_replicas": settings.replicas}
    return {
        "autoscaling_config": {
            "min_replicas": settings.min_replicas,
            "max_replicas": settings.max_replicas,
            "target_ongoing_requests": 1,
        }
    }
