"""Give the C heap's free pages back to the operating system after each batch.

A batch's working memory is freed when it ends (eight 2× upscales decoded by the VAE at
once hold about 100 MiB), but glibc keeps freed heap memory for reuse, and once the heap is
fragmented a later peak no longer fits in what it kept: the resident size then climbs from
peak to peak while the memory in use stays flat. In the 10-minute soak the heap in use stayed
at 155-173 MiB throughout, the free memory glibc kept rose from 40 to 201 MiB, and the bot's
resident size grew 15 % after its warm-up. ``malloc_trim(0)`` hands every whole free page of
every arena back (the engine thread's and the helper threads' alike); after a batch it takes
1-12 ms. Where the C library is not glibc (macOS, musl) there is nothing to call.
"""

from __future__ import annotations

import ctypes
import functools
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable


def trim_heap() -> None:
    """Return the heap's free pages to the OS, where the C library can."""
    malloc_trim = _malloc_trim()
    if malloc_trim is not None:
        malloc_trim(0)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """Find glibc's ``malloc_trim`` in the running process, or None without glibc."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # musl has no malloc_trim
        return None
    return function
