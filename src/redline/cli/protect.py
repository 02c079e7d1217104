"""``redline protect FILE... --server URL``: the survivor portal's job from a terminal.

Hashes each file on this computer (``redline.signals.hash_file``), sends only the hashes to the server's
``POST /v1/cases`` and prints the case number and secret. No file, file name or pixel is sent. A file sends
what the portal sends (docs/PORTAL.md): each signal type's stored hashes (``SignalType.stored_hashes``; for
a picture MD5, SHA-256, PDQ and the ``pdq_region`` hashes of robust matching, computed like the portal from
the full-size decode), each marked with the file's position (``item``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

#: Names the wording below; recorded with the case by the server.
ATTESTATION_VERSION = "cli-2025-1"
ATTESTATION = (
    "Before sending, please confirm:\n"
    "  1. I am the person in these images, or I am helping them with their agreement.\n"
    "  2. The images are intimate, and they were shared or someone threatens to share them without consent.\n"
    "  3. The person in the images was 18 or older when they were made.\n"
    "If the person was under 18, do not use this: use Take It Down (https://takeitdown.ncmec.org/) and\n"
    "contact local child-protection services or the police."
)


def hashes_of(signals: Any) -> list[dict[str, Any]]:
    """The hashes the bank accepts for one file's signals: each registered type's ``stored_hashes``, what
    the portal sends (region hashes only when the signals carry their pixels)."""
    from redline.signals.types import SIGNAL_TYPES

    found: list[dict[str, Any]] = []
    for kind in SIGNAL_TYPES.values():
        for h in kind.stored_hashes(signals):
            quality = {"quality": h.quality} if h.quality is not None else {}
            at = {"at_ms": h.at_ms} if h.at_ms is not None else {}  # a video frame's place in the video
            found.append({"type": h.type, "value": h.value, **quality, **at})
    return found


def protect(
    files: Annotated[list[Path], typer.Argument(help="Images and videos to protect (they stay here).")],
    server: Annotated[str, typer.Option("--server", help="Redline server URL, e.g. https://redline.example")],
    on_behalf: Annotated[
        bool, typer.Option("--on-behalf", help="You help the person in the images, with their agreement.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm the statements without a prompt.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the server.")] = 30.0,
) -> None:
    """Hash images and videos here and send only the hashes; prints your case number and secret."""
    import httpx

    from redline.signals import SignalError, hash_file
    from redline.signals.decode import FULL_SIZE
    from redline.signals.limits import SignalLimits

    # Full-size decode, as the portal does in the browser: the region hashes then equal the portal's.
    settings = SignalLimits(jpeg_draft=False)

    typer.echo(ATTESTATION)
    if not yes and not typer.confirm("Do you confirm all three?", default=False):
        typer.echo("Nothing was sent.")
        raise typer.Exit(1)

    hashes: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    item = 0  # which file each hash came from: review feedback then treats a picture's hashes as one
    for path in files:
        try:
            signals = hash_file(path, settings, upright_side=FULL_SIZE)
        except SignalError as exc:
            typer.echo(f"{path.name}: skipped: {exc.message}", err=True)
            continue
        note = ""
        if signals.media_type == "image" and signals.pdq_low_quality:
            note = " (little detail: exact copies will be found, edited copies may not)"
        typer.echo(f"{path.name}: hashed{note}")
        for h in hashes_of(signals):
            key = (h["type"], h["value"])
            if key not in seen:
                seen.add(key)
                hashes.append({**h, "item": item})
        item += 1
    if not hashes:
        typer.echo("error: no file could be hashed; nothing was sent.", err=True)
        raise typer.Exit(1)

    body = {
        "hashes": hashes,
        "attestation": {
            "subject": "on_behalf" if on_behalf else "self",
            "adult": True,
            "non_consensual": True,
            "text_version": ATTESTATION_VERSION,
        },
    }
    try:
        response = httpx.post(f"{server.rstrip('/')}/v1/cases", json=body, timeout=timeout)
    except httpx.HTTPError as exc:
        typer.echo(f"error: could not reach {server}: {exc}. Nothing was sent.", err=True)
        raise typer.Exit(2) from None
    if response.status_code != 201:
        is_json = response.headers.get("content-type", "").endswith("json")
        detail = response.json().get("detail", "") if is_json else ""
        typer.echo(f"error: the server refused the submission ({response.status_code}) {detail}", err=True)
        raise typer.Exit(2)
    created = response.json()
    typer.echo(f"Sent {len(hashes)} hashes. Your files were not sent.")
    typer.echo("Keep these two safe now: they are shown only once and cannot be recovered.")
    typer.echo(f"Case number: {created['case_id']}")
    typer.echo(f"Secret: {created['secret']}")


def register(app: typer.Typer) -> None:
    app.command("protect")(protect)
