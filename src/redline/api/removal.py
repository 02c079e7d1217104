"""Notice-and-removal routes (docs/REMOVAL.md).

Requesters (no account): the jurisdictions and what each asks, filing a request (rate-limited per address),
its status with the number and the secret (``X-Request-Secret``). These routes are tagged ``requesters``,
so the access log never writes an address next to them (``api/accesslog.py``); it never writes paths.

Staff (a ``review`` key; the console does the same through :mod:`redline.web.console.removals`): open
requests by time left, resolving and deciding items, the sweep, copies, flags, complaints, the record as
JSON / CSV / DSA statements; the requester's details and reports need ``admin``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Security
from fastapi import Path as PathParam
from fastapi.responses import Response
from fastapi.security import APIKeyHeader

from redline.api.deps import Caller, rate_limited, require_scope, services
from redline.api.problems import Problem
from redline.api.ratelimit import RateLimiter
from redline.api.removal_schemas import (
    ComplaintDecisionIn,
    ComplaintIn,
    ComplaintOut,
    CopyDecisionIn,
    Done,
    FlagIn,
    JurisdictionOut,
    RecordOut,
    RefuseIn,
    RemovalCreated,
    RemovalRequestIn,
    RemovalSummary,
    Removed,
    RemoveIn,
    ReportOut,
    RequesterItemOut,
    RequesterView,
    ResolveIn,
    SweepOut,
)
from redline.bank import service
from redline.bank.errors import WrongSecret
from redline.bank.models import utcnow
from redline.bank.secrets import SecretCheckBusy
from redline.removal import queue, records, reports
from redline.removal import requests as removal
from redline.removal.jurisdictions import JURISDICTIONS
from redline.removal.sweep import decide_copy, sweep
from redline.removal.validation import RequestForm
from redline.retro.seen import SeenIndex

log = logging.getLogger(__name__)
public = APIRouter(prefix="/v1", tags=["requesters"])
staff = APIRouter(prefix="/v1", tags=["operators"])
Staff = Annotated[Caller, Depends(require_scope("review"))]
Admin = Annotated[Caller, Depends(require_scope("admin"))]
Number = Annotated[str, PathParam(max_length=64)]
RowId = Annotated[int, PathParam(ge=1, le=2**62)]
request_secret = APIKeyHeader(
    name="X-Request-Secret", auto_error=False, description="the secret shown when the request was filed"
)


@dataclass
class RemovalServices:
    """What the removal routes keep per app besides the API's services."""

    filings: RateLimiter
    #: The process's live index of seen hashes (the retroactive matcher's), for sweeps; None: built per sweep.
    seen_index: Callable[[], SeenIndex] | None = None
    _warming: threading.Thread | None = None

    def warm(self) -> None:
        """Load the live seen index in the background once a request arrives, so the sweep after the
        moderator's confirmation does not wait for it (a process that does not run retroactive matching
        starts with it empty: 22.7 s at 1M seen uploads, docs/BENCHMARKS.md)."""
        if self.seen_index is None or self._warming is not None:
            return
        index = self.seen_index()

        def load() -> None:
            try:
                index.refresh()
            except Exception:  # the sweep refreshes it again anyway
                log.exception("loading the seen index for removal sweeps failed")

        self._warming = threading.Thread(target=load, name="removal-seen-index", daemon=True)
        self._warming.start()


def removal_services(request: Request) -> RemovalServices:
    found: RemovalServices = request.app.state.removal
    return found


# --- requesters -----------------------------------------------------------------------------------------


@public.get("/removal/jurisdictions", response_model=list[JurisdictionOut])
def jurisdictions() -> list[JurisdictionOut]:
    """What a valid request needs under each law, and the period the platform has."""
    return [
        JurisdictionOut(
            code=j.code,
            title=j.title,
            law=j.law,
            period_hours=j.period.total_seconds() / 3600,
            period_is_policy=j.period_is_policy,
            required=list(j.required),
            statements=list(j.statements),
        )
        for j in JURISDICTIONS.values()
    ]


