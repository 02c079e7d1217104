"""Errors raised while turning a file into signals.

Every failure a user can cause with a file (empty, huge, damaged, not an image) is a ``SignalError`` with a
stable machine ``code`` and a plain-language message, so the CLI can print it, the HTTP layer can map it to a
status code, and nothing else (a Pillow ``OSError``, a C++ exception) ever escapes. The codes are documented
in docs/SIGNALS.md; never rename one, clients depend on them.
"""

from __future__ import annotations

from typing import ClassVar


class SignalError(Exception):
    """A file could not be hashed. ``code`` is stable; ``message`` is for people."""

    code: ClassVar[str] = "signal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class EmptyFile(SignalError):
    code = "empty_file"


class FileTooLarge(SignalError):
    code = "file_too_large"


class TooManyPixels(SignalError):
    code = "too_many_pixels"


class TruncatedFile(SignalError):
    code = "truncated"


class CorruptFile(SignalError):
    code = "corrupt"


class UnsupportedFormat(SignalError):
    code = "unsupported_format"


class TimedOut(SignalError):
    """Decoding took longer than the configured limit (a hostile or enormous file)."""

    code = "timeout"


class UnreadableFile(SignalError):
    """The file could not be read at all (missing, a folder, no permission)."""

    code = "unreadable"


#: Every code, for documentation and for the HTTP layer's mapping table.
_ALL: tuple[type[SignalError], ...] = (
    EmptyFile,
    FileTooLarge,
    TooManyPixels,
    TruncatedFile,
    CorruptFile,
    UnsupportedFormat,
    TimedOut,
    UnreadableFile,
)
ERROR_CODES: tuple[str, ...] = tuple(cls.code for cls in _ALL)
