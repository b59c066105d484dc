"""Running one batch on the real tiny engine: every failure stays with the job that caused it."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
import torch

from pipeline.batch_runner import (
    INTERNAL_ERROR_MESSAGE,
    OUT_OF_MEMORY_MESSAGE,
    EngineBroken,
    Failed,
    Interrupted,
    Succeeded,
    is_gpu_fault,
    run_batch,
)
from pipeline.errors import ModelUnavailableError
from tests.pipeline.faulty_engine import FaultyEngine

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from PIL import Image

    from pipeline.batch_runner import BatchEngine, RequestOutcome
    from pipeline.engine import Engine, GenerationResult
    from pipeline.request import GenerationRequest


def small(engine: Engine, prompt: str, *, seed: int = 1, images: int = 1) -> GenerationRequest:
    """Return a quick request: two steps, ``images`` images."""
    return replace(engine.parse(f"{prompt} --seed {seed} --steps 2"), num_images=images)


def run(engine: BatchEngine, requests: list[GenerationRequest]) -> list[RequestOutcome]:
    """Run a batch that nobody cancels, with the reference ``job-7``."""
    return run_batch(engine, requests, progress=None, cancel=lambda: False, reference="job-7")


def max_difference(a: Image.Image, b: Image.Image) -> int:
    """Return the largest per-channel difference between two images."""
    return int(np.abs(np.asarray(a, np.int32) - np.asarray(b, np.int32)).max())


@pytest.fixture
def faulty(tiny_engine: Engine) -> FaultyEngine:
    """Wrap the tiny engine with no faults configured."""
    return FaultyEngine(tiny_engine)


def test_a_batch_gives_each_request_its_own_success(tiny_engine: Engine) -> None:
    """Return one Succeeded per request, in order, with that request's images."""
    requests = [small(tiny_engine, "red", images=2), small(tiny_engine, "blue", seed=9)]
    outcomes = run(tiny_engine, requests)
    assert [type(outcome) for outcome in outcomes] == [Succeeded, Succeeded]
    results = [outcome.result for outcome in outcomes if isinstance(outcome, Succeeded)]
    assert [result.request for result in results] == requests
    assert [len(result.images) for result in results] == [2, 1]


def test_out_of_memory_splits_the_batch_image_by_image(faulty: FaultyEngine) -> None:
    """Retry an out-of-memory batch as one call per image, each with its own seed."""
    faulty.oom_above_images = 1
    request = small(faulty.engine, "red", seed=20, images=2)
    run(faulty, [request])
    assert [[(r.seed, r.num_images) for r in call] for call in faulty.calls] == [
        [(20, 2)],
        [(20, 1)],
        [(21, 1)],
    ]


def test_out_of_memory_split_gives_the_pixels_of_running_alone(
    faulty: FaultyEngine, tiny_engine: Engine
) -> None:
    """Give a split request the very images it gets in one call."""
    faulty.oom_above_images = 1
    request = small(tiny_engine, "red", seed=20, images=2)
    (outcome,) = run(faulty, [request])
    assert isinstance(outcome, Succeeded)
    assert outcome.result.request == request
    alone = tiny_engine.generate(request)
    assert len(outcome.result.images) == 2
    for split, whole in zip(outcome.result.images, alone.images, strict=True):
        assert max_difference(split, whole) <= 1


class FlaggingEngine:
    """The real engine, with a safety checker that flags every image of one seed."""

    def __init__(self, engine: Engine, unsafe_seed: int) -> None:
        self.engine = engine
        self.unsafe_seed = unsafe_seed

    def generate_batch(
        self, requests: Sequence[GenerationRequest], **options: Any
    ) -> list[GenerationResult]:
        """Run the real engine, then flag the images drawn with the unsafe seed."""
        results = self.engine.generate_batch(requests, **options)
        return [
            replace(result, flagged=tuple(seed == self.unsafe_seed for seed in result.seeds))
            for result in results
        ]


