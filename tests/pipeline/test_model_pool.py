"""A worker's models: loaded on first use, least recently used unloaded, failures told."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import pytest

from pipeline import model_pool
from pipeline.config import GenerationSettings, InputImageSettings, PipelineConfig
from pipeline.engine import Engine, GenerationResult, Progress
from pipeline.errors import ModelUnavailableError, ParameterError, UserError
from pipeline.families.base import ModelTraits
from pipeline.model_pool import ModelPool, ModelResidency
from pipeline.models import ModelCatalog, profile_of
from pipeline.request_builder import RequestBuilder

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

    from pipeline.batch_runner import BatchEngine
    from pipeline.request import GenerationRequest

SETTINGS = GenerationSettings()
WEIGHTS = 100  # bytes of each model's weights, as the catalog read them


@dataclass
class NamedEngine:
    """An engine double that notes the models of the batches it runs."""

    name: str
    batches: list[list[str]] = field(default_factory=list)

    def generate_batch(
        self,
        requests: Sequence[GenerationRequest],
        *,
        progress: Callable[[Progress], None] | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> list[GenerationResult]:
        """Note the batch; return empty results."""
        self.batches.append([request.model for request in requests])
        return [GenerationResult(request, [], 0.0) for request in requests]


@dataclass
class Loader:
    """Load engine doubles by name, noting each load; a name in ``failing`` fails once."""

    failing: set[str] = field(default_factory=set)
    loads: list[str] = field(default_factory=list)
    engines: dict[str, NamedEngine] = field(default_factory=dict)

    def __call__(self, name: str) -> BatchEngine:
        """Load ``name``, or fail to."""
        self.loads.append(name)
        if name in self.failing:
            self.failing.discard(name)
            raise OSError(f"the weights of {name} are unreadable")
        self.engines[name] = NamedEngine(name)
        return self.engines[name]


CATALOG = ModelCatalog(
    [
        profile_of(name, ModelTraits("sd", (64, 64), weights_bytes=WEIGHTS), None, SETTINGS)
        for name in ("a", "b", "c")
    ],
    "a",
)
REQUESTS = RequestBuilder(CATALOG, SETTINGS, InputImageSettings())


def request(model: str) -> GenerationRequest:
    """Return a request for ``model`` ("" as stored before models had names)."""
    return replace(REQUESTS.parse("a fox --seed 1 --steps 3"), model=model)


@pytest.fixture(autouse=True)
def freed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the times the pool gives memory back (and skip the real, slow collection)."""
    calls: list[int] = []
    monkeypatch.setattr(model_pool, "free_memory", lambda: calls.append(1))
    return calls


def test_a_model_loads_on_first_use_and_is_reused() -> None:
    """Load a model for its first batch only, and run both batches on it."""
    loader = Loader()
    pool = ModelPool(CATALOG, loader, max_loaded=2)
    pool.generate_batch([request("b")])
    pool.generate_batch([request("b"), request("b")])
    assert loader.loads == ["b"]
    assert loader.engines["b"].batches == [["b"], ["b", "b"]]


def test_the_owner_hears_loading_model_only_while_it_loads() -> None:
    """Tell the batch "loading model" before a load, and nothing of the kind after."""
    events: list[str] = []
    loader = Loader()

    def load(name: str) -> BatchEngine:
        events.append(f"load {name}")
        return loader(name)

    def progress(update: Progress) -> None:
        events.append(f"progress {update.loading_model} {update.step}/{update.total_steps}")

    pool = ModelPool(CATALOG, load, max_loaded=2)
    pool.generate_batch([request("b")], progress=progress)
    pool.generate_batch([request("b")], progress=progress)
    assert events == ["progress b 0/3", "load b"]


def test_one_loaded_model_at_most_unloads_the_previous_one(freed: list[int]) -> None:
    """Unload the loaded model to make room when only one may be loaded."""
    pool = ModelPool(CATALOG, Loader(), max_loaded=1)
    pool.generate_batch([request("a")])
    pool.generate_batch([request("b")])
    assert pool.loaded_names() == ["b"]
    assert len(freed) == 1


def test_the_least_recently_used_model_is_unloaded_first() -> None:
    """Unload the model used longest ago, not the one loaded first."""
    loader = Loader()
    pool = ModelPool(CATALOG, loader, max_loaded=2)
    for model in ("a", "b", "a", "c"):
        pool.generate_batch([request(model)])
    assert pool.loaded_names() == ["a", "c"]
    assert loader.loads == ["a", "b", "c"]


def test_a_model_that_would_not_fit_unloads_more() -> None:
    """Unload models until the next one's weights fit in free memory, below max_loaded."""
    pool = ModelPool(
        CATALOG,
        Loader(),
        max_loaded=3,
        free_bytes=lambda: int(2.5 * WEIGHTS) - WEIGHTS * len(pool.loaded_names()),
    )
    pool.generate_batch([request("a")])
    pool.generate_batch([request("b")])
    assert pool.loaded_names() == ["a", "b"]
    pool.generate_batch([request("c")])
    assert pool.loaded_names() == ["b", "c"]


