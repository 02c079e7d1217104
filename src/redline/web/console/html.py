"""Small HTML helpers for the console's server-rendered pages.

Why not a template engine: the console has a handful of pages and no scripts; building them from escaped
fragments keeps one dependency fewer, and :func:`esc` is applied to every value that did not come from this
module, so user-supplied text (notes, content ids, metadata) can never become markup.
"""

from __future__ import annotations

import html
from datetime import datetime, timedelta


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def duration(delta: timedelta) -> str:
    """Human time in queue: ``45 s``, ``12 min``, ``3 h 5 min``, ``2 d 4 h``."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def age(since: datetime, now: datetime) -> str:
    return duration(now - since)


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else ""


def page(title: str, body: str, *, user: str | None = None, role: str | None = None, csrf: str = "") -> str:
    nav = ""
    if user:
        links = [
            '<a href="/console/">Queue</a>',
            '<a href="/console/removals">Removal requests</a>',
            '<a href="/console/history">Decisions</a>',
        ]
        if role == "admin":
            links.append('<a href="/console/flagged">Flagged entries</a>')
            links.append('<a href="/console/audit">Audit log</a>')
            links.append('<a href="/console/mirrors">Mirrors</a>')
        nav = (
            f"<nav>{''.join(links)}</nav>"
            f'<form method="post" action="/console/logout"><input type="hidden" name="csrf_token" '
            f'value="{esc(csrf)}"><span class="muted">{esc(user)} ({esc(role)})</span> '
            f'<button class="link" type="submit">Sign out</button></form>'
        )
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{esc(title)} · Redline review</title>"
        '<link rel="stylesheet" href="/console/static/console.css"></head>'
        f'<body><header><span class="brand">Redline review</span>{nav}</header>'
        f"<main>{body}</main></body></html>"
    )
