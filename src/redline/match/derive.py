"""What a file is looked up by: the one derivation ``POST /v1/match/file`` and ``redline scan`` share.

A file is decoded once (``redline.signals``); from that decode each registered signal type derives what the
file is looked up by (``SignalType.upload_queries``): the plain hashes (MD5, SHA-256, PDQ) and, with robust
matching on, the hashes of the types reported once per case (``pdq_region``: mirrored, shifted windows,
quadrants, centred crops, the photo found inside borders or a screenshot, de-rotated). The pixels never
leave :func:`derive_queries`: only hashes come out, which is what lets a scanner send them to a server
elsewhere while the files stay where they lie.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

from redline.config import Settings
from redline.signals import ImageSignals, VideoSignals, hash_file
from redline.signals.budget import DecodeBudget
from redline.signals.robust import (
    QUERY_SIDE,
    ROBUST_THRESHOLD,
    STORED_BANDS,
    STRIP_THRESHOLD,
    WHOLE_THRESHOLD,
)
from redline.signals.types import SIGNAL_TYPES, DerivedHash

log = logging.getLogger(__name__)

#: Robust query labels matched at the looser whole-upload threshold (``robust.WHOLE_THRESHOLD``).
_WHOLE_LABELS = frozenset({"full", "mirror"})
_STRIP_LABELS = frozenset(band.label for band in STORED_BANDS)


@dataclass(frozen=True)
class FileQueries:
    """A file's signals (pixels dropped) and the hashes it is looked up by."""

    signals: ImageSignals | VideoSignals
    #: Types matched per hash (exact digests, PDQ), in registry order.
    plain: list[DerivedHash]
    #: Types reported once per survivor case (``pdq_region``), with their labels and allowances.
    regions: list[DerivedHash]


def derive_queries(path: Path, settings: Settings, budget: DecodeBudget | None = None) -> FileQueries:
    """Hash ``path`` and derive its query hashes. Raises ``SignalError`` for files that cannot be hashed,
    and ``DecoderBusy`` when a server process's decoding ``budget`` stays full."""
    side = QUERY_SIDE if settings.robust_matching else None
    signals = hash_file(path, settings.signal_limits(), upright_side=side, budget=budget, lookup=True)
    regions: list[DerivedHash] = []
    if isinstance(signals, ImageSignals) and signals.upright is not None:
        for kind in SIGNAL_TYPES.values():
            if kind.once_per_case:
                try:
                    regions += kind.upload_queries(signals, settings.pdq_min_quality)
                except Exception:  # robust matching adds to plain matching; a finder's bug must not cost it
                    size = f"{signals.width}x{signals.height}"
                    log.exception("%s query hashes failed for a %s upload", kind.name, size)
        signals = replace(signals, upright=None)  # the pixels stop here
    return FileQueries(signals, plain_queries(signals, settings.pdq_min_quality), regions)


def plain_queries(signals: ImageSignals | VideoSignals, min_quality: int) -> list[DerivedHash]:
    """The hashes of the types matched per hash (exact digests; PDQ hash(es) of usable quality), in
    registry order."""
    return [
        h
        for kind in SIGNAL_TYPES.values()
        if not kind.once_per_case
        for h in kind.upload_queries(signals, min_quality)
    ]


def region_allowance(label: str | None) -> int:
    """The allowance a region query of this label gets, decided by the server, never taken from a caller:
    the whole-upload hashes (``full``, ``mirror``) match at ``WHOLE_THRESHOLD`` (against stored whole pictures
    only), the upload's edge strips at the stricter ``STRIP_THRESHOLD`` (a negative allowance, against every
    stored hash), every other at the type's."""
    if label in _WHOLE_LABELS:
        return WHOLE_THRESHOLD - ROBUST_THRESHOLD
    if label in _STRIP_LABELS:
        return STRIP_THRESHOLD - ROBUST_THRESHOLD
    return 0
