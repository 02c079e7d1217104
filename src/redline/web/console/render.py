"""The console's pages as pure functions: data in, HTML out; no request, no database, no clock.

Why pure: each page can be checked on its own (escaping, what a reviewer may see, which controls appear)
without a server, and the routes stay a thin layer that loads rows and hands them here. Every value that
did not come from this module passes through :func:`esc`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from redline.bank.models import AuditEvent, Case, Entry
from redline.intake.cases import FlaggerRecord
from redline.mirror.sync import Status as MirrorStatus
from redline.review.accounts import SignedIn
from redline.review.models import EntryReviewState, ReviewDecision, ReviewItem
from redline.review.queue import preview_of
from redline.web.console.html import age, esc, page, when

SEVERITY = {3: "high", 2: "medium", 1: "normal"}
DECISION_LABEL = {
    "confirm": "Confirm: intimate-image abuse",
    "reject": "Not intimate-image abuse",
    "escalate": "Escalate",
}
#: Messages a redirect may ask a page to show, by code: the query string never carries text onto a page.
MESSAGES = {
    "expired": "Your sign-in form expired: please try again.",
    "wrong": "Wrong username or password.",
    "admin": "Only admins can open that page.",
    "decided": "This item was already decided.",
    "escalated": "Escalated items are decided by an admin.",
    "invalid": "Choose one of the decisions.",
}
AUDIT_PAGE_SIZE = 100


@dataclass(frozen=True)
class Viewer:
    """Who a page is rendered for: what the header shows and which controls the page offers."""

    username: str
    role: str
    csrf_token: str

    @classmethod
    def of(cls, who: SignedIn) -> Viewer:
        return cls(who.user.username, who.user.role, who.csrf_token)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def _staff_page(viewer: Viewer, title: str, body: str) -> str:
    return page(title, body, user=viewer.username, role=viewer.role, csrf=viewer.csrf_token)


def message(code: str) -> str:
    text = MESSAGES.get(code)
    return f'<p class="error">{esc(text)}</p>' if text else ""


def csrf_field(token: str) -> str:
    return f'<input type="hidden" name="csrf_token" value="{esc(token)}">'


# --- sign-in -----------------------------------------------------------------------------------------------


def login_page(pre_token: str, error: str = "") -> str:
    body = (
        '<div class="login card"><h1>Sign in</h1>'
        f"{message(error)}"
        '<form method="post" action="/console/login">'
        f"{csrf_field(pre_token)}"
        '<p><label>Username<input type="text" name="username" autocomplete="username" required>'
        "</label></p>"
        '<p><label>Password<input type="password" name="password" autocomplete="current-password" '
        "required></label></p>"
        '<button type="submit">Sign in</button></form></div>'
    )
    return page("Sign in", body)


def too_many_sign_ins() -> str:
    text = "Too many failed sign-ins. Wait 15 minutes."
    return page("Sign in", f'<div class="login card"><p class="error">{text}</p></div>')


def form_expired(viewer: Viewer) -> str:
    return _staff_page(viewer, "Refused", '<p class="error">Form expired. Go back, reload and try again.</p>')


# --- queue and items ---------------------------------------------------------------------------------------


def queue_page(
    viewer: Viewer,
    items: Sequence[ReviewItem],
    banks: Mapping[int, str],
    *,
    now: datetime,
    decided: int | None = None,
    error: str = "",
) -> str:
    notes = f'<p class="notice">Decision recorded for item {decided}.</p>' if decided is not None else ""
    notes += message(error)
    rows = "".join(
        f'<tr data-item="{item.id}"><td><a href="/console/items/{item.id}">#{item.id}</a></td>'
        f'<td class="sev-{item.severity}">{esc(SEVERITY.get(item.severity, item.severity))}</td>'
        f"<td>{esc(item.status)}</td><td>{esc(banks.get(item.bank_id, item.bank_id))}</td>"
        f"<td>{esc(item.signal_type)} · {item.distance}</td><td>{esc(item.action)}</td>"
        f"<td><code>{esc(item.content_id or '')}</code></td>"
        f'<td class="age">{esc(age(item.created_at, now))}</td></tr>'
        for item in items
    )
    table = (
        "<table><thead><tr><th>Item</th><th>Severity</th><th>Status</th><th>Bank</th>"
        "<th>Match</th><th>Action</th><th>Platform content</th><th>Time in queue</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
        if items
        else '<p class="muted">The queue is empty.</p>'
    )
    return _staff_page(viewer, "Queue", f"<h1>Review queue ({len(items)})</h1>{notes}{table}")


def item_not_found(viewer: Viewer) -> str:
    return _staff_page(viewer, "Not found", "<h1>No such item</h1>")


def may_decide(viewer: Viewer, item: ReviewItem) -> bool:
    return item.status == "pending" or (item.status == "escalated" and viewer.is_admin)


@dataclass(frozen=True)
class Provenance:
    """Who filed the matched entry, as a reviewer needs it: the person herself, a partner, or a flagger for
    a person who has (not yet) claimed the case, with that flagger's record (never the case number)."""

    text: str
    third_party: bool = False

    @classmethod
    def of(cls, entry: Entry | None, case: Case | None, flagger: FlaggerRecord | None) -> Provenance:
        if entry is None:
            return cls("unknown")
        if case is None:
            return cls(f"{entry.source} ({entry.origin or 'no origin'})")
        if case.flagged_by is None:
            return cls("the person depicted (her own case)")
        claimed = (
            "the person depicted has claimed the case"
            if case.claimed_at is not None
            else "the person depicted has NOT (yet) claimed the case"
        )
        record = (
            f"; this flagger: {flagger.pictures} pictures in {flagger.cases} cases, {flagger.rejected} "
            f"rejected by reviewers, {flagger.quarantined} quarantined"
            if flagger is not None
            else ""
        )
        return cls(f"third party: flagger key {case.flagged_by}; {claimed}{record}", third_party=True)


