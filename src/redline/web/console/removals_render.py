"""The console's removal pages as pure functions (data in, HTML out), like :mod:`render`: the queue by
time left, one request with its items, copies and record, and a printable record. Every value that did
not come from this module passes through :func:`esc`; nothing personal about the requester is shown."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from redline.removal.queue import Summary
from redline.removal.reports import Report
from redline.removal.requests import DISMISS_REASONS, REFUSAL_REASONS
from redline.web.console.html import duration, esc, page
from redline.web.console.render import Viewer, csrf_field

REMOVAL_MESSAGES = {
    "invalid": "That action needs a valid choice (a content id, a method or a reason).",
    "decided": "That was already decided.",
    "swept": "Recorded. The sweep ran: the copies it found are listed below, each for you to decide.",
    "saved": "Recorded.",
}
JURISDICTION_NAMES = {
    "us": "US · TAKE IT DOWN",
    "uk": "UK · CPA 2026",
    "eu": "EU · DSA Art. 16",
    "au": "AU · eSafety",
}


PERCEPTUAL_TITLE = "Perceptual copies (look the same: check each)"


def _decided(row: dict[str, Any]) -> str:
    how = row.get("method") or row.get("reason") or ""
    return f"{esc(row['status'])} ({esc(how)}) by {esc(row['decided_by'])} at {_when(row['decided_at'])}"


def _reported_as(item: dict[str, Any]) -> str:
    parts = [esc(item["location"])] if item["location"] else []
    if item["hashed_on_device"]:
        parts.append("hashed on her device")
    return " · ".join(parts)


def _page(viewer: Viewer, title: str, body: str) -> str:
    return page(title, body, user=viewer.username, role=viewer.role, csrf=viewer.csrf_token)


def time_left(seconds: float, breached: bool) -> str:
    if breached or seconds <= 0:
        return f'<span class="alert">Deadline missed {esc(duration_of(-seconds))} ago</span>'
    css = "alert" if seconds < 4 * 3600 else ""
    return f'<span class="{css}">{esc(duration_of(seconds))} left</span>'


def duration_of(seconds: float) -> str:
    """Deadlines are counted in hours (``47 h 12 min``), as the laws count them; beyond 3 days in days."""
    seconds = max(0.0, seconds)
    if seconds >= 72 * 3600:
        return duration(timedelta(seconds=seconds))
    minutes = int(seconds // 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


def _when(value: str | None) -> str:
    return esc(value.replace("T", " ")[:19] + " UTC") if value else ""


def queue_page(viewer: Viewer, rows: Sequence[Summary], status: str) -> str:
    tabs = " · ".join(
        f"<strong>{label}</strong>"
        if key == status
        else f'<a href="/console/removals?status={key}">{label}</a>'
        for key, label in (("open", "Open"), ("closed", "Closed"), ("all", "All"))
    )
    body_rows = "".join(
        f'<tr data-request="{esc(r.number)}"><td><a href="/console/removals/{esc(r.number)}">'
        f"<code>{esc(r.number)}</code></a></td>"
        f"<td>{esc(JURISDICTION_NAMES.get(r.jurisdiction, r.jurisdiction))}"
        f"</td><td>{esc(r.status)}</td>"
        f'<td class="left">{time_left(r.seconds_left, r.breached) if r.status == "open" else "closed"}</td>'
        f"<td>{r.pending_items} of {r.items}</td><td>{r.pending_copies}</td>"
        f"<td>{esc(', '.join(r.flags))}</td></tr>"
        for r in rows
    )
    table = (
        "<table><thead><tr><th>Request</th><th>Law</th><th>Status</th><th>Time left</th>"
        "<th>Items pending</th><th>Copies to decide</th><th>Flags</th></tr></thead>"
        f"<tbody>{body_rows}</tbody></table>"
        if rows
        else '<p class="muted">No removal requests here.</p>'
    )
    report = ' · <a href="/console/removals/report">Figures</a>' if viewer.is_admin else ""
    return _page(viewer, "Removal requests", f"<h1>Removal requests</h1><p>{tabs}{report}</p>{table}")


def _select(name: str, options: Sequence[str]) -> str:
    inner = "".join(f'<option value="{esc(o)}">{esc(o.replace("_", " "))}</option>' for o in options)
    return f'<select name="{esc(name)}">{inner}</select>'


def _form(action: str, viewer: Viewer, inner: str, button: str, testid: str) -> str:
    return (
        f'<form method="post" action="{esc(action)}" class="inline">{csrf_field(viewer.csrf_token)}{inner}'
        f'<button type="submit" data-testid="{esc(testid)}">{esc(button)}</button></form>'
    )


def _item_controls(viewer: Viewer, base: str, item: dict[str, Any]) -> str:
    if item["status"] != "pending":
        what = item["method"] if item["status"] == "removed" else (item["reason"] or "")
        return (
            f"{esc(item['status'])} ({esc(what)}) by {esc(item['decided_by'])} at {_when(item['decided_at'])}"
        )
    at = f"{base}/items/{item['id']}"
    resolve = _form(
        f"{at}/resolve",
        viewer,
        '<label>Platform content id <input type="text" name="content_id" maxlength="256" required '
        f'value="{esc(item["content_id"] or "")}"></label>',
        "Resolve",
        f"resolve-{item['position']}",
    )
    remove = _form(
        f"{at}/remove",
        viewer,
        _select("method", ("removed", "disabled")),
        "Confirm removal",
        f"remove-{item['position']}",
    )
    refuse = _form(
        f"{at}/refuse",
        viewer,
        _select("reason", REFUSAL_REASONS)
        + '<input type="text" name="note" maxlength="4000" placeholder="note">',
        "Refuse",
        f"refuse-{item['position']}",
    )
    return resolve + remove + refuse


def _copy_rows(viewer: Viewer, base: str, copies: Sequence[dict[str, Any]]) -> str:
    rows = []
    for c in copies:
        if c["status"] == "pending":
            at = f"{base}/copies/{c['id']}/decision"
            controls = _form(
                at,
                viewer,
                '<input type="hidden" name="decision" value="removed">'
                + _select("reason", ("removed", "disabled")),
                "Confirm and remove",
                f"copy-remove-{c['content_id']}",
            ) + _form(
                at,
                viewer,
                '<input type="hidden" name="decision" value="dismissed">'
                + _select("reason", DISMISS_REASONS),
                "Dismiss",
                f"copy-dismiss-{c['content_id']}",
            )
        else:
            controls = _decided(c)
        rows.append(
            f'<tr data-copy="{esc(c["content_id"])}"><td><code>{esc(c["content_id"])}</code></td>'
            f"<td>{esc(c['signal_type'])} · {c['distance']}</td><td>{esc(c['found_in'])}</td>"
            f"<td>{controls}</td></tr>"
        )
    return "".join(rows)


def _copies_table(
    title: str, testid: str, viewer: Viewer, base: str, copies: Sequence[dict[str, Any]]
) -> str:
    if not copies:
        return f'<h2>{esc(title)}</h2><p class="muted" data-testid="{testid}">None found.</p>'
    return (
        f'<h2>{esc(title)}</h2><table data-testid="{testid}"><thead><tr><th>Content</th><th>Match</th>'
        f"<th>Found in</th><th>Decision</th></tr></thead><tbody>{_copy_rows(viewer, base, copies)}</tbody>"
        "</table>"
    )


def _summary(data: dict[str, Any], now: datetime) -> str:
    deadline = datetime.fromisoformat(data["deadline_at"])
    left = (deadline - now).total_seconds()
    clock = time_left(left, data["breached_at"] is not None) if data["status"] == "open" else "closed"
    within = {True: "yes", False: '<span class="alert">no</span>', None: "—"}[data["within_deadline"]]
    hours = data["hours_to_removal"]
    return (
        '<dl class="card">'
        f"<dt>Law</dt><dd>{esc(data['jurisdiction']['law'])} ({data['jurisdiction']['period_hours']:g} h"
        f"{' — platform policy' if data['jurisdiction']['period_is_policy'] else ''})</dd>"
        f"<dt>Received</dt><dd>{_when(data['received_at'])}</dd>"
        f'<dt>Deadline</dt><dd>{_when(data["deadline_at"])} · <span data-testid="clock">{clock}</span></dd>'
        f'<dt>Status</dt><dd data-testid="status">{esc(data["status"])} · outcome {esc(data["outcome"])}</dd>'
        f"<dt>Time to removal</dt><dd data-testid='hours'>{'' if hours is None else f'{hours:.2f} h'}</dd>"
        f"<dt>Within the deadline</dt><dd data-testid='within'>{within}</dd>"
        f"<dt>Deadline breached</dt><dd>{_when(data['breached_at']) or 'no'}</dd>"
        f"<dt>Escalations</dt><dd>{esc(', '.join(data['escalations']) or 'none')}</dd>"
        f"<dt>Flags (Art. 23)</dt><dd>{esc(', '.join(data['flags']) or 'none')}</dd>"
        f"<dt>Requester</dt><dd>{esc(data['subject'])} · {esc(data['source_type'])}"
        f"{' · linked survivor case' if data['linked_case'] else ''}</dd></dl>"
    )


def _log_table(data: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{_when(line['at'])}</td><td>{esc(line['actor'])}</td><td>{esc(line['kind'])}</td>"
        f"<td><code>{esc(', '.join(f'{k}={v}' for k, v in sorted(line['details'].items())))}</code></td></tr>"
        for line in data["log"]
    )
    return (
        '<table data-testid="record"><thead><tr><th>When</th><th>Who</th><th>What</th><th>Details</th></tr>'
        f"</thead><tbody>{rows}</tbody></table>"
    )


def _complaints(viewer: Viewer, base: str, complaints: Sequence[dict[str, Any]]) -> str:
    """Uploaders' complaints (DSA Art. 20): each decided by a person, with reasons."""
    if not complaints:
        return ""
    rows = []
    for c in complaints:
        if c["status"] == "open":
            decision = _form(
                f"{base}/complaints/{c['id']}/decision",
                viewer,
                _select("decision", ("rejected", "upheld"))
                + '<input type="text" name="reason" maxlength="4000" required placeholder="reasons">',
                "Decide",
                f"complaint-{c['id']}",
            )
        else:
            decision = (
                f"{esc(c['status'])}: {esc(c['decision_reason'])} by {esc(c['decided_by'])} "
                f"at {_when(c['decided_at'])}"
            )
        rows.append(
            f"<tr><td><code>{esc(c['content_id'])}</code></td><td>{_when(c['received_at'])}</td>"
            f"<td>{decision}</td></tr>"
        )
    return (
        '<h2>Complaints (DSA Art. 20)</h2><p class="muted">Upheld: the content is restored by the platform '
        "and its hashes stop matching.</p><table><thead><tr><th>Content</th><th>Received</th>"
        f"<th>Decision</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def report_page(viewer: Viewer, figures: Report, days: int) -> str:
    def number(value: float | None, suffix: str = "") -> str:
        return "—" if value is None else f"{value:g}{suffix}"

    share = figures.within_deadline_share
    refusals = (
        "".join(
            f"<tr><td>{esc(reason.replace('_', ' '))}</td><td>{count}</td></tr>"
            for reason, count in sorted(figures.refusals_by_reason.items())
        )
        or '<tr><td colspan="2" class="muted">none</td></tr>'
    )
    laws = ", ".join(f"{esc(k)} {v}" for k, v in sorted(figures.by_jurisdiction.items())) or "—"
    periods = " · ".join(
        f"<strong>{d} days</strong>"
        if d == days
        else f'<a href="/console/removals/report?days={d}">{d} days</a>'
        for d in (7, 30, 90, 365)
    )
    body = (
        f"<h1>Removal requests: figures</h1><p>{periods}</p>"
        '<dl class="card" data-testid="report">'
        f"<dt>Requests</dt><dd>{figures.requests} ({laws})</dd>"
        f"<dt>Closed / open</dt><dd>{figures.closed} / {figures.open}</dd>"
        f"<dt>Deadline missed</dt><dd>{figures.breached}</dd>"
        f"<dt>Flagged (Art. 23)</dt><dd>{figures.flagged}</dd>"
        f"<dt>Time to removal, median</dt><dd>{number(figures.median_hours_to_removal, ' h')}</dd>"
        f"<dt>Time to removal, p95</dt><dd>{number(figures.p95_hours_to_removal, ' h')}</dd>"
        f"<dt>Removed within the deadline</dt><dd>{'—' if share is None else f'{share:.1%}'}</dd>"
        f"<dt>Copies found per request</dt><dd>{number(figures.copies_found_per_request)}</dd>"
        f"<dt>Copies removed</dt><dd>{figures.copies_removed}</dd></dl>"
        "<h2>Refusals by reason</h2><table><thead><tr><th>Reason</th><th>Items</th></tr></thead>"
        f"<tbody>{refusals}</tbody></table>"
    )
    return _page(viewer, "Removal figures", body)


def request_page(viewer: Viewer, data: dict[str, Any], *, now: datetime, message: str = "") -> str:
    number = data["request"]
    base = f"/console/removals/{esc(number)}"
    note = REMOVAL_MESSAGES.get(message)
    notice = (
        f'<p class="{"error" if message in ("invalid", "decided") else "notice"}">{esc(note)}</p>'
        if note
        else ""
    )
    items = "".join(
        f'<tr data-item="{item["position"]}"><td>{item["position"] + 1}</td>'
        f"<td>{_reported_as(item)}</td><td><code>{esc(item['content_id'] or '')}</code></td>"
        f"<td>{_item_controls(viewer, base, item)}</td></tr>"
        for item in data["items"]
    )
    exact = [c for c in data["copies"] if c["kind"] == "exact"]
    perceptual = [c for c in data["copies"] if c["kind"] == "perceptual"]
    sweep = _form(f"{base}/sweep", viewer, "", "Run the sweep", "sweep")
    flag = _form(
        f"{base}/flags",
        viewer,
        _select("flag", ("manifestly_unfounded", "bulk"))
        + '<input type="text" name="note" maxlength="4000" placeholder="why">',
        "Flag (Art. 23)",
        "flag",
    )
    exports = (
        f'<p>Record: <a href="{base}/record.json">JSON</a> · <a href="{base}/record.csv">CSV</a> · '
        f'<a href="{base}/print" data-testid="print">printable page</a> · '
        f'<a href="{base}/dsa.json">DSA statements of reasons</a></p>'
    )
    body = (
        f'<h1>Removal request <code data-testid="number">{esc(number)}</code></h1>'
        f"{notice}{_summary(data, now)}"
        "<h2>Reported items</h2><table><thead><tr><th>#</th><th>Reported as</th><th>Platform content</th>"
        f"<th>Decision</th></tr></thead><tbody>{items}</tbody></table>"
        f'<h2>The sweep</h2><p class="muted">Looks for copies among content already seen and in the back '
        f"catalogue. Each copy is confirmed and removed, or dismissed with a reason, by a person.</p>{sweep}"
        f"{_copies_table('Exact copies (same file)', 'exact-copies', viewer, base, exact)}"
        f"{_copies_table(PERCEPTUAL_TITLE, 'perceptual-copies', viewer, base, perceptual)}"
        f"<h2>Flags</h2>{flag}{_complaints(viewer, base, data['complaints'])}"
        f"<h2>Record</h2>{exports}{_log_table(data)}"
    )
    return _page(viewer, f"Removal {number}", body)


def print_page(data: dict[str, Any], *, now: datetime) -> str:
    """The record on paper: no controls, no navigation."""
    items = "".join(
        f"<tr><td>{i['position'] + 1}</td><td>{esc(i['location'] or '')}</td>"
        f"<td><code>{esc(i['content_id'] or '')}"
        f"</code></td><td>{esc(i['status'])}</td><td>{esc(i['method'] or i['reason'] or '')}</td>"
        f"<td>{esc(i['decided_by'] or '')}</td><td>{_when(i['decided_at'])}</td></tr>"
        for i in data["items"]
    )
    copies = "".join(
        f"<tr><td><code>{esc(c['content_id'])}</code></td><td>{esc(c['kind'])}</td><td>{c['distance']}</td>"
        f"<td>{esc(c['status'])}</td><td>{esc(c['reason'] or '')}</td><td>{esc(c['decided_by'] or '')}</td>"
        f"<td>{_when(c['decided_at'])}</td></tr>"
        for c in data["copies"]
    )
    body = (
        f"<h1>Record of removal request <code>{esc(data['request'])}</code></h1>"
        f'<p class="muted">Printed {_when(now.isoformat())}. The requester\'s personal details are not on '
        f"this page.</p>{_summary(data, now)}<h2>Items</h2><table><thead><tr><th>#</th><th>Reported as</th>"
        "<th>Content</th>"
        "<th>Status</th><th>How / why</th><th>By</th><th>When</th></tr></thead>"
        f"<tbody>{items}</tbody></table><h2>Copies found</h2><table><thead><tr><th>Content</th><th>Kind</th>"
        "<th>Distance</th><th>Status</th><th>How / why</th><th>By</th><th>When</th></tr></thead>"
        f"<tbody>{copies}</tbody></table><h2>People involved</h2><p>{esc(', '.join(data['people']))}</p>"
        f"<h2>Everything that happened</h2>{_log_table(data)}"
    )
    return page(f"Record {data['request']}", body)


def not_found(viewer: Viewer) -> str:
    return _page(viewer, "Not found", "<h1>No such removal request</h1>")
