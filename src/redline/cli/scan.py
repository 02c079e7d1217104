"""``redline scan``: check content already hosted against the bank (docs/SCANNING.md).

Notes and the progress display go to stderr; the report (matches and files that could not be scanned) is
written to ``--report`` from the state file when the scan finishes, so a resumed scan's report still lists
each match once.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import sys
import time
from collections import Counter
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from redline.config import Settings
from redline.scan.client import ScanClient, ServerError
from redline.scan.driver import Progress as ScanProgress
from redline.scan.driver import ScanJob, run_scan
from redline.scan.sources import SourceError, check_source, count_items
from redline.scan.state import ScanState, StateError

REPORT_FIELDS = [
    "kind", "content_id", "path", "match_id", "entry_id", "bank", "type", "distance", "action",
    "review_item_id", "error", "message",
]  # fmt: skip


class ReportFormat(StrEnum):
    jsonl = "jsonl"
    csv = "csv"


def register(app: typer.Typer) -> None:
    app.command("scan")(scan_command)


def scan_command(
    source: Annotated[Path, typer.Argument(help="A folder (recursive) or a JSON Lines manifest.")],
    server: Annotated[str, typer.Option("--server", envvar="REDLINE_SCAN_SERVER", help="Redline's URL.")],
    key: Annotated[
        str, typer.Option("--key", envvar="REDLINE_SCAN_KEY", help="A match key (prefer the env variable).")
    ],
    report: Annotated[Path, typer.Option("--report", help="Where to write the report of matches.")],
    report_format: Annotated[ReportFormat, typer.Option("--format")] = ReportFormat.jsonl,
    state: Annotated[
        Path | None, typer.Option("--state", help="State file (default: next to the report).")
    ] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Worker processes hashing.")] = 1,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, max=64, help="Files per batch.")] = 32,
    worker_memory: Annotated[
        int, typer.Option("--worker-memory", min=0, help="Address-space limit per worker, MiB (0: none).")
    ] = 2048,
    ray_address: Annotated[
        str | None,
        typer.Option("--ray", help="Hash on this Ray cluster (e.g. 10.0.0.5:6379; needs the scale extra)."),
    ] = None,
) -> None:
    """Hash hosted files where they lie and match them against the bank (only hashes are sent).

    Matches go to the server's match log, review queue and webhooks marked as scan results. Kill it and run
    the same command again: it continues from the state file. Exit status 0 when the scan finished (bad
    files are counted, not fatal), 1 when it could not finish.
    """
    try:
        check_source(source)
    except SourceError as exc:
        raise typer.BadParameter(str(exc), param_hint="SOURCE") from None
    state_path = state or report.with_name(f"{report.name}.scan-state")
    fingerprint = str(source.resolve())
    try:
        scan_state = ScanState(state_path, fingerprint, batch_size)
    except StateError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    client = ScanClient(server, key)
    if ray_address is not None and importlib.util.find_spec("ray") is None:
        scan_state.close()
        typer.echo('error: --ray needs Ray: pip install "redline[scale]"', err=True)
        raise typer.Exit(1)
    settings = Settings.from_env()
    job = ScanJob(source, scan_state, client, settings, jobs, batch_size, worker_memory << 20, ray_address)
    started = time.monotonic()
    try:
        with _Display(count_items(source), scan_state.totals()[0]) as display:
            done = run_scan(job, display.update)
    except ServerError as exc:
        typer.echo(f"error: {exc}; run the same command again to continue", err=True)
        raise typer.Exit(1) from None
    finally:
        client.close()
    try:
        with report.open("w", newline="", encoding="utf-8") as out:
            _write(scan_state.rows(), out, report_format)
    finally:
        scan_state.close()
    seconds = time.monotonic() - started
    typer.echo(_summary(done, seconds, report), err=True)


def _write(rows: Iterable[dict[str, Any]], out: Any, report_format: ReportFormat) -> None:
    if report_format is ReportFormat.csv:
        writer = csv.DictWriter(out, fieldnames=REPORT_FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        return
    for row in rows:
        out.write(json.dumps(row, separators=(",", ":")) + "\n")


def _errors(errors: Counter[str]) -> str:
    return ", ".join(f"{code} {n}" for code, n in errors.most_common()) or "none"


def _summary(done: ScanProgress, seconds: float, report: Path) -> str:
    fresh = done.files - done.resumed_files
    rate = fresh / seconds if seconds > 0 else 0.0
    resumed = f" ({done.resumed_files} from before the restart)" if done.resumed_files else ""
    return (
        f"scanned {done.files} file(s){resumed}, {done.skipped} skipped (not media), "
        f"{done.matches} match(es); errors: {_errors(done.errors)}; "
        f"{rate:.1f} files/s this run; report: {report}"
    )


class _Display:
    """Rich progress on stderr: files, files/s, matches so far, errors by code, ETA."""

    def __init__(self, total: int, already: int) -> None:
        self._started = time.monotonic()
        self._progress = Progress(
            TextColumn("scanning"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]} files/s"),
            TextColumn("matches {task.fields[matches]}"),
            TextColumn("errors: {task.fields[errors]}"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            disable=not sys.stderr.isatty(),
        )
        # Files a resumed scan had done count as done from the start, so they do not inflate the rate.
        self._task = self._progress.add_task(
            "scan", total=total, completed=already, rate="-", matches=0, errors="none"
        )
        self._first = already

    def __enter__(self) -> _Display:
        self._progress.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._progress.stop()

    def update(self, done: ScanProgress) -> None:
        elapsed = time.monotonic() - self._started
        rate = (done.files - self._first) / elapsed if elapsed > 0 else 0.0
        self._progress.update(
            self._task,
            completed=done.files,
            rate=f"{rate:.1f}",
            matches=done.matches,
            errors=_errors(done.errors),
        )
