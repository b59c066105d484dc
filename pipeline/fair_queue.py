"""Who runs next: deficit round-robin across owners, and which waiting jobs can batch.

Each owner has a first-in-first-out line. Owners are visited in turn; a visit adds one
``quantum`` of credit, and the owner's next job starts once its cost (steps × megapixels ×
images) fits in the credit. With the quantum set to the cost of a default job, owners with
default jobs simply alternate: when A has 20 jobs waiting and B adds one, B starts after at
most one more of A's. Expensive jobs wait a few turns to pay for themselves.

Batching never breaks that promise: a batch is filled first with the *first* job of other
owners, and takes more of one owner's jobs only when nobody else is waiting. Nor does
preferring jobs whose model is loaded: such a job may go ahead of an owner equally due, once,
never further.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Hashable


@dataclass
class Waiting:
    """A job waiting in line: its id, owner, cost, image count and batch key."""

    job_id: str
    owner: str
    cost: float
    images: int
    batch_key: Hashable
    model: str = ""


@dataclass
class _OwnerLine:
    """One owner's waiting jobs and unused credit."""

    jobs: deque[Waiting] = field(default_factory=deque)
    deficit: float = 0.0


class FairQueue:
    """Deficit round-robin over owners, with fairness-preserving batch gathering."""

    def __init__(self, quantum: float) -> None:
        if quantum <= 0:
            raise ValueError("quantum must be positive")
        self._quantum = quantum
        self._lines: dict[str, _OwnerLine] = {}
        self._turns: deque[str] = deque()  # owners with waiting jobs, in visiting order
        self._visiting = False  # whether _turns[0] has already been credited this visit
        self._passed_over: set[str] = set()  # owners a preferred job went ahead of, once

    def __len__(self) -> int:
        return sum(len(line.jobs) for line in self._lines.values())

    def add(self, job: Waiting) -> None:
        """Put a job at the end of its owner's line."""
        line = self._lines.setdefault(job.owner, _OwnerLine())
        if not line.jobs and job.owner not in self._turns:
            self._turns.append(job.owner)
        line.jobs.append(job)

    def remove(self, job_id: str) -> Waiting | None:
        """Take a waiting job out (a cancel); return it, or None if it is not waiting."""
        for owner, line in self._lines.items():
            for job in line.jobs:
                if job.job_id == job_id:
                    line.jobs.remove(job)
                    if not line.jobs:
                        self._retire(owner)
                    return job
        return None

    def count_for(self, owner: str) -> int:
        """Return how many jobs the owner has waiting."""
        line = self._lines.get(owner)
        return len(line.jobs) if line else 0

    def take_batch(
        self, max_images: int, prefer: Callable[[Waiting], bool] | None = None
    ) -> list[Waiting]:
        """Remove and return the next job and the waiting jobs that can share its call.

        The lead job always comes back, even if it alone has more than ``max_images``.
        ``prefer`` marks jobs that are cheaper to run now (their model is loaded): see
        :meth:`_let_preferred_go_first`.
        """
        if prefer is not None:
            self._let_preferred_go_first(prefer)
        lead = self._next_lead()
        if lead is None:
            return []
        batch = [lead]
        images = lead.images
        if images >= max_images:
            return batch  # full already (always so for projected_order's simulation)
        # Other owners' first jobs, in turn order, while they fit.
        for owner in list(self._turns):
            line = self._lines[owner]
            if owner == lead.owner or not line.jobs:
                continue
            head = line.jobs[0]
            if head.batch_key == lead.batch_key and images + head.images <= max_images:
                batch.append(self._pop_head(owner, charge=True))
                images += head.images
        # More of the lead owner's jobs only when nobody else is waiting.
        if all(owner == lead.owner for owner in self._turns):
            own = self._lines.get(lead.owner)
            while own and own.jobs and own.jobs[0].batch_key == lead.batch_key:
                if images + own.jobs[0].images > max_images:
                    break
                images += own.jobs[0].images
                batch.append(self._pop_head(lead.owner, charge=True))
        return batch

    def _let_preferred_go_first(self, prefer: Callable[[Waiting], bool]) -> None:
        """Among owners equally due this round, let one whose first job is preferred go first.

        Only an owner at the start of its visit is passed over, by one whose first job fits
        the credit it would get on its own visit, and only once before it runs: a preference
        delays anyone by at most one batch, so no model's jobs can starve. That holds for the
        owners between the two as well, who are passed over too.
        """
        if not self._turns or self._visiting:
            return
        head = self._turns[0]
        if head in self._passed_over or prefer(self._lines[head].jobs[0]):
            return
        passed = [head]
        for owner in list(self._turns)[1:]:
            if owner in self._passed_over:
                return  # passed once already: nobody goes ahead of it again before it runs
            line = self._lines[owner]
            first = line.jobs[0]
            if prefer(first) and first.cost <= line.deficit + self._quantum:
                self._turns.remove(owner)
                self._turns.appendleft(owner)
                self._passed_over.update(passed)
                return
            passed.append(owner)

    def projected_order(self) -> list[str]:
        """Return waiting job ids in the order they would start (batching aside)."""
        simulation = self._snapshot()
        order: list[str] = []
        while batch := simulation.take_batch(max_images=0):
            order.extend(job.job_id for job in batch)
        return order

    def _snapshot(self) -> FairQueue:
        """Copy the lines, credits and turn order, sharing the (never mutated) job records.

        Positions are recomputed on every submission, so this must stay cheap: a deep copy
        made a burst of 100 submissions cost about 0.1 s of event-loop time.
        """
        clone = FairQueue(self._quantum)
        clone._lines = {
            owner: _OwnerLine(deque(line.jobs), line.deficit) for owner, line in self._lines.items()
        }
        clone._turns = deque(self._turns)
        clone._visiting = self._visiting
        clone._passed_over = set(self._passed_over)
        return clone

    def _next_lead(self) -> Waiting | None:
        """Visit owners in turn, crediting each visit, until one's first job fits its credit."""
        misses = 0
        while self._turns:
            if misses >= len(self._turns):
                self._skip_empty_rounds()
                misses = 0
            owner = self._turns[0]
            line = self._lines[owner]
            if not self._visiting:
                line.deficit += self._quantum
                self._visiting = True
                self._passed_over.discard(owner)
            if line.jobs[0].cost <= line.deficit:
                return self._pop_head(owner, charge=True)
            self._end_visit()
            misses += 1
        return None

    def _skip_empty_rounds(self) -> None:
        """Credit every owner at once for the rounds in which no first job would fit.

        Without this, a job costing a thousand quanta would take a thousand idle visits.
        """
        rounds = min(
            math.ceil((line.jobs[0].cost - line.deficit) / self._quantum)
            for line in (self._lines[owner] for owner in self._turns)
        )
        for owner in self._turns:
            self._lines[owner].deficit += max(0, rounds - 1) * self._quantum

    def _pop_head(self, owner: str, *, charge: bool) -> Waiting:
        """Remove an owner's first job, charging its cost, and move the turn on if due."""
        line = self._lines[owner]
        job = line.jobs.popleft()
        if charge:
            line.deficit -= job.cost
        if not line.jobs:
            self._retire(owner)
        elif owner == self._turns[0] and line.jobs[0].cost > line.deficit:
            self._end_visit()
        return job

    def _end_visit(self) -> None:
        """Send the owner being visited to the back of the turn order."""
        self._turns.rotate(-1)
        self._visiting = False

    def _retire(self, owner: str) -> None:
        """Drop an owner with nothing waiting; unused credit is forfeited, as DRR does."""
        self._passed_over.discard(owner)
        if self._turns and self._turns[0] == owner:
            self._visiting = False
        if owner in self._turns:
            self._turns.remove(owner)
        self._lines.pop(owner, None)
