"""Hashes as the bank takes them: validated and normalised by their signal type."""

from __future__ import annotations

from dataclasses import dataclass

from redline.bank.errors import Invalid
from redline.signals.types import signal_type


@dataclass(frozen=True)
class HashInput:
    """A validated, normalised hash."""

    signal_type: str
    value: str
    quality: int | None = None
    #: The picture or video of the submission it came from (see ``Entry.item``), if the submitter said.
    item: int | None = None
    #: Video frame hashes: where in the video the frame is (milliseconds); see ``Entry.frame_ms``.
    frame_ms: int | None = None


def normalize_hash(
    type_name: str,
    value: str,
    quality: int | None = None,
    item: int | None = None,
    frame_ms: int | None = None,
) -> HashInput:
    """Validate one hash; :class:`Invalid` says what is wrong."""
    try:
        kind = signal_type(type_name)
        canonical = kind.normalize(value)
    except (KeyError, ValueError) as exc:
        raise Invalid(str(exc).strip("'\"")) from None
    if quality is not None and not (kind.min_quality is not None and 0 <= quality <= 100):
        raise Invalid(f"quality is only for perceptual hashes, 0 to 100 (got {quality} for {kind.name})")
    if frame_ms is not None and kind.name != "vpdq":
        raise Invalid(f"at_ms is only for video frame hashes (vpdq), not {kind.name}")
    return HashInput(kind.name, canonical, quality, item, frame_ms)
