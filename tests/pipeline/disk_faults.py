"""A full disk, injected where the OS would report it: while a PNG is being written."""

from __future__ import annotations

import errno
import itertools
from typing import TYPE_CHECKING, Any

from PIL import Image

if TYPE_CHECKING:
    import pytest

PARTIAL_PNG = b"\x89PNG\r\n\x1a\n(cut off)"


def fill_disk_on_save(monkeypatch: pytest.MonkeyPatch, *, after: int = 0) -> None:
    """Let ``after`` image saves through, then fail the next like a full disk, once.

    The failing save writes the start of a PNG first, as a write cut off by ENOSPC leaves
    it; the saves after it succeed again, as once space has been freed.
    """
    real_save = Image.Image.save
    saves = itertools.count()

    def save(image: Image.Image, fp: Any, *args: Any, **params: Any) -> None:
        if next(saves) != after:
            real_save(image, fp, *args, **params)
            return
        if hasattr(fp, "write"):
            fp.write(PARTIAL_PNG)
        else:
            with open(fp, "wb") as file:  # noqa: PTH123 - fp may be any path-like, as in PIL
                file.write(PARTIAL_PNG)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", save)