UNKNOWN = Provenance("unknown")


def item_page(
    viewer: Viewer,
    item: ReviewItem,
    *,
    entry: Entry | None,
    provenance: Provenance = UNKNOWN,
    state: EntryReviewState | None,
    banks: Mapping[int, str],
    history: Sequence[ReviewDecision],
    now: datetime,
    error: str = "",
) -> str:
    body = (
        f"<h1>Review item #{item.id}</h1>{message(error)}"
        f'<div class="card">{_preview(item, now)}</div>'
        f'<div class="card">{_item_details(item, entry, state, banks, now, provenance)}</div>'
        f"{_decision_form(viewer, item)}"
        f"<h2>Decisions on this item</h2>{decision_table(history)}"
    )
    return _staff_page(viewer, f"Item {item.id}", body)


def _preview(item: ReviewItem, now: datetime) -> str:
    data, _, url = preview_of(item, now)
    if data is None and url is None:
        return '<p class="muted">The platform supplied no preview (or it has expired).</p>'
    # Bytes the platform uploaded are served by the console itself; a URL is the platform's own (https).
    source = f"/console/items/{item.id}/preview" if data is not None else (url or "")
    return (
        '<div class="preview">'
        f'<input type="checkbox" class="reveal" id="reveal-{item.id}">'
        f'<label for="reveal-{item.id}"><span class="show">Reveal image</span>'
        '<span class="hide">Blur again</span></label>'
        f'<img src="{esc(source)}" alt="The platform content (blurred)" id="preview-{item.id}">'
        "</div>"
        f'<p class="muted">Kept until decided or {esc(when(item.preview_expires_at))}.</p>'
    )


