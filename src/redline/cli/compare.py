"""``redline compare A B``: would the server match upload A against picture B, and how close are they?

A is the upload (what a platform sends to ``/v1/match/file``), B the picture as the bank stores it (what the
survivor's device hashed). The verdict follows the server's rules in the server's order: the same file; the
plain PDQ hashes within the threshold; a rotated or mirrored copy (dihedral variants); and, when both are
files, the robust rule (``redline.signals.robust``): B's 35 region hashes computed from the full-size
picture, as the portal does, against the ~110 hashes derived from A at the server's query size, as
``/v1/match/file`` does. So a crop, a frame or a screenshot the server would catch is a ``match_robust`` here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from redline.config import Settings
from redline.signals import ImageSignals, SignalError, VideoSignals, compare_videos, hash_file
from redline.signals.decode import FULL_SIZE
from redline.signals.robust import (
    QUERY_SIDE,
    ROBUST_THRESHOLD,
    closest_region_match,
    entry_hashes,
    query_hashes,
)
from redline.signals.types import PdqSignal

Threshold = Annotated[
    int,
    typer.Option("--threshold", min=0, max=PdqSignal.max_threshold, help="Largest matching PDQ distance."),
]
RegionThreshold = Annotated[
    int,
    typer.Option(
        "--region-threshold",
        min=0,
        max=PdqSignal.max_threshold,
        help="Largest matching distance of the robust rule (the bank's pdq_region threshold).",
    ),
]
Fps = Annotated[float | None, typer.Option("--fps", min=0.01, help="Video frames hashed per second.")]


def register(app: typer.Typer) -> None:
    app.command("compare")(compare_command)


def compare_command(
    first: Annotated[str, typer.Argument(metavar="A", help="The upload: a file, or a PDQ hash (64 hex).")],
    second: Annotated[
        str, typer.Argument(metavar="B", help="The stored picture or video: a file, or a PDQ hash (64 hex).")
    ],
    threshold: Threshold = PdqSignal.default_threshold,
    region_threshold: RegionThreshold = ROBUST_THRESHOLD,
    robust: Annotated[
        bool, typer.Option("--robust/--plain", help="Also apply the robust rule (crops, frames, shots).")
    ] = True,
    fps: Fps = None,
) -> None:
    """Would the server match upload A against stored picture B? Distance and verdict, as one JSON object.

    Verdicts: identical, match, match_rotated, match_robust (a crop, frame or screenshot the server's robust
    matching finds), low_quality, no_match. Exit status 0 whatever the verdict; 2 when an input cannot be
    used.
    """
    settings = Settings.from_env(**({"video_fps": fps, "video_sample_fps": fps} if fps else {}))
    try:
        # The upload at the size the server derives its query hashes from; the stored picture at full size,
        # as the survivor's device crops it.
        a = _resolve(first, settings, QUERY_SIDE if robust else None, lookup=True)
        b = _resolve(second, settings, FULL_SIZE if robust else None, lookup=False)
    except SignalError as exc:
        _fail(exc.message)
    if isinstance(a, VideoSignals) and isinstance(b, VideoSignals):
        result = _compare_video_signals(a, b, threshold, settings)
    elif isinstance(a, VideoSignals) or isinstance(b, VideoSignals):
        _fail("cannot compare an image with a video")
    else:
        result = _compare_images(a, b, threshold)
        if robust:
            result = _with_robust_rule(result, a, b, region_threshold, settings.robust_sure_radius)
        else:
            result["robust"] = {"checked": False, "why": "--plain: plain PDQ only"}
    typer.echo(json.dumps(result))


def _fail(message: str) -> Any:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _resolve(
    value: str, settings: Settings, upright_side: int | None, lookup: bool
) -> ImageSignals | VideoSignals | str:
    """A file's signals (with upright pixels of at most ``upright_side`` when asked; hashed as the upload
    the server looks up with ``lookup``, else as the stored side), or a PDQ hash."""
    path = Path(value)
    if path.exists():
        return hash_file(path, settings.signal_limits(), upright_side=upright_side, lookup=lookup)
    try:
        return PdqSignal.normalize(value)
    except ValueError:
        _fail(f"{value!r} is neither an existing file nor a PDQ hash (64 hexadecimal characters)")
        raise  # unreachable: _fail exits


def _compare_images(a: ImageSignals | str, b: ImageSignals | str, threshold: int) -> dict[str, Any]:
    pdq_a = a if isinstance(a, str) else a.pdq
    pdq_b = b if isinstance(b, str) else b.pdq
    distance = PdqSignal.distance(pdq_a, pdq_b)
    # A rotated or mirrored copy: one side's dihedral variants against the other's hash.
    variants = _variants(a, pdq_b) or _variants(b, pdq_a)
    best_variant, best_distance = min(variants, key=lambda item: item[1]) if variants else ("orig", distance)
    low_quality = any(isinstance(s, ImageSignals) and s.pdq_low_quality for s in (a, b))
    if isinstance(a, ImageSignals) and isinstance(b, ImageSignals) and a.sha256 == b.sha256:
        verdict = "identical"
    elif low_quality:
        verdict = "low_quality"
    elif distance <= threshold:
        verdict = "match"
    elif best_distance <= threshold:
        verdict = "match_rotated"
    else:
        verdict = "no_match"
    return {
        "media_type": "image",
        "verdict": verdict,
        "distance": distance,
        "threshold": threshold,
        "dihedral_variant": best_variant,
        "dihedral_distance": best_distance,
        "quality": [s.pdq_quality if isinstance(s, ImageSignals) else None for s in (a, b)],
    }


def _with_robust_rule(
    result: dict[str, Any],
    a: ImageSignals | str,
    b: ImageSignals | str,
    region_threshold: int,
    sure: int,
) -> dict[str, Any]:
    """``result`` with the robust rule's finding, and ``match_robust`` where only that rule matches: the
    server's rule, its index's first stage (``sure``) included."""
    if not (isinstance(a, ImageSignals) and a.upright is not None):
        return {**result, "robust": {"checked": False, "why": "A is a hash: the robust rule needs the file"}}
    if not (isinstance(b, ImageSignals) and b.upright is not None):
        return {**result, "robust": {"checked": False, "why": "B is a hash: the robust rule needs the file"}}
    found = closest_region_match(query_hashes(a.upright), entry_hashes(b.upright), region_threshold, sure)
    robust: dict[str, Any] = {"checked": True, "match": found is not None}
    if found is not None:
        robust |= {
            "distance": found.distance,
            "threshold": found.threshold,
            "upload_region": found.query.label,
            "stored_region": found.stored.label,
        }
    verdict = "match_robust" if found is not None and result["verdict"] == "no_match" else result["verdict"]
    return {**result, "verdict": verdict, "robust": robust}


def _variants(signals: ImageSignals | str, other: str) -> list[tuple[str, int]]:
    if isinstance(signals, str):
        return []
    distance: Callable[[str, str], int] = PdqSignal.distance
    return [(name, distance(value, other)) for name, value in signals.pdq_dihedral.items()]


def _compare_video_signals(
    query: VideoSignals, stored: VideoSignals, threshold: int, settings: Settings
) -> dict[str, Any]:
    """The server's video rule (``redline.match.video``: the frames each side sends, overlap both ways)
    decides; Meta's plain vPDQ comparison of all frames is reported beside it as ``vpdq``."""
    from redline.match.video import compare_as_server

    matched, overlap = compare_as_server(query.frames, stored.frames, threshold, settings.pdq_min_quality)
    comparison = compare_videos(
        query.frames, stored.frames, distance_threshold=threshold, min_quality=settings.pdq_min_quality
    )
    verdict = "identical" if query.sha256 == stored.sha256 else "match" if matched else "no_match"
    server = overlap.to_dict()
    for key in ("entry_id", "bank"):
        del server[key]
    return {
        "media_type": "video",
        "verdict": verdict,
        "threshold": threshold,
        **comparison.to_dict(),
        "vpdq_is_match": comparison.is_match,
        "server": server,
    }
