"""``redline intake FOLDER``: a flagger hashes a collection of someone else's pictures on her own machine.

One third-party case per person (each top-level sub-folder, or ``--mapping``), filed with the operator's
``flag`` key; each file hashed here exactly as ``redline protect`` and the portal hash (MD5, SHA-256, PDQ and
the ``pdq_region`` hashes of robust matching, each marked with its file's ``item``). Only hashes and a signed
manifest without names leave the machine: no folder or file name, no label. What stays in ``--out``: the
state (resumable), the keys (manifest signer, names key), the manifests with their encrypted private parts,
and one hand-over sheet per person (docs/INTAKE.md).
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from redline import __version__
from redline.intake.state import FileOutcome, IntakeState

FLAG_STATEMENT = (
    "Before sending, please confirm:\n"
    "  1. These pictures show adults, and they are intimate pictures made or shared without consent\n"
    "     (AI-made or edited ones included).\n"
    "  2. Each folder (or mapping label) holds the pictures of one person only.\n"
    "  3. You flag them under your organisation's flag key, and you will hand each person her sheet.\n"
    "If anyone pictured may be under 18, stop: use Take It Down (https://takeitdown.ncmec.org/) and\n"
    "contact the police or child-protection services."
)


@dataclass
class PersonReport:
    number: int
    label: str
    files: int = 0
    hashed: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    duplicates_within: int = 0
    duplicates_across: int = 0
    known_items: int | None = None
    case_id: str | None = None
    note: str = ""


def _private_file(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _keys(out: Path) -> tuple[Any, bytes]:
    """The flagger's manifest signer (Ed25519) and names key (AES-256), made once in ``out``."""
    from redline.evidence.note import SignerKey
    from redline.intake.manifest import new_names_key

    signer_path, names_path = out / "flagger.key", out / "names.key"
    if not signer_path.exists():
        _private_file(signer_path, (SignerKey.generate("redline-flagger").text() + "\n").encode())
    if not names_path.exists():
        _private_file(names_path, base64.b64encode(new_names_key()) + b"\n")
    return SignerKey.parse(signer_path.read_text()), base64.b64decode(names_path.read_bytes())


def _hash_one(path: Path, rel: str) -> FileOutcome:
    from redline.cli.protect import hashes_of
    from redline.intake.metadata import metadata_summary
    from redline.signals import SignalError, hash_file
    from redline.signals.decode import FULL_SIZE
    from redline.signals.limits import SignalLimits

    try:
        # Full-size decode, as the portal and ``redline protect`` do: the region hashes then equal theirs.
        signals = hash_file(path, SignalLimits(jpeg_draft=False), upright_side=FULL_SIZE)
    except SignalError as exc:
        return FileOutcome(rel, "failed", exc.code, exc.message, None)
    except OSError as exc:
        return FileOutcome(rel, "failed", "unreadable", exc.strerror or type(exc).__name__, None)
    except Exception as exc:  # a decoder's bug on one file must not stop the collection
        return FileOutcome(rel, "failed", "hash_failed", type(exc).__name__, None)
    record = {
        "sha256": signals.sha256,
        "md5": signals.md5,
        "pdq": getattr(signals, "pdq", None),
        "size": signals.size,
        "media_type": signals.media_type,
        "hashed_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "hashes": hashes_of(signals),
        "metadata": metadata_summary(path),
    }
    return FileOutcome(rel, "hashed", None, None, record)


