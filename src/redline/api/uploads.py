"""Where an uploaded file sits while it is hashed: nowhere anyone can find it afterwards.

A platform's upload may be the abusive image itself, so nothing uploaded may outlive its request, not even a
crash (a ``kill -9`` mid-upload) that skips every ``finally``. On Linux the file is created with
``O_TMPFILE``: it has no name at any moment, the kernel frees it when the process's descriptor closes,
however the process ends, and the hashing code reaches it as ``/proc/<pid>/fd/<n>`` (a video's decoding
child process too). Where that is not available (other systems, file systems without ``O_TMPFILE``) it is a
named file in ``DATA_DIR/uploads/`` deleted when the request ends; :func:`clean_transient` deletes whatever a
crash left there when ``redline serve`` starts. docs/OPERATING.md says what is on disk and for how long.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger(__name__)
UPLOADS = "uploads"


class UploadFile:
    """A private temporary file for one upload: write to :attr:`file`, hash :attr:`path`, then
    :meth:`close` (or use it as a context manager)."""

    def __init__(self, upload_dir: Path) -> None:
        upload_dir.mkdir(parents=True, exist_ok=True)
        self.named: Path | None = None
        fd = _anonymous(upload_dir)
        if fd is None:
            fd, name = tempfile.mkstemp(dir=upload_dir, prefix="upload-")
            self.named = Path(name)
            self.path = self.named
        else:
            self.path = Path(f"/proc/{os.getpid()}/fd/{fd}")
        self.file: BinaryIO = os.fdopen(fd, "w+b")

    def close(self) -> None:
        self.file.close()
        if self.named is not None:
            self.named.unlink(missing_ok=True)

    def __enter__(self) -> UploadFile:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _anonymous(directory: Path) -> int | None:
    """A descriptor of a nameless file in ``directory`` that other processes of ours can open through
    /proc, or None where the system cannot make one."""
    flag = getattr(os, "O_TMPFILE", None)
    if flag is None or not Path(f"/proc/{os.getpid()}/fd").is_dir():
        return None
    try:
        fd = os.open(directory, flag | os.O_RDWR, 0o600)
    except OSError:  # the file system does not support it (EOPNOTSUPP, EISDIR on old kernels)
        return None
    return fd


def clean_transient(data_dir: Path) -> int:
    """Delete what a crashed process may have left in ``data_dir``: upload files, half-written key files.
    Run once before the server's processes start (never while one may be using them). Returns the count."""
    removed = 0
    uploads = data_dir / UPLOADS
    if uploads.is_dir():
        for child in uploads.iterdir():
            with contextlib.suppress(OSError):
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()
                removed += 1
    for leftover in data_dir.glob(".contact.key.*"):
        with contextlib.suppress(OSError):
            leftover.unlink()
            removed += 1
    if removed:
        log.warning("removed %d file(s) left in %s by a process that did not stop cleanly", removed, data_dir)
    return removed
