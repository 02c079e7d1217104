"""``hash_file``: one entry point for any file, deciding image or video from its bytes."""

from __future__ import annotations

from pathlib import Path

from redline.signals.budget import DecodeBudget
from redline.signals.errors import UnsupportedFormat
from redline.signals.files import checked_size, read_head
from redline.signals.image import ImageSignals, hash_image
from redline.signals.limits import SignalLimits
from redline.signals.sniff import HEAD_BYTES, sniff
from redline.signals.video import VideoSignals, hash_video


def hash_file(
    path: Path,
    limits: SignalLimits | None = None,
    *,
    upright_side: int | None = None,
    budget: DecodeBudget | None = None,
    lookup: bool = False,
) -> ImageSignals | VideoSignals:
    """Hash an image or a video; which one is read from the magic number, never from the file name.
    ``upright_side`` is for images; ``budget`` is held by an image's decode, and by a video's decoder
    (its memory ceiling: a child process under that limit); ``lookup``: the file is an upload to look up,
    so a video also gets the frames between its sampled ones (``hash_video(between=True)``)."""
    settings = limits or SignalLimits()
    checked_size(path, settings.max_file_bytes)
    sniffed = sniff(read_head(path, HEAD_BYTES))
    if sniffed is None:
        raise UnsupportedFormat("the file is not an image or video in a format Redline reads")
    if sniffed.media_type == "video":
        return hash_video(path, settings, budget, between=lookup)
    return hash_image(path, settings, upright_side=upright_side, budget=budget)
