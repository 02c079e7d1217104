"""The limits the signal code works under: the few numbers it needs, not the whole service configuration.

``redline.config.Settings.signal_limits()`` builds one from the service's settings; the CLI and tests build
their own. The defaults are the service's defaults, and nothing here reads the environment.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SignalLimits:
    #: Largest image (width x height) the decoder accepts: a guard against decompression bombs.
    max_pixels: int = 100_000_000
    #: Largest file accepted for hashing (bytes).
    max_file_bytes: int = 512 * 1024 * 1024
    #: PDQ hashes below this quality are kept for the record but not used for perceptual matching.
    pdq_min_quality: int = 50
    #: Decode large JPEGs at reduced size (DCT scaling) before PDQ: ~20x faster, a few bits off a full decode.
    jpeg_draft: bool = True
    #: Frames per second sampled from videos for vPDQ (``video_hasher = "vpdq"``: Meta's vpdq).
    video_fps: float = 10.0
    #: ``redline``: FFmpeg decodes, each frame hashed inside its content box, with its mirror image
    #: (``signals.video_frames``); ``vpdq``: Meta's vpdq on whole frames (reference output, ``redline hash``).
    video_hasher: str = "redline"
    #: Frames per second the ``redline`` hasher samples (the upload side keeps up to all of them, the stored
    #: side one a second: ``signals.video``).
    video_sample_fps: float = 8.0
    #: Only this much of a video is hashed (3 hours); the rest is left out and the result says so.
    video_max_seconds: float = 3 * 3600.0
    #: Longest time one video may take to hash (seconds), and the memory ceiling of the decoding process.
    video_timeout_s: float = 600.0
    video_max_memory_bytes: int = 1024 * 1024 * 1024
