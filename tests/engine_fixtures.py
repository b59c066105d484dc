"""Engine fixtures for every test: a tiny random model on disk, its config, a loaded engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import PipelineConfig
from pipeline.config_file import load_config
from pipeline.engine import Engine
from tests.pipeline.tiny_families import save_tiny_flux, save_tiny_sdxl
from tests.pipeline.tiny_model import save_tiny_pipeline

ROOT = Path(__file__).parents[1]


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Save the tiny random pipeline once per test session."""
    return save_tiny_pipeline(tmp_path_factory.mktemp("models") / "tiny-sd")


@pytest.fixture(scope="session")
def tiny_config(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> PipelineConfig:
    """Return an engine config pointing at the tiny model, with fast defaults."""
    return PipelineConfig.model_validate(
        {
            "data_dir": str(tmp_path_factory.mktemp("data")),
            "model": {"path": str(tiny_model_dir), "device": "cpu", "cpu_threads": 1},
            "generation": {"steps": 4, "sampler": "Euler", "guidance": 5.0, "preview_every": 2},
        }
    )


@pytest.fixture(scope="session")
def builtin_engine() -> Engine:
    """Load the shipped model with the repository's own config.yaml, on the CPU, once."""
    config = load_config(ROOT / "config.yaml", PipelineConfig, environ={})
    assert config.model is not None
    model = config.model.model_copy(update={"device": "cpu"})
    return Engine.from_config(config.model_copy(update={"model": model}))


@pytest.fixture(scope="session")
def tiny_engine(tiny_config: PipelineConfig) -> Engine:
    """Load one engine on the tiny model for the whole session (tests must not mutate it)."""
    return Engine.from_config(tiny_config)


def _family_config(model_dir: Path, data_dir: Path, name: str) -> PipelineConfig:
    """Return an engine config for a tiny model of another family, with fast defaults."""
    return PipelineConfig.model_validate(
        {
            "data_dir": str(data_dir),
            "model": {"path": str(model_dir), "name": name, "device": "cpu", "cpu_threads": 1},
            "generation": {"steps": 4, "sampler": "Euler", "guidance": 5.0, "preview_every": 2},
        }
    )


@pytest.fixture(scope="session")
def tiny_sdxl_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Save the tiny random SDXL pipeline once per test session."""
    return save_tiny_sdxl(tmp_path_factory.mktemp("models") / "tiny-sdxl")


@pytest.fixture(scope="session")
def tiny_flux_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Save the tiny random FLUX pipeline (schnell-like: no guidance input) once."""
    return save_tiny_flux(tmp_path_factory.mktemp("models") / "tiny-flux")


@pytest.fixture(scope="session")
def tiny_flux_dev_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Save the tiny random FLUX pipeline with a guidance input (dev-like) once."""
    return save_tiny_flux(tmp_path_factory.mktemp("models") / "tiny-flux-dev", guidance_embeds=True)


@pytest.fixture(scope="session")
def sdxl_engine(tiny_sdxl_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """Load one engine on the tiny SDXL model for the whole session."""
    config = _family_config(tiny_sdxl_dir, tmp_path_factory.mktemp("data"), "tiny-sdxl")
    return Engine.from_config(config)


@pytest.fixture(scope="session")
def flux_engine(tiny_flux_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """Load one engine on the tiny schnell-like FLUX model for the whole session."""
    config = _family_config(tiny_flux_dir, tmp_path_factory.mktemp("data"), "tiny-flux")
    return Engine.from_config(config)


@pytest.fixture(scope="session")
def flux_dev_engine(tiny_flux_dev_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """Load one engine on the tiny dev-like FLUX model for the whole session."""
    config = _family_config(tiny_flux_dev_dir, tmp_path_factory.mktemp("data"), "tiny-flux-dev")
    return Engine.from_config(config)
