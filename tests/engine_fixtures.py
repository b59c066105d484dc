"""Engine fixtures for every test: a tiny random model on disk, its config, a loaded engine."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from pipeline.config import PipelineConfig
from pipeline.engine import Engine
from tests.pipeline.tiny_model import save_tiny_pipeline

if TYPE_CHECKING:
    from pathlib import Path


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
def tiny_engine(tiny_config: PipelineConfig) -> Engine:
    """Load one engine on the tiny model for the whole session (tests must not mutate it)."""
    return Engine.from_config(tiny_config)
