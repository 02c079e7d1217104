"""Reading files for hashing: size limits first, then bytes; exact hashes of the bytes."""

from __future__ import annotations

import hashlib
from pathlib import Path

from redline.signals.errors import EmptyFile, FileTooLarge, UnreadableFile

_CHUNK = 1 << 20


def checked_size(path: Path, max_file_bytes: int) -> int:
    """The file's size, after refusing missing, empty and over-large files without reading them."""
    try:
        if not path.is_file():
            raise UnreadableFile(f"{path.name}: not a file (missing, or a folder)")
        size = path.stat().st_size
    except OSError as exc:
        raise UnreadableFile(f"{path.name}: cannot be read ({exc.strerror or exc})") from None
    check_size(size, max_file_bytes)
    return size


def check_size(size: int, max_file_bytes: int) -> None:
    if size == 0:
        raise EmptyFile("the file is empty (0 bytes)")
    if size > max_file_bytes:
        raise FileTooLarge(f"the file is {size:,} bytes; the limit is {max_file_bytes:,} bytes")


def read_bytes(path: Path, max_file_bytes: int) -> bytes:
    checked_size(path, max_file_bytes)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableFile(f"{path.name}: cannot be read ({exc.strerror or exc})") from None
    # The file may have grown since stat(); the limit is on what we actually hold in memory.
    check_size(len(data), max_file_bytes)
    return data


def read_head(path: Path, n: int) -> bytes:
    try:
        with path.open("rb") as f:
            return f.read(n)
    except OSError as exc:
        raise UnreadableFile(f"{path.name}: cannot be read ({exc.strerror or exc})") from None


def exact_digests(data: bytes) -> tuple[str, str]:
    """(md5, sha256) hex digests of ``data``."""
    return hashlib.md5(data, usedforsecurity=False).hexdigest(), hashlib.sha256(data).hexdigest()


def exact_digests_of_file(path: Path) -> tuple[str, str]:
    """(md5, sha256) of a file, streamed: videos can be far larger than we want in memory."""
    md5, sha256 = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    try:
        with path.open("rb") as f:
            while chunk := f.read(_CHUNK):
                md5.update(chunk)
                sha256.update(chunk)
    except OSError as exc:
        raise UnreadableFile(f"{path.name}: cannot be read ({exc.strerror or exc})") from None
    return md5.hexdigest(), sha256.hexdigest()
