"""The console's removal pages: open requests by time left, one request (items, the sweep, copies, flags,
the record), the printable record and its exports. Forms carry the session's CSRF token like every other
console form; each action calls the removal domain (``redline.removal``) as the API does."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import Response
from sqlalchemy.orm import Session

from redline.bank.errors import BankError, Conflict, NotFound
from redline.bank.models import utcnow
from redline.removal import queue, records, reports
from redline.removal import requests as removal
from redline.removal.models import RemovalRequest
from redline.removal.sweep import decide_copy, sweep
from redline.web.console import removals_render as pages
from redline.web.console.deps import Admin, FormSender, Reviewer, Services
from redline.web.console.render import Viewer
from redline.web.console.routes import html, see_other

router = APIRouter(prefix="/console/removals", include_in_schema=False)
Number = Annotated[str, PathParam(max_length=64)]
RowId = Annotated[int, PathParam(ge=1, le=2**62)]
Message = Annotated[str, Query(max_length=16)]
Text = Annotated[str, Form(max_length=4000)]
Choice = Annotated[str, Form(max_length=32)]


def _actor(who: FormSender) -> str:
    return f"user:{who.user.id}"


@router.get("")
def removal_queue(
    found: Services, who: Reviewer, status: Annotated[str, Query(pattern="^(open|closed|all)$")] = "open"
) -> Response:
    with found.db.read() as session:
        rows = queue.requests_by_time_left(session, status, utcnow())
    return html(pages.queue_page(Viewer.of(who), rows, status))


@router.get("/report")
def report(found: Services, who: Admin, days: Annotated[int, Query(ge=1, le=3660)] = 30) -> Response:
    until = utcnow()
    with found.db.read() as session:
        figures = reports.report(session, until - timedelta(days=days), until)
    return html(pages.report_page(Viewer.of(who), figures, days))


@router.get("/{number}")
def request_page(found: Services, who: Reviewer, number: Number, message: Message = "") -> Response:
    viewer = Viewer.of(who)
    try:
        with found.db.read() as session:
            data = records.record(session, removal.get_request(session, number))
    except NotFound:
        return html(pages.not_found(viewer), 404)
    return html(pages.request_page(viewer, data, now=utcnow(), message=message))


@router.get("/{number}/print")
def print_page(found: Services, who: Reviewer, number: Number) -> Response:
    try:
        with found.db.read() as session:
            data = records.record(session, removal.get_request(session, number))
    except NotFound:
        return html(pages.not_found(Viewer.of(who)), 404)
    return html(pages.print_page(data, now=utcnow()))


def _download(body: str, media_type: str, name: str) -> Response:
    return Response(
        body,
        media_type=media_type,
        headers={"content-disposition": f'attachment; filename="{name}"', "cache-control": "no-store"},
    )


@router.get("/{number}/record.json")
def record_json(found: Services, _: Reviewer, number: Number) -> Response:
    with found.db.read() as session:
        data = records.record(session, removal.get_request(session, number))
    return _download(json.dumps(data, indent=2), "application/json", f"{data['request']}.json")


@router.get("/{number}/record.csv")
def record_csv(found: Services, _: Reviewer, number: Number) -> Response:
    with found.db.read() as session:
        data = records.record(session, removal.get_request(session, number))
    return _download(records.record_csv(data), "text/csv; charset=utf-8", f"{data['request']}.csv")


@router.get("/{number}/dsa.json")
def dsa_json(found: Services, _: Reviewer, number: Number) -> Response:
    with found.db.read() as session:
        request = removal.get_request(session, number)
        statements = records.dsa_statements(session, request)
    return _download(json.dumps(statements, indent=2), "application/json", f"{request.number}-dsa.json")


def _back(number: str, message: str) -> Response:
    return see_other(f"/console/removals/{removal.normal_number(number)}?message={message}")


@router.post("/{number}/items/{item_id}/resolve")
def resolve(
    found: Services,
    who: FormSender,
    number: Number,
    item_id: RowId,
    content_id: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    return _act(
        number, lambda s, r: removal.resolve_item(s, r, item_id, content_id, actor=_actor(who)), found
    )


@router.post("/{number}/items/{item_id}/remove")
def remove(
    request: Request, found: Services, who: FormSender, number: Number, item_id: RowId, method: Choice = ""
) -> Response:
    """Confirm the removal, then run the sweep at once (its copies are listed on the page)."""
    bank = found.settings.removal_bank
    answer = _act(
        number,
        lambda s, r: removal.remove_item(s, r, item_id, method=method, actor=_actor(who), bank_name=bank),
        found,
    )
    if answer.headers.get("location", "").endswith("message=saved"):
        _sweep(request, found, number, "system")
        return _back(number, "swept")
    return answer


def _sweep(request: Request, found: Services, number: str, actor: str) -> None:
    # The app's live seen index, when it has one (api.removal.RemovalServices; not imported: the console
    # never imports redline.api).
    live = getattr(getattr(request.app.state, "removal", None), "seen_index", None)
    sweep(found.db, number, actor=actor, index=live() if live else None)


@router.post("/{number}/items/{item_id}/refuse")
def refuse(
    found: Services, who: FormSender, number: Number, item_id: RowId, reason: Choice = "", note: Text = ""
) -> Response:
    return _act(
        number,
        lambda s, r: removal.refuse_item(s, r, item_id, reason=reason, note=note, actor=_actor(who)),
        found,
    )


@router.post("/{number}/copies/{copy_id}/decision")
def copy_decision(
    found: Services,
    who: FormSender,
    number: Number,
    copy_id: RowId,
    decision: Choice = "",
    reason: Choice = "",
    note: Text = "",
) -> Response:
    return _act(
        number,
        lambda s, r: decide_copy(
            s, r, copy_id, decision=decision, reason=reason, note=note, actor=_actor(who)
        ),
        found,
    )


@router.post("/{number}/flags")
def add_flag(
    found: Services, who: FormSender, number: Number, flag: Choice = "", note: Text = ""
) -> Response:
    return _act(number, lambda s, r: removal.flag(s, r, flag, note=note, actor=_actor(who)), found)


@router.post("/{number}/complaints/{complaint_id}/decision")
def complaint_decision(
    found: Services,
    who: FormSender,
    number: Number,
    complaint_id: RowId,
    decision: Choice = "",
    reason: Text = "",
) -> Response:
    return _act(
        number,
        lambda s, r: removal.decide_complaint(
            s, r, complaint_id, decision=decision, reason=reason, actor=_actor(who)
        ),
        found,
    )


@router.post("/{number}/sweep")
def run_sweep(request: Request, found: Services, who: FormSender, number: Number) -> Response:
    try:
        _sweep(request, found, number, _actor(who))
    except NotFound:
        return see_other("/console/removals")
    return _back(number, "swept")


def _act(number: str, action: Callable[[Session, RemovalRequest], object], found: Services) -> Response:
    """Run one decision in a write transaction; refusals come back to the page as a message code."""
    try:
        with found.db.write() as session:
            action(session, removal.get_request(session, number, for_update=True))
    except NotFound:
        return see_other("/console/removals")
    except Conflict:
        return _back(number, "decided")
    except BankError:
        return _back(number, "invalid")
    return _back(number, "saved")
