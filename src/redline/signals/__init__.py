"""Signals: turning image and video files into the hashes the bank stores and matches.

Public API (other modules code against exactly this): ``hash_image``, ``hash_video``, ``hash_file``,
``compare_videos`` and their result types, and the ``SignalError`` family. docs/SIGNALS.md explains
the choices for operators.
"""

from redline.signals.errors import (
    ERROR_CODES,
    CorruptFile,
    EmptyFile,
    FileTooLarge,
    SignalError,
    TimedOut,
    TooManyPixels,
    TruncatedFile,
    UnreadableFile,
    UnsupportedFormat,
)
from redline.signals.image import DIHEDRAL_NAMES, ImageSignals, hash_image
from redline.signals.media import hash_file
from redline.signals.video import VideoComparison, VideoFrame, VideoSignals, compare_videos, hash_video

__all__ = [
    "DIHEDRAL_NAMES",
    "ERROR_CODES",
    "CorruptFile",
    "EmptyFile",
    "FileTooLarge",
    "ImageSignals",
    "SignalError",
    "TimedOut",
    "TooManyPixels",
    "TruncatedFile",
    "UnreadableFile",
    "UnsupportedFormat",
    "VideoComparison",
    "VideoFrame",
    "VideoSignals",
    "compare_videos",
    "hash_file",
    "hash_image",
    "hash_video",
]
