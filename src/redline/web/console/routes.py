"""The console's HTTP surface: module-level routes that load rows, call the review domain, and render.

Each route states what it needs as dependencies (:mod:`redline.web.console.deps`): ``Reviewer`` or
``Admin`` for pages, ``FormSender`` for POSTed forms (signed in and carrying the session's CSRF token).
Refusals are typed exceptions that :func:`mount_console` turns into redirects or refusal pages.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, FastAPI, Form, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from redline.bank.models import Case, Entry, utcnow
from redline.bank.service import BankError, Conflict, audit_page
from redline.intake.cases import flagger_records
from redline.mirror.sync import statuses as mirror_statuses
from redline.review import accounts, queue
from redline.review.models import ReviewItem
from redline.web.console import render
from redline.web.console.deps import (
    PRE_COOKIE,
    SESSION_COOKIE,
    Address,
    Admin,
    AdminOnly,
    ConsoleServices,
    FormExpired,
    FormSender,
    Reviewer,
    Services,
    SignInRequired,
)
from redline.web.console.render import Viewer

STATIC_DIR = Path(__file__).resolve().parent / "static"
#: No scripts, no frames, no plugins; previews may come from the platform's https URLs.
CONSOLE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' https:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
#: Ids fit the databases' 64-bit integers.
ItemId = Annotated[int, PathParam(ge=1, le=2**62)]
RowId = Annotated[int | None, Query(ge=1, le=2**62)]
Message = Annotated[str, Query(max_length=16)]
_PAST_EVERY_ID = 2**63 - 1

router = APIRouter(prefix="/console", include_in_schema=False)


def html(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers={"content-security-policy": CONSOLE_CSP})


def see_other(to: str) -> RedirectResponse:
    return RedirectResponse(to, status_code=303, headers={"content-security-policy": CONSOLE_CSP})


def _cookie_secure(request: Request) -> bool:
    return request.url.scheme == "https"


@router.get("")
def console_root() -> Response:
    """``/console`` without the slash (the README's link): the console lives at ``/console/``."""
    return RedirectResponse("/console/", status_code=308)


# --- sign-in -------------------------------------------------------------------------------------------


@router.get("/login")
def login_form(request: Request, error: Message = "") -> Response:
    # A pre-session CSRF token: the sign-in form itself cannot be posted from another site.
    pre = secrets.token_urlsafe(24)
    response = html(render.login_page(pre, error))
    response.set_cookie(
        PRE_COOKIE, pre, httponly=True, samesite="strict", secure=_cookie_secure(request), path="/console"
    )
    return response


@router.post("/login")
def login(
    request: Request,
    found: Services,
    address: Address,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    csrf_token: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    if not accounts.csrf_ok(request.cookies.get(PRE_COOKIE, ""), csrf_token):
        return see_other("/console/login?error=expired")
    with found.db.read() as session:
        if not found.throttle.allowed(session, username, address):
            return html(render.too_many_sign_ins(), 429)
    ttl = found.settings.console_session_ttl_s
    with found.db.write() as session:
        user = accounts.authenticate(session, username, password)
        if user is None:
            found.throttle.failed(session, username, address)
            return see_other("/console/login?error=wrong")
        token, _ = accounts.start_session(session, user, timedelta(seconds=ttl))
    response = see_other("/console/")
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=ttl,
        httponly=True,
        samesite="strict",
        secure=_cookie_secure(request),
        path="/console",
    )
    response.delete_cookie(PRE_COOKIE, path="/console")
    return response


@router.post("/logout")
def logout(request: Request, found: Services, _: FormSender) -> Response:
    with found.db.write() as session:
        accounts.end_session(session, request.cookies.get(SESSION_COOKIE, ""))
    response = see_other("/console/login")
    response.delete_cookie(SESSION_COOKIE, path="/console")
    return response


# --- queue and items -----------------------------------------------------------------------------------


@router.get("/")
def queue_page(found: Services, who: Reviewer, decided: RowId = None, error: Message = "") -> Response:
    with found.db.read() as session:
        items = queue.queue(session, limit=200)
        banks = queue.bank_names(session)
    return html(render.queue_page(Viewer.of(who), items, banks, now=utcnow(), decided=decided, error=error))


@router.get("/items/{item_id}")
def item_page(found: Services, who: Reviewer, item_id: ItemId, error: Message = "") -> Response:
    viewer = Viewer.of(who)
    with found.db.read() as session:
        item = session.get(ReviewItem, item_id)
        if item is None:
            return html(render.item_not_found(viewer), 404)
        entry = session.get(Entry, item.entry_id)
        case = session.get(Case, entry.case_id) if entry is not None and entry.case_id else None
        flagger = None
        if case is not None and case.flagged_by is not None:
            flagger = next(iter(flagger_records(session, case.flagged_by)), None)
        page = render.item_page(
            viewer,
            item,
            entry=entry,
            provenance=render.Provenance.of(entry, case, flagger),
            state=queue.entry_state(session, item.entry_id),
            banks=queue.bank_names(session),
            history=queue.decisions(session, item_id=item_id),
            now=utcnow(),
            error=error,
        )
    return html(page)


@router.get("/items/{item_id}/preview")
def item_preview(found: Services, _: Reviewer, item_id: ItemId) -> Response:
    with found.db.read() as session:
        item = session.get(ReviewItem, item_id)
        data, content_type, _url = queue.preview_of(item) if item else (None, None, None)
    if data is None or content_type is None:
        return Response(status_code=404)
    return Response(
        data,
        media_type=content_type,
        headers={"cache-control": "no-store", "content-security-policy": "default-src 'none'"},
    )


@router.post("/items/{item_id}/decision")
def decide(
    found: Services,
    who: FormSender,
    item_id: ItemId,
    decision: Annotated[str, Form(max_length=16)] = "",
    note: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    try:
        with found.db.write() as session:
            queue.decide(
                session,
                item_id,
                reviewer=f"user:{who.user.id}",
                decision=decision,
                note=note.strip(),
                reject_quarantine=found.settings.review_reject_quarantine,
                may_decide_escalated=who.user.role == "admin",
            )
    except Conflict:
        return see_other(f"/console/items/{item_id}?error=decided")
    except queue.NeedsAdmin:
        return see_other(f"/console/items/{item_id}?error=escalated")
    except BankError:  # not a decision, a note too long, or no such item
        return see_other(f"/console/items/{item_id}?error=invalid")
    return see_other(f"/console/?decided={item_id}")


# --- history, flagged entries, audit -------------------------------------------------------------------


@router.get("/history")
def history(found: Services, who: Reviewer) -> Response:
    with found.db.read() as session:
        rows = queue.decisions(session, limit=300)
    return html(render.history_page(Viewer.of(who), rows))


@router.get("/flagged")
def flagged(found: Services, who: Admin) -> Response:
    with found.db.read() as session:
        rows = queue.flagged_entries(session)
        banks = queue.bank_names(session)
    return html(render.flagged_page(Viewer.of(who), rows, banks))


@router.get("/mirrors")
def mirrors(found: Services, who: Admin) -> Response:
    with found.db.read() as session:
        rows = mirror_statuses(session)
    return html(render.mirrors_page(Viewer.of(who), rows))


@router.get("/audit")
def audit_log(found: Services, who: Admin, before: RowId = None) -> Response:
    with found.db.read() as session:
        events = audit_page(session, 0, render.AUDIT_PAGE_SIZE, before_id=before or _PAST_EVERY_ID)
    return html(render.audit_log_page(Viewer.of(who), events[::-1]))


# --- composition ---------------------------------------------------------------------------------------


def mount_console(app: FastAPI, services: ConsoleServices) -> None:
    """Serve the console on ``app`` with ``services`` (before any catch-all mount at ``/``)."""
    app.state.console = services

    @app.exception_handler(SignInRequired)
    async def _sign_in(_: Request, __: SignInRequired) -> Response:
        return see_other("/console/login")

    @app.exception_handler(AdminOnly)
    async def _admin_only(_: Request, __: AdminOnly) -> Response:
        return see_other("/console/?error=admin")

    @app.exception_handler(FormExpired)
    async def _form_expired(_: Request, exc: FormExpired) -> Response:
        return html(render.form_expired(Viewer.of(exc.who)), 403)

    app.include_router(router)
    from redline.web.console.removals import router as removals  # imports this module's helpers

    app.include_router(removals)
    app.mount("/console/static", StaticFiles(directory=STATIC_DIR), name="console-static")