@public.post("/removal-requests", status_code=201, response_model=RemovalCreated)
def file_request(body: RemovalRequestIn, request: Request) -> RemovalCreated:
    """File a removal request. Invalid: 422 with ``fields`` (field, code, message) for every problem, and
    nothing stored. Valid: the number, the secret (shown once) and the deadline."""
    found = services(request)
    rate_limited(removal_services(request).filings, request)
    pictures = [
        [service.normalize_hash(h.type, h.value, h.quality) for h in picture.hashes]
        for picture in body.pictures
    ]
    form = RequestForm(
        jurisdiction=body.jurisdiction,
        subject=body.subject,
        name=body.name,
        email=body.email,
        signature=body.signature,
        phone=body.phone,
        explanation=body.explanation,
        notice_reference=body.notice_reference,
        locations=body.locations,
        pictures=pictures,
        statements=frozenset(body.statements),
        case_id=body.case_id,
        case_secret=body.case_secret,
    )
    try:
        with found.db.write() as session:
            new = removal.file_request(session, form, found.cipher)
    except removal.InvalidRequest as exc:
        fields = [{"field": p.field, "code": p.code, "message": p.message} for p in exc.problems]
        raise Problem("validation-error", "the request is not complete", fields=fields) from None
    removal_services(request).warm()
    return RemovalCreated(
        number=new.number,
        secret=new.secret,
        received_at=new.received_at,
        deadline_at=new.deadline_at,
        jurisdiction=new.jurisdiction,
        follow="/removal.html#status",
    )


@public.get("/removal-requests/{number}", response_model=RequesterView)
def requester_view(
    request: Request, number: Number, secret: Annotated[str | None, Security(request_secret)]
) -> RequesterView:
    """The request as its requester sees it: status, the outcome, each item and the reason of a refusal."""
    found = services(request)
    if not secret:
        raise Problem("wrong-case-secret", "send the request's secret in the X-Request-Secret header")
    try:
        with found.db.read() as session:
            filed = removal.authenticate_request(session, number, secret[:256])
            items = removal.items_of(session, filed.id)
            copies = removal.copies_of(session, filed.id)
    except WrongSecret as exc:
        rate_limited(found.secret_failures, request)
        raise Problem("wrong-case-secret", exc.detail) from None
    except SecretCheckBusy:
        raise Problem("busy", "try again in a moment", headers={"Retry-After": "2"}) from None
    return RequesterView(
        number=filed.number,
        status=filed.status,
        outcome=removal.outcome_of(items),
        received_at=filed.received_at,
        deadline_at=filed.deadline_at,
        closed_at=filed.closed_at,
        items=[
            RequesterItemOut(
                position=i.position,
                status=i.status,
                reason=i.reason if i.status == "refused" else None,
                decided_at=i.decided_at,
            )
            for i in items
        ],
        copies_removed=sum(1 for c in copies if c.status == "removed"),
    )


# --- staff ----------------------------------------------------------------------------------------------


@staff.get("/removals", response_model=list[RemovalSummary])
def list_requests(
    request: Request, _: Staff, status: Annotated[str, Query(pattern="^(open|closed|all)$")] = "open"
) -> list[RemovalSummary]:
    """Requests by time left (the nearest deadline first); breached ones say so."""
    with services(request).db.read() as session:
        return [RemovalSummary(**vars(r)) for r in queue.requests_by_time_left(session, status, utcnow())]


@staff.get("/removals/{number}", response_model=RecordOut)
def get_record(request: Request, _: Staff, number: Number) -> RecordOut:
    """The request's whole record (without the requester's details)."""
    with services(request).db.read() as session:
        return records.record(session, removal.get_request(session, number))


@staff.get("/removals/{number}/record.csv", response_class=Response)
def get_record_csv(request: Request, _: Staff, number: Number) -> Response:
    with services(request).db.read() as session:
        data = records.record(session, removal.get_request(session, number))
    return Response(
        records.record_csv(data),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{data["request"]}.csv"'},
    )


@staff.get("/removals/{number}/dsa-statements", response_model=list[dict[str, object]])
def get_statements(request: Request, _: Staff, number: Number) -> list[dict[str, object]]:
    """Statements of reasons in the DSA Transparency Database API's fields; no personal data."""
    with services(request).db.read() as session:
        return records.dsa_statements(session, removal.get_request(session, number))


@staff.get("/removals/{number}/requester", response_model=dict[str, str])
def get_requester(request: Request, caller: Admin, number: Number) -> dict[str, str]:
    """The requester's details, to answer her; each reading is audited."""
    found = services(request)
    with found.db.write() as session:
        filed = removal.get_request(session, number)
        removal.log(session, filed, caller.actor, "requester.read")
        return removal.personal_details(filed, found.cipher)


@staff.post("/removals/{number}/items/{item_id}/resolve", response_model=Done)
def resolve(request: Request, caller: Staff, number: Number, item_id: RowId, body: ResolveIn) -> Done:
    """Say which of the platform's content the reported item is."""
    with services(request).db.write() as session:
        filed = removal.get_request(session, number, for_update=True)
        removal.resolve_item(session, filed, item_id, body.content_id, actor=caller.actor)
        return Done(number=filed.number, status=filed.status)