def test_out_of_memory_split_keeps_the_models_safety_flags(tiny_engine: Engine) -> None:
    """Keep the safety checker's verdict on each image when a request is drawn image by image."""
    request = small(tiny_engine, "red", seed=30, images=2)
    flagging = FlaggingEngine(tiny_engine, unsafe_seed=31)
    faulty = FaultyEngine(flagging, oom_above_images=1)  # type: ignore[arg-type]
    (outcome,) = run(faulty, [request])
    assert isinstance(outcome, Succeeded)
    assert len(faulty.calls) == 3  # the batch, then each image alone
    assert outcome.result.flagged == (False, True)


def test_out_of_memory_even_image_by_image_fails_with_the_memory_advice(
    faulty: FaultyEngine,
) -> None:
    """Fail a request that runs out of memory on a single image, saying what to try."""
    faulty.oom_above_images = 0
    assert run(faulty, [small(faulty.engine, "red")]) == [Failed(OUT_OF_MEMORY_MESSAGE)]


def test_a_failing_request_does_not_fail_its_neighbours(faulty: FaultyEngine) -> None:
    """Run each request alone after a batch fails, so only the bad one fails."""
    faulty.fail_prompts = {"poison"}
    engine = faulty.engine
    requests = [small(engine, "red"), small(engine, "poison"), small(engine, "blue")]
    outcomes = run(faulty, requests)
    assert [type(outcome) for outcome in outcomes] == [Succeeded, Failed, Succeeded]
    assert [len(call) for call in faulty.calls] == [3, 1, 1, 1]


def test_a_user_error_keeps_its_own_message(tiny_engine: Engine, tmp_path: Path) -> None:
    """Give the owner a user error's own words, such as an unreadable image prompt."""
    missing = tmp_path / "gone.png"
    request = replace(small(tiny_engine, "red"), init_image=missing, strength=0.5)
    assert run(tiny_engine, [request]) == [Failed("The image file gone.png cannot be read.")]


def test_another_error_gives_the_internal_error_message_with_the_reference(
    faulty: FaultyEngine,
) -> None:
    """Hide an engine error's details behind an apology that carries the reference."""
    faulty.fail_prompts = {"poison"}
    assert run(faulty, [small(faulty.engine, "poison")]) == [
        Failed(INTERNAL_ERROR_MESSAGE.format(reference="job-7"))
    ]


def test_another_error_is_logged_with_its_traceback(
    faulty: FaultyEngine, caplog: pytest.LogCaptureFixture
) -> None:
    """Log an engine error with the reference and the original exception."""
    faulty.fail_prompts = {"poison"}
    with caplog.at_level(logging.ERROR, logger="pipeline.batch_runner"):
        run(faulty, [small(faulty.engine, "poison")])
    (record,) = caplog.records
    assert "job-7" in record.getMessage()
    assert record.exc_info is not None
    assert str(record.exc_info[1]) == "injected engine failure"


def test_cancel_gives_every_request_interrupted(tiny_engine: Engine) -> None:
    """Stop a canceled batch and report each of its requests as interrupted."""
    requests = [small(tiny_engine, "red"), small(tiny_engine, "blue")]
    outcomes = run_batch(
        tiny_engine, requests, progress=None, cancel=lambda: True, reference="job-7"
    )
    assert outcomes == [Interrupted(), Interrupted()]


def test_cancel_during_an_out_of_memory_split_gives_interrupted(faulty: FaultyEngine) -> None:
    """Stop splitting a request once the batch is canceled."""
    faulty.oom_above_images = 1

    def cancel_after_the_first_image() -> bool:
        return len(faulty.calls) > 2

    outcomes = run_batch(
        faulty,
        [small(faulty.engine, "red", images=3)],
        progress=None,
        cancel=cancel_after_the_first_image,
        reference="job-7",
    )
    assert outcomes == [Interrupted()]
    assert len(faulty.calls) == 3


BROKEN = EngineBroken(INTERNAL_ERROR_MESSAGE.format(reference="job-7"))


