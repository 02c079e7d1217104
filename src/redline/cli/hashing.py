"""``redline hash``: the signals engine on the command line (``redline compare`` is in ``compare.py``).

Output goes to stdout (JSON Lines or CSV, one record per file, in the order given); the progress bar and
notes go to stderr, so ``redline hash photos/ > hashes.jsonl`` gives a clean file.
"""

from __future__ import annotations

import csv
import json
import multiprocessing
import sys
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from redline.config import Settings
from redline.signals import (
    DIHEDRAL_NAMES,
    SignalError,
    hash_file,
)
from redline.signals.files import read_head
from redline.signals.limits import SignalLimits
from redline.signals.sniff import HEAD_BYTES, sniff


class OutputFormat(StrEnum):
    jsonl = "jsonl"
    csv = "csv"


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("hash")(hash_command)


# ---------------------------------------------------------------------------------------------- hash


Fps = Annotated[float | None, typer.Option("--fps", min=0.01, help="Video frames hashed per second.")]


def hash_command(
    paths: Annotated[list[Path], typer.Argument(help="Image/video files or folders (recursive).")],
    output_format: Annotated[OutputFormat, typer.Option("--format")] = OutputFormat.jsonl,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Parallel worker processes.")] = 1,
    fps: Fps = None,
) -> None:
    """Hash images and videos: PDQ (+ quality, dihedral variants), vPDQ frames, MD5, SHA-256.

    One record per file on stdout. A file that cannot be hashed gets an "error" record; exit status 1.
    """
    settings = Settings.from_env(
        **({"video_fps": fps, "video_sample_fps": fps} if fps else {})
    ).signal_limits()
    files, skipped = _collect(paths)
    if skipped:
        typer.echo(f"skipped {skipped} file(s) in folders that are not images or videos", err=True)
    records = _hash_all(files, settings, jobs)
    writer = _write_csv if output_format is OutputFormat.csv else _write_jsonl
    failed = writer(_with_progress(records, len(files)), sys.stdout)
    if failed:
        typer.echo(f"{failed} of {len(files)} file(s) could not be hashed", err=True)
        raise typer.Exit(1)


def _collect(paths: Iterable[Path]) -> tuple[list[Path], int]:
    """Files to hash: named files as given (even if not media: they get an error record); inside folders,
    only files whose first bytes are an image or video, hidden files and folders left out."""
    files: list[Path] = []
    skipped = 0
    for path in paths:
        if not path.is_dir():
            files.append(path)
            continue
        for child in sorted(path.rglob("*")):
            relative = child.relative_to(path)
            if any(part.startswith(".") for part in relative.parts) or not child.is_file():
                continue
            try:
                media = sniff(read_head(child, HEAD_BYTES))
            except SignalError:
                media = None
            if media is None:
                skipped += 1
            else:
                files.append(child)
    return files, skipped


def hash_record(path: Path, settings: SignalLimits) -> dict[str, Any]:
    """One output record: the file's signals, or its error. Top-level so worker processes can run it."""
    try:
        signals = hash_file(path, settings)
    except SignalError as exc:
        return {"path": str(path), "error": exc.to_dict()}
    return {"path": str(path), **signals.to_dict()}


def _hash_all(files: list[Path], settings: SignalLimits, jobs: int) -> Iterator[dict[str, Any]]:
    work = partial(hash_record, settings=settings)
    if jobs == 1 or len(files) <= 1:
        yield from map(work, files)
        return
    # spawn, not fork: forking a process that has started native threads (FFmpeg, BLAS) can deadlock.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        yield from pool.map(work, files)


def _with_progress(records: Iterator[dict[str, Any]], total: int) -> Iterator[dict[str, Any]]:
    if not sys.stderr.isatty():
        yield from records
        return
    columns = (TextColumn("hashing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("hash", total=total)
        for record in records:
            yield record
            progress.advance(task)


def _write_jsonl(records: Iterable[dict[str, Any]], out: Any) -> int:
    failed = 0
    for record in records:
        failed += "error" in record
        out.write(json.dumps(record, separators=(",", ":")) + "\n")
        out.flush()
    return failed


CSV_COLUMNS = [
    "path", "media_type", "format", "width", "height", "size", "md5", "sha256", "pdq", "pdq_quality",
    "pdq_low_quality", "orientation", "animated", *(f"pdq_{name}" for name in DIHEDRAL_NAMES),
    "duration_s", "fps", "frame_count", "usable_frames", "frames", "error_code", "error_message",
]  # fmt: skip


def _csv_row(record: dict[str, Any]) -> dict[str, Any]:
    """Flatten a record. Video frames go in one cell: "timestamp_s:quality:pdq" separated by spaces."""
    row = {key: value for key, value in record.items() if key in CSV_COLUMNS}
    if record.get("media_type") == "video":
        row["format"] = record["container"]
        row["frame_count"] = len(record["frames"])
        row["frames"] = " ".join(f"{f['timestamp_s']}:{f['quality']}:{f['pdq']}" for f in record["frames"])
    for name, value in record.get("pdq_dihedral", {}).items():
        row[f"pdq_{name}"] = value
    if "error" in record:
        row["error_code"], row["error_message"] = record["error"]["code"], record["error"]["message"]
    return row


def _write_csv(records: Iterable[dict[str, Any]], out: Any) -> int:
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    failed = 0
    for record in records:
        failed += "error" in record
        writer.writerow(_csv_row(record))
        out.flush()
    return failed
