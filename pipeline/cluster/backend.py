"""Start or join Ray, deploy one Serve application per configured model, hand out engines.

``cluster.address: local`` starts a Ray instance in this process, on 127.0.0.1 only, with no
dashboard and no HTTP proxy (for trying it and for the tests); any other address joins a
running cluster, where the applications of an earlier run are found again and kept (the bot
restarting re-attaches), and redeployed only when their settings changed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import socket
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

from pipeline.cluster.loopback import LOOPBACK, bind_replicas_to_loopback, prepare_environment
from pipeline.cluster.ray_engine import RayEngine
from pipeline.config import PipelineConfig
from pipeline.errors import ModelLoadError

if TYPE_CHECKING:
    from pipeline.cluster.settings import ClusterSettings

logger = logging.getLogger(__name__)


def connect(settings: ClusterSettings, *, num_cpus: int | None = None) -> None:
    """Start (``local``) or join the Ray cluster, or raise :class:`ModelLoadError` saying why."""
    prepare_environment()
    import ray  # noqa: PLC0415 - the optional extra
    from ray import serve  # noqa: PLC0415

    if ray.is_initialized():
        return
    if settings.address == "local":
        ray.init(
            num_cpus=num_cpus,
            include_dashboard=False,
            _node_ip_address=LOOPBACK,
            runtime_env={"worker_process_setup_hook": bind_replicas_to_loopback},
            log_to_driver=False,
        )
    else:
        join(settings.address)
    serve.start(proxy_location="Disabled")


def join(address: str) -> None:
    """Join the running cluster at ``address``, or raise :class:`ModelLoadError` saying why.

    Ray's own error for a refused token reads "Failed to connect"; the reason is named.
    """
    prepare_environment()
    import ray  # noqa: PLC0415 - the optional extra

    try:
        check_reachable(address)
        ray.init(address=address, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as error:
        reason = _reason(error)
        raise ModelLoadError(f"cluster.address {address}: cannot reach Ray: {reason}") from error


def _reason(error: BaseException) -> str:
    """Return the first line of why joining failed, naming a refused authentication token."""
    chain: list[BaseException] = []
    cause: BaseException | None = error
    while cause is not None and len(chain) < 10:
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    if any("InvalidAuthToken" in str(link) for link in chain):
        return (
            "the cluster refused this machine's authentication token (set RAY_AUTH_MODE=token "
            "and RAY_AUTH_TOKEN to the cluster's token, the same on every node)"
        )
    return str(error).splitlines()[0][:300]


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
    """Deploy (or find again) each model's application; return its handle by model name."""
    handles: dict[str, Any] = {}
    data = _engine_sections(config)
    for entry in config.model_entries:
        name = application_name(settings, entry.label)
        print_ = fingerprint(data, entry.label)
        handle = _running_handle(name, print_)
        if handle is None:
            handle = _deploy_one(name, data, entry.label, print_, settings)
            logger.info("model %s is served by Ray application %s", entry.label, name)
        else:
            logger.info("re-attached to Ray application %s (model %s)", name, entry.label)
        handles[entry.label] = handle
    return handles


def _engine_sections(config: PipelineConfig) -> dict[str, Any]:
    """Return the sections a replica reads: the bot's own (Discord, moderation) stay out."""
    dumped = config.model_dump(mode="json")
    return {key: value for key, value in dumped.items() if key in PipelineConfig.model_fields}


def fingerprint(config: dict[str, Any], model: str) -> str:
    """Return a digest of everything a replica is built from: config, model, Easel's version."""
    text = json.dumps([config, model, version("easel")], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _running_handle(name: str, wanted: str) -> Any | None:
    """Return the handle of a running application built from the same settings, else None.

    Redeploying restarts every replica (measured: 28 s for two of the tiny model), so a bot
    that restarts while Ray keeps running asks the replicas what they were built from first.
    """
    from ray import serve  # noqa: PLC0415
    from ray.serve.schema import ApplicationStatus  # noqa: PLC0415

    application = serve.status().applications.get(name)
    if application is None or application.status == ApplicationStatus.DELETING:
        return None  # (one still replacing a lost replica is kept: the call below waits)
    handle = serve.get_app_handle(name)
    try:
        built_from = handle.fingerprint.remote().result(timeout_s=30)
    except Exception:  # an older Easel's replica, or one that does not answer: redeploy
        logger.info("Ray application %s does not say what it was built from", name)
        return None
    return handle if built_from == wanted else None


def _deploy_one(
    name: str, data: dict[str, Any], model: str, print_: str, settings: ClusterSettings
) -> Any:
    """Deploy one model's application (replacing an outdated one) and return its handle."""
    from ray import serve  # noqa: PLC0415

    from pipeline.cluster.replica import EngineReplica  # noqa: PLC0415

    deployment: Any = serve.deployment(
        EngineReplica,
        name="engine",
        max_ongoing_requests=1,
        health_check_period_s=settings.health_check_seconds,
        ray_actor_options={
            "num_cpus": settings.cpus_per_replica,
            "num_gpus": settings.gpus_per_replica,
        },
        **_scaling(settings),
    )
    return serve.run(deployment.bind(data, model, print_), name=name, route_prefix=None)


def ray_engines(config: PipelineConfig, settings: ClusterSettings) -> list[RayEngine]:
    """Return one engine per worker thread: as many as a model may have replicas."""
    connect(settings)
    handles = deploy(config, settings)
    names = {entry.label: application_name(settings, entry.label) for entry in config.model_entries}
    default = config.default_model.label
    return [
        RayEngine(handles, applications=names, default=default)
        for _ in range(settings.most_replicas)
    ]


def application_name(settings: ClusterSettings, model: str) -> str:
    """Return the name of the Serve application serving ``model``."""
    return f"{settings.app_prefix}-{model}"


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
