"""A process-wide budget of decoded image memory, shared by every upload being decoded at once.

Why: a small file can declare a huge image (a 264 KB WebP of 10000x10000 decodes to 400 MB, and the WebP
decoder holds two more copies while it works). The pixel limit stops a single bomb; it does not stop sixteen
legal images arriving together. So each decode first *reserves* what it will hold, estimated from the
header (width x height x bytes per pixel of the decoded mode x the decoder's own copies), and gives it back
when the pixels are sampled down. A reservation that does not fit waits up to ``wait_s`` seconds for others
to finish, then fails with :class:`DecoderBusy`, which the HTTP layer answers with 503 and Retry-After. An
image larger than the whole budget is decoded alone (its reservation is capped at the budget), never refused
for that reason: the pixel limit says what is too large.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class DecoderBusy(Exception):
    """Other uploads hold the decoding budget; try again in ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("the server is decoding other images; try again shortly")
        self.retry_after = retry_after


class DecodeBudget:
    def __init__(self, capacity_bytes: int, wait_s: float) -> None:
        if capacity_bytes <= 0:
            raise ValueError("the decoding budget must be positive")
        self.capacity = capacity_bytes
        self.wait_s = wait_s
        self._held = 0
        self._peak = 0
        self._changed = threading.Condition()

    @property
    def held(self) -> int:
        return self._held

    @property
    def peak(self) -> int:
        """Most bytes held at once since this budget was made (for metrics and tests)."""
        return self._peak

    @contextmanager
    def reserve(self, nbytes: int) -> Iterator[None]:
        """Hold ``nbytes`` (at most the whole budget) while the block runs; raises :class:`DecoderBusy`
        when it cannot be had within ``wait_s``."""
        amount = max(0, min(nbytes, self.capacity))
        deadline = time.monotonic() + self.wait_s
        with self._changed:
            while self._held + amount > self.capacity:
                left = deadline - time.monotonic()
                if left <= 0 or not self._changed.wait(left):
                    if self._held + amount <= self.capacity:
                        break
                    raise DecoderBusy(retry_after=max(1, round(self.wait_s)))
            self._held += amount
            self._peak = max(self._peak, self._held)
        try:
            yield
        finally:
            with self._changed:
                self._held -= amount
                self._changed.notify_all()


def _malloc_trim() -> Callable[[], None]:
    """glibc's ``malloc_trim(0)``, or a no-op where the C library has none (musl, macOS)."""
    try:
        trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return lambda: None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int

    def release() -> None:
        trim(0)

    return release


#: Hand freed memory back to the system. Decoders (libjpeg's coefficient buffers, zlib, Pillow's blocks)
#: allocate many pieces below glibc's mmap threshold, in one heap per thread; freed, they stay in the
#: process, and after a few large decodes on different threads the server keeps their sum. Called after
#: each budgeted decode, before its reservation is given back, so the budget reflects resident memory.
release_free_memory = _malloc_trim()