def intake(
    folder: Annotated[Path, typer.Argument(help="One sub-folder per person (names stay here).")],
    server: Annotated[str, typer.Option("--server", help="Redline server URL (https://...).")] = "",
    key: Annotated[
        str, typer.Option("--key", envvar="REDLINE_FLAG_KEY", help="Your flag key (rk_...).")
    ] = "",
    out: Annotated[
        Path, typer.Option("--out", help="Where sheets, manifests, keys and the state are kept (private).")
    ] = Path("redline-intake"),
    mapping: Annotated[
        Path | None, typer.Option("--mapping", help="label<TAB>path lines: which files are whose.")
    ] = None,
    write_mapping: Annotated[
        Path | None, typer.Option("--write-mapping", help="Write a mapping file to edit, and stop.")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm the statements without a prompt.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the server.")] = 60.0,
) -> None:
    """Hash a collection here, one case per person; only hashes are sent. Writes a sheet per person."""
    import httpx
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from redline.intake.plan import PlanError, plan, read_mapping
    from redline.intake.plan import write_mapping as write_mapping_file
    from redline.intake.state import IntakeStateError

    console = Console(stderr=True)
    try:
        if write_mapping is not None:
            count = write_mapping_file(folder, write_mapping)
            typer.echo(f"wrote {count} persons to {write_mapping}; edit it, then run with --mapping")
            return
        persons = plan(folder, read_mapping(mapping) if mapping is not None else None)
        loose = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")]
    except (PlanError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if not key or not server:
        typer.echo("error: give --server and your flag key (--key or REDLINE_FLAG_KEY)", err=True)
        raise typer.Exit(2)
    if loose and mapping is None:
        typer.echo(f"note: {len(loose)} files directly in the collection folder are in no person's folder: "
                   "not taken in (move them, or use --mapping)")  # fmt: skip
    typer.echo(FLAG_STATEMENT)
    if not yes and not typer.confirm("Do you confirm all three?", default=False):
        typer.echo("Nothing was sent.")
        raise typer.Exit(1)
    base = server.rstrip("/")
    client = httpx.Client(base_url=base, timeout=timeout, headers={"Authorization": f"Bearer {key}"})
    try:
        services = _help_services(client)
    except httpx.HTTPError as exc:
        typer.echo(f"error: could not reach {server}: {exc}. Nothing was sent.", err=True)
        raise typer.Exit(2) from None
    try:
        state = IntakeState(out, folder.resolve())
    except IntakeStateError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        signer, names_key = _keys(out)
        root = folder.resolve()
        todo = [(p, rel) for p in persons if state.sent(p.label) is None for rel in p.files]
        with Progress(
            TextColumn("hashing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=console
        ) as progress:
            task = progress.add_task("hashing", total=len(todo))
            for person, rel in todo:
                if rel not in state.outcomes(person.label):
                    state.record_file(person.label, _hash_one(root / rel, rel))
                progress.advance(task)
        reports = _file_persons(client, state, persons, signer, names_key, out, base, services)
        _log_collection(client, state, reports, signer, out)
    finally:
        state.close()
        client.close()
    _print_summary(console, reports, out)
    if not any(r.case_id for r in reports):
        raise typer.Exit(1)
    if any(r.case_id is None and r.hashed for r in reports):
        raise typer.Exit(2)


def _help_services(client: Any) -> dict[str, list[Any]]:
    from redline.help_services import HelpService, parse_help_services

    response = client.get("/v1/help-services")
    response.raise_for_status()
    listed = parse_help_services(response.json()["services"])
    return {lang: [HelpService(**s.to_dict()) for s in items] for lang, items in listed.items()}


def _file_persons(
    client: Any,
    state: IntakeState,
    persons: list[Any],
    signer: Any,
    names_key: bytes,
    out: Path,
    base: str,
    services: dict[str, list[Any]],
) -> list[PersonReport]:
    """Each person's case, in order; duplicates counted by SHA-256 (within, across), never sent twice."""
    import httpx

    from redline.api.schemas import MAX_CASE_HASHES
    from redline.intake.manifest import PERSON_HEADER, encrypt_private, sign_manifest
    from redline.intake.sheets import sheet_html

    owners: dict[str, set[str]] = {}
    outcomes = {p.label: state.outcomes(p.label) for p in persons}
    for label, found in outcomes.items():
        for o in found.values():
            if o.record is not None:
                owners.setdefault(o.record["sha256"], set()).add(label)
    (out / "sheets").mkdir(exist_ok=True)
    (out / "manifests").mkdir(exist_ok=True)
    reports: list[PersonReport] = []
    for person in persons:
        report = PersonReport(state.number_of(person.label), person.label, files=len(person.files))
        reports.append(report)
        seen: dict[str, int] = {}
        hashes: list[dict[str, Any]] = []
        public_files: list[dict[str, Any]] = []
        private_files: list[dict[str, Any]] = []
        sent_values: set[tuple[str, str]] = set()
        for rel in person.files:
            outcome = outcomes[person.label].get(rel)
            if outcome is None or outcome.record is None:
                report.failed[outcome.code if outcome and outcome.code else "not_hashed"] += 1
                continue
            report.hashed += 1
            record = outcome.record
            if len(owners.get(record["sha256"], ())) > 1:
                report.duplicates_across += 1
            if record["sha256"] in seen:
                report.duplicates_within += 1
                private_files.append({"item": seen[record["sha256"]], "path": rel, "duplicate": True})
                continue
            item = seen[record["sha256"]] = len(seen)
            for h in record["hashes"]:
                if (h["type"], h["value"]) not in sent_values:
                    sent_values.add((h["type"], h["value"]))
                    hashes.append({**h, "item": item})
            public_files.append(
                {"item": item, **{k: record[k] for k in ("sha256", "md5", "pdq", "size", "media_type")}}
                | {"hashed_at": record["hashed_at"]}
            )
            private_files.append({"item": item, "path": rel, "metadata": record["metadata"]})
        done = state.sent(person.label)
        if done is not None:
            report.case_id, report.known_items = done.case_id, done.known_items
            report.note = "filed earlier"
            continue
        if not hashes:
            report.note = "nothing could be hashed: no case"
            continue
        if len(hashes) > MAX_CASE_HASHES:
            report.note = f"not filed: {len(hashes)} hashes, a case takes {MAX_CASE_HASHES}: split"
            continue
        stem = f"person-{report.number:03d}"
        blob = encrypt_private(names_key, {"label": person.label, "files": private_files}, stem)
        public = {
            "tool": f"redline {__version__}",
            "made_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "files": public_files,
            "private_sha256": hashlib.sha256(blob).hexdigest(),
        }
        manifest = sign_manifest(PERSON_HEADER, public, signer)
        try:
            response = client.post("/v1/intake/cases", json={"hashes": hashes, "manifest": manifest})
        except httpx.HTTPError as exc:
            report.note = f"not filed: could not reach the server ({type(exc).__name__}); run again"
            continue
        if response.status_code in (401, 403):
            refused = f"{response.status_code} {_detail(response)}"
            typer.echo(f"error: the server refused your flag key ({refused})", err=True)
            raise typer.Exit(2)
        if response.status_code != 201:
            report.note = f"not filed: the server refused ({response.status_code}) {_detail(response)}"
            continue
        created = response.json()
        report.case_id, report.known_items = created["case_id"], int(created["known_items"])
        # The sheet first: once the state says "sent", nothing would write it again.
        sheet = sheet_html(
            case_id=created["case_id"],
            secret=created["secret"],
            portal=base,
            services=services,
            prepared_for=f"{person.label} · {stem}",
        )
        _private_file(out / "sheets" / f"{stem}.html", sheet.encode())
        _private_file(out / "manifests" / f"{stem}.manifest", manifest.encode())
        _private_file(out / "manifests" / f"{stem}.private.enc", blob)
        digest = hashlib.sha256(manifest.encode()).hexdigest()
        state.mark_sent(person.label, created["case_id"], digest, report.known_items, report.hashed)
    return reports


def _detail(response: Any) -> str:
    is_json = response.headers.get("content-type", "").endswith("json")
    return str(response.json().get("detail", "")) if is_json else ""


def _log_collection(
    client: Any, state: IntakeState, reports: list[PersonReport], signer: Any, out: Path
) -> None:
    """Once every person with hashes is filed: the signed collection manifest, its SHA-256 logged."""
    import httpx

    from redline.intake.manifest import COLLECTION_HEADER, sign_manifest

    if state.get_meta("collection_sha256") or any(r.case_id is None and r.hashed for r in reports):
        return
    persons = []
    for r in reports:
        sent = state.sent(r.label)
        if sent is not None:
            persons.append(
                {"case_id": sent.case_id, "manifest_sha256": sent.manifest_sha256, "files": sent.files}
            )
    if not persons:
        return
    body = {"tool": f"redline {__version__}", "made_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    manifest = sign_manifest(COLLECTION_HEADER, {**body, "persons": persons}, signer)
    try:
        response = client.post("/v1/intake/collections", json={"manifest": manifest})
    except httpx.HTTPError:
        return  # logged on the next run
    if response.status_code == 201:
        _private_file(out / "collection.manifest", manifest.encode())
        state.set_meta("collection_sha256", response.json()["manifest_sha256"])


def _print_summary(console: Any, reports: list[PersonReport], out: Path) -> None:
    from rich.table import Table

    table = Table(title="Intake summary (shown here only; the server never saw a name)")
    for column in ("#", "person", "files", "hashed", "failed", "dup. within", "dup. other person",
                   "already in bank", "case", "note"):  # fmt: skip
        table.add_column(column)
    for r in reports:
        failed = ", ".join(f"{code} ×{n}" for code, n in sorted(r.failed.items())) or "0"
        table.add_row(
            str(r.number), r.label, str(r.files), str(r.hashed), failed, str(r.duplicates_within),
            str(r.duplicates_across), "-" if r.known_items is None else str(r.known_items),
            r.case_id or "-", r.note,
        )  # fmt: skip
    type(console)(width=200).print(table)
    typer.echo(f"Hand-over sheets: {out / 'sheets'} (one per person: print, hand over, then delete).")


def withdraw_on_request(
    case_id: Annotated[str, typer.Argument(help="The case number.")],
    reason: Annotated[str, typer.Option(help="Whose request, and how it was checked (recorded).")],
) -> None:
    """Operator: withdraw an unclaimed third-party case on the person's request (audited with the reason)."""
    from redline.bank.errors import BankError
    from redline.cli.service import CLI_ACTOR, _database
    from redline.intake.cases import withdraw_on_request as withdraw

    db = _database()
    try:
        with db.write() as session:
            count = withdraw(session, case_id.strip().upper(), actor=CLI_ACTOR, reason=reason)
    except BankError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"withdrew {count} hashes of {case_id}")


def flaggers() -> None:
    """Operator: each flag key's third-party cases and what reviewers made of them (rejected, quarantined)."""
    from redline.cli.service import _database
    from redline.intake.cases import flagger_records

    with _database().read() as session:
        records = flagger_records(session)
    if not records:
        typer.echo("no third-party cases yet")
        return
    typer.echo("key\tcases\tpictures\trejected\tquarantined")
    for r in records:
        typer.echo(f"{r.key_id}\t{r.cases}\t{r.pictures}\t{r.rejected}\t{r.quarantined}")


def register(app: typer.Typer) -> None:
    app.command("intake")(intake)
    cases_app = typer.Typer(help="Third-party cases (operator).", no_args_is_help=True)
    cases_app.command("withdraw")(withdraw_on_request)
    cases_app.command("flaggers")(flaggers)
    app.add_typer(cases_app, name="cases")
