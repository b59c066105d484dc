"""Trimming the heap: free pages that glibc kept go back to the OS; elsewhere nothing is called."""

from __future__ import annotations

import ctypes
from pathlib import Path

import pytest

from pipeline import heap

BLOCK = 4096  # well below glibc's mmap threshold: these come from the heap itself
BLOCKS = 16384  # 64 MiB


def resident_kib() -> int:
    """Return this process's resident size."""
    status = Path("/proc/self/status").read_text(encoding="utf-8").splitlines()
    return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


@pytest.mark.skipif(heap._malloc_trim() is None, reason="glibc only")
def test_trimming_returns_the_free_pages_below_a_block_in_use() -> None:
    """Give back freed heap that a live block above it keeps glibc from releasing by itself."""
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    blocks = [libc.malloc(BLOCK) for _ in range(BLOCKS)]
    for block in blocks:
        ctypes.memset(block, 1, BLOCK)
    for block in blocks[:-1]:  # the last one, at the top of the heap, stays in use
        libc.free(block)
    before = resident_kib()
    heap.trim_heap()
    after = resident_kib()
    libc.free(blocks[-1])
    assert before - after > BLOCK * BLOCKS // 1024 // 2


def test_without_malloc_trim_trimming_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Do nothing where the C library has no malloc_trim (macOS, musl)."""
    monkeypatch.setattr(heap, "_malloc_trim", lambda: None)
    heap.trim_heap()
