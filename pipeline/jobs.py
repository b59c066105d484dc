"""Jobs as the queue sees them: records, states, events, errors and the store they persist to.

The queue never imports a database: it persists through the :class:`JobStore` protocol, which
the bot implements on SQLite (``bot/store``). Every state change is written through the store
before anyone is told about it, so a crash can lose no accepted job.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pipeline.errors import UserError

if TYPE_CHECKING:
    from pathlib import Path

    from PIL import Image

    from pipeline.engine import Progress
    from pipeline.request import GenerationRequest

JobStatus = Literal["pending", "running", "done", "failed", "canceled"]
FINISHED: frozenset[JobStatus] = frozenset({"done", "failed", "canceled"})
EventKind = Literal["queued", "started", "progress", "done", "failed", "canceled"]


def new_job_id() -> str:
    """Return a short random id, safe in file names and Discord ``custom_id`` strings."""
    return secrets.token_hex(6)


def job_cost(request: GenerationRequest) -> float:
    """Estimate a job's GPU work: denoising steps × megapixels × images."""
    steps = request.steps
    if request.strength is not None and request.init_image is not None:
        steps = max(1, math.ceil(request.steps * request.strength))
    return steps * (request.width * request.height / 1e6) * request.num_images


@dataclass(frozen=True)
class JobRecord:
    """One job as stored: the request, who owns it, where it stands, and the caller's context.

    ``context`` is opaque to the queue: the bot keeps there what it needs to deliver the
    result after a restart (guild, channel, which button made the job ...).
    """

    id: str
    owner: str
    request: GenerationRequest
    status: JobStatus = "pending"
    attempts: int = 0
    created_at: float = 0.0
    context: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    outputs: tuple[Path, ...] = ()


@dataclass(frozen=True)
class JobEvent:
    """Something that happened to a job, in the order it happened.

    ``queued`` carries the 1-based ``position`` (1 = next to start); ``progress`` carries the
    engine's :class:`Progress`; ``failed`` and ``canceled`` carry a ``message`` fit for the
    owner. ``done``, ``failed`` and ``canceled`` are final.
    """

    kind: EventKind
    position: int | None = None
    progress: Progress | None = None
    message: str | None = None

    @property
    def is_final(self) -> bool:
        """Tell whether no event follows this one."""
        return self.kind in FINISHED


@dataclass(frozen=True)
class JobResult:
    """A finished job's images, the files they were saved to, and how long the call took."""

    job: JobRecord
    images: list[Image.Image]
    paths: tuple[Path, ...]
    duration: float
    flagged: tuple[bool, ...] = ()


class QueueFullError(UserError):
    """The owner or the whole server has as many jobs waiting as allowed."""


class QueueClosedError(UserError):
    """The queue is shutting down and accepts nothing new."""


class JobFailedError(Exception):
    """A job failed; the message says why in words fit for its owner."""


class JobCanceledError(Exception):
    """A job was canceled by its owner, a moderator or a timeout."""


class JobStore(Protocol):
    """Where the queue persists jobs; each method returns once its change is committed."""

    async def add(self, job: JobRecord) -> None:
        """Store a new pending job."""

    async def mark_running(self, job_id: str, attempts: int) -> None:
        """Record that a job started its ``attempts``-th run."""

    async def mark_pending(self, job_id: str) -> None:
        """Put a job interrupted by a shutdown back to pending."""

    async def mark_done(self, job_id: str, outputs: tuple[Path, ...]) -> None:
        """Record a finished job and where its images were saved."""

    async def mark_failed(self, job_id: str, reason: str) -> None:
        """Record a failed job and the reason its owner was given."""

    async def mark_canceled(self, job_id: str, reason: str) -> None:
        """Record a canceled job and the reason its owner was given."""

    async def unfinished(self) -> list[JobRecord]:
        """Return pending and running jobs in the order they were submitted."""
