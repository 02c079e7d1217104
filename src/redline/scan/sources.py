"""What a scan goes over: a folder tree, or a JSON Lines manifest of ``content_id`` and ``path``.

The order is fixed (sorted walk; manifest line order), so batch ``n`` is the same files on every run: that
is what lets the state file name finished batches by number.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

#: Manifests are recognised by name; anything else given as SOURCE must be a folder.
MANIFEST_SUFFIXES = (".jsonl", ".ndjson")
#: What the server stores as a platform's reference for its content (``matchlog.MAX_CONTENT_ID``).
MAX_CONTENT_ID = 256


@dataclass(frozen=True)
class ScanItem:
    content_id: str
    path: str
    #: Set when the item cannot even be tried (a bad manifest line, an over-long content id): its error code.
    problem: str | None = None
    #: Files found by walking a folder that are no image or video are skipped, not errors (as ``redline
    #: hash`` does); a manifest names its files on purpose, so there they are errors.
    from_folder: bool = False


class SourceError(ValueError):
    """SOURCE is neither a folder nor a readable manifest."""


def is_manifest(source: Path) -> bool:
    return source.is_file() and source.suffix.lower() in MANIFEST_SUFFIXES


def check_source(source: Path) -> None:
    if not source.is_dir() and not is_manifest(source):
        raise SourceError(
            f"{source}: give a folder, or a JSON Lines manifest ({' or '.join(MANIFEST_SUFFIXES)}) with one "
            '{"content_id": ..., "path": ...} object per line'
        )


def read_source(source: Path) -> Iterator[ScanItem]:
    check_source(source)
    yield from (_manifest(source) if is_manifest(source) else _folder(source))


def _folder(root: Path) -> Iterator[ScanItem]:
    """Every non-hidden file under ``root``, in sorted order, its relative path as its content id. Walked
    with ``os.scandir`` one folder at a time, so a huge tree is never listed in memory at once."""
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        subfolders = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False):
                subfolders.append(Path(entry.path))
            elif entry.is_file():
                relative = Path(entry.path).relative_to(root).as_posix()
                yield _checked(ScanItem(relative, entry.path, from_folder=True))
        stack.extend(reversed(subfolders))


def _manifest(manifest: Path) -> Iterator[ScanItem]:
    base = manifest.parent
    with manifest.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                content_id, path = record["content_id"], record["path"]
                if not isinstance(content_id, str) or not isinstance(path, str) or not path:
                    raise TypeError
            except (ValueError, KeyError, TypeError):
                yield ScanItem(f"{manifest.name}:{number}", "", problem="invalid_manifest_line")
                continue
            yield _checked(ScanItem(content_id, str(base / path)))


def _checked(item: ScanItem) -> ScanItem:
    if not 1 <= len(item.content_id) <= MAX_CONTENT_ID:
        return ScanItem(item.content_id[:MAX_CONTENT_ID], item.path, problem="invalid_content_id")
    return item


def batches(items: Iterator[ScanItem], size: int) -> Iterator[tuple[int, list[ScanItem]]]:
    """Numbered batches of ``size`` items (the last may be shorter)."""
    number = 0
    while chunk := list(islice(items, size)):
        yield number, chunk
        number += 1


def count_items(source: Path) -> int:
    """How many items the source has (for the ETA): a walk or a line count, no file is opened."""
    if is_manifest(source):
        with source.open("rb") as lines:
            return sum(1 for line in lines if line.strip())
    return sum(1 for _ in _folder(source))