def clock(seconds: float) -> str:
    """0:07, 1:02:03: a moment in a video as players show it."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def _ranges(ranges: Any) -> str:
    if not ranges:
        return "a still (a picture)"
    return ", ".join(f"{clock(a)}–{clock(b)}" for a, b in ranges)


def _video_overlap(video: Mapping[str, Any] | None) -> str:
    """A video match's overlap (``redline.match.video``): which moments of each side are in the other."""
    if not video:
        return ""
    stored_pct = video.get("stored_pct")
    stored_share = f" ({stored_pct:g}% of its frames)" if stored_pct is not None else ""
    return (
        '<dt>Video match</dt><dd id="video-overlap">'
        f"Upload {esc(_ranges(video.get('upload_ranges')))} ({video.get('upload_pct', 0):g}% of the upload)"
        f" · stored video {esc(_ranges(video.get('stored_ranges')))}{esc(stored_share)}"
        f" · {int(video.get('matched_frames', 0))} frames in common</dd>"
    )


def _item_details(
    item: ReviewItem,
    entry: Entry | None,
    state: EntryReviewState | None,
    banks: Mapping[int, str],
    now: datetime,
    provenance: Provenance,
) -> str:
    confirmed = state.confirmed if state else 0
    rejected = state.rejected if state else 0
    return (
        "<dl>"
        f"<dt>Bank</dt><dd>{esc(banks.get(item.bank_id, item.bank_id))}</dd>"
        f"<dt>Match</dt><dd>{esc(item.signal_type)}, distance {item.distance}</dd>"
        f"{_video_overlap(item.video)}"
        f'<dt>Filed by</dt><dd id="provenance" class="{"third-party" if provenance.third_party else ""}">'
        f"{esc(provenance.text)}</dd>"
        f"<dt>Action taken</dt><dd>{esc(item.action)}</dd>"
        f"<dt>Platform content id</dt><dd><code>{esc(item.content_id or '')}</code></dd>"
        f"<dt>Platform metadata</dt><dd><code>{esc(json.dumps(item.meta, sort_keys=True))}</code></dd>"
        f"<dt>Time in queue</dt><dd>{esc(age(item.created_at, now))}</dd>"
        f"<dt>Status</dt><dd>{esc(item.status)}</dd>"
        f"<dt>Matched entry</dt><dd>#{item.entry_id} · {esc(entry.status if entry else '?')} · "
        f"tags {esc(', '.join(entry.tags) if entry else '')}</dd>"
        f'<dt>Entry verdicts</dt><dd id="entry-counts">{confirmed} confirmed, {rejected} rejected'
        f"{' · verified' if state and state.verified else ''}"
        f"{' · flagged for operator audit' if state and state.flagged_for_audit else ''}</dd>"
        "</dl>"
    )


def _decision_form(viewer: Viewer, item: ReviewItem) -> str:
    if not may_decide(viewer, item):
        if item.status == "escalated":
            return '<p class="notice">Escalated: an admin decides this item.</p>'
        return '<p class="notice">Decided.</p>'
    choices = "".join(
        f'<label class="choice"><input type="radio" name="decision" value="{d}" required> '
        f"{esc(label)}</label>"
        for d, label in DECISION_LABEL.items()
        if not (d == "escalate" and item.status == "escalated")
    )
    return (
        f'<form method="post" action="/console/items/{item.id}/decision" class="card">'
        f"{csrf_field(viewer.csrf_token)}<fieldset><legend>Decision</legend>{choices}"
        '<p><label>Note (shown in the decision history)<textarea name="note" maxlength="4000">'
        '</textarea></label></p><button type="submit">Record decision</button></fieldset></form>'
    )


# --- history, flagged entries, audit -----------------------------------------------------------------------


def decision_table(rows: Sequence[ReviewDecision], *, link: bool = False) -> str:
    if not rows:
        return '<p class="muted">No decisions yet.</p>'
    body = "".join(
        f"<tr><td>{esc(when(d.at))}</td>"
        f"<td>{f'<a href=/console/items/{d.item_id}>#{d.item_id}</a>' if link else f'#{d.item_id}'}</td>"
        f"<td>{esc(d.reviewer)}</td><td>{esc(DECISION_LABEL.get(d.decision, d.decision))}</td>"
        f"<td>{esc(d.note)}</td></tr>"
        for d in rows
    )
    return (
        '<table class="decisions"><thead><tr><th>When</th><th>Item</th><th>Reviewer</th><th>Decision</th>'
        f"<th>Note</th></tr></thead><tbody>{body}</tbody></table>"
    )