def test_without_a_memory_probe_only_max_loaded_counts() -> None:
    """Keep models loaded up to max_loaded on a CPU, where free memory is not known."""
    pool = ModelPool(CATALOG, Loader(), max_loaded=3, free_bytes=lambda: None)
    for model in ("a", "b", "c"):
        pool.generate_batch([request(model)])
    assert pool.loaded_names() == ["a", "b", "c"]


def test_a_failed_load_is_the_owners_error_and_a_later_batch_tries_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Fail a batch whose model cannot load with a message naming it, then load it next time."""
    loader = Loader(failing={"b"})
    pool = ModelPool(CATALOG, loader, max_loaded=2)
    with pytest.raises(ModelUnavailableError, match="the model b could not be loaded") as caught:
        pool.generate_batch([request("b")])
    assert isinstance(caught.value, UserError)
    assert "unreadable" not in str(caught.value)  # the cause is the server owner's to read
    assert "could not load the model b" in caplog.text
    assert not pool.has_loaded("b")
    pool.generate_batch([request("b")])
    assert loader.loads == ["b", "b"]
    assert pool.has_loaded("b")


def test_no_model_means_the_default_one() -> None:
    """Run a request stored without a model on the default model."""
    loader = Loader()
    pool = ModelPool(CATALOG, loader, max_loaded=2)
    pool.generate_batch([request("")])
    assert loader.loads == ["a"]
    assert pool.has_loaded("")
    assert pool.has_loaded("a")


def test_a_stored_request_for_an_unknown_model_fails_with_the_catalogs_error() -> None:
    """Refuse a request for a model no longer configured, loading nothing."""
    loader = Loader()
    pool = ModelPool(CATALOG, loader, max_loaded=2)
    with pytest.raises(ParameterError, match=r"no model called 'gone'.*Models: a, b, c") as caught:
        pool.generate_batch([request("gone")])
    assert isinstance(caught.value, UserError)
    assert loader.loads == []


def test_has_loaded_follows_loads_and_unloads() -> None:
    """Say a model is loaded from its load until it is unloaded."""
    pool = ModelPool(CATALOG, Loader(), max_loaded=1)
    assert isinstance(pool, ModelResidency)
    assert not pool.has_loaded("a")
    pool.engine_for("a")
    assert pool.has_loaded("a")
    pool.engine_for("b")
    assert not pool.has_loaded("a")
    assert pool.has_loaded("b")


def test_an_adopted_engine_counts_as_loaded() -> None:
    """Run batches on an engine adopted under a model's name, without loading it."""
    loader = Loader()
    pool = ModelPool(CATALOG, loader, max_loaded=2)
    adopted = NamedEngine("a")
    pool.adopt("A", adopted)
    pool.generate_batch([request("a")])
    assert adopted.batches == [["a"]]
    assert loader.loads == []


# On the real tiny models ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_models(
    tiny_model_dir: Path, tiny_sdxl_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> PipelineConfig:
    """Return a config of the tiny SD and SDXL folders, on one CPU thread."""
    common = {"device": "cpu", "cpu_threads": 1}
    return PipelineConfig.model_validate(
        {
            "data_dir": str(tmp_path_factory.mktemp("data")),
            "models": [
                {"name": "tiny-sd", "path": str(tiny_model_dir), **common},
                {"name": "tiny-sdxl", "path": str(tiny_sdxl_dir), **common},
            ],
            "generation": {"steps": 2, "sampler": "Euler", "preview_every": 0},
        }
    )


def test_a_pool_over_real_models_loads_each_at_its_turn(two_models: PipelineConfig) -> None:
    """Draw on the tiny SD model, then load the tiny SDXL one in its place and draw on it."""
    catalog = ModelCatalog.from_config(two_models)
    requests = RequestBuilder(catalog, two_models.generation, two_models.input_images)
    pool = ModelPool(
        catalog,
        lambda name: Engine.from_config(two_models, two_models.model_named(name)),
        max_loaded=1,
    )
    loading: list[str | None] = []
    sizes = []
    for model in ("tiny-sd", "tiny-sdxl", "tiny-sdxl"):
        job = replace(requests.parse("a red fox --seed 3", model=model), num_images=1)
        (result,) = pool.generate_batch([job], progress=lambda p: loading.append(p.loading_model))
        sizes.append(result.images[0].size)
    assert sizes == [(32, 32), (64, 64), (64, 64)]
    assert [name for name in loading if name] == ["tiny-sd", "tiny-sdxl"]
    assert pool.loaded_names() == ["tiny-sdxl"]
    engine = pool.engine_for("tiny-sdxl")
    assert isinstance(engine, Engine)
    assert engine.name == "tiny-sdxl"
