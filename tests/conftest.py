"""Test-wide settings: no test may reach the Hugging Face hub; the Discord emulator's fixtures."""

import os

# huggingface_hub reads this once at import, so it must be set before anything imports it.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.pop("EASEL_DATA_DIR", None)

pytest_plugins = [
    "tests.fakediscord.fixtures",
    "tests.engine_fixtures",
    "tests.lora_fixtures",
    "tests.pipeline.sr_files",
    "tests.database_fixtures",
]
