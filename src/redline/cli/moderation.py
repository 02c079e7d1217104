"""Moderation commands: console users, webhook endpoints and the delivery worker, action rules.

Like the service commands they act on the database named by ``REDLINE_DATABASE_URL`` (or SQLite under
``REDLINE_DATA_DIR``) and audit every change with the actor ``cli``.
"""

from __future__ import annotations

import os
import signal
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from redline.config import Settings

if TYPE_CHECKING:
    from redline.actions.urlpolicy import UrlPolicy
    from redline.bank.db import Database

users_app = typer.Typer(help="Review console accounts (reviewers and admins).", no_args_is_help=True)
webhooks_app = typer.Typer(
    help="Webhook endpoints, deliveries and the delivery worker.", no_args_is_help=True
)
rules_app = typer.Typer(help="Action rules: which action a match gets, by bank, type and distance.")
CLI_ACTOR = "cli"


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def _database() -> Database:
    from redline.bank.db import Database

    return Database(Settings.from_env().effective_database_url)


# --- console users -----------------------------------------------------------------------------------------


@users_app.command("create")
def users_create(
    username: str,
    role: Annotated[str, typer.Option(help="reviewer or admin.")] = "reviewer",
    password_env: Annotated[
        str, typer.Option(help="Read the password from this environment variable instead of a prompt.")
    ] = "",
) -> None:
    """Create a console account (argon2-hashed password, at least 12 characters)."""
    from redline.bank.service import BankError
    from redline.review import accounts

    password = os.environ.get(password_env, "") if password_env else ""
    if not password:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        with _database().write() as session:
            user = accounts.create_user(
                session, username=username, password=password, role=role, actor=CLI_ACTOR
            )
            typer.echo(f"created {user.role} {user.username!r}")
    except BankError as exc:
        _fail(exc.detail)


@users_app.command("list")
def users_list() -> None:
    from redline.review import accounts

    with _database().read() as session:
        for user in accounts.list_users(session):
            state = "disabled" if user.disabled else "active"
            typer.echo(f"{user.username}\t{user.role}\t{state}\tlast sign-in {user.last_login_at or '-'}")


@users_app.command("disable")
def users_disable(username: str) -> None:
    """Disable an account and end its sessions."""
    from redline.bank.service import BankError
    from redline.review import accounts

    try:
        with _database().write() as session:
            accounts.set_disabled(session, username, True, actor=CLI_ACTOR)
    except BankError as exc:
        _fail(exc.detail)
    typer.echo(f"disabled {username!r}")


# --- webhooks ----------------------------------------------------------------------------------------------


def _policy() -> UrlPolicy:
    from redline.actions.worker import WorkerConfig

    return WorkerConfig.from_settings(Settings.from_env()).policy


@webhooks_app.command("add")
def webhooks_add(
    url: str,
    event: Annotated[
        list[str] | None, typer.Option(help="Event type to deliver; repeat; default all.")
    ] = None,
    partner: Annotated[
        str | None, typer.Option(help="Only this partner's events (and bank-wide ones).")
    ] = None,
    description: Annotated[str, typer.Option()] = "",
) -> None:
    """Register a receiver. The signing secret is printed once, as the last line."""
    from sqlalchemy import select

    from redline.actions import outbox
    from redline.bank.models import Partner

    try:
        with _database().write() as session:
            partner_id = None
            if partner:
                partner_id = session.scalar(select(Partner.id).where(Partner.name == partner))
                if partner_id is None:
                    _fail(f"no partner named {partner!r}")
            endpoint, secret = outbox.register_endpoint(
                session,
                url=url,
                policy=_policy(),
                actor=CLI_ACTOR,
                event_types=event or ["*"],
                partner_id=partner_id,
                description=description,
            )
            typer.echo(f"endpoint {endpoint.id} -> {endpoint.url} ({', '.join(endpoint.event_types)})")
    except outbox.EndpointError as exc:
        _fail(str(exc))
    typer.echo(secret)


@webhooks_app.command("list")
def webhooks_list() -> None:
    from sqlalchemy import func, select

    from redline.actions import outbox
    from redline.actions.models import WebhookDelivery

    with _database().read() as session:
        counts = {
            (endpoint_id, status): n
            for endpoint_id, status, n in session.execute(
                select(WebhookDelivery.endpoint_id, WebhookDelivery.status, func.count()).group_by(
                    WebhookDelivery.endpoint_id, WebhookDelivery.status
                )
            )
        }
        for e in outbox.list_endpoints(session):
            tally = ", ".join(f"{s} {counts.get((e.id, s), 0)}" for s in ("pending", "delivered", "dead"))
            state = "enabled" if e.enabled else "disabled"
            typer.echo(f"{e.id}\t{e.url}\t{state}\t{','.join(e.event_types)}\t{tally}")