@staff.post("/removals/{number}/items/{item_id}/remove", response_model=Removed)
def remove(request: Request, caller: Staff, number: Number, item_id: RowId, body: RemoveIn) -> Removed:
    """The item was removed (or disabled): recorded, its hashes banked, the platform told; then the sweep
    runs and lists the copies it finds for a person to decide."""
    found = services(request)
    with found.db.write() as session:
        filed = removal.get_request(session, number, for_update=True)
        removal.remove_item(
            session,
            filed,
            item_id,
            method=body.method,
            actor=caller.actor,
            bank_name=found.settings.removal_bank,
        )
        done = Done(number=filed.number, status=filed.status)
    swept = _sweep(request, number, "system")
    return Removed(number=done.number, status=done.status, sweep=swept)


def _sweep(request: Request, number: str, actor: str) -> SweepOut:
    live = removal_services(request).seen_index
    result = sweep(services(request).db, number, actor=actor, index=live() if live else None)
    return SweepOut(exact=result.exact, perceptual=result.perceptual, seconds=round(result.seconds, 4))


@staff.post("/removals/{number}/items/{item_id}/refuse", response_model=Done)
def refuse(request: Request, caller: Staff, number: Number, item_id: RowId, body: RefuseIn) -> Done:
    with services(request).db.write() as session:
        filed = removal.get_request(session, number, for_update=True)
        removal.refuse_item(session, filed, item_id, reason=body.reason, note=body.note, actor=caller.actor)
        return Done(number=filed.number, status=filed.status)


@staff.post("/removals/{number}/sweep", response_model=SweepOut)
def run_sweep(request: Request, caller: Staff, number: Number) -> SweepOut:
    """Look for copies among content already seen and matched; new ones are listed for a person."""
    return _sweep(request, number, caller.actor)


@staff.post("/removals/{number}/copies/{copy_id}/decision", response_model=Done)
def copy_decision(
    request: Request, caller: Staff, number: Number, copy_id: RowId, body: CopyDecisionIn
) -> Done:
    with services(request).db.write() as session:
        filed = removal.get_request(session, number, for_update=True)
        decide_copy(
            session,
            filed,
            copy_id,
            decision=body.decision,
            reason=body.reason,
            note=body.note,
            actor=caller.actor,
        )
        return Done(number=filed.number, status=filed.status)


@staff.post("/removals/{number}/flags", response_model=Done)
def add_flag(request: Request, caller: Staff, number: Number, body: FlagIn) -> Done:
    with services(request).db.write() as session:
        filed = removal.get_request(session, number, for_update=True)
        removal.flag(session, filed, body.flag, note=body.note, actor=caller.actor)
        return Done(number=filed.number, status=filed.status)


@staff.post("/removals/{number}/complaints", status_code=201, response_model=ComplaintOut)
def complain(request: Request, caller: Staff, number: Number, body: ComplaintIn) -> ComplaintOut:
    """An uploader's complaint against a removal (DSA Art. 20), passed on by the platform."""
    found = services(request)
    with found.db.write() as session:
        filed = removal.get_request(session, number, for_update=True)
        complaint = removal.file_complaint(
            session,
            filed,
            content_id=body.content_id,
            text=body.text,
            cipher=found.cipher,
            actor=caller.actor,
        )
        return ComplaintOut(id=complaint.id, status=complaint.status)


@staff.post("/removals/{number}/complaints/{complaint_id}/decision", response_model=ComplaintOut)
def decide_complaint(
    request: Request, caller: Staff, number: Number, complaint_id: RowId, body: ComplaintDecisionIn
) -> ComplaintOut:
    with services(request).db.write() as session:
        filed = removal.get_request(session, number, for_update=True)
        complaint = removal.decide_complaint(
            session, filed, complaint_id, decision=body.decision, reason=body.reason, actor=caller.actor
        )
        return ComplaintOut(id=complaint.id, status=complaint.status)


@staff.get("/removal-reports", response_model=ReportOut)
def get_report(
    request: Request,
    _: Admin,
    days: Annotated[int, Query(ge=1, le=3660)] = 30,
) -> ReportOut:
    """Figures over the last ``days`` days."""
    until = utcnow()
    with services(request).db.read() as session:
        figures = reports.report(session, until - timedelta(days=days), until)
    return ReportOut(**figures.__dict__)
