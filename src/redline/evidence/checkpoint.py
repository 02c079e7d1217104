"""C2SP tlog-checkpoint (c2sp.org/tlog-checkpoint): the signed statement "the log has ``size`` leaves and
this root hash". Its text is ``<origin>\\n<size>\\n<base64 root>\\n`` (no extension lines here); it is
the text of a signed note (:mod:`redline.evidence.note`)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from redline.evidence.merkle import HASH_SIZE
from redline.evidence.note import NoteError


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def text(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "" or not lines[0]:
            raise NoteError("a checkpoint reads <origin>, <size>, <base64 root hash>, one per line")
        origin, size, root_text = lines[0], lines[1], lines[2]
        if not size.isdigit() or (size != "0" and size.startswith("0")):
            raise NoteError("a checkpoint's size is a decimal number without leading zeroes")
        try:
            root = base64.b64decode(root_text, validate=True)
        except (binascii.Error, ValueError):
            raise NoteError("a checkpoint's root hash is not base64") from None
        if len(root) != HASH_SIZE:
            raise NoteError("a checkpoint's root hash is not 32 bytes")
        return cls(origin, int(size), root)
