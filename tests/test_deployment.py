"""The Dockerfile and compose file, checked statically (no Docker engine runs in CI)."""

from __future__ import annotations

import fnmatch
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).parents[1]
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")


def instructions(keyword: str) -> list[str]:
    """Return the arguments of every Dockerfile instruction of a kind, continuations joined."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    return [line.split(None, 1)[1] for line in text.splitlines() if line.startswith(f"{keyword} ")]


def readme_setup_command() -> str:
    """Return the README's one set-up command (the first fenced command under 'Set up')."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Set up", 1)[1]
    return re.search(r"```\n(.+?)\n```", section, re.DOTALL).group(1).strip()  # type: ignore[union-attr]


def test_the_image_installs_easel_with_the_readmes_command() -> None:
    """Run the README's set-up command in the build."""
    assert readme_setup_command() in instructions("RUN")


def test_every_copied_path_exists() -> None:
    """Copy only files and folders that exist in the repository."""
    for arguments in instructions("COPY"):
        if arguments.startswith("--from="):
            continue
        *sources, _destination = shlex.split(arguments)
        for source in sources:
            assert (ROOT / source).exists(), source


def test_dependencies_are_installed_before_the_source_is_copied() -> None:
    """Install dependencies in a layer that does not change with the source."""
    lines = DOCKERFILE.splitlines()
    first_source_copy = next(i for i, line in enumerate(lines) if line.startswith("COPY bot"))
    requirements = next(
        i for i, line in enumerate(lines) if "pip install -r requirements.txt" in line
    )
    assert requirements < first_source_copy


def test_torch_matches_the_version_ci_tests_with_a_cuda_build() -> None:
    """Pin the torch version CI uses, from the CUDA index matching the base image."""
    ci_torch = re.search(r"torch==([\d.]+)", (ROOT / ".ci" / "run").read_text()).group(1)  # type: ignore[union-attr]
    assert f"torch=={ci_torch} --index-url https://download.pytorch.org/whl/cu128" in DOCKERFILE
    assert instructions("FROM")[0].startswith("nvidia/cuda:12.8")


def test_the_image_runs_the_bot_as_a_non_root_user_with_data_on_a_volume() -> None:
    """Run python -m bot as an unprivileged user, with EASEL_DATA_DIR on a volume."""
    assert instructions("ENTRYPOINT") == ['["python3", "-m", "bot"]']
    assert (ROOT / "bot" / "__main__.py").exists()
    assert instructions("USER") == ["easel"]
    assert "EASEL_DATA_DIR=/data" in DOCKERFILE
    assert '"/data"' in instructions("VOLUME")[0]


def test_the_healthcheck_uses_an_option_the_bot_has() -> None:
    """Check health with python -m bot --health, which the bot's --help lists."""
    (healthcheck,) = instructions("HEALTHCHECK")
    assert "--health" in healthcheck
    result = subprocess.run(
        [sys.executable, "-m", "bot", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert "--health" in result.stdout


def test_compose_reserves_a_gpu_and_keeps_data_and_models_on_volumes() -> None:
    """Reserve an NVIDIA GPU and mount the data and model-cache volumes."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    service = compose["services"]["easel"]
    (device,) = service["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia"
    assert "gpu" in device["capabilities"]
    assert "easel-data:/data" in service["volumes"]
    assert "easel-models:/data/models" in service["volumes"]
    assert "DISCORD_TOKEN" in service["environment"]


def test_the_trainer_is_neither_installed_nor_copied_into_the_image() -> None:
    """Leave training/ out of the installed packages and the image: no running bot uses it."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    included = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    assert (ROOT / "training" / "__main__.py").exists()
    assert not any(fnmatch.fnmatch("training", pattern) for pattern in included)
    copied = [shlex.split(arguments)[0] for arguments in instructions("COPY")]
    assert not any(source.startswith("training") for source in copied)
