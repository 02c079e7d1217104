"""Signal types: the kinds of hash the bank stores, and everything the code base knows about each kind.

Why one class per kind, modelled on python-threatexchange's ``SignalType`` (name, comparison, thresholds)
and Thorn perception's hasher base class (declared ``distance_metric``, ``dtype``, ``hash_length``): the
bank, the API schema, the matcher, ``redline protect`` and ``/v1/match/file`` all read these declarations
from :data:`SIGNAL_TYPES`, so adding a kind of hash is one class and one ``SIGNAL_TYPES.register`` call
(plus the portal's ``web/static/signals.js`` if survivors' browsers compute it) instead of edits to every
module that would otherwise repeat its name, its threshold or its value format.

This module imports nothing heavy (no numpy, no pdqhash): the API schemas and the command line read the
registry at import time. Derivations that need the hashing code import it when they run.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import struct
from abc import ABC
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeAlias, cast

if TYPE_CHECKING:
    from redline.signals.image import ImageSignals
    from redline.signals.video import VideoSignals

    FileSignals: TypeAlias = ImageSignals | VideoSignals

#: How two values are compared. The matcher implements ``hamming`` (an in-memory index) and ``exact`` (a
#: database lookup); a type declared with another metric is stored, fed and listed, and refused as a query
#: until a matcher for it exists (``SignalType.matchable``).
DistanceMetric = Literal["hamming", "exact", "euclidean", "cosine"]
#: What one element of the hash is, as in perception: ``bool`` bits (PDQ, MD5, SHA-256), ``uint8`` bytes
#: (PhotoDNA's 144), ``float32`` (a TMK feature vector).
Dtype = Literal["bool", "uint8", "float32"]
MediaType = Literal["image", "video"]

#: Longest canonical value of any type, in characters. Why this bound: ``entries.value`` is indexed with the
#: signal type for exact lookups, and PostgreSQL's B-tree refuses index rows over ~2.7 kB. It admits a
#: PhotoDNA hash (288 hex characters) and a 256-float TMK level-1 vector (1,368 base64 characters).
MAX_VALUE_CHARS = 2048
#: Type names are stored in ``String(16)`` columns and used as JSON keys and metric labels.
_NAME = re.compile(r"[a-z][a-z0-9_]{0,15}")
_HEX = re.compile(r"[0-9a-f]+")


@dataclass(frozen=True)
class DerivedHash:
    """A hash derived from a file's signals: one the survivor's device stores, or one an upload is looked
    up by. ``label`` and ``allowance`` only come with robust region queries (``signals/robust.py``)."""

    type: str
    value: str
    quality: int | None = None
    #: Which part of the upload the hash is of (``full``, ``mirror``, ``window_...``).
    label: str | None = None
    #: Distance beyond the bank's threshold this query may still match at (its own measured threshold),
    #: against stored whole pictures only; negative: a stricter threshold, against every stored hash.
    allowance: int = 0
    #: Video frame hashes only (``vpdq``): where in the video the frame is, in milliseconds.
    at_ms: int | None = None


class SignalType(ABC):
    """A kind of signal. Subclasses declare attributes and, where files yield it, the two derivations.

    Why each attribute:

    * ``name``: what the API, the database and bank thresholds call it.
    * ``dtype`` and ``hash_length`` (elements of ``dtype``): the value format. Canonical text is lowercase
      hex for ``bool`` (``hash_length`` bits) and ``uint8`` (``hash_length`` bytes), base64 of little-endian
      float32 for ``float32``. Any of them fits ``entries.value`` (text, up to :data:`MAX_VALUE_CHARS`).
    * ``distance_metric``: near values match (``hamming``) or only equal ones (``exact``), see
      :data:`DistanceMetric`.
    * ``default_threshold``: the largest distance counted as a match when a bank sets none; the index splits
      its tables for it. ``max_threshold`` bounds what an operator may configure.
    * ``min_quality``: perceptual hashes carry a quality 0-100; below this they are too featureless to
      match on (kept, never matched). ``None``: the type has no quality.
    * ``media``: which content it is derived from.
    * ``once_per_case``: an upload yields many of these (robust region hashes) and a stored picture holds
      many, so matches are reported once per survivor case, under the closest hash, not once per pair.
    * ``on_survivor_device``: the survivor portal computes it in the browser (``web/static/signals.js``
      lists exactly these; a test holds the two lists together).
    * ``whole_picture_type``: (region types) the type a stored picture's *whole* hash is also kept as
      (``pdq``). A query with an allowance (the whole upload's hashes) uses it only against stored whole
      pictures, so the matcher searches that type's index for it, not every stored region
      (``robust.allowance_applies``).
    * ``sure_radius``: (heuristic rules searched at wide radii) the index search is exact only within this
      distance and verifies what it finds at the threshold (``HammingIndex.search``'s ``sure``): a wide
      exact search costs many times a narrow one, and the rule's recall with the cheaper search is measured
      (``bench/robust_first_stage.py``). ``None``: exact at any threshold, as every lookup a platform relies
      on to find known copies must be. ``first_stage_tables``: the fixed number of index tables that
      defines which codes beyond ``sure_radius`` such a search finds (``MihIndex(tables=)``), so that the
      answer is the same at every bank size and in every shard.
    """

    name: ClassVar[str]
    dtype: ClassVar[Dtype] = "bool"
    hash_length: ClassVar[int]
    distance_metric: ClassVar[DistanceMetric]
    default_threshold: ClassVar[int] = 0
    max_threshold: ClassVar[int] = 0
    min_quality: ClassVar[int | None] = None
    media: ClassVar[frozenset[MediaType]] = frozenset({"image", "video"})
    once_per_case: ClassVar[bool] = False
    on_survivor_device: ClassVar[bool] = False
    whole_picture_type: ClassVar[str | None] = None
    sure_radius: ClassVar[int | None] = None
    first_stage_tables: ClassVar[int | None] = None

    # --- values --------------------------------------------------------------------------------------------

    @classmethod
    def indexed(cls) -> bool:
        """Whether the matcher keeps this type in an in-memory Hamming index (``redline.index``)."""
        return cls.distance_metric == "hamming" and cls.dtype == "bool"

    @classmethod
    def matchable(cls) -> bool:
        """Whether the matcher can look this type up: in its index, or (exact types) in the database."""
        return cls.distance_metric == "exact" or cls.indexed()

    @classmethod
    def value_chars(cls) -> int:
        """Length of the canonical value in characters."""
        if cls.dtype == "float32":
            return 4 * math.ceil(4 * cls.hash_length / 3)
        return cls.hash_length // 4 if cls.dtype == "bool" else 2 * cls.hash_length

    @classmethod
    def normalize(cls, value: str) -> str:
        """Canonical form of ``value``; ``ValueError`` says what a valid one looks like."""
        value = value.strip()
        if cls.dtype == "float32":
            return _float_vector(cls.name, cls.hash_length, value)
        value = value.lower()
        if len(value) != cls.value_chars() or not _HEX.fullmatch(value):
            raise ValueError(f"{cls.name} hash must be {cls.value_chars()} hexadecimal characters")
        return value

    @classmethod
    def distance(cls, a: str, b: str) -> int:
        """Hamming distance for bit hashes; 0 or the full length for exact ones."""
        if cls.distance_metric == "exact":
            return 0 if a.lower() == b.lower() else cls.hash_length
        if cls.distance_metric == "hamming" and cls.dtype == "bool":
            return (int(a, 16) ^ int(b, 16)).bit_count()
        raise NotImplementedError(f"{cls.name}: no {cls.distance_metric} distance yet")

    # --- derivations from a file's signals -----------------------------------------------------------------

    @classmethod
    def stored_hashes(cls, signals: FileSignals) -> list[DerivedHash]:
        """What a survivor's device stores of this type for one file (``redline protect``; the portal does
        the same in ``signals.js``). Needs ``signals.upright`` for region hashes."""
        return cls._stored(signals) if signals.media_type in cls.media else []

    @classmethod
    def upload_queries(cls, signals: FileSignals, min_quality: int) -> list[DerivedHash]:
        """What ``/v1/match/file`` looks an upload up by, of this type, at quality ``min_quality`` or more."""
        return cls._queried(signals, min_quality) if signals.media_type in cls.media else []

    @classmethod
    def _stored(cls, signals: FileSignals) -> list[DerivedHash]:
        return []

    @classmethod
    def _queried(cls, signals: FileSignals, min_quality: int) -> list[DerivedHash]:
        return []


def _float_vector(name: str, dims: int, value: str) -> str:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{name} hash must be base64 of {dims} little-endian float32") from None
    if len(raw) != 4 * dims:
        raise ValueError(f"{name} hash must be base64 of {dims} little-endian float32 ({4 * dims} bytes)")
    if not all(math.isfinite(x) for x in struct.unpack(f"<{dims}f", raw)):
        raise ValueError(f"{name} hash must hold finite numbers only")
    return base64.b64encode(raw).decode("ascii")


# --- the built-in types ------------------------------------------------------------------------------------


class Md5Signal(SignalType):
    """MD5 of the file bytes: what StopNCII and many platforms exchange for videos and exact copies."""

    name = "md5"
    hash_length = 128
    distance_metric = "exact"
    on_survivor_device = True

    @classmethod
    def _stored(cls, signals: FileSignals) -> list[DerivedHash]:
        return [DerivedHash(cls.name, signals.md5)]

    @classmethod
    def _queried(cls, signals: FileSignals, min_quality: int) -> list[DerivedHash]:
        return cls._stored(signals)


class Sha256Signal(SignalType):
    """SHA-256 of the file bytes: exact copies, collision-resistant."""

    name = "sha256"
    hash_length = 256
    distance_metric = "exact"
    on_survivor_device = True

    @classmethod
    def _stored(cls, signals: FileSignals) -> list[DerivedHash]:
        return [DerivedHash(cls.name, signals.sha256)]

    @classmethod
    def _queried(cls, signals: FileSignals, min_quality: int) -> list[DerivedHash]:
        return cls._stored(signals)


#: Frames of a video looked up at most (a long video repeats itself; the cap bounds the work):
#: ``redline.signals.video.MAX_QUERY_FRAMES``, which picks them (each as pdq by its whole frame, box and
#: mirror hashes, and as vpdq by those, its quadrants' and its narrowed crops': ``query_frame_codes``).
MAX_VIDEO_QUERIES = 600


class PdqSignal(SignalType):
    """Meta's PDQ: 256-bit perceptual hash of an image. Threshold 31 is Meta's recommended operating point;
    below quality 50 Meta's guidance is not to match on a hash. A video is looked up by its distinct vPDQ
    frame hashes (Meta's vPDQ compares frames at the same 31)."""

    name = "pdq"
    hash_length = 256
    distance_metric = "hamming"
    default_threshold = 31
    max_threshold = 96
    min_quality = 50
    on_survivor_device = True

    @classmethod
    def _stored(cls, signals: FileSignals) -> list[DerivedHash]:
        # Even a low-quality hash is stored (a later upload may be matched exactly on it); quality 0 is a
        # featureless picture whose hash means nothing.
        if signals.media_type != "image" or signals.pdq_quality <= 0:
            return []
        return [DerivedHash(cls.name, signals.pdq, signals.pdq_quality)]

    @classmethod
    def _queried(cls, signals: FileSignals, min_quality: int) -> list[DerivedHash]:
        if signals.media_type == "image":
            low = signals.pdq_low_quality
            return [] if low else [DerivedHash(cls.name, signals.pdq, signals.pdq_quality)]
        # A quarter of a frame is not a picture a survivor stored: image entries meet whole frames only.
        return _video_queries(cls.name, signals, min_quality, parts=False)


def _video_queries(
    name: str, signals: FileSignals, min_quality: int, parts: bool = True
) -> list[DerivedHash]:
    """A video upload's frame hashes (whole frame, content box, mirror and, for ``vpdq``, the parts only
    stored video frames have: ``signals.video.query_frame_codes``) as queries of type ``name``."""
    from redline.signals.video import query_frame_codes

    frames = cast("VideoSignals", signals).frames  # the callers checked media_type
    return [
        DerivedHash(name, c.value, c.quality, label=c.label or None, at_ms=c.at_ms)
        for c in query_frame_codes(frames, min_quality, parts)
    ]


class VpdqSignal(SignalType):
    """A video's frame hashes (PDQ of sampled frames, as Meta's vPDQ), one entry per kept frame, all in one
    case item: the item is the video (one review item, quarantined and withdrawn together). Which frames
    are kept, and how frame matches become one video match (overlap both ways, matched time ranges):
    ``redline.signals.video`` and ``redline.match.video`` (docs/SIGNALS.md). An image upload is looked up
    by its PDQ hash here too (a frame grab posted as a picture)."""

    name = "vpdq"
    hash_length = 256
    distance_metric = "hamming"
    default_threshold = 31
    max_threshold = 96
    min_quality = PdqSignal.min_quality
    on_survivor_device = True

    @classmethod
    def _stored(cls, signals: FileSignals) -> list[DerivedHash]:
        from redline.signals.video import stored_frame_codes

        if signals.media_type != "video":
            return []
        return [
            DerivedHash(cls.name, c.value, c.quality, label=c.label or None, at_ms=c.at_ms)
            for c in stored_frame_codes(signals.frames)
        ]

    @classmethod
    def _queried(cls, signals: FileSignals, min_quality: int) -> list[DerivedHash]:
        if signals.media_type == "image":
            low = signals.pdq_low_quality
            return [] if low else [DerivedHash(cls.name, signals.pdq, signals.pdq_quality)]
        return _video_queries(cls.name, signals, min_quality)


class PdqRegionSignal(SignalType):
    """PDQ of a region of an image (signals/robust.py, docs/ROBUSTNESS.md): stored beside ``pdq`` so
    cropped, framed, rotated and screenshotted copies still match. Compared with every hash a query derives
    (plain, mirrored, shifted windows, photo found in a frame), hence the measured threshold of its own
    (45, docs/BENCHMARKS.md) and one report per survivor case."""

    name = "pdq_region"
    hash_length = 256
    distance_metric = "hamming"
    default_threshold = 45
    max_threshold = 96
    min_quality = PdqSignal.min_quality
    media = frozenset({"image"})
    once_per_case = True
    on_survivor_device = True
    whole_picture_type = "pdq"
    # 10 tables of 25-26 bits, each probed within 2 bits: at 20M region rows (a million pictures) a probe
    # reads ~0.3-0.6 candidates' codes instead of the ~1.2-2.4 of 11 tables of 23-24 bits, so the first
    # stage reads ~4.5x fewer codes and took 1.5-3x less time; on the full corpus it finds every copy the
    # exact search does but 2 of 23,552 (two 10 % crops, each near its original at one pair of 40-44 bits).
    # docs/BENCHMARKS.md, "Ten first-stage tables".
    sure_radius = 29
    first_stage_tables = 10

    @classmethod
    def _stored(cls, signals: FileSignals) -> list[DerivedHash]:
        from redline.signals.robust import entry_hashes

        if signals.media_type != "image" or signals.pdq_quality <= 0 or signals.upright is None:
            return []
        regions = entry_hashes(signals.upright)
        return [DerivedHash(cls.name, h.hex, h.quality) for h in regions if h.quality > 0]

    @classmethod
    def _queried(cls, signals: FileSignals, min_quality: int) -> list[DerivedHash]:
        from redline.signals.robust import RegionHash, query_hashes

        if signals.media_type != "image" or signals.upright is None:
            return []
        # The decode's reference PDQ is the whole upload's hash (robust.query_hashes: not made twice).
        plain = RegionHash("full", bytes.fromhex(signals.pdq), signals.pdq_quality)
        return [
            DerivedHash(cls.name, h.hex, h.quality, h.label, h.threshold - cls.default_threshold)
            for h in query_hashes(signals.upright, plain)
            if h.quality >= min_quality
        ]


# --- the registry ------------------------------------------------------------------------------------------


class SignalRegistry(Mapping[str, type[SignalType]]):
    """The signal types this server knows, by name, in lookup order (the order ``/v1/match/file`` reports
    an upload's hashes in). Registration checks a type's declarations once, so no consumer has to."""

    def __init__(self, *kinds: type[SignalType]) -> None:
        self._kinds: dict[str, type[SignalType]] = {}
        for kind in kinds:
            self.register(kind)

    def register(self, kind: type[SignalType]) -> type[SignalType]:
        """Add ``kind`` (usable as a class decorator). ``ValueError`` when its declarations do not hold."""
        problem = _declaration_problem(kind)
        if problem is None and kind.name in self._kinds:
            problem = "a type of that name is registered"
        if problem is not None:
            raise ValueError(f"signal type {getattr(kind, 'name', kind.__name__)!r}: {problem}")
        self._kinds[kind.name] = kind
        return kind

    def unregister(self, name: str) -> None:
        """Remove a type (tests register toy types and take them away again)."""
        del self._kinds[name]

    def __getitem__(self, name: str) -> type[SignalType]:
        try:
            return self._kinds[name]
        except KeyError:
            raise KeyError(f"unknown signal type {name!r}; known: {', '.join(sorted(self._kinds))}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._kinds)

    def __len__(self) -> int:
        return len(self._kinds)

    def indexed(self) -> list[type[SignalType]]:
        """The types the matcher keeps in in-memory indexes (and snapshots)."""
        return [kind for kind in self._kinds.values() if kind.indexed()]


def _declaration_problem(kind: type[SignalType]) -> str | None:
    declared: dict[str, Any] = {a: getattr(kind, a, None) for a in ("name", "hash_length", "distance_metric")}
    missing = [attribute for attribute, value in declared.items() if value is None]
    if missing:
        return f"declares no {', '.join(missing)}"
    if not _NAME.fullmatch(kind.name):
        return "name must be 1-16 characters a-z, 0-9, _ starting with a letter"
    if kind.hash_length <= 0 or (kind.dtype == "bool" and kind.hash_length % 8):
        return "hash_length must be a positive number of whole bytes"
    if kind.indexed() and kind.hash_length % 64:
        return "the Hamming index takes multiples of 64 bits"
    if kind.value_chars() > MAX_VALUE_CHARS:
        return f"values longer than {MAX_VALUE_CHARS} characters cannot be stored"
    if not 0 <= kind.default_threshold <= kind.max_threshold:
        return "default_threshold must be between 0 and max_threshold"
    if kind.min_quality is not None and not 0 <= kind.min_quality <= 100:
        return "min_quality must be 0 to 100"
    return None


SIGNAL_TYPES = SignalRegistry(Md5Signal, Sha256Signal, PdqSignal, PdqRegionSignal, VpdqSignal)


def signal_type(name: str) -> type[SignalType]:
    """Look a signal type up by name; ``KeyError`` names the known ones."""
    return SIGNAL_TYPES[name]
