"""Runtime settings, read from ``REDLINE_*`` environment variables.

Configuration is data, not code: every setting has a documented default here and can be overridden by an
environment variable of the same name upper-cased with the ``REDLINE_`` prefix (``max_pixels`` ->
``REDLINE_MAX_PIXELS``). Nothing else in the code base reads the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from redline.signals.limits import SignalLimits


def _default_data_dir() -> Path:
    return Path(os.environ.get("REDLINE_DATA_DIR", "var"))


def _pdq_min_quality() -> int:
    # The PDQ type declares it (redline.signals.types); read when settings are made, because importing
    # ``redline.signals`` here would import this module back (the hashing code takes ``Settings``).
    from redline.signals.types import PdqSignal

    return PdqSignal.min_quality


def _robust_sure_radius() -> int:
    from redline.signals.types import PdqRegionSignal

    assert PdqRegionSignal.sure_radius is not None
    return PdqRegionSignal.sure_radius


def _bool(raw: str) -> bool:
    return raw.strip().lower() in {"1", "true", "yes", "on"}


_CONVERTERS: dict[str, Any] = {"int": int, "float": float, "bool": _bool, "Path": Path, "str": str}


@dataclass(frozen=True)
class Settings:
    #: Where the embedded database, index snapshots and keys live.
    data_dir: Path = field(default_factory=_default_data_dir)
    #: SQLAlchemy URL. Empty means the embedded SQLite database under ``data_dir``.
    database_url: str = ""
    #: Largest image (width x height) the decoder accepts: a guard against decompression bombs.
    max_pixels: int = 100_000_000
    #: Largest file accepted for hashing (bytes).
    max_file_bytes: int = 512 * 1024 * 1024
    #: PDQ hashes below this quality are kept for the record but not used for perceptual matching.
    pdq_min_quality: int = field(default_factory=_pdq_min_quality)
    #: ``/v1/match/file`` also derives robust PDQ hashes from each image upload (windows, crops, borders,
    #: screenshots, rotations; docs/ROBUSTNESS.md) and searches them against stored ``pdq_region`` hashes.
    #: Off: only the plain hashes are searched (cheaper, misses most edited copies).
    robust_matching: bool = True
    #: The robust region searches are exact within this many bits and verify what they find at the bank's
    #: ``pdq_region`` threshold (45): a first stage ~14x cheaper at a million pictures, which loses a few
    #: edited copies whose only pairs lie between the two (measured: docs/ROBUSTNESS.md, Cost). Set it to
    #: the threshold (45) or more for an exact search.
    robust_sure_radius: int = field(default_factory=_robust_sure_radius)
    #: Frames per second sampled from videos for vPDQ. 10, not 1: cuts of one video start at arbitrary
    #: frames, and at 1 fps their samples fall up to 0.5 s apart, too far for PDQ (docs/SIGNALS.md).
    video_fps: float = 10.0
    #: How videos are hashed for matching: ``redline`` (FFmpeg, frames hashed inside their content box and
    #: mirrored, ``video_sample_fps`` a second) or ``vpdq`` (Meta's vpdq, ``video_fps``); docs/SIGNALS.md.
    video_hasher: Literal["redline", "vpdq"] = "redline"
    video_sample_fps: float = 8.0
    #: Only the first this many seconds of a video are hashed (a partial result beyond).
    video_max_seconds: float = 3 * 3600.0
    #: Longest time one video may take to hash (seconds), and the memory ceiling of the decoding process.
    #: A server process decodes as many videos at once as this ceiling fits in ``decode_budget_bytes``
    #: (one, by default): the others wait ``decode_wait_s``, then get 503 with Retry-After.
    video_timeout_s: float = 600.0
    video_max_memory_bytes: int = 1024 * 1024 * 1024
    #: Decode large JPEGs at reduced size (DCT scaling) before PDQ: ~20x faster, a few bits off a full decode.
    jpeg_draft: bool = True
    #: Decoded image memory (bytes) that all uploads being decoded at once in one server process may hold
    #: together, estimated from each image's header before its pixels are decoded; an upload that does not
    #: fit waits up to ``decode_wait_s`` seconds, then is answered 503 with Retry-After (docs/OPERATING.md).
    decode_budget_bytes: int = 1536 * 1024 * 1024
    decode_wait_s: float = 10.0
    #: Bank that survivors' cases go into (created on start if missing).
    survivor_bank: str = "survivors"
    #: Bank that third-party cases (``redline intake`` by a ``flag`` key, docs/INTAKE.md) go into (made with
    #: the first one), and the action its matches get by the rule made with it: ``review`` (a human first,
    #: never blocked automatically), or ``block_and_review``, ``block``, ``log``.
    flagged_bank: str = "flagged"
    flagged_action: str = "review"
    #: The platform bank removed pictures' hashes go into (notice-and-removal, docs/REMOVAL.md), so that
    #: re-uploads are caught; created on first use.
    removal_bank: str = "removals"
    #: Hours before a removal request's deadline at which it is escalated (``removal.escalated``).
    removal_escalation_marks_h: str = "24,12,4,1"
    #: How often each process checks removal deadlines.
    removal_clock_interval_s: float = 30.0
    #: Removal requests a client address may file per hour (no account is needed to file).
    removal_rate_per_hour: int = 20
    #: The portal's "Getting help" services per language: a JSON file (docs/PORTAL.md, "Getting help");
    #: empty: the built-in list (``redline.help_services.DEFAULT_SERVICES``).
    help_services_file: str = ""
    #: How often each server process reads the change log to keep its match index live (seconds).
    change_poll_interval: float = 0.25
    #: Match index snapshots in ``data_dir/index``: a process starts from the newest one and replays the
    #: change log after it, instead of reading every hash from the database (docs/OPERATING.md).
    index_snapshots: bool = True
    #: One process writes a new snapshot after this many changes, or this many seconds after the last one
    #: when anything changed, and when it stops cleanly; only the newest ``index_snapshots_kept`` are kept.
    index_snapshot_every_changes: int = 100_000
    index_snapshot_interval_s: float = 1800.0
    index_snapshots_kept: int = 2
    #: Shards (docs/SHARDS.md): in an API process, the URLs of the ``redline shard serve`` processes that
    #: hold the match index between them, comma-separated, in shard order (the k-th serves shard k of n);
    #: empty: this process holds the whole index itself.
    shards: str = ""
    #: The secret API and shard processes share: sent with every search, and a shard refuses any search
    #: without it (hashes are sensitive). Required wherever shards are used.
    shard_secret: str = ""
    #: How long an API process waits for a shard's answer (seconds): one that does not answer in time fails
    #: the request (503 ``index-unavailable``), never partial results.
    shard_timeout_s: float = 10.0
    #: Retroactive matching (docs/RETROACTIVE.md): days the hashes (only the hashes) of content checked with a
    #: ``content_id`` (``/v1/match/file``, ``/v1/match``, ``redline scan``) are kept, so an entry that goes
    #: live later is searched against them; 0 keeps nothing (and turns retroactive matching off). Older rows
    #: are deleted every ``seen_purge_interval_s``.
    seen_retention_days: int = 90
    seen_purge_interval_s: float = 3600.0
    #: How often the retroactive-matching worker reads the change log for entries that went live (seconds).
    retro_poll_interval: float = 0.5
    #: Case submissions (and case-secret checks) allowed per client address per hour, per server process.
    case_rate_per_hour: int = 30
    #: Largest JSON request body (bytes). Imports and file uploads have their own limits.
    max_request_bytes: int = 4 * 1024 * 1024
    #: Largest bulk import body (bytes).
    max_import_bytes: int = 512 * 1024 * 1024
    #: Base64 of a 32-byte AES key for contact details at rest; empty: ``data_dir/contact.key`` (made once).
    contact_key: str = ""
    #: Addresses (comma-separated; IPs, CIDR ranges, or ``*``) of reverse proxies whose ``X-Forwarded-For``
    #: and ``X-Forwarded-Proto`` are believed: the client address (rate limits) comes from there.
    forwarded_allow_ips: str = "127.0.0.1"
    #: One JSON line per request (route template, status, time; no paths, no survivor's address).
    access_log: bool = True
    #: Comma-separated origins allowed to call the API from a browser; empty keeps CORS closed.
    cors_origins: str = ""
    #: Moderation: an entry rejected ("not intimate-image abuse") by this many independent reviewers is
    #: quarantined automatically and flagged for operator audit.
    review_reject_quarantine: int = 3
    #: Longest time a platform's preview image is kept when nobody decides the review item (seconds).
    review_preview_ttl_s: int = 7 * 24 * 3600
    #: Webhooks may target loopback / private addresses only when these are set (tests, private networks).
    webhook_allow_loopback: bool = False
    webhook_allow_private: bool = False
    #: Per-attempt timeout, first retry delay, and age after which a delivery is dead-lettered (seconds).
    webhook_timeout_s: float = 5.0
    webhook_backoff_base_s: float = 5.0
    webhook_max_age_s: float = 3 * 24 * 3600.0
    #: How often the delivery worker looks for due deliveries (seconds).
    webhook_poll_interval: float = 0.5
    #: Mirrors (docs/MIRRORS.md): how long the sync waits after reading every hub to its end (seconds),
    #: how many change-log rows it asks a hub for per signed page, and how long a process's lease on a
    #: mirror lasts unrenewed (seconds: what a process killed mid-sync holds the mirror up for).
    mirror_interval_s: float = 1.0
    mirror_page_size: int = 1000
    mirror_lease_s: float = 20.0
    #: Console sign-in lifetime (seconds); failed sign-ins allowed per username and address per 15 minutes.
    console_session_ttl_s: int = 8 * 3600
    console_login_attempts: int = 10
    #: Tamper-evident audit log (docs/EVIDENCE.md): the checkpoint origin line (empty: ``redline-log/``
    #: and 8 hex digits of the log key), the signer key (C2SP ``PRIVATE+KEY+...``; empty:
    #: ``data_dir/keys/log.key``, made once; every server of one database must share it), and how often a
    #: checkpoint is published.
    tlog_origin: str = ""
    tlog_key: str = ""
    tlog_checkpoint_interval_s: float = 60.0
    #: This instance as a witness of other logs: its cosigner name (empty: ``redline-witness/`` + 8 hex
    #: digits) and key (empty: ``data_dir/keys/witness.key``).
    witness_name: str = ""
    witness_key: str = ""

    def signal_limits(self) -> SignalLimits:
        """The limits the signal code needs (it never sees the rest of the settings)."""
        from redline.signals.limits import SignalLimits

        return SignalLimits(
            max_pixels=self.max_pixels,
            max_file_bytes=self.max_file_bytes,
            pdq_min_quality=self.pdq_min_quality,
            jpeg_draft=self.jpeg_draft,
            video_fps=self.video_fps,
            video_hasher=self.video_hasher,
            video_sample_fps=self.video_sample_fps,
            video_max_seconds=self.video_max_seconds,
            video_timeout_s=self.video_timeout_s,
            video_max_memory_bytes=self.video_max_memory_bytes,
        )

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'redline.db').resolve()}"

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = os.environ.get(f"REDLINE_{f.name.upper()}")
            if raw is None:
                continue
            # Field types are strings here (postponed annotations): convert by name.
            convert = _CONVERTERS.get(str(f.type), str)
            values[f.name] = convert(raw)
        values.update(overrides)
        return cls(**values)
