"""The database schema, as numbered migrations applied in order (``PRAGMA user_version``).

Each module ``mNNNN_name.py`` holds one ``SQL`` script. Never edit a migration that has
shipped: add the next one.
"""

from __future__ import annotations

import importlib
import pkgutil


def _load() -> tuple[str, ...]:
    """Collect the SQL of every migration module, ordered by its number."""
    names = sorted(info.name for info in pkgutil.iter_modules(__path__) if info.name[0] == "m")
    return tuple(importlib.import_module(f"{__name__}.{name}").SQL for name in names)


MIGRATIONS: tuple[str, ...] = _load()
