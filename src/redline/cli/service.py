"""Service commands: ``serve``, ``db upgrade``, ``keys ...``, ``bank ...``, ``import``.

They act on the database named by ``REDLINE_DATABASE_URL`` (or SQLite under ``REDLINE_DATA_DIR``), and every
change they make is audited with the actor ``cli``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from redline.config import Settings

if TYPE_CHECKING:
    from redline.bank.db import Database

keys_app = typer.Typer(help="API keys for platforms, partners and operators.", no_args_is_help=True)
bank_app = typer.Typer(
    help="Banks: create, list, change thresholds and default actions.", no_args_is_help=True
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
CLI_ACTOR = "cli"


def _database() -> Database:
    from redline.bank.db import Database

    return Database(Settings.from_env().effective_database_url)


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def _checked(check: Callable[[str], str], value: str) -> str:
    """``value`` if the API would take it (bank/names.py), else exit with the reason."""
    from redline.bank.names import NameRefused

    try:
        return check(value)
    except NameRefused as exc:
        _fail(str(exc))
        raise  # unreachable: _fail exits


def _action(value: str) -> str:
    from redline.actions.models import ACTIONS

    if value not in ACTIONS:
        _fail(f"--action must be one of {', '.join(ACTIONS)}, got {value!r}")
    return value


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[
        int, typer.Option(min=1, help="Server processes; each keeps its own match index.")
    ] = 1,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            help="Reverse proxies whose X-Forwarded-For is believed: comma-separated IPs or CIDR ranges, "
            "or '*'. Default: REDLINE_FORWARDED_ALLOW_IPS, else 127.0.0.1.",
            show_default=False,
        ),
    ] = None,
    access_log: Annotated[
        bool | None,
        typer.Option(
            "--access-log/--no-access-log",
            help="One JSON line per request (route, status, time; never a path or a survivor's address). "
            "Default: REDLINE_ACCESS_LOG, else on.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run the HTTP service (survivor portal, platform API, operator API). Migrates the database first,
    and deletes what a crash may have left behind (uploads in progress)."""
    import os

    import uvicorn

    from redline.api.transport import HTTP_PROTOCOL
    from redline.api.uploads import clean_transient

    settings = Settings.from_env()
    if access_log is not None:
        # Workers build their app from the environment (create_app_from_env): pass the choice on.
        os.environ["REDLINE_ACCESS_LOG"] = "true" if access_log else "false"
    _database().upgrade()
    clean_transient(settings.data_dir)  # before any worker starts: nothing can be in use yet
    uvicorn.run(
        "redline.api.app:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        server_header=False,
        date_header=False,
        http=HTTP_PROTOCOL,
        proxy_headers=True,
        forwarded_allow_ips=forwarded_allow_ips or settings.forwarded_allow_ips,
        access_log=False,  # uvicorn's writes every path with the client's address (api/accesslog.py)
        log_config=LOG_CONFIG,
    )


