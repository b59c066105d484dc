"""Deficit round-robin: owners take turns by cost, and batching keeps the turns fair."""

from __future__ import annotations

import itertools
import sys
from contextlib import contextmanager
from typing import TYPE_CHECKING

from pipeline import fair_queue
from pipeline.fair_queue import FairQueue, Waiting

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
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


# Preferring jobs whose model is loaded ------------------------------------------------------


def model_job(job_id: str, owner: str, model: str, cost: float = QUANTUM) -> Waiting:
    """Return a waiting job of one model; jobs of one model share a batch key."""
    return Waiting(job_id, owner, cost, images=4, batch_key=model, model=model)


def warm(waiting: Waiting) -> bool:
    """Prefer jobs of the model called warm, as a worker prefers its loaded model's."""
    return waiting.model == "warm"


def drain(queue: FairQueue, prefer: Callable[[Waiting], bool] | None = warm) -> list[str]:
    """Take one job at a time, with a preference, and return the start order."""
    order: list[str] = []
    while batch := queue.take_batch(max_images=0, prefer=prefer):
        order.extend(j.job_id for j in batch)
    return order


def mixed_queue() -> FairQueue:
    """Return a queue where cold and warm owners alternate, three jobs each."""
    queue = FairQueue(QUANTUM)
    for index in range(3):
        for owner, model in (("A", "cold"), ("B", "warm"), ("C", "cold"), ("D", "warm")):
            queue.add(model_job(f"{owner.lower()}{index}", owner, model))
    return queue


def test_a_preferred_job_goes_ahead_of_an_equally_due_owner() -> None:
    """Start the loaded model's job before the cold job of an owner equally due."""
    queue = FairQueue(QUANTUM)
    queue.add(model_job("a0", "A", "cold"))
    queue.add(model_job("b0", "B", "warm"))
    assert drain(queue) == ["b0", "a0"]


def test_the_passed_over_owner_runs_next() -> None:
    """Run the passed-over owner's job next, even with more preferred jobs waiting."""
    queue = FairQueue(QUANTUM)
    queue.add(model_job("a0", "A", "cold"))
    for index in range(3):
        queue.add(model_job(f"b{index}", "B", "warm"))
        queue.add(model_job(f"c{index}", "C", "warm"))
    assert drain(queue)[:2] == ["b0", "a0"]


def test_a_steady_stream_of_preferred_jobs_never_starves_a_cold_owner() -> None:
    """Let the cold owner run within two batches of its turn, round after round."""
    queue = FairQueue(QUANTUM)
    for index in range(10):
        queue.add(model_job(f"u{index}", "U", "cold"))
        for owner in ("V", "W", "X", "Y"):
            queue.add(model_job(f"{owner.lower()}{index}", owner, "warm"))
    order = drain(queue)
    starts = [position for position, job_id in enumerate(order) if job_id.startswith("u")]
    assert starts[0] <= 1
    assert len(starts) == 10
    # One visit per round of five owners, and at most one batch's delay on top of it.
    assert all(later - earlier <= 6 for earlier, later in itertools.pairwise(starts))


def test_a_preference_delays_every_owner_by_at_most_one_batch() -> None:
    """Keep the owners a preferred job jumps over in their order, each one batch late."""
    queue = FairQueue(QUANTUM)
    for owner, model in (("H", "cold"), ("X", "cold"), ("P", "warm"), ("Q", "warm")):
        queue.add(model_job(owner.lower(), owner, model))
    fair = ["h", "x", "p", "q"]
    order = drain(queue)
    assert order == ["p", "h", "x", "q"]
    assert all(order.index(job_id) <= fair.index(job_id) + 1 for job_id in fair)


def test_a_preference_that_marks_every_job_alike_changes_nothing() -> None:
    """Keep the fair order when all jobs are preferred, or none is."""
    fair = drain(mixed_queue(), prefer=None)
    assert drain(mixed_queue(), prefer=lambda _job: True) == fair
    assert drain(mixed_queue(), prefer=lambda _job: False) == fair
    assert fair[:4] == ["a0", "b0", "c0", "d0"]


def test_an_expensive_preferred_job_does_not_go_ahead() -> None:
    """Leave a preferred job that its next visit could not pay for in its place."""
    queue = FairQueue(QUANTUM)
    queue.add(model_job("a0", "A", "cold"))
    queue.add(model_job("big", "B", "warm", cost=3 * QUANTUM))
    assert drain(queue) == ["a0", "big"]


def test_projecting_the_order_leaves_the_preferred_order_alone() -> None:
    """Start jobs in the same order whether or not positions are projected in between."""
    plain, projected = mixed_queue(), mixed_queue()
    order: list[str] = []
    while batch := projected.take_batch(max_images=0, prefer=warm):
        order.extend(j.job_id for j in batch)
        projected.projected_order()
    assert order == drain(plain)


def test_the_projection_puts_a_passed_over_owner_next() -> None:
    """Predict that the owner just passed over starts next, as it will."""
    queue = mixed_queue()
    assert [j.job_id for j in queue.take_batch(max_images=0, prefer=warm)] == ["b0"]
    assert queue.projected_order()[0] == "a0"
    assert [j.job_id for j in queue.take_batch(max_images=0, prefer=warm)] == ["a0"]


def test_batches_never_mix_models() -> None:
    """Batch only jobs of one model, however the preference reorders the lead."""
    queue = mixed_queue()
    while batch := queue.take_batch(max_images=16, prefer=warm):
        assert len({j.batch_key for j in batch}) == 1
        assert len({j.model for j in batch}) == 1
    assert len(queue) == 0
