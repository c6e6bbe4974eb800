"""Give freed heap memory back to the operating system between long recordings.

glibc keeps freed blocks of up to 32 MB in the process heap once its dynamic mmap threshold has
risen, so after the VAD of a 3-hour file ~0.9 GB of freed feature buffers stayed resident.
``trim_heap`` calls ``malloc_trim(0)``; on other C libraries it does nothing.
``keep_freed_memory`` does the opposite within a recording, for speed on CPU (see there).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os


@functools.lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        lib = ctypes.CDLL(name) if name else None
        return lib if lib is not None and hasattr(lib, "malloc_trim") else None
    except OSError:
        return None


def trim_heap() -> bool:
    """Return freed heap pages to the OS (glibc); ``True`` if anything was released."""
    lib = _libc()
    return bool(lib.malloc_trim(0)) if lib is not None else False


# mallopt parameters (glibc malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4


@functools.lru_cache(maxsize=1)
def keep_freed_memory() -> bool:
    """Serve every allocation from the heap and keep freed memory there (glibc; once per process).

    By default glibc maps each block over its mmap threshold (at most 32 MB) afresh and unmaps it
    on free, so every large per-batch tensor of CPU inference (FFN activations, attention
    scores, fbank) pays page faults again: about 4 million minor faults and 8–10 % of the wall
    time of a 3-minute recording on 2 cores (``bench/cpu_malloc.py``). With ``M_MMAP_MAX`` 0 and
    a 2 GB trim threshold, freed blocks are reused; :func:`trim_heap`, called between
    recordings, still returns the memory to the system. The values computed do not change.
    Set ``FUNASR_LITE_MALLOC=system`` to keep glibc's defaults. ``True`` if the settings took.
    """
    if os.environ.get("FUNASR_LITE_MALLOC", "") == "system":
        return False
    lib = _libc()
    if lib is None or not hasattr(lib, "mallopt"):
        return False
    return bool(lib.mallopt(_M_MMAP_MAX, 0)) and bool(lib.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))