def history_page(viewer: Viewer, rows: Sequence[ReviewDecision]) -> str:
    return _staff_page(viewer, "Decisions", f"<h1>Decision history</h1>{decision_table(rows, link=True)}")


def flagged_page(
    viewer: Viewer, rows: Sequence[tuple[EntryReviewState, Entry]], banks: Mapping[int, str]
) -> str:
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
    return _staff_page(viewer, "Flagged entries", f"<h1>Flagged for audit</h1>{intro}{table}")


def without_case_number(party: str) -> str:
    """``case:<number>`` as a short fingerprint: rows of one case stay recognisable as one, but the console
    never shows a case number (with its secret it opens the survivor's case)."""
    kind, _, name = party.partition(":")
    if kind != "case" or not name:
        return party
    return f"case:{hashlib.sha256(name.encode()).hexdigest()[:10]}"


def audit_log_page(viewer: Viewer, events: Sequence[AuditEvent]) -> str:
    """``events`` newest first; a full page links to the older ones."""
    rows = "".join(
        f"<tr><td>{e.id}</td><td>{esc(when(e.at))}</td><td>{esc(without_case_number(e.actor))}</td>"
        f"<td>{esc(e.action)}</td><td>{esc(without_case_number(e.subject))}</td>"
        f"<td><code>{esc(json.dumps(e.details, sort_keys=True))}</code></td></tr>"
        for e in events
    )
    more = (
        f'<p><a href="/console/audit?before={events[-1].id}">Older</a></p>'
        if len(events) >= AUDIT_PAGE_SIZE
        else ""
    )
    body = (
        "<h1>Audit log</h1><table><thead><tr><th>#</th><th>When</th><th>Who</th><th>What</th>"
        f"<th>Subject</th><th>Details</th></tr></thead><tbody>{rows}</tbody></table>{more}"
    )
    return _staff_page(viewer, "Audit log", body)


def mirrors_page(viewer: Viewer, mirrors: Sequence[MirrorStatus]) -> str:
    """The hubs this instance mirrors: where each is, how far behind, and what went wrong last."""
    if not mirrors:
        body = (
            "<h1>Mirrors</h1><p>This instance mirrors no hub. Add one with "
            "<code>redline mirror add URL --key KEY --bank BANK</code> (docs/MIRRORS.md).</p>"
        )
        return _staff_page(viewer, "Mirrors", body)
    rows = []
    for m in mirrors:
        lag = f"{m.lag_changes} rows" + (
            f", read to the end {m.lag_s:.0f} s ago" if m.lag_s is not None else ""
        )
        health = (
            f'<span class="alert">{esc(m.last_error)}</span>'
            if m.last_error
            else '<span class="ok">synced</span>'
        )
        refused = f'<span class="alert">{m.refused}</span>' if m.refused else "0"
        rows.append(
            f"<tr><td>{esc(m.name)}</td><td>{esc(m.url)}</td><td>{esc(m.bank)}</td>"
            f"<td>{'on' if m.enabled else 'paused'}</td><td>{m.position}</td><td>{esc(lag)}</td>"
            f"<td>{m.entries}</td><td>{refused}</td><td>{health}</td></tr>"
        )
    body = (
        '<h1>Mirrors</h1><p class="muted">Hubs whose signed feed this instance keeps in a read-only bank. '
        "Refused pages mean a page failed its signature or order checks and nothing of it was applied.</p>"
        "<table><thead><tr><th>Mirror</th><th>Hub</th><th>Bank</th><th>State</th><th>Position</th>"
        "<th>Lag</th><th>Entries</th><th>Refused pages</th><th>Last sync</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
    return _staff_page(viewer, "Mirrors", body)