def test_a_cuda_error_reports_every_request_of_the_batch_broken(faulty: FaultyEngine) -> None:
    """Call a poisoned engine no more: no job is run alone after a CUDA error."""
    faulty.cuda_error_calls = 1
    engine = faulty.engine
    outcomes = run(faulty, [small(engine, "red"), small(engine, "blue")])
    assert outcomes == [BROKEN, BROKEN]
    assert len(faulty.calls) == 1


def test_a_cuda_error_is_logged_with_its_traceback(
    faulty: FaultyEngine, caplog: pytest.LogCaptureFixture
) -> None:
    """Log the GPU fault for the server owner with the reference and the CUDA error."""
    faulty.cuda_error_calls = 1
    with caplog.at_level(logging.ERROR, logger="pipeline.batch_runner"):
        run(faulty, [small(faulty.engine, "red")])
    (record,) = caplog.records
    assert "job-7" in record.getMessage()
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], torch.AcceleratorError)


def test_a_cuda_error_while_splitting_stops_the_split(faulty: FaultyEngine) -> None:
    """Stop drawing image by image once the GPU fails, for this request and the next."""
    faulty.oom_above_images = 1
    faulty.cuda_error_calls = 1
    faulty.healthy_calls = 1  # the batch runs out of memory; its first single image breaks
    engine = faulty.engine
    requests = [small(engine, "red", images=2), small(engine, "blue", images=2)]
    assert run(faulty, requests) == [BROKEN, BROKEN]
    assert [len(call) for call in faulty.calls] == [2, 1]


def test_a_cuda_error_while_isolating_keeps_the_jobs_already_drawn(faulty: FaultyEngine) -> None:
    """Keep the images of jobs drawn alone before the GPU failed; run nothing after."""
    faulty.fail_prompts = {"poison"}
    faulty.cuda_error_calls = 1
    faulty.healthy_calls = 3  # the batch, "poison" alone and "red" alone, then the fault
    engine = faulty.engine
    requests = [small(engine, n) for n in ("poison", "red", "blue", "green")]
    outcomes = run(faulty, requests)
    assert [type(outcome) for outcome in outcomes] == [
        Failed,
        Succeeded,
        EngineBroken,
        EngineBroken,
    ]
    assert len(faulty.calls) == 4


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (torch.AcceleratorError("CUDA error: an illegal memory access was encountered"), True),
        (RuntimeError("CUDA error: device-side assert triggered"), True),
        (
            RuntimeError("CUDA error: CUBLAS_STATUS_EXECUTION_FAILED when calling `cublasSgemm`"),
            True,
        ),
        (RuntimeError("cuDNN error: CUDNN_STATUS_INTERNAL_ERROR"), True),
        (torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"), False),
        (RuntimeError("injected engine failure"), False),
        (ValueError("CUDA error: not from torch"), False),
    ],
)
def test_gpu_faults_are_told_from_other_errors(error: Exception, expected: bool) -> None:
    """Call CUDA errors GPU faults, but not out-of-memory or an error of the request."""
    assert is_gpu_fault(error) is expected


class _ModelNeverLoads:
    """An engine whose model cannot be loaded: every call says so, and is counted."""

    def __init__(self) -> None:
        self.calls = 0

    def generate_batch(
        self, requests: Sequence[GenerationRequest], **_options: Any
    ) -> list[GenerationResult]:
        """Fail as a model pool does when the job's model cannot be loaded."""
        self.calls += 1
        raise ModelUnavailableError("the model big could not be loaded")


def test_an_unloadable_model_fails_the_batch_at_once(tiny_engine: Engine) -> None:
    """Fail every job of a batch whose model cannot load, without loading it job by job."""
    engine = _ModelNeverLoads()
    requests = [small(tiny_engine, "a red circle", seed=seed) for seed in (1, 2, 3)]
    outcomes = run(engine, requests)
    assert outcomes == [Failed("the model big could not be loaded")] * 3
    assert engine.calls == 1
