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
    #: Frames per second sampled from videos for vPDQ.
    video_fps: float = 10.0
    #: Longest time one video may take to hash (seconds), and the memory ceiling of the decoding process.
    video_timeout_s: float = 600.0
    video_max_memory_bytes: int = 4 * 1024 * 1024 * 1024
