"""The ``cluster:`` section: where the engines run (in-process, or replicas on Ray Serve)."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator

from pipeline.config_paths import Section


class ClusterSettings(Section):
    """How many engine replicas serve each model, and where."""

    backend: Literal["local", "ray"] = "local"
    # local: start a Ray instance on this machine (to try it); auto or ray://HOST:PORT (or
    # HOST:PORT): join a running cluster.
    address: str = "local"
    replicas: int = Field(default=1, ge=1, le=256)
    # Serve's autoscaling between these, instead of a fixed count (min 0: idle models scale
    # to zero); both null = replicas.
    min_replicas: int | None = Field(default=None, ge=0, le=256)
    max_replicas: int | None = Field(default=None, ge=1, le=256)
    gpus_per_replica: float = Field(default=0.0, ge=0.0, le=8.0)
    cpus_per_replica: float = Field(default=1.0, gt=0.0, le=256.0)
    # Serve asks each replica this often whether it is healthy; a replica whose device fails
    # or whose draw, asked to stop, runs on past hang_seconds is replaced.
    health_check_seconds: float = Field(default=10.0, ge=1.0, le=600.0)
    hang_seconds: float = Field(default=60.0, gt=0.0, le=3600.0)
    app_prefix: str = Field(default="easel", pattern=r"^[a-z][a-z0-9-]{0,30}$")

    @model_validator(mode="after")
    def _check_autoscaling(self) -> Self:
        if (self.min_replicas is None) != (self.max_replicas is None):
            raise ValueError("give both min_replicas and max_replicas, or neither")
        low, high = self.min_replicas, self.max_replicas
        if low is not None and high is not None and low > high:
            raise ValueError("min_replicas is above max_replicas")
        return self

    @property
    def most_replicas(self) -> int:
        """Return the most replicas a model may have at once (one worker thread each)."""
        return self.max_replicas if self.max_replicas is not None else self.replicas
