"""The scanner's worker side: hash a batch of files into what the server is sent. Runs in worker processes.

Each file is hashed with ``redline.match.derive`` (what ``/v1/match/file`` derives from an upload), so a
scanned file is matched exactly like an uploaded one. A file that cannot be hashed becomes an error with the
stable ``SignalError`` code; nothing a file does stops the batch.
"""

from __future__ import annotations

import logging
import resource
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redline.config import Settings
from redline.match.derive import derive_queries
from redline.scan.sources import ScanItem
from redline.signals import SignalError
from redline.signals.files import read_head
from redline.signals.sniff import HEAD_BYTES, sniff

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Hashed:
    """One item's outcome: its hashes for the server, an error code, or skipped (not media)."""

    content_id: str
    path: str
    hashes: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    message: str | None = None
    skipped: bool = False


def init_worker(memory_bytes: int) -> None:
    """Bound the worker's address space: a file that would need more fails alone (``memory_limit``) instead
    of pushing the machine into swap. The decode limits (``max_pixels``, ``max_file_bytes``) come first."""
    if memory_bytes > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))


def hash_batch(items: list[ScanItem], settings: Settings) -> list[Hashed]:
    return [hash_item(item, settings) for item in items]


def hash_item(item: ScanItem, settings: Settings) -> Hashed:
    if item.problem is not None:
        return Hashed(item.content_id, item.path, error=item.problem, message="not scanned: see the code")
    path = Path(item.path)
    try:
        if item.from_folder and sniff(read_head(path, HEAD_BYTES)) is None:
            return Hashed(item.content_id, item.path, skipped=True)
        found = derive_queries(path, settings)
    except SignalError as exc:
        return Hashed(item.content_id, item.path, error=exc.code, message=exc.message)
    except MemoryError:
        return Hashed(item.content_id, item.path, error="memory_limit", message="over the worker's memory")
    except Exception as exc:  # a decoder's bug on one file must not stop a billion-file scan
        log.exception("hashing %s failed", item.path)
        return Hashed(item.content_id, item.path, error="hash_failed", message=type(exc).__name__)
    # MD5 and SHA-256 always come, so every hashed file has something to match.
    # A video's frame hashes say where in the video they are (the server judges them as one video).
    hashes = [
        {"type": h.type, "value": h.value, "quality": h.quality, **_at(h.type, h.at_ms)} for h in found.plain
    ]
    hashes += [
        {"type": h.type, "value": h.value, "quality": h.quality, "label": h.label} for h in found.regions
    ]
    return Hashed(item.content_id, item.path, hashes=hashes)


def _at(kind: str, at_ms: int | None) -> dict[str, int]:
    """``at_ms`` goes with ``vpdq`` frame hashes only (the server refuses it on others)."""
    return {"at_ms": at_ms} if kind == "vpdq" and at_ms is not None else {}
