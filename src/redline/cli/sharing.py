"""``redline sharing ...``: the policy of a hub bank for hashes platforms push, and the operator's approvals.
``redline.bank.sharing``; docs/MIRRORS.md, "Sharing hashes with the hub"."""

from __future__ import annotations

from typing import Annotated

import typer

from redline.cli.service import CLI_ACTOR, _database, _fail

sharing_app = typer.Typer(help="Hashes platforms push to this hub: policy, approval.", no_args_is_help=True)


@sharing_app.command("policy")
def sharing_policy(
    bank: Annotated[str, typer.Argument(help="The hub bank.")],
    mode: Annotated[str, typer.Option(help="live, confirmations or approval.")],
    confirmations: Annotated[int, typer.Option(help="For confirmations: distinct partners needed.")] = 2,
) -> None:
    """How hashes pushed to BANK go live (a bank without a policy waits for approval)."""
    from redline.bank.errors import BankError
    from redline.bank.sharing import set_policy

    try:
        with _database().write() as session:
            policy = set_policy(session, bank, mode, confirmations=confirmations, actor=CLI_ACTOR)
    except BankError as exc:
        _fail(exc.detail)
    typer.echo(
        f"{bank}: {policy.mode}" + (f" ({policy.confirmations})" if policy.mode == "confirmations" else "")
    )


@sharing_app.command("list")
def sharing_list(
    bank: Annotated[str, typer.Argument(help="The hub bank.")],
    status: Annotated[str, typer.Option(help="pending, live or refused.")] = "pending",
) -> None:
    """Pushed hashes: id, type, who pushed first, provenance, how many partners vouched."""
    from redline.bank.errors import BankError
    from redline.bank.sharing import listed

    try:
        with _database().read() as session:
            rows = listed(session, bank, status)
            lines = [
                "\t".join(
                    [
                        str(r.id),
                        r.signal_type,
                        r.submitted_by,
                        f"{r.provenance.get('kind', '')}:{r.provenance.get('reference', '')}",
                        f"partners={len(r.vouched)}",
                        r.created_at.isoformat(timespec="seconds"),
                    ]
                )
                for r in rows
            ]
    except BankError as exc:
        _fail(exc.detail)
    for line in lines:
        typer.echo(line)


@sharing_app.command("approve")
def sharing_approve(shared_id: Annotated[int, typer.Argument(help="The shared hash's id.")]) -> None:
    """Make a pending pushed hash live."""
    from redline.bank.errors import BankError
    from redline.bank.sharing import approve

    try:
        with _database().write() as session:
            row = approve(session, shared_id, actor=CLI_ACTOR)
            entry = row.entry_id
    except BankError as exc:
        _fail(exc.detail)
    typer.echo(f"{shared_id} live as entry {entry}")


@sharing_app.command("refuse")
def sharing_refuse(
    shared_id: Annotated[int, typer.Argument(help="The shared hash's id.")],
    reason: Annotated[str, typer.Option(help="Why (kept in the audit log).")] = "",
) -> None:
    """Turn a pending pushed hash down; it stays refused when pushed again."""
    from redline.bank.errors import BankError
    from redline.bank.sharing import refuse

    try:
        with _database().write() as session:
            refuse(session, shared_id, actor=CLI_ACTOR, reason=reason)
    except BankError as exc:
        _fail(exc.detail)
    typer.echo(f"{shared_id} refused")


def register(app: typer.Typer) -> None:
    app.add_typer(sharing_app, name="sharing")
