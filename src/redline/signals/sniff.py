"""Recognise a file's kind from its first bytes (magic numbers), never from its name.

Why not the extension: survivors' files arrive renamed, re-shared and mislabelled, and an attacker chooses the
name. Why not hand every file to Pillow and FFmpeg and see what sticks: FFmpeg opens playlists and other
formats that can make it read further files or URLs, so only bytes that look like a known image or video
container are ever given to a decoder.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MediaType = Literal["image", "video"]

#: Bytes read from the start of a file to recognise it (an MPEG transport stream needs 2 packets of 188).
HEAD_BYTES = 512

#: ISO base-media (``ftyp``) brands of still images; every other ``ftyp`` brand is a video.
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1", b"mif2"}
_AVIF_BRANDS = {b"avif", b"avis"}


@dataclass(frozen=True)
class Sniffed:
    media_type: MediaType
    #: Short container name, e.g. ``JPEG``, ``HEIF``, ``MP4``.
    container: str


def sniff(head: bytes) -> Sniffed | None:
    """What the file starting with ``head`` is, or ``None`` when it is no image or video we accept."""
    image = _sniff_image(head)
    if image:
        return Sniffed("image", image)
    video = _sniff_video(head)
    if video:
        return Sniffed("video", video)
    return None


def _sniff_image(head: bytes) -> str | None:
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    if head[:2] == b"BM" and len(head) >= 26:
        return "BMP"
    if head[4:8] == b"ftyp":
        brands = _ftyp_brands(head)
        if brands & _AVIF_BRANDS:
            return "AVIF"
        if brands & _HEIF_BRANDS:
            return "HEIF"
    return None


def _sniff_video(head: bytes) -> str | None:
    if head[4:8] == b"ftyp":
        return "QuickTime" if head[8:12] == b"qt  " else "MP4"
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip"):
        return "QuickTime"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "Matroska"  # also WebM
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "AVI"
    if head.startswith(b"FLV"):
        return "FLV"
    if head.startswith(b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"):
        return "ASF"
    if head.startswith(b"\x00\x00\x01\xba"):
        return "MPEG-PS"
    if head.startswith(b"OggS"):
        return "Ogg"
    if len(head) > 0 and head[0] == 0x47 and _looks_like_mpeg_ts(head):
        return "MPEG-TS"
    return None


def _ftyp_brands(head: bytes) -> set[bytes]:
    """Major brand and the compatible brands that fit in ``head``."""
    size = int.from_bytes(head[0:4], "big")
    end = min(len(head), max(size, 16))
    brands = {head[8:12]}
    brands.update(head[i : i + 4] for i in range(16, end - 3, 4))
    return brands


def _looks_like_mpeg_ts(head: bytes) -> bool:
    # A transport stream has a 0x47 sync byte every 188 bytes; one sync byte alone is too weak a signal.
    return len(head) > 2 * 188 and head[188] == 0x47 and head[2 * 188] == 0x47
