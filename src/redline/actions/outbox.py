"""The webhook endpoint registry and operator replay. Events themselves are written by ``redline.events``
(in the transaction of the change they report) and delivered by ``redline.actions.worker``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from redline.actions.models import WebhookDelivery, WebhookEndpoint
from redline.actions.signing import new_secret, validate_secret
from redline.actions.urlpolicy import UrlPolicy, UrlRefused
from redline.bank.audit import audit
from redline.bank.models import utcnow
from redline.events import EVENT_TYPES

#: How long a replaced secret keeps signing after a rotation, so receivers can switch without failures.
DEFAULT_ROTATION_OVERLAP = timedelta(hours=24)


class EndpointError(ValueError):
    """A refused endpoint registration or change."""


# --- endpoint registry -------------------------------------------------------------------------------------


def _check_event_types(event_types: Sequence[str]) -> list[str]:
    types = sorted(set(event_types)) or ["*"]
    unknown = [t for t in types if t != "*" and t not in EVENT_TYPES]
    if unknown:
        raise EndpointError(f"unknown event types {unknown}; known: {', '.join(EVENT_TYPES)} or *")
    return types


def register_endpoint(
    session: Session,
    *,
    url: str,
    policy: UrlPolicy,
    actor: str,
    event_types: Sequence[str] = ("*",),
    partner_id: int | None = None,
    description: str = "",
    secret: str | None = None,
) -> tuple[WebhookEndpoint, str]:
    """Register a receiver (the URL is checked against the policy now, and again at every delivery).
    Returns the endpoint and its signing secret (shown to the operator once)."""
    try:
        policy.check(url)
    except UrlRefused as exc:
        raise EndpointError(str(exc)) from None
    signing_secret = validate_secret(secret) if secret else new_secret()
    endpoint = WebhookEndpoint(
        url=url,
        description=description,
        event_types=_check_event_types(event_types),
        partner_id=partner_id,
        secrets=[{"secret": signing_secret, "expires_at": None}],
        enabled=True,
        created_at=utcnow(),
    )
    session.add(endpoint)
    session.flush()
    audit(session, actor, "webhook.endpoint.created", f"webhook:{endpoint.id}", url=url, events=event_types)
    return endpoint, signing_secret


def get_endpoint(session: Session, endpoint_id: int) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise EndpointError(f"no webhook endpoint {endpoint_id}")
    return endpoint


def rotate_secret(
    session: Session,
    endpoint_id: int,
    *,
    actor: str,
    overlap: timedelta = DEFAULT_ROTATION_OVERLAP,
    secret: str | None = None,
) -> str:
    """A new signing secret; the previous ones keep signing for ``overlap`` so receivers can switch."""
    endpoint = get_endpoint(session, endpoint_id)
    fresh = validate_secret(secret) if secret else new_secret()
    until = (utcnow() + overlap).isoformat()
    kept = [
        {"secret": s["secret"], "expires_at": s["expires_at"] or until}
        for s in endpoint.secrets
        if s["expires_at"] is None or datetime.fromisoformat(s["expires_at"]) > utcnow()
    ]
    endpoint.secrets = [{"secret": fresh, "expires_at": None}, *kept]
    audit(session, actor, "webhook.secret.rotated", f"webhook:{endpoint_id}", old_secrets_expire=until)
    return fresh


def active_secrets(endpoint: WebhookEndpoint, now: datetime | None = None) -> list[str]:
    current = now or utcnow()
    return [
        s["secret"]
        for s in endpoint.secrets
        if s["expires_at"] is None or datetime.fromisoformat(s["expires_at"]) > current
    ]


def set_endpoint_enabled(session: Session, endpoint_id: int, enabled: bool, *, actor: str) -> WebhookEndpoint:
    endpoint = get_endpoint(session, endpoint_id)
    if endpoint.enabled != enabled:
        endpoint.enabled = enabled
        audit(
            session,
            actor,
            "webhook.endpoint." + ("enabled" if enabled else "disabled"),
            f"webhook:{endpoint_id}",
        )
    return endpoint


def list_endpoints(session: Session) -> Sequence[WebhookEndpoint]:
    return session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id)).all()


# --- replay ------------------------------------------------------------------------------------------------


def replay(
    session: Session,
    *,
    actor: str,
    delivery_ids: Sequence[int] = (),
    endpoint_id: int | None = None,
    dead_only: bool = True,
) -> int:
    """Operator replay: put deliveries (by id, or all of an endpoint's) back in the queue, due now.

    The event keeps its id, so a receiver that already processed it can recognise the duplicate.
    Returns how many deliveries were re-queued.
    """
    if not delivery_ids and endpoint_id is None:
        raise ValueError("name deliveries or an endpoint to replay")
    statement = update(WebhookDelivery).values(
        status="pending", next_attempt_at=utcnow(), lease_until=None, lease_owner=None, finished_at=None
    )
    if delivery_ids:
        statement = statement.where(WebhookDelivery.id.in_(list(delivery_ids)))
    if endpoint_id is not None:
        statement = statement.where(WebhookDelivery.endpoint_id == endpoint_id)
    if dead_only:
        statement = statement.where(WebhookDelivery.status == "dead")
    count = int(session.execute(statement).rowcount)  # type: ignore[attr-defined]
    audit(
        session,
        actor,
        "webhook.replayed",
        f"webhook:{endpoint_id}" if endpoint_id is not None else "webhook:deliveries",
        deliveries=list(delivery_ids),
        count=count,
    )
    return count
