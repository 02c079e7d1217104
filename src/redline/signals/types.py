"""Signal types: what kinds of hash the bank stores, and how two of them are compared.

Modelled on python-threatexchange's ``SignalType``: one small class per kind of signal, declaring its
attributes, so the bank, the index and the API can treat signals uniformly and a new kind (a robust region
hash, a video hash) is one new class rather than ``if type == ...`` branches across the code base.
"""

from __future__ import annotations

import re
from abc import ABC
from typing import ClassVar, Literal

DistanceMetric = Literal["hamming", "exact"]


class SignalType(ABC):
    """A kind of signal. Subclasses only declare attributes; behaviour lives here.

    Why the attributes: ``hash_length`` sizes the index (bits, a multiple of 64 for Hamming signals);
    ``distance_metric`` says whether near values match (perceptual) or only equal values (cryptographic);
    ``default_threshold`` is the largest distance counted as a match when a bank sets none;
    ``max_threshold`` bounds what an operator may configure.
    """

    name: ClassVar[str]
    hash_length: ClassVar[int]
    distance_metric: ClassVar[DistanceMetric]
    default_threshold: ClassVar[int] = 0
    max_threshold: ClassVar[int] = 0
    #: Perceptual signals carry a quality score; below ``min_quality`` they are not used to match.
    has_quality: ClassVar[bool] = False

    @classmethod
    def hex_length(cls) -> int:
        return cls.hash_length // 4

    @classmethod
    def normalize(cls, value: str) -> str:
        """Canonical form (lowercase hex) of ``value``; ``ValueError`` when it is not a valid hash."""
        value = value.strip().lower()
        if len(value) != cls.hex_length() or not _HEX.fullmatch(value):
            raise ValueError(f"{cls.name} hash must be {cls.hex_length()} hexadecimal characters")
        return value

    @classmethod
    def distance(cls, a: str, b: str) -> int:
        """Hamming distance for perceptual signals; 0 or the full length for exact ones."""
        if cls.distance_metric == "exact":
            return 0 if a.lower() == b.lower() else cls.hash_length
        return (int(a, 16) ^ int(b, 16)).bit_count()


_HEX = re.compile(r"[0-9a-f]+")


class PdqSignal(SignalType):
    """Meta's PDQ: 256-bit perceptual hash of an image. Threshold 31 is Meta's recommended operating point."""

    name = "pdq"
    hash_length = 256
    distance_metric = "hamming"
    default_threshold = 31
    max_threshold = 96
    has_quality = True


class Md5Signal(SignalType):
    """MD5 of the file bytes: what StopNCII and many platforms exchange for videos and exact copies."""

    name = "md5"
    hash_length = 128
    distance_metric = "exact"


class Sha256Signal(SignalType):
    """SHA-256 of the file bytes: exact copies, collision-resistant."""

    name = "sha256"
    hash_length = 256
    distance_metric = "exact"


class PdqRegionSignal(SignalType):
    """PDQ of a centred crop of an image (signals/robust.py, docs/ROBUSTNESS.md): stored beside ``pdq`` so
    cropped, framed, rotated and screenshotted copies still match. Compared with every hash a query derives
    (plain, mirrored, shifted windows, photo found in a frame), hence the measured threshold of its own."""

    name = "pdq_region"
    hash_length = 256
    distance_metric = "hamming"
    default_threshold = 45
    max_threshold = 96
    has_quality = True


SIGNAL_TYPES: dict[str, type[SignalType]] = {
    t.name: t for t in (PdqSignal, Md5Signal, Sha256Signal, PdqRegionSignal)
}


def signal_type(name: str) -> type[SignalType]:
    """Look a signal type up by name; ``KeyError`` names the known ones."""
    try:
        return SIGNAL_TYPES[name]
    except KeyError:
        raise KeyError(f"unknown signal type {name!r}; known: {', '.join(sorted(SIGNAL_TYPES))}") from None
