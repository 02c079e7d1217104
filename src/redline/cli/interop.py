"""Interop commands: ``redline hma ...`` (HMA bank names, HMA import/export) and ``redline stopncii ...``
(pull a StopNCII-shaped API into a bank, import a StopNCII record dump). docs/INTEROP.md."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from redline.cli.service import CLI_ACTOR, _database, _fail

hma_app = typer.Typer(
    help="HMA (OpenMediaMatch) interop: bank names for Coop, import, export.", no_args_is_help=True
)
stopncii_app = typer.Typer(
    help="StopNCII interop: pull a StopNCII-shaped API, import a dump.", no_args_is_help=True
)


def _owner(partner: str | None, key_id: str | None) -> str:
    if bool(partner) == bool(key_id):
        _fail("give exactly one of --partner and --key-id (whose HMA namespace)")
    return f"partner:{partner}" if partner else f"key:{key_id}"


@hma_app.command("link")
def hma_link(
    name: Annotated[str, typer.Argument(help="HMA bank name as the client spells it, e.g. COOP_AB12_NCII.")],
    bank: Annotated[str, typer.Option(help="Existing Redline bank it stands for, e.g. survivors.")],
    partner: Annotated[str | None, typer.Option(help="Partner whose keys see this name.")] = None,
    key_id: Annotated[str | None, typer.Option(help="Or: the single key (id) that sees it.")] = None,
) -> None:
    """Make an existing bank visible to an HMA client under NAME (re-points NAME if it exists)."""
    from redline.bank.service import BankError
    from redline.interop import hma

    try:
        with _database().write() as session:
            hma.link_bank(session, _owner(partner, key_id), name, bank, actor=CLI_ACTOR)
    except BankError as exc:
        _fail(exc.detail)
    typer.echo(f"{name} -> {bank}")


@hma_app.command("list")
def hma_list() -> None:
    """Every HMA bank name, its owner, its Redline bank and ratio."""
    from sqlalchemy import select

    from redline.bank.models import Bank
    from redline.interop.models import HmaBank

    with _database().read() as session:
        rows = session.execute(
            select(HmaBank, Bank.name)
            .join(Bank, Bank.id == HmaBank.bank_id)
            .order_by(HmaBank.owner, HmaBank.name)
        ).all()
        for row, bank in rows:
            kind = "created" if row.created_bank else "linked"
            typer.echo(f"{row.owner}\t{row.name}\t{bank}\t{row.ratio:g}\t{kind}")


@hma_app.command("import")
def hma_import(
    path: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="HMA bank content (see INTEROP.md).")
    ],
    bank: Annotated[str, typer.Option(help="Redline bank to add the hashes to.")],
) -> None:
    """Import an HMA bank's contents: JSON Lines of HMA content ({"signals": {"pdq": ...}}) or a signal file
    ("pdq <hex>" per line). All lines are checked first: all are stored, or none."""
    from redline.bank import service
    from redline.interop.formats import parse_hma

    try:
        hashes = parse_hma(path.read_text(encoding="utf-8-sig"))
        with _database().write() as session:
            ids = service.add_entries(
                session,
                bank,
                hashes,
                source="import",
                origin=f"import:hma:{path.name}",
                actor=CLI_ACTOR,
                tags=["hma"],
            )
    except service.BankError as exc:
        _fail(exc.detail)
    typer.echo(f"imported {len(ids)} hashes into {bank}")


@hma_app.command("export")
def hma_export(
    bank: Annotated[str, typer.Option(help="Redline bank to export.")],
    fmt: Annotated[
        str, typer.Option("--format", help="jsonl (HMA content) or signals (pdq <hex> lines).")
    ] = "jsonl",
) -> None:
    """Print a bank's active hashes in HMA's format (stdout). Hashes are sensitive: mind where this goes."""
    from redline.bank import service
    from redline.interop.formats import export_hma

    if fmt not in ("jsonl", "signals"):
        _fail("--format must be jsonl or signals")
    try:
        with _database().write() as session:
            for line in export_hma(session, bank, fmt):
                typer.echo(line)
            service.audit(session, CLI_ACTOR, "bank.exported", f"bank:{bank}", format=f"hma-{fmt}")
    except service.BankError as exc:
        _fail(exc.detail)


@stopncii_app.command("pull")
def stopncii_pull(
    url: Annotated[
        str, typer.Argument(help="Base URL, e.g. https://api.stopncii.org/v1 or https://hub/stopncii/v1.")
    ],
    key: Annotated[
        str,
        typer.Option(help="Subscription key (for a Redline hub: a feed key).", envvar="REDLINE_STOPNCII_KEY"),
    ],
    bank: Annotated[str, typer.Option(help="Local bank the hashes go into.")],
    name: Annotated[
        str, typer.Option(help="Name of this source (provenance, resumable position).")
    ] = "stopncii",
    function_key: Annotated[
        str,
        typer.Option(
            help="StopNCII's FetchHashes function key (default: --key).",
            envvar="REDLINE_STOPNCII_FUNCTION_KEY",
        ),
    ] = "",
) -> None:
    """Pull every record since the last run into BANK: Active adds, Withdrawn and Deleted stop matching."""
    from redline.bank.service import BankError
    from redline.interop.pull import PullError, pull

    try:
        result = pull(
            _database(), name=name, url=url, key=key, function_key=function_key, bank=bank, actor=CLI_ACTOR
        )
    except (PullError, BankError) as exc:
        _fail(str(exc))
    a = result.applied
    typer.echo(
        f"{result.pages} pages: {a.added} added, {a.restored} restored, {a.removed} removed, "
        f"{a.skipped} skipped; "
        f"checkpoint {result.checkpoint}"
    )


@stopncii_app.command("list")
def stopncii_list() -> None:
    """Every pulled source: bank, checkpoint (nextSetTimestamp), records read, last pull, last error."""
    from sqlalchemy import select

    from redline.bank.models import Bank
    from redline.interop.models import StopnciiPull

    with _database().read() as session:
        rows = session.execute(
            select(StopnciiPull, Bank.name)
            .join(Bank, Bank.id == StopnciiPull.bank_id)
            .order_by(StopnciiPull.name)
        ).all()
        for row, bank in rows:
            error = row.last_error or "-"
            typer.echo(
                f"{row.name}\t{row.url}\t{bank}\t{row.checkpoint}\t{row.records}\t{row.updated_at:%Y-%m-%dT%H:%M:%SZ}\t{error}"
            )


@stopncii_app.command("import")
def stopncii_import(
    path: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="FetchHashes pages or records (JSON/JSONL).")
    ],
    bank: Annotated[str, typer.Option(help="Local bank the hashes go into.")],
) -> None:
    """Import a StopNCII record dump, as a pull would apply it (one transaction)."""
    from redline.bank.service import BankError
    from redline.interop.pull import apply_records
    from redline.interop.stopncii import records_in_dump

    try:
        records = records_in_dump(path.read_text(encoding="utf-8-sig"))
        with _database().write() as session:
            a = apply_records(session, bank, records, origin=f"stopncii:import:{path.name}", actor=CLI_ACTOR)
    except (BankError, json.JSONDecodeError) as exc:
        _fail(getattr(exc, "detail", str(exc)))
    typer.echo(f"{a.added} added, {a.restored} restored, {a.removed} removed, {a.skipped} skipped")


def register(app: typer.Typer) -> None:
    app.add_typer(hma_app, name="hma")
    app.add_typer(stopncii_app, name="stopncii")
