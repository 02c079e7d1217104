"""``redline removals ...``: removal requests for the compliance lead at the command line: the open ones by
time left, one request's record (JSON, CSV or DSA statements of reasons), the figures. ``redline.removal``;
docs/REMOVAL.md."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated

import typer

from redline.cli.service import _database, _fail

removals_app = typer.Typer(help="Removal requests: open ones, records, figures.", no_args_is_help=True)


@removals_app.command("list")
def removals_list(
    status: Annotated[str, typer.Option(help="open, closed or all.")] = "open",
) -> None:
    """Requests by time left, nearest deadline first (a missed deadline says so)."""
    from redline.bank.models import utcnow
    from redline.removal.queue import requests_by_time_left

    if status not in ("open", "closed", "all"):
        _fail("--status is open, closed or all")
    with _database().read() as session:
        rows = requests_by_time_left(session, status, utcnow())
    for r in rows:
        hours = r.seconds_left / 3600
        clock = "MISSED" if r.breached or hours <= 0 else f"{hours:.1f} h left"
        typer.echo(
            f"{r.number}  {r.jurisdiction}  {r.status}  {clock}  items pending {r.pending_items}/{r.items}  "
            f"copies to decide {r.pending_copies}" + (f"  flags {','.join(r.flags)}" if r.flags else "")
        )
    if not rows:
        typer.echo(f"no {status} removal requests")


@removals_app.command("export")
def removals_export(
    number: Annotated[str, typer.Argument(help="The request number (TD-...).")],
    format: Annotated[
        str, typer.Option("--format", help="json, csv or dsa (statements of reasons).")
    ] = "json",
) -> None:
    """One request's record on stdout, without the requester's personal details."""
    from redline.bank.errors import NotFound
    from redline.removal import records
    from redline.removal.requests import get_request

    if format not in ("json", "csv", "dsa"):
        _fail("--format is json, csv or dsa")
    try:
        with _database().read() as session:
            request = get_request(session, number)
            if format == "dsa":
                typer.echo(json.dumps(records.dsa_statements(session, request), indent=2))
                return
            data = records.record(session, request)
    except NotFound as exc:
        _fail(exc.detail)
    typer.echo(
        json.dumps(data, indent=2) if format == "json" else records.record_csv(data), nl=format == "json"
    )


@removals_app.command("report")
def removals_report(days: Annotated[int, typer.Option(help="The last N days.", min=1)] = 30) -> None:
    """The figures: requests, time to removal (median, p95), share within the deadline, copies, refusals."""
    from redline.bank.models import utcnow
    from redline.removal.reports import report

    until = utcnow()
    with _database().read() as session:
        figures = report(session, until - timedelta(days=days), until)
    typer.echo(json.dumps(figures.__dict__, default=str, indent=2))


def register(app: typer.Typer) -> None:
    app.add_typer(removals_app, name="removals")
