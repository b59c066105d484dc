"""Keep a local Ray instance on 127.0.0.1: every socket of every Ray process, replicas too.

Measured on Ray 2.60: ``_node_ip_address="127.0.0.1"`` alone is ignored (Ray rewrites a
loopback address to the machine's interface unless ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` is
in the environment before ``import ray``), and every Serve replica opens a gRPC server on
``[::]`` that no option turns off, so each worker process rebinds it to loopback with
:func:`bind_replicas_to_loopback`, run as Ray's worker set-up hook.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

LOOPBACK = "127.0.0.1"
ENVIRONMENT = {
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",  # honour a loopback node address
    "RAY_USAGE_STATS_ENABLED": "0",
}


def prepare_environment() -> None:
    """Set the variables Ray reads at import; call before anything imports ray."""
    for name, value in ENVIRONMENT.items():
        os.environ.setdefault(name, value)


def bind_replicas_to_loopback() -> None:
    """Make Serve's per-replica gRPC server listen on 127.0.0.1 instead of every interface."""
    replica: Any = importlib.import_module("ray.serve._private.replica")  # not public API
    if getattr(replica, "_easel_loopback", False):
        return
    original = replica.add_port_to_grpc_server

    def on_loopback(server: Any, address: str) -> Any:
        if address.startswith(("[::]:", "0.0.0.0:")):
            address = f"{LOOPBACK}:{address.rsplit(':', 1)[1]}"
        return original(server, address)

    replica.add_port_to_grpc_server = on_loopback
    replica._easel_loopback = True
