"""Commands of the tamper-evident log and of evidence bundles.

``redline log ...`` acts on the database and keys named by the ``REDLINE_*`` settings, like ``serve``;
``redline log verify`` needs neither: only a file (a log export or an evidence bundle) and public keys.
"""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from redline.config import Settings

if TYPE_CHECKING:
    from redline.evidence.log import TransparencyLog
    from redline.evidence.note import VerifierKey
    from redline.evidence.verify import Report

log_app = typer.Typer(help="The tamper-evident audit log: checkpoints, export, offline verification.")
witness_app = typer.Typer(help="Witnesses: who cosigns this log's checkpoints, whose this instance cosigns.")
evidence_app = typer.Typer(
    help="Evidence bundles for one case (checked by redline log verify).", no_args_is_help=True
)
log_app.add_typer(witness_app, name="witness")
CLI_ACTOR = "cli"

KeyOption = Annotated[str, typer.Option("--key", help="The log's verifier key (vkey, or its file).")]
WitnessOption = Annotated[
    list[str] | None,
    typer.Option("--witness", help="A witness vkey (or file) that must cosign."),
]


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def _vkey(value: str) -> VerifierKey:
    from redline.evidence.note import NoteError, VerifierKey

    text = value
    if "+" not in value or Path(value).is_file():
        try:
            text = Path(value).read_text(encoding="utf-8").strip()
        except OSError as exc:
            _fail(f"cannot read key file {value}: {exc.strerror}")
    try:
        return VerifierKey.parse(text)
    except NoteError as exc:
        _fail(f"{value}: {exc}")
        raise


def _log() -> TransparencyLog:
    from redline.bank.db import Database
    from redline.evidence.keys import log_signer
    from redline.evidence.log import TransparencyLog

    settings = Settings.from_env()
    db = Database(settings.effective_database_url)
    db.upgrade()
    return TransparencyLog(db, log_signer(settings))


def _print_report(report: Report, what: str) -> None:
    if report.ok:
        assert report.checkpoint is not None
        typer.echo(
            f"OK: {what}: {report.rows} rows verified against the checkpoint of {report.checkpoint.size} "
            f"rows signed by {report.checkpoint.origin}"
            + (f", cosigned by {', '.join(report.cosigned_by)}" if report.cosigned_by else "")
        )
        return
    typer.echo(f"FAILED: {what}", err=True)
    for problem in report.problems[:50]:
        typer.echo(f"  - {problem}", err=True)
    if len(report.problems) > 50:
        typer.echo(f"  ... and {len(report.problems) - 50} more", err=True)
    raise typer.Exit(1)


@log_app.command("key")
def key(
    witness: Annotated[bool, typer.Option(help="Print the witness key instead.")] = False,
) -> None:
    """Print the verifier key (C2SP vkey) to publish, so anyone can check checkpoints and bundles."""
    from redline.evidence.keys import log_signer, witness_signer

    settings = Settings.from_env()
    typer.echo((witness_signer(settings) if witness else log_signer(settings)).verifier().text())


@log_app.command("checkpoint")
def checkpoint() -> None:
    """Sequence new audit rows, publish a checkpoint if the log grew, collect cosignatures; print it."""
    from redline.evidence.log import cosigned_note, latest_checkpoint
    from redline.evidence.witness import request_cosignatures

    tlog = _log()
    try:
        tlog.publish()
        for result in request_cosignatures(tlog):
            typer.echo(f"witness {result.witness}: {result.detail}", err=True)
        with tlog.db.read() as session:
            found = latest_checkpoint(session)
            assert found is not None
            typer.echo(cosigned_note(session, found), nl=False)
    finally:
        tlog.db.dispose()


@log_app.command("export")
def export(out: Annotated[Path, typer.Option("--out", help="File to write (JSON Lines).")]) -> None:
    """Write a copy of the log (every audit row in log order, the signed checkpoint) for offline checks."""
    tlog = _log()
    try:
        found = tlog.export_file(out)
    finally:
        tlog.db.dispose()
    typer.echo(f"wrote {out}: {found.size} rows, checkpoint signed by {tlog.origin}")


@log_app.command("verify")
def verify(
    path: Annotated[Path, typer.Argument(help="A log export, or an evidence bundle (folder or .zip).")],
    key: KeyOption,
    witness: WitnessOption = None,
    previous: Annotated[
        list[Path] | None,
        typer.Option("--previous", help="An older checkpoint you hold (file): must be a prefix."),
    ] = None,
) -> None:
    """Check a log export or an evidence bundle offline, with only public keys: the checkpoint signature and
    cosignatures; for an export every row against the signed root and older checkpoints as prefixes; for a
    bundle every file's SHA-256 and every row's inclusion proof."""
    from redline.evidence.verify import verify_export

    witnesses = [_vkey(w) for w in witness or []]
    if path.is_dir() or zipfile.is_zipfile(path):
        if previous:
            _fail("--previous applies to log exports, not to bundles")
        _verify_bundle(path, _vkey(key), witnesses)
        return
    if not path.is_file():
        _fail(f"{path}: no such file or folder")
    earlier = [p.read_text(encoding="utf-8") for p in previous or []]
    report = verify_export(path, _vkey(key), witnesses, earlier)
    _print_report(report, str(path))


