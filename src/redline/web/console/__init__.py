"""The review console at ``/console``: server-rendered pages for the operator's reviewers and admins.

Security model: sign-in with an argon2-hashed password (throttled per username and address); a server-side
session in an ``HttpOnly``, ``SameSite=Strict`` cookie scoped to ``/console`` (``Secure`` when served over
HTTPS); a CSRF token in every form, checked on every POST (sign-in included, with a pre-session token). The
pages carry no script at all: the console's Content-Security-Policy forbids scripts outright. Previews are the
platform's content, blurred and greyscale until the reviewer chooses to reveal them (wellbeing), and are
served only to signed-in staff with ``no-store``. Survivors' images do not exist here, and nothing shown comes
from a case (no case numbers, no secrets).
"""

from __future__ import annotations

import json
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, FastAPI, Form, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import select

from redline.api.deps import client_address, services
from redline.bank.models import AuditEvent, Entry
from redline.bank.service import BankError, Conflict
from redline.review import accounts, queue
from redline.review.accounts import LoginThrottle, SignedIn
from redline.review.models import ReviewDecision, ReviewItem
from redline.web.console.html import age, esc, page, when

STATIC_DIR = Path(__file__).resolve().parent / "static"
SESSION_COOKIE = "redline_console"
PRE_COOKIE = "redline_console_pre"
#: No scripts, no frames, no plugins; previews may come from the platform's https URLs.
CONSOLE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' https:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
#: Item ids fit the databases' 64-bit integers.
ItemId = Annotated[int, PathParam(ge=1, le=2**62)]
_SEVERITY = {3: "high", 2: "medium", 1: "normal"}
_DECISION_LABEL = {
    "confirm": "Confirm: intimate-image abuse",
    "reject": "Not intimate-image abuse",
    "escalate": "Escalate",
}


#: Messages a redirect may ask a page to show, by code: the query string never carries text onto a page.
_MESSAGES = {
    "expired": "Your sign-in form expired: please try again.",
    "wrong": "Wrong username or password.",
    "admin": "Only admins can open that page.",
    "decided": "This item was already decided.",
    "escalated": "Escalated items are decided by an admin.",
    "invalid": "Choose one of the decisions.",
}
Message = Annotated[str, Query(max_length=16)]


def _message(code: str) -> str:
    text = _MESSAGES.get(code)
    return f'<p class="error">{esc(text)}</p>' if text else ""


class _Redirect(Exception):
    def __init__(self, to: str) -> None:
        self.to = to


def _html(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers={"content-security-policy": CONSOLE_CSP})


def _see_other(to: str) -> RedirectResponse:
    return RedirectResponse(to, status_code=303, headers={"content-security-policy": CONSOLE_CSP})


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _signed_in(request: Request) -> SignedIn | None:
    with services(request).db.read() as session:
        return accounts.current(session, request.cookies.get(SESSION_COOKIE))


def _require(request: Request, *, admin: bool = False) -> SignedIn:
    who = _signed_in(request)
    if who is None:
        raise _Redirect("/console/login")
    if admin and who.user.role != "admin":
        raise _Redirect("/console/?error=admin")
    return who


def _page(who: SignedIn, title: str, body: str, status: int = 200) -> HTMLResponse:
    return _html(page(title, body, user=who.user.username, role=who.user.role, csrf=who.csrf_token), status)


def _csrf_field(token: str) -> str:
    return f'<input type="hidden" name="csrf_token" value="{esc(token)}">'


