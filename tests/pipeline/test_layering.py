"""The engine stands alone: it must not pull in the Discord side of the project."""

import subprocess
import sys


def test_importing_pipeline_does_not_import_discord_or_bot() -> None:
    """Import every pipeline module in a fresh interpreter and find no discord or bot module."""
    code = (
        "import importlib, pkgutil, sys\n"
        "import pipeline\n"
        "for info in pkgutil.walk_packages(pipeline.__path__, 'pipeline.'):\n"
        "    if info.name.endswith('__main__'):\n"
        "        continue\n"
        "    importlib.import_module(info.name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('discord', 'bot'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    assert result.stdout.strip() == ""