def _verify_bundle(path: Path, key: VerifierKey, witnesses: list[VerifierKey]) -> None:
    import hashlib

    from redline.evidence.verify import BUNDLE_SUMS, verify_bundle

    with tempfile.TemporaryDirectory() as tmp:
        folder = path
        if not path.is_dir():
            with zipfile.ZipFile(path) as archive:
                if any(n.startswith("/") or ".." in n.split("/") for n in archive.namelist()):
                    _fail("the zip holds unsafe paths")
                archive.extractall(tmp)
            folders = [p for p in Path(tmp).iterdir() if p.is_dir()]
            folder = folders[0] if len(folders) == 1 else Path(tmp)
        report = verify_bundle(folder, key, witnesses)
        if report.ok:
            digest = hashlib.sha256((folder / BUNDLE_SUMS).read_bytes()).hexdigest()
            typer.echo(f"SHA-256 of SHA256SUMS (identifies this bundle): {digest}")
    _print_report(report, str(path))


@witness_app.command("add")
def witness_add(
    url: Annotated[str, typer.Argument(help="The witness's submission prefix (…/v1/witness for Redline).")],
    key: Annotated[str, typer.Option("--key", help="The witness's cosignature vkey.")],
) -> None:
    """Ask this witness to cosign every new checkpoint of this log."""
    from redline.evidence.note import NoteError
    from redline.evidence.witness import add_witness

    tlog = _log()
    try:
        with tlog.db.write() as session:
            row = add_witness(session, url, _vkey(key).text(), CLI_ACTOR)
            name = row.name
    except NoteError as exc:
        _fail(str(exc))
    finally:
        tlog.db.dispose()
    typer.echo(f"witness {name} added")


@witness_app.command("list")
def witness_list() -> None:
    """The witnesses of this log, and the logs this instance witnesses."""
    from sqlalchemy import select

    from redline.evidence.models import LogWitness, WitnessedLog

    tlog = _log()
    try:
        with tlog.db.read() as session:
            for w in session.scalars(select(LogWitness).order_by(LogWitness.name)):
                typer.echo(f"cosigns this log: {w.name}  {w.url}  last cosigned size {w.size}")
            for o in session.scalars(select(WitnessedLog).order_by(WitnessedLog.origin)):
                typer.echo(f"witnessed by this instance: {o.origin}  size {o.size}")
    finally:
        tlog.db.dispose()


@witness_app.command("trust")
def witness_trust(vkey: Annotated[str, typer.Argument(help="The other log's verifier key (vkey).")]) -> None:
    """Act as a witness of another log: cosign its checkpoints while they stay consistent."""
    from redline.evidence.note import NoteError
    from redline.evidence.witness import trust_log

    tlog = _log()
    try:
        with tlog.db.write() as session:
            origin = trust_log(session, _vkey(vkey).text(), CLI_ACTOR).origin
    except NoteError as exc:
        _fail(str(exc))
    finally:
        tlog.db.dispose()
    typer.echo(f"witnessing {origin}")


@evidence_app.command("bundle")
def bundle(
    case_id: str,
    out: Annotated[Path, typer.Option("--out", help="A folder, or a file ending in .zip.")],
) -> None:
    """Make the evidence bundle of one case: its audit rows with proofs, checkpoint, key, explanations,
    certificate templates. No images, no names."""
    from redline.evidence.bundle import BundleError, build_bundle
    from redline.evidence.witness import request_cosignatures

    tlog = _log()
    try:
        tlog.publish()
        request_cosignatures(tlog)
        made = build_bundle(tlog, case_id, actor=CLI_ACTOR)
    except BundleError as exc:
        _fail(str(exc))
        raise
    finally:
        tlog.db.dispose()
    if out.suffix == ".zip":
        out.write_bytes(made.zip_bytes())
    else:
        if out.exists() and any(out.iterdir()):
            _fail(f"{out} exists and is not empty")
        made.write_folder(out)
    typer.echo(f"wrote {out}: {made.rows} audit rows, checkpoint of {made.size}; SHA256SUMS {made.digest}")


def register(app: typer.Typer) -> None:
    app.add_typer(log_app, name="log")
    app.add_typer(evidence_app, name="evidence")