def build_router() -> APIRouter:
    router = APIRouter(prefix="/console", include_in_schema=False)
    throttle_holder: dict[str, LoginThrottle] = {}

    def throttle(request: Request) -> LoginThrottle:
        if "t" not in throttle_holder:
            throttle_holder["t"] = LoginThrottle(services(request).settings.console_login_attempts)
        return throttle_holder["t"]

    # --- sign-in ---------------------------------------------------------------------------------------

    @router.get("/login")
    def login_form(request: Request, error: Message = "") -> Response:
        pre = secrets.token_urlsafe(24)
        message = _message(error)
        body = (
            '<div class="login card"><h1>Sign in</h1>'
            f"{message}"
            '<form method="post" action="/console/login">'
            f"{_csrf_field(pre)}"
            '<p><label>Username<input type="text" name="username" autocomplete="username" required>'
            "</label></p>"
            '<p><label>Password<input type="password" name="password" autocomplete="current-password" '
            "required></label></p>"
            '<button type="submit">Sign in</button></form></div>'
        )
        response = _html(page("Sign in", body))
        response.set_cookie(
            PRE_COOKIE, pre, httponly=True, samesite="strict", secure=_secure(request), path="/console"
        )
        return response

    @router.post("/login")
    def login(
        request: Request,
        username: Annotated[str, Form(max_length=64)],
        password: Annotated[str, Form(max_length=1024)],
        csrf_token: Annotated[str, Form(max_length=128)] = "",
    ) -> Response:
        if not accounts.csrf_ok(request.cookies.get(PRE_COOKIE, ""), csrf_token):
            return _see_other("/console/login?error=expired")
        address = client_address(request)
        limiter = throttle(request)
        if not limiter.allowed(username, address):
            body = '<div class="login card"><p class="error">Too many failed sign-ins. Wait 15 minutes.</p>'
            return _html(page("Sign in", body), 429)
        found = services(request)
        with found.db.write() as session:
            user = accounts.authenticate(session, username, password)
            if user is None:
                limiter.failed(username, address)
                return _see_other("/console/login?error=wrong")
            token, _ = accounts.start_session(
                session, user, timedelta(seconds=found.settings.console_session_ttl_s)
            )
        response = _see_other("/console/")
        response.set_cookie(
            SESSION_COOKIE,
            token,
            max_age=found.settings.console_session_ttl_s,
            httponly=True,
            samesite="strict",
            secure=_secure(request),
            path="/console",
        )
        response.delete_cookie(PRE_COOKIE, path="/console")
        return response

    @router.post("/logout")
    def logout(request: Request, csrf_token: Annotated[str, Form(max_length=128)] = "") -> Response:
        who = _require(request)
        if not accounts.csrf_ok(who.csrf_token, csrf_token):
            return _html(page("Refused", '<p class="error">Form expired. Go back and try again.</p>'), 403)
        with services(request).db.write() as session:
            accounts.end_session(session, request.cookies.get(SESSION_COOKIE, ""))
        response = _see_other("/console/login")
        response.delete_cookie(SESSION_COOKIE, path="/console")
        return response

    # --- queue -----------------------------------------------------------------------------------------

    @router.get("/")
    def queue_page(
        request: Request, decided: Annotated[int | None, Query(ge=1, le=2**62)] = None, error: Message = ""
    ) -> Response:
        who = _require(request)
        with services(request).db.read() as session:
            items = queue.queue(session, limit=200)
            banks = queue.bank_names(session)
        notes = ""
        if decided is not None:
            notes += f'<p class="notice">Decision recorded for item {decided}.</p>'
        notes += _message(error)
        rows = "".join(
            f'<tr data-item="{item.id}"><td><a href="/console/items/{item.id}">#{item.id}</a></td>'
            f'<td class="sev-{item.severity}">{esc(_SEVERITY.get(item.severity, item.severity))}</td>'
            f"<td>{esc(item.status)}</td><td>{esc(banks.get(item.bank_id, item.bank_id))}</td>"
            f"<td>{esc(item.signal_type)} · {item.distance}</td><td>{esc(item.action)}</td>"
            f"<td><code>{esc(item.content_id or '')}</code></td>"
            f'<td class="age">{esc(age(item.created_at))}</td></tr>'
            for item in items
        )
        table = (
            "<table><thead><tr><th>Item</th><th>Severity</th><th>Status</th><th>Bank</th>"
            "<th>Match</th><th>Action</th><th>Platform content</th><th>Time in queue</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>"
            if items
            else '<p class="muted">The queue is empty.</p>'
        )
        body = f"<h1>Review queue ({len(items)})</h1>{notes}{table}"
        return _page(who, "Queue", body)

    @router.get("/items/{item_id}")
    def item_page(request: Request, item_id: ItemId, error: Message = "") -> Response:
        who = _require(request)
        with services(request).db.read() as session:
            item = session.get(ReviewItem, item_id)
            if item is None:
                return _page(who, "Not found", "<h1>No such item</h1>", 404)
            entry = session.get(Entry, item.entry_id)
            state = queue.entry_state(session, item.entry_id)
            banks = queue.bank_names(session)
            history = queue.decisions(session, item_id=item_id)
        data, _, url = queue.preview_of(item)
        if data is not None or url is not None:
            source = f"/console/items/{item.id}/preview" if data is not None else (url or "")
            preview = (
                '<div class="preview">'
                f'<input type="checkbox" class="reveal" id="reveal-{item.id}">'
                f'<label for="reveal-{item.id}"><span class="show">Reveal image</span>'
                '<span class="hide">Blur again</span></label>'
                f'<img src="{esc(source)}" alt="The platform content (blurred)" id="preview-{item.id}">'
                "</div>"
                f'<p class="muted">Kept until decided or {esc(when(item.preview_expires_at))}.</p>'
            )
        else:
            preview = '<p class="muted">The platform supplied no preview (or it has expired).</p>'
        confirmed = state.confirmed if state else 0
        rejected = state.rejected if state else 0
        details = (
            "<dl>"
            f"<dt>Bank</dt><dd>{esc(banks.get(item.bank_id, item.bank_id))}</dd>"
            f"<dt>Match</dt><dd>{esc(item.signal_type)}, distance {item.distance}</dd>"
            f"<dt>Action taken</dt><dd>{esc(item.action)}</dd>"
            f"<dt>Platform content id</dt><dd><code>{esc(item.content_id or '')}</code></dd>"
            f"<dt>Platform metadata</dt><dd><code>{esc(json.dumps(item.meta, sort_keys=True))}</code></dd>"
            f"<dt>Time in queue</dt><dd>{esc(age(item.created_at))}</dd>"
            f"<dt>Status</dt><dd>{esc(item.status)}</dd>"
            f"<dt>Matched entry</dt><dd>#{item.entry_id} · {esc(entry.status if entry else '?')} · "
            f"tags {esc(', '.join(entry.tags) if entry else '')}</dd>"
            f'<dt>Entry verdicts</dt><dd id="entry-counts">{confirmed} confirmed, {rejected} rejected'
            f"{' · verified' if state and state.verified else ''}"
            f"{' · flagged for operator audit' if state and state.flagged_for_audit else ''}</dd>"
            "</dl>"
        )
        can_decide = item.status == "pending" or (item.status == "escalated" and who.user.role == "admin")
        if can_decide:
            choices = "".join(
                f'<label class="choice"><input type="radio" name="decision" value="{d}" required> '
                f"{esc(label)}</label>"
                for d, label in _DECISION_LABEL.items()
                if not (d == "escalate" and item.status == "escalated")
            )
            form = (
                f'<form method="post" action="/console/items/{item.id}/decision" class="card">'
                f"{_csrf_field(who.csrf_token)}<fieldset><legend>Decision</legend>{choices}"
                '<p><label>Note (shown in the decision history)<textarea name="note" maxlength="4000">'
                '</textarea></label></p><button type="submit">Record decision</button></fieldset></form>'
            )
        elif item.status == "escalated":
            form = '<p class="notice">Escalated: an admin decides this item.</p>'
        else:
            form = '<p class="notice">Decided.</p>'
        message = _message(error)
        body = (
            f"<h1>Review item #{item.id}</h1>{message}"
            f'<div class="card">{preview}</div><div class="card">{details}</div>{form}'
            f"<h2>Decisions on this item</h2>{_decision_table(history)}"
        )
        return _page(who, f"Item {item.id}", body)

    @router.get("/items/{item_id}/preview")
    def item_preview(request: Request, item_id: ItemId) -> Response:
        _require(request)
        with services(request).db.read() as session:
            item = session.get(ReviewItem, item_id)
            data, content_type, _ = queue.preview_of(item) if item else (None, None, None)
        if data is None or content_type is None:
            return Response(status_code=404)
        return Response(
            data,
            media_type=content_type,
            headers={"cache-control": "no-store", "content-security-policy": "default-src 'none'"},
        )

    @router.post("/items/{item_id}/decision")
    def decide(
        request: Request,
        item_id: ItemId,
        decision: Annotated[str, Form(max_length=16)] = "",
        note: Annotated[str, Form(max_length=4000)] = "",
        csrf_token: Annotated[str, Form(max_length=128)] = "",
    ) -> Response:
        who = _require(request)
        if not accounts.csrf_ok(who.csrf_token, csrf_token):
            return _page(who, "Refused", '<p class="error">Form expired. Go back and reload.</p>', 403)
        found = services(request)
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
            return _see_other(f"/console/items/{item_id}?error=decided")
        except BankError as exc:
            code = "escalated" if "admin" in exc.detail else "invalid"
            return _see_other(f"/console/items/{item_id}?error={code}")
        return _see_other(f"/console/?decided={item_id}")

    # --- history and audit -----------------------------------------------------------------------------

    @router.get("/history")
    def history(request: Request) -> Response:
        who = _require(request)
        with services(request).db.read() as session:
            rows = queue.decisions(session, limit=300)
        return _page(who, "Decisions", f"<h1>Decision history</h1>{_decision_table(rows, link=True)}")

    @router.get("/flagged")
    def flagged(request: Request) -> Response:
        who = _require(request, admin=True)
        with services(request).db.read() as session:
            rows = queue.flagged_entries(session)
            banks = queue.bank_names(session)
        body_rows = "".join(
            f"<tr><td>#{entry.id}</td><td>{esc(banks.get(entry.bank_id, entry.bank_id))}</td>"
            f"<td>{esc(entry.signal_type)}</td><td>{esc(entry.source)}</td><td>{esc(entry.status)}</td>"
            f"<td>{state.confirmed}</td><td>{state.rejected}</td><td>{esc(when(state.updated_at))}</td></tr>"
            for state, entry in rows
        )
        table = (
            "<table><thead><tr><th>Entry</th><th>Bank</th><th>Type</th><th>Source</th><th>Status</th>"
            f"<th>Confirmed</th><th>Rejected</th><th>Flagged</th></tr></thead><tbody>{body_rows}</tbody></table>"
            if rows
            else '<p class="muted">No entries are waiting for an audit.</p>'
        )
        intro = (
            '<p class="muted">Quarantined because independent reviewers rejected them: check how each was '
            "submitted, then release it (<code>PATCH /v1/entries/{id}</code>) or leave it quarantined. A "
            "released entry is not quarantined again automatically.</p>"
        )
        return _page(who, "Flagged entries", f"<h1>Flagged for audit</h1>{intro}{table}")

    @router.get("/audit")
    def audit_log(request: Request, before: Annotated[int | None, Query(ge=1, le=2**62)] = None) -> Response:
        who = _require(request, admin=True)
        query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(100)
        if before is not None:
            query = query.where(AuditEvent.id < before)
        with services(request).db.read() as session:
            events = list(session.scalars(query))
        rows = "".join(
            f"<tr><td>{e.id}</td><td>{esc(when(e.at))}</td><td>{esc(e.actor)}</td><td>{esc(e.action)}</td>"
            f"<td>{esc(e.subject)}</td>"
            f"<td><code>{esc(json.dumps(e.details, sort_keys=True))}</code></td></tr>"
            for e in events
        )
        more = (
            f'<p><a href="/console/audit?before={events[-1].id}">Older</a></p>' if len(events) == 100 else ""
        )
        body = (
            "<h1>Audit log</h1><table><thead><tr><th>#</th><th>When</th><th>Who</th><th>What</th>"
            f"<th>Subject</th><th>Details</th></tr></thead><tbody>{rows}</tbody></table>{more}"
        )
        return _page(who, "Audit log", body)

    return router


def _decision_table(rows: list[ReviewDecision], *, link: bool = False) -> str:
    if not rows:
        return '<p class="muted">No decisions yet.</p>'
    body = "".join(
        f"<tr><td>{esc(when(d.at))}</td>"
        f"<td>{f'<a href=/console/items/{d.item_id}>#{d.item_id}</a>' if link else f'#{d.item_id}'}</td>"
        f"<td>{esc(d.reviewer)}</td><td>{esc(_DECISION_LABEL.get(d.decision, d.decision))}</td>"
        f"<td>{esc(d.note)}</td></tr>"
        for d in rows
    )
    return (
        '<table class="decisions"><thead><tr><th>When</th><th>Item</th><th>Reviewer</th><th>Decision</th>'
        f"<th>Note</th></tr></thead><tbody>{body}</tbody></table>"
    )


def mount_console(app: FastAPI) -> None:
    """Add the console's routes and static files to ``app`` (before any catch-all mount)."""

    @app.exception_handler(_Redirect)
    async def _redirect(_: Request, exc: _Redirect) -> Response:
        return _see_other(exc.to)

    app.include_router(build_router())
    app.mount("/console/static", StaticFiles(directory=STATIC_DIR), name="console-static")