@webhooks_app.command("rotate")
def webhooks_rotate(
    endpoint_id: int,
    overlap_hours: Annotated[float, typer.Option(help="How long the old secret keeps signing.")] = 24.0,
) -> None:
    """New signing secret (printed once, last line); the old one keeps signing during the overlap."""
    from datetime import timedelta

    from redline.actions import outbox

    try:
        with _database().write() as session:
            secret = outbox.rotate_secret(
                session, endpoint_id, actor=CLI_ACTOR, overlap=timedelta(hours=overlap_hours)
            )
    except outbox.EndpointError as exc:
        _fail(str(exc))
    typer.echo(secret)


@webhooks_app.command("disable")
def webhooks_disable(endpoint_id: int) -> None:
    from redline.actions import outbox

    try:
        with _database().write() as session:
            outbox.set_endpoint_enabled(session, endpoint_id, False, actor=CLI_ACTOR)
    except outbox.EndpointError as exc:
        _fail(str(exc))
    typer.echo(f"endpoint {endpoint_id} disabled")


@webhooks_app.command("replay")
def webhooks_replay(
    endpoint: Annotated[int | None, typer.Option(help="Replay this endpoint's deliveries.")] = None,
    delivery: Annotated[list[int] | None, typer.Option(help="Replay this delivery id; repeat.")] = None,
    all_statuses: Annotated[bool, typer.Option("--all", help="Also re-send delivered events.")] = False,
) -> None:
    """Put dead-lettered (or, with --all, any) deliveries back in the queue, with their original ids."""
    from redline.actions import outbox

    if endpoint is None and not delivery:
        _fail("name --endpoint or --delivery")
    with _database().write() as session:
        count = outbox.replay(
            session,
            actor=CLI_ACTOR,
            delivery_ids=delivery or [],
            endpoint_id=endpoint,
            dead_only=not all_statuses,
        )
    typer.echo(f"{count} deliveries queued again")


@webhooks_app.command("worker")
def webhooks_worker(
    lease_seconds: Annotated[
        float | None, typer.Option(help="How long a claimed delivery is exclusive (default from settings).")
    ] = None,
) -> None:
    """Run the delivery worker in the foreground until interrupted (also runs inside ``redline serve``)."""
    from dataclasses import replace

    from redline.actions.worker import DeliveryWorker, WorkerConfig

    config = WorkerConfig.from_settings(Settings.from_env())
    if lease_seconds is not None:
        config = replace(config, lease_s=lease_seconds)
    worker = DeliveryWorker(_database(), config)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        worker.stop(timeout=0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    typer.echo(f"webhook worker {worker.owner} running", err=True)
    worker.run()


# --- action rules ------------------------------------------------------------------------------------------


@rules_app.command("add")
def rules_add(
    action: Annotated[str, typer.Option(help="block_and_review, block, review or log.")],
    max_distance: Annotated[int, typer.Option(help="Largest distance (inclusive) the rule covers.")],
    min_distance: Annotated[int, typer.Option()] = 0,
    bank: Annotated[str | None, typer.Option(help="Only matches in this bank.")] = None,
    signal_type: Annotated[
        str | None, typer.Option("--type", help="Only this signal type (pdq, md5...).")
    ] = None,
    priority: Annotated[int, typer.Option(help="Lower wins when several rules apply.")] = 100,
) -> None:
    """Add an action rule; without rules, exact/PDQ ≤ 8 → block_and_review and other matches → review."""
    from redline.actions.rules import RuleError, add_rule
    from redline.bank.service import BankError, audit, get_bank

    try:
        with _database().write() as session:
            bank_id = get_bank(session, bank).id if bank else None
            rule = add_rule(
                session,
                action=action,
                max_distance=max_distance,
                min_distance=min_distance,
                bank_id=bank_id,
                signal_type=signal_type,
                priority=priority,
            )
            audit(session, CLI_ACTOR, "rule.created", f"rule:{rule.id}", rule_action=action, bank=bank)
            typer.echo(f"rule {rule.id} added")
    except (RuleError, BankError) as exc:
        _fail(str(exc))


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
    app.add_typer(webhooks_app, name="webhooks")
    app.add_typer(rules_app, name="rules")