#: uvicorn's own messages and ours (``redline.*``, the access log included) to stderr, one line each.
LOG_CONFIG: dict[str, object] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {
        "stderr": {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stderr"}
    },
    "loggers": {
        "uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        "redline": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
    },
}


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database schema to the current version."""
    _database().upgrade()
    typer.echo("database is up to date")


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="Who or what the key is for.")],
    scope: Annotated[
        list[str], typer.Option(help="submit, match, feed, review, admin, audit or flag; repeat for several.")
    ],
    partner: Annotated[str | None, typer.Option(help="Partner organisation the key belongs to.")] = None,
    bank: Annotated[
        list[str] | None,
        typer.Option(help="With --scope submit: a bank the key may add hashes to; repeat for several."),
    ] = None,
    feed_bank: Annotated[
        list[str] | None,
        typer.Option(help="With --scope feed: a bank the key reads in feeds; repeat for several."),
    ] = None,
) -> None:
    """Create an API key. The key is printed once, as the last line: store it now."""
    from redline.bank import grants, service
    from redline.bank.names import check_bank_name, check_label

    _checked(check_label, name)
    if partner is not None:
        _checked(check_label, partner)
    for each in [*(bank or []), *(feed_bank or [])]:
        _checked(check_bank_name, each)
    db = _database()
    settings = Settings.from_env()
    try:
        with db.write() as session:
            key, token = service.create_api_key(
                session, name=name, scopes=scope, actor=CLI_ACTOR, partner=partner
            )
            session.flush()
            for each in bank or []:
                grants.grant(session, key.id, each, actor=CLI_ACTOR, survivor_bank=settings.survivor_bank)
            for each in feed_bank or []:
                grants.grant(
                    session,
                    key.id,
                    each,
                    actor=CLI_ACTOR,
                    survivor_bank=settings.survivor_bank,
                    purpose="feed",
                )
            typer.echo(
                f"created key {key.id} ({', '.join(key.scopes)}) for {name}; it is shown only now:", err=True
            )
    except service.BankError as exc:
        _fail(exc.detail)
    typer.echo(token)


@keys_app.command("list")
def keys_list() -> None:
    """List API keys (never the keys themselves), with the banks they may add to and read."""
    from redline.bank import grants, service

    with _database().read() as session:
        for key in service.list_api_keys(session):
            state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
            banks = ",".join(grants.granted_banks(session, key.id)) or "-"
            reads = ",".join(grants.granted_banks(session, key.id, "feed")) or "-"
            typer.echo(f"{key.id}\t{key.name}\t{','.join(key.scopes)}\t{state}\tsubmit:{banks}\tfeed:{reads}")


@keys_app.command("grant")
def keys_grant(
    key_id: str,
    bank: Annotated[
        list[str] | None, typer.Option(help="A bank the submit key may add hashes to; repeat for several.")
    ] = None,
    feed_bank: Annotated[
        list[str] | None, typer.Option(help="A bank the feed key reads in feeds; repeat for several.")
    ] = None,
) -> None:
    """Let a submit key add hashes to banks (never the survivors' bank), or a feed key read them."""
    _change_grants(key_id, bank or [], feed_bank or [], take_back=False)


@keys_app.command("ungrant")
def keys_ungrant(
    key_id: str,
    bank: Annotated[
        list[str] | None, typer.Option(help="A bank to stop adding to; repeat for several.")
    ] = None,
    feed_bank: Annotated[
        list[str] | None, typer.Option(help="A bank to stop reading; repeat for several.")
    ] = None,
) -> None:
    """Stop a submit key adding hashes to banks, or a feed key reading them."""
    _change_grants(key_id, bank or [], feed_bank or [], take_back=True)


def _change_grants(key_id: str, submit: list[str], feed: list[str], *, take_back: bool) -> None:
    from redline.bank import grants, service

    if not submit and not feed:
        _fail("name at least one --bank or --feed-bank")
    settings = Settings.from_env()
    asked: list[tuple[str, grants.Purpose]] = [(b, "submit") for b in submit] + [(b, "feed") for b in feed]
    try:
        with _database().write() as session:
            for each, purpose in asked:
                if take_back:
                    grants.revoke(session, key_id, each, actor=CLI_ACTOR, purpose=purpose)
                else:
                    grants.grant(
                        session,
                        key_id,
                        each,
                        actor=CLI_ACTOR,
                        survivor_bank=settings.survivor_bank,
                        purpose=purpose,
                    )
    except service.BankError as exc:
        _fail(exc.detail)
    no = "no longer " if take_back else ""
    if submit:
        typer.echo(f"key {key_id} may {no}add hashes to {', '.join(submit)}")
    if feed:
        typer.echo(f"key {key_id} may {no}read {', '.join(feed)} in feeds")


@keys_app.command("revoke")
def keys_revoke(key_id: str) -> None:
    """Revoke an API key at once."""
    from redline.bank import service

    try:
        with _database().write() as session:
            service.revoke_api_key(session, key_id, actor=CLI_ACTOR)
    except service.BankError as exc:
        _fail(exc.detail)
    typer.echo(f"revoked {key_id}")


def _thresholds(values: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in values:
        name, _, raw = item.partition("=")
        if not raw.isdigit():
            _fail(f"threshold must look like pdq=31, got {item!r}")
        out[name] = int(raw)
    return out


@bank_app.command("create")
def bank_create(
    name: str,
    description: Annotated[str, typer.Option()] = "",
    threshold: Annotated[
        list[str] | None, typer.Option(help="TYPE=N, e.g. pdq=31; repeat for several.")
    ] = None,
    action: Annotated[
        str, typer.Option(help="Default action for matches: block_and_review, block, review or log.")
    ] = "review",
) -> None:
    """Create a bank."""
    from redline.bank import service
    from redline.bank.names import check_bank_name

    _checked(check_bank_name, name)
    _action(action)
    try:
        with _database().write() as session:
            service.create_bank(
                session,
                name=name,
                actor=CLI_ACTOR,
                description=description,
                thresholds=_thresholds(threshold or []),
                default_action=action,
            )
    except service.BankError as exc:
        _fail(exc.detail)
    typer.echo(f"created bank {name}")


@bank_app.command("list")
def bank_list() -> None:
    """List banks with their thresholds, default action and state."""
    from redline.bank import service
    from redline.signals.types import SIGNAL_TYPES

    with _database().read() as session:
        for bank in service.list_banks(session):
            limits = ",".join(f"{t}={service.threshold_for(bank.thresholds, t)}" for t in SIGNAL_TYPES)
            state = "enabled" if bank.enabled else "disabled"
            typer.echo(f"{bank.name}\t{limits}\t{bank.default_action}\t{state}")


@bank_app.command("set")
def bank_set(
    name: str,
    threshold: Annotated[list[str] | None, typer.Option(help="TYPE=N; repeat for several.")] = None,
    action: Annotated[
        str | None, typer.Option(help="Default action: block_and_review, block, review or log.")
    ] = None,
    description: Annotated[str | None, typer.Option()] = None,
    enabled: Annotated[bool | None, typer.Option("--enable/--disable", help="Matching on or off.")] = None,
) -> None:
    """Change a bank's thresholds, default action, description or state."""
    from redline.bank import service

    if action is not None:
        _action(action)
    try:
        with _database().write() as session:
            service.update_bank(
                session,
                name,
                actor=CLI_ACTOR,
                description=description,
                thresholds=_thresholds(threshold) if threshold else None,
                default_action=action,
                enabled=enabled,
            )
    except service.BankError as exc:
        _fail(exc.detail)
    typer.echo(f"updated bank {name}")


def import_hashes(
    path: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="CSV (type,value[,quality]) or JSONL.")
    ],
    bank: Annotated[str, typer.Option(help="Bank to add the hashes to.")],
    fmt: Annotated[
        str | None, typer.Option("--format", help="csv or jsonl (default: from the extension).")
    ] = None,
) -> None:
    """Import hashes into a bank. Every line is checked first: all are stored, or none."""
    from redline.bank import service
    from redline.bank.importing import parse_hashes

    chosen = fmt or ("csv" if path.suffix.lower() == ".csv" else "jsonl")
    if chosen not in ("csv", "jsonl"):
        _fail("--format must be csv or jsonl")
    try:
        hashes = parse_hashes(path.read_text(encoding="utf-8-sig"), "csv" if chosen == "csv" else "jsonl")
        with _database().write() as session:
            ids = service.add_entries(
                session, bank, hashes, source="import", origin=f"import:{path.name}", actor=CLI_ACTOR
            )
    except service.BankError as exc:
        _fail(exc.detail)
    typer.echo(f"imported {len(ids)} hashes into {bank}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("serve")(serve)
    app.command("import")(import_hashes)
    app.add_typer(db_app, name="db")
    app.add_typer(keys_app, name="keys")
    app.add_typer(bank_app, name="bank")
