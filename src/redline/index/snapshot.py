"""Index snapshot files: a JSON header followed by raw, 64-byte-aligned arrays.

Why not ``np.savez``: a zip cannot be memory-mapped, and reading 10M codes plus tables through it is slow.
Here each array is a plain byte range, so loading is one sequential read per array (about a second for 10M
PDQ hashes from the page cache) or an instant ``np.memmap``. No pickles: the header is JSON and the arrays
are described by dtype and shape only.

The header carries the caller's ``position`` (the bank's change-log position the snapshot reflects): after
loading, the bank replays changes after that position with ``add``/``remove``. Files are written to a
temporary name, flushed to disk, then renamed, so a crash never leaves a half-written snapshot in place.

Each array's CRC-32 is in the header: ``read(..., verify=True)`` checks them (about 0.3 s per GB), because a
flipped bit in a bucket table would otherwise send the search kernels to the wrong rows, or past the end.
"""

from __future__ import annotations

import json
import os
import secrets
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

MAGIC = b"REDLINE-HAMMING-SNAPSHOT\n"
VERSION = 1
_ALIGN = 64


@dataclass(frozen=True)
class Snapshot:
    header: dict[str, Any]
    arrays: dict[str, NDArray[Any]]


class SnapshotError(ValueError):
    """The file is not a readable snapshot (wrong kind, newer version, truncated)."""


def _aligned(offset: int) -> int:
    return -(-offset // _ALIGN) * _ALIGN


def write(path: Path, header: dict[str, Any], arrays: dict[str, NDArray[Any]]) -> None:
    contiguous = {name: np.ascontiguousarray(arr) for name, arr in arrays.items()}
    table: dict[str, dict[str, Any]] = {}
    offset = 0
    for name, arr in contiguous.items():
        offset = _aligned(offset)
        spec = {"dtype": arr.dtype.str, "shape": list(arr.shape), "offset": offset, "crc32": _crc(arr)}
        table[name] = spec
        offset += arr.nbytes
    head = json.dumps({**header, "version": VERSION, "arrays": table}).encode()
    data_start = _aligned(len(MAGIC) + 8 + len(head))
    # A name of its own per writer: two processes saving the same position never share a temporary file.
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(MAGIC)
            fh.write(len(head).to_bytes(8, "little"))
            fh.write(head)
            for name, arr in contiguous.items():
                fh.seek(data_start + table[name]["offset"])
                arr.tofile(fh)
            fh.truncate(data_start + offset)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(path.parent)


def _crc(arr: NDArray[Any]) -> int:
    return zlib.crc32(arr.data.cast("B")) if arr.size else 0


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable (a crash right after could otherwise lose the new name)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_header(path: Path) -> dict[str, Any]:
    """The JSON header alone (cheap: for choosing among snapshots before loading one)."""
    with open(path, "rb") as fh:
        return _header(fh, path)[0]


def _header(fh: Any, path: Path) -> tuple[dict[str, Any], int]:
    if fh.read(len(MAGIC)) != MAGIC:
        raise SnapshotError(f"{path} is not a Redline index snapshot")
    size = int.from_bytes(fh.read(8), "little")
    try:
        header = json.loads(fh.read(size))
    except (ValueError, MemoryError) as exc:
        raise SnapshotError(f"{path}: unreadable header ({exc})") from None
    if not isinstance(header, dict) or header.get("version") != VERSION:
        raise SnapshotError(f"{path}: snapshot version is not supported")
    return header, _aligned(len(MAGIC) + 8 + size)


def read(path: Path, mmap: bool = False, verify: bool = False) -> Snapshot:
    """Read a snapshot; with ``mmap`` the arrays are read-only views of the file, paged in on use.

    With ``verify`` every array's checksum is checked (reading the whole file: with ``mmap`` this also pages
    it in, so the first searches do not wait for the disk)."""
    with open(path, "rb") as fh:
        header, data_start = _header(fh, path)
        file_size = os.fstat(fh.fileno()).st_size
        arrays: dict[str, NDArray[Any]] = {}
        for name, spec in header["arrays"].items():
            dtype = np.dtype(spec["dtype"])
            shape = tuple(spec["shape"])
            count = int(np.prod(shape, dtype=np.int64))
            start = data_start + spec["offset"]
            if start + count * dtype.itemsize > file_size:
                raise SnapshotError(f"{path} is truncated (array {name})")
            if mmap and count:
                arrays[name] = np.memmap(path, dtype=dtype, mode="r", offset=start, shape=shape)
            else:
                fh.seek(start)
                arrays[name] = np.fromfile(fh, dtype=dtype, count=count).reshape(shape)
            if verify and "crc32" in spec and _crc(arrays[name]) != spec["crc32"]:
                raise SnapshotError(f"{path} is corrupt (checksum of array {name})")
    return Snapshot(header=header, arrays=arrays)
