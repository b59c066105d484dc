"""Deficit round-robin: owners take turns by cost, and batching keeps the turns fair."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import TYPE_CHECKING

from pipeline import fair_queue
from pipeline.fair_queue import FairQueue, Waiting

if TYPE_CHECKING:
    from collections.abc import Iterator
    from types import FrameType, ModuleType

    from _typeshed import TraceFunction

QUANTUM = 100.0


def job(job_id: str, owner: str, cost: float = QUANTUM, images: int = 4, key: str = "k") -> Waiting:
    """Return a waiting job; by default it costs one quantum."""
    return Waiting(job_id=job_id, owner=owner, cost=cost, images=images, batch_key=key)


def start_order(queue: FairQueue) -> list[str]:
    """Drain the queue one job at a time and return the start order."""
    order: list[str] = []
    while batch := queue.take_batch(max_images=0):
        order.extend(j.job_id for j in batch)
    return order


def test_a_late_single_job_starts_after_at_most_one_of_a_busy_owners() -> None:
    """Start B's one job right after A's next when A has twenty waiting."""
    queue = FairQueue(QUANTUM)
    for index in range(20):
        queue.add(job(f"a{index}", "A"))
    first = queue.take_batch(max_images=0)  # A's first job is running
    queue.add(job("b0", "B"))
    order = [j.job_id for j in first] + start_order(queue)
    assert order.index("b0") <= 2


def test_owners_with_equal_jobs_alternate() -> None:
    """Alternate between owners whose jobs cost the same."""
    queue = FairQueue(QUANTUM)
    for index in range(3):
        queue.add(job(f"a{index}", "A"))
        queue.add(job(f"b{index}", "B"))
    assert start_order(queue) == ["a0", "b0", "a1", "b1", "a2", "b2"]


def test_expensive_jobs_wait_turns_in_proportion_to_their_cost() -> None:
    """Let a job costing three quanta wait while the other owner runs about three."""
    queue = FairQueue(QUANTUM)
    queue.add(job("big", "A", cost=3 * QUANTUM))
    for index in range(6):
        queue.add(job(f"b{index}", "B"))
    order = start_order(queue)
    assert order.index("big") == 2
    assert order[:2] == ["b0", "b1"]


def test_cheap_jobs_run_several_per_turn() -> None:
    """Run several jobs a turn for an owner whose jobs cost half a quantum."""
    queue = FairQueue(QUANTUM)
    for index in range(4):
        queue.add(job(f"a{index}", "A", cost=QUANTUM / 2))
    for index in range(2):
        queue.add(job(f"b{index}", "B"))
    assert start_order(queue) == ["a0", "a1", "b0", "a2", "a3", "b1"]


def test_batches_take_other_owners_first_jobs_before_more_of_the_same_owner() -> None:
    """Fill a batch with the first job of each other owner, not with more of the lead's."""
    queue = FairQueue(QUANTUM)
    for index in range(3):
        queue.add(job(f"a{index}", "A"))
    queue.add(job("b0", "B"))
    queue.add(job("b1", "B"))
    queue.add(job("c0", "C"))
    batch = [j.job_id for j in queue.take_batch(max_images=16)]
    assert batch == ["a0", "b0", "c0"]


def test_a_lone_owner_fills_the_batch() -> None:
    """Batch several of one owner's jobs when nobody else is waiting."""
    queue = FairQueue(QUANTUM)
    for index in range(5):
        queue.add(job(f"a{index}", "A"))
    assert [j.job_id for j in queue.take_batch(max_images=8)] == ["a0", "a1"]
    assert [j.job_id for j in queue.take_batch(max_images=12)] == ["a2", "a3", "a4"]


def test_batches_only_merge_compatible_jobs() -> None:
    """Leave jobs of another size or sampler out of the batch."""
    queue = FairQueue(QUANTUM)
    queue.add(job("a0", "A", key="512x512"))
    queue.add(job("b0", "B", key="640x384"))
    queue.add(job("c0", "C", key="512x512"))
    assert [j.job_id for j in queue.take_batch(max_images=16)] == ["a0", "c0"]


def test_removing_a_waiting_job_takes_it_out_of_line() -> None:
    """Cancel a waiting job so it never starts."""
    queue = FairQueue(QUANTUM)
    queue.add(job("a0", "A"))
    queue.add(job("a1", "A"))
    assert queue.remove("a0") is not None
    assert queue.remove("missing") is None
    assert start_order(queue) == ["a1"]


def test_projected_order_matches_the_real_start_order() -> None:
    """Predict exactly the order jobs will start in, for queue positions."""
    queue = FairQueue(QUANTUM)
    for index in range(4):
        queue.add(job(f"a{index}", "A", cost=QUANTUM / 2))
        queue.add(job(f"b{index}", "B", cost=2 * QUANTUM))
        queue.add(job(f"c{index}", "C"))
    predicted = queue.projected_order()
    assert predicted == start_order(queue)
    assert len(predicted) == 12


class WorkBudgetError(Exception):
    """The code under watch ran more lines than it was allowed."""


@contextmanager
def line_budget(module: ModuleType, lines: int) -> Iterator[list[int]]:
    """Count the lines run in ``module``'s code, and stop it once it runs more than ``lines``."""
    filename = module.__file__
    counted = [0]

    def trace(frame: FrameType, event: str, _arg: object) -> TraceFunction | None:
        if frame.f_code.co_filename != filename:
            return None
        if event == "line":
            counted[0] += 1
            if counted[0] > lines:
                raise WorkBudgetError(f"more than {lines} lines run in {module.__name__}")
        return trace

    previous = sys.gettrace()
    sys.settrace(trace)
    try:
        yield counted
    finally:
        sys.settrace(previous)


def test_a_job_costing_a_million_quanta_starts_without_spinning() -> None:
    """Skip idle rounds instead of visiting an owner once per quantum."""
    queue = FairQueue(QUANTUM)
    queue.add(job("huge", "A", cost=1e6 * QUANTUM))
    with line_budget(fair_queue, 200) as counted:
        assert start_order(queue) == ["huge"]
    assert counted[0] > 0


def test_count_for_reports_an_owners_waiting_jobs() -> None:
    """Count the jobs an owner has waiting, for the per-user cap."""
    queue = FairQueue(QUANTUM)
    queue.add(job("a0", "A"))
    queue.add(job("a1", "A"))
    assert queue.count_for("A") == 2
    assert queue.count_for("B") == 0
    assert len(queue) == 2
