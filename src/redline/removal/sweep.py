"""The sweep: copies of a request's pictures among the platform's content, exact and perceptual apart.

Two places are searched. Content already seen (uploads and back-catalogue scan files checked with a
content id, ``redline.retro.seen``) through :func:`~redline.retro.seen.find_seen`, at the wider whole-image
reach one request can afford (``robust.WHOLE_THRESHOLD``); and the match log of the bank entries the
removed items became, which holds re-uploads and what ``redline scan`` finds after the removal. Each copy
is listed for a person to confirm and remove, or dismiss with a reason: never removed or cleared here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from redline.actions.models import MatchLogEntry
from redline.bank.db import Database
from redline.bank.errors import Conflict, NotFound
from redline.bank.models import utcnow
from redline.removal.models import RemovalCopy, RemovalRequest
from redline.removal.requests import (
    DISMISS_REASONS,
    REMOVAL_METHODS,
    Refused,
    get_request,
    item_hashes,
    items_of,
    log,
    tell_uploader,
)
from redline.retro.seen import SeenIndex, SeenQuery, best_per_content, find_seen
from redline.signals.robust import WHOLE_THRESHOLD
from redline.signals.types import SIGNAL_TYPES

#: Perceptual queries of the sweep: a plain PDQ at the type's threshold, a survivor's crops at the robust
#: one, and every whole-image pair up to this reach.
SWEEP_WHOLE_REACH = WHOLE_THRESHOLD


@dataclass(frozen=True)
class SweepResult:
    exact: int
    perceptual: int
    seconds: float


def sweep(
    db: Database,
    number: str,
    *,
    actor: str,
    index: SeenIndex | None = None,
    whole_reach: int = SWEEP_WHOLE_REACH,
) -> SweepResult:
    """Search for copies of the request's items and list the new ones (a re-run adds only new copies).

    ``index``: a live :class:`SeenIndex` to reuse (the server passes its retroactive matcher's), brought up
    to date here (a refresh reads only the rows added since the last one); None builds one for this call,
    which reads every seen hash."""
    started = time.perf_counter()
    if index is not None:
        index.refresh()
    with db.read() as session:
        request = get_request(session, number)
        items = items_of(session, request.id)
        own = {i.content_id for i in items if i.content_id}
        queries: list[SeenQuery] = []
        for item in items:
            for h in item_hashes(session, item):
                queries.append(SeenQuery(h.signal_type, h.value))
        entry_ids = [e for i in items for e in i.entry_ids]
        logged = (
            session.execute(
                select(
                    MatchLogEntry.api_key_id,
                    MatchLogEntry.partner_id,
                    MatchLogEntry.content_id,
                    MatchLogEntry.query_type,
                    MatchLogEntry.distance,
                    MatchLogEntry.origin,
                ).where(MatchLogEntry.entry_id.in_(entry_ids), MatchLogEntry.content_id.is_not(None))
            ).all()
            if entry_ids
            else []
        )
    hits = best_per_content(find_seen(db, queries, index=index, whole_reach=whole_reach)) if queries else []
    found: dict[tuple[str, str], RemovalCopy] = {}
    for hit in hits:
        found[(hit.api_key_id, hit.content_id)] = RemovalCopy(
            content_id=hit.content_id,
            api_key_id=hit.api_key_id,
            partner_id=hit.partner_id,
            exact=hit.exact,
            signal_type=hit.signal_type,
            distance=hit.distance,
            found_in="scan" if hit.origin == "scan" else "seen",
        )
    for row in logged:
        key = (row.api_key_id, row.content_id)
        exact = not SIGNAL_TYPES[row.query_type].indexed() if row.query_type in SIGNAL_TYPES else False
        known = found.get(key)
        if known is None or (not exact, row.distance) < (not known.exact, known.distance):
            found[key] = RemovalCopy(
                content_id=row.content_id,
                api_key_id=row.api_key_id,
                partner_id=row.partner_id,
                exact=exact,
                signal_type=row.query_type,
                distance=row.distance,
                found_in="scan" if row.origin == "scan" else "matches",
            )
    with db.write() as session:
        request = get_request(session, number, for_update=True)
        listed = {
            (row.api_key_id, row.content_id)
            for row in session.execute(
                select(RemovalCopy.api_key_id, RemovalCopy.content_id).where(
                    RemovalCopy.request_id == request.id
                )
            )
        }
        new = [c for key, c in found.items() if key not in listed and key[1] not in own]
        now = utcnow()
        for copy in new:
            copy.request_id, copy.found_at, copy.status, copy.note = request.id, now, "pending", ""
            session.add(copy)
        exact_count = sum(1 for c in new if c.exact)
        log(
            session,
            request,
            actor,
            "swept",
            exact=exact_count,
            perceptual=len(new) - exact_count,
            queries=len(queries),
            whole_reach=whole_reach,
        )
    return SweepResult(exact_count, len(new) - exact_count, time.perf_counter() - started)


def decide_copy(
    session: Session,
    request: RemovalRequest,
    copy_id: int,
    *,
    decision: str,
    reason: str,
    note: str,
    actor: str,
) -> RemovalCopy:
    """A person's decision on one copy: ``removed`` (with a method as ``reason``: removed / disabled) or
    ``dismissed`` (with one of :data:`DISMISS_REASONS`)."""
    copy = session.get(RemovalCopy, copy_id, with_for_update=True)
    if copy is None or copy.request_id != request.id:
        raise NotFound("no such copy in this request")
    if copy.status != "pending":
        raise Conflict("this copy is already decided")
    if decision == "removed":
        if reason not in REMOVAL_METHODS:
            raise Refused(f"a removal's method is one of {', '.join(REMOVAL_METHODS)}")
    elif decision == "dismissed":
        if reason not in DISMISS_REASONS:
            raise Refused(f"a dismissal's reason is one of {', '.join(DISMISS_REASONS)}")
    else:
        raise Refused("decision is removed or dismissed")
    copy.status, copy.reason, copy.note = decision, reason, note.strip()[:4000]
    copy.decided_by, copy.decided_at = actor, utcnow()
    log(
        session,
        request,
        actor,
        f"copy.{decision}",
        content_id=copy.content_id,
        exact=copy.exact,
        reason=reason,
        within_deadline=copy.decided_at <= request.deadline_at,
    )
    if decision == "removed":
        tell_uploader(session, request, copy.content_id, reason)
    return copy
