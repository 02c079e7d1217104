"""Figures over a period: requests, time to removal (median, p95), share removed within the deadline,
copies found per request, refusals by reason. What a transparency report or a regulator asks."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from redline.removal.models import RemovalCopy, RemovalItem, RemovalRequest


@dataclass(frozen=True)
class Report:
    since: datetime
    until: datetime
    requests: int
    by_jurisdiction: dict[str, int]
    closed: int
    open: int
    breached: int
    flagged: int
    #: Requests with at least one removal: hours from receipt to the last item's removal.
    median_hours_to_removal: float | None
    p95_hours_to_removal: float | None
    within_deadline_share: float | None
    copies_found_per_request: float | None
    copies_removed: int
    refusals_by_reason: dict[str, int] = field(default_factory=dict)


def _quantile(values: list[float], q: float) -> float | None:
    """Nearest-rank quantile (what a reader can check by hand)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-int(q * 1000) * len(ordered) // 1000))
    return round(ordered[min(rank, len(ordered)) - 1], 3)


def report(session: Session, since: datetime, until: datetime) -> Report:
    requests = session.scalars(
        select(RemovalRequest).where(RemovalRequest.received_at >= since, RemovalRequest.received_at < until)
    ).all()
    ids = [r.id for r in requests]
    items = session.scalars(select(RemovalItem).where(RemovalItem.request_id.in_(ids))).all() if ids else []
    copies = session.scalars(select(RemovalCopy).where(RemovalCopy.request_id.in_(ids))).all() if ids else []
    by_request: dict[int, list[RemovalItem]] = {}
    for item in items:
        by_request.setdefault(item.request_id, []).append(item)
    hours: list[float] = []
    within = 0
    for request in requests:
        removed = [
            i.decided_at for i in by_request.get(request.id, []) if i.status == "removed" and i.decided_at
        ]
        if removed:
            last = max(removed)
            hours.append((last - request.received_at).total_seconds() / 3600)
            within += int(last <= request.deadline_at and request.breached_at is None)
    refusals = Counter(i.reason or "unspecified" for i in items if i.status == "refused")
    return Report(
        since=since,
        until=until,
        requests=len(requests),
        by_jurisdiction=dict(Counter(r.jurisdiction for r in requests)),
        closed=sum(1 for r in requests if r.status == "closed"),
        open=sum(1 for r in requests if r.status == "open"),
        breached=sum(1 for r in requests if r.breached_at is not None),
        flagged=sum(1 for r in requests if r.flags),
        median_hours_to_removal=_quantile(hours, 0.5),
        p95_hours_to_removal=_quantile(hours, 0.95),
        within_deadline_share=round(within / len(hours), 4) if hours else None,
        copies_found_per_request=round(len(copies) / len(requests), 3) if requests else None,
        copies_removed=sum(1 for c in copies if c.status == "removed"),
        refusals_by_reason=dict(refusals),
    )
