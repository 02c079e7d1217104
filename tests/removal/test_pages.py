"""The console's removal pages as pure functions, and the escalation marks' setting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from redline.removal.clocks import parse_marks
from redline.web.console import removals_render as pages
from redline.web.console.render import Viewer

NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
VIEWER = Viewer("alice", "reviewer", "csrf-token")


def record(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "request": "TD-AAAA-BBBB-CCCC-DDDD",
        "jurisdiction": {
            "code": "us",
            "law": "47 U.S.C. § 223a",
            "period_hours": 48.0,
            "period_is_policy": False,
        },
        "subject": "self",
        "source_type": "ARTICLE_16",
        "linked_case": False,
        "status": "open",
        "outcome": "pending",
        "received_at": (NOW - timedelta(hours=50)).isoformat(),
        "deadline_at": (NOW - timedelta(hours=2)).isoformat(),
        "closed_at": None,
        "breached_at": (NOW - timedelta(hours=2)).isoformat(),
        "escalations": ["24h", "12h"],
        "flags": ["bulk"],
        "hours_to_removal": None,
        "within_deadline": None,
        "items": [
            {
                "id": 1,
                "position": 0,
                "location": "https://x.example/<script>",
                "hashed_on_device": False,
                "content_id": "<b>post</b>",
                "status": "pending",
                "reason": None,
                "method": None,
                "decided_by": None,
                "decided_at": None,
                "hours_after_receipt": None,
                "bank_entries": 0,
            },
        ],
        "copies": [
            {
                "id": 5,
                "content_id": "<i>copy</i>",
                "platform_key": "k",
                "kind": "perceptual",
                "signal_type": "pdq",
                "distance": 42,
                "found_in": "seen",
                "found_at": NOW.isoformat(),
                "status": "pending",
                "reason": None,
                "decided_by": None,
                "decided_at": None,
            },
        ],
        "complaints": [],
        "people": ["requester", "system"],
        "log": [{"at": NOW.isoformat(), "actor": "system", "kind": "breached", "details": {"x": "<svg>"}}],
    }
    data.update(changes)
    return data


def test_a_breached_request_says_so_and_everything_is_escaped() -> None:
    html = pages.request_page(VIEWER, record(), now=NOW)
    assert "Deadline missed 2 h 0 min ago" in html
    for raw in ("<script>", "<b>post</b>", "<i>copy</i>", "<svg>"):
        assert raw not in html
    assert "&lt;i&gt;copy&lt;/i&gt;" in html and 'name="csrf_token" value="csrf-token"' in html
    # A perceptual copy is under its own heading, with both decisions offered.
    perceptual = html.split(pages.PERCEPTUAL_TITLE)[1]
    assert "Confirm and remove" in perceptual and "Dismiss" in perceptual
    assert "exact-copies" in html.split(pages.PERCEPTUAL_TITLE)[0]


def test_the_printable_record_has_no_controls() -> None:
    html = pages.print_page(record(), now=NOW)
    assert "<form" not in html and "TD-AAAA-BBBB-CCCC-DDDD" in html and "requester, system" in html


def test_time_left_is_counted_in_hours() -> None:
    assert pages.time_left(47 * 3600 + 59 * 60 + 30, False) == '<span class="">47 h 59 min left</span>'
    assert "alert" in pages.time_left(3 * 3600, False)
    assert pages.time_left(-90, True) == '<span class="alert">Deadline missed 1 min ago</span>'


def test_escalation_marks() -> None:
    assert parse_marks("1, 24,4,12") == (24.0, 12.0, 4.0, 1.0)
    with pytest.raises(ValueError):
        parse_marks("24,-1")
    with pytest.raises(ValueError):
        parse_marks("soon")
