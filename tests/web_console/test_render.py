"""The console's pages as pure functions: rows in, HTML out, no server and no database."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from redline.bank.models import AuditEvent, Entry
from redline.review.models import EntryReviewState, ReviewDecision, ReviewItem
from redline.web.console import render
from redline.web.console.render import Viewer

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
RITA = Viewer("rita", "reviewer", "csrf-rita")
ADA = Viewer("ada", "admin", "csrf-ada")


def item(status: str = "pending", **preview: object) -> ReviewItem:
    return ReviewItem(
        id=7,
        entry_id=3,
        bank_id=1,
        signal_type="pdq",
        distance=20,
        action="review",
        severity=2,
        api_key_id="k1",
        content_id="<script>alert(1)</script>",
        meta={"uploader": "<b>u1</b>"},
        status=status,
        created_at=NOW - timedelta(minutes=12),
        **preview,
    )


def entry() -> Entry:
    return Entry(id=3, bank_id=1, signal_type="pdq", status="active", tags=["<i>tag</i>"], source="case")


def item_page(viewer: Viewer, shown: ReviewItem, **kw: object) -> str:
    options: dict[str, object] = {"entry": entry(), "state": None, "banks": {1: "survivors"}, "history": []}
    options.update(kw)
    return render.item_page(viewer, shown, now=NOW, **options)  # type: ignore[arg-type]


def choices(page: str) -> list[str]:
    return re.findall(r'name="decision" value="(\w+)"', page)


def test_queue_page_escapes_platform_text_and_shows_time_in_queue() -> None:
    page = render.queue_page(RITA, [item()], {1: "survivors"}, now=NOW, decided=5)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'data-item="7"' in page and "12 min" in page and ">medium<" in page and "survivors" in page
    assert "Decision recorded for item 5." in page and "Review queue (1)" in page
    assert "The queue is empty." in render.queue_page(RITA, [], {}, now=NOW)


def test_messages_come_only_from_known_codes() -> None:
    assert "Wrong username or password." in render.login_page("pre", error="wrong")
    crafted = render.login_page("pre", error="<b>hi</b>")
    assert "<b>hi</b>" not in crafted and 'class="error"' not in crafted
    assert 'name="csrf_token" value="pre"' in crafted


def test_decision_controls_follow_the_status_and_the_role() -> None:
    pending = item_page(RITA, item())
    assert choices(pending) == ["confirm", "reject", "escalate"]
    assert 'name="csrf_token" value="csrf-rita"' in pending
    escalated_for_reviewer = item_page(RITA, item("escalated"))
    assert choices(escalated_for_reviewer) == [] and "an admin decides this item" in escalated_for_reviewer
    assert choices(item_page(ADA, item("escalated"))) == ["confirm", "reject"]  # not escalated twice
    decided = item_page(ADA, item("decided"))
    assert choices(decided) == [] and "Decided." in decided


def test_item_page_details_are_escaped_and_counts_shown() -> None:
    state = EntryReviewState(entry_id=3, confirmed=1, rejected=2, verified=False, flagged_for_audit=True)
    page = item_page(RITA, item(), state=state)
    assert "&lt;b&gt;u1&lt;/b&gt;" in page and "&lt;i&gt;tag&lt;/i&gt;" in page and "<b>u1</b>" not in page
    assert "1 confirmed, 2 rejected · flagged for operator audit" in page
    assert "#3 · active" in page
    assert "0 confirmed, 0 rejected</dd>" in item_page(RITA, item(), entry=None)


def test_previews_are_blurred_controls_own_url_or_the_platforms_and_expire() -> None:
    live = NOW + timedelta(hours=1)
    uploaded = item_page(RITA, item(preview_data=b"png", preview_type="image/png", preview_expires_at=live))
    assert 'src="/console/items/7/preview"' in uploaded and 'class="reveal"' in uploaded
    assert "Reveal image" in uploaded and "Blur again" in uploaded
    linked = item_page(RITA, item(preview_url='https://cdn.example/a"b.jpg', preview_expires_at=live))
    assert 'src="https://cdn.example/a&quot;b.jpg"' in linked
    expired = item_page(RITA, item(preview_data=b"png", preview_type="image/png", preview_expires_at=NOW))
    assert "/preview" not in expired and "no preview" in expired


def test_admins_see_the_admin_pages_in_the_menu() -> None:
    assert "/console/audit" not in render.history_page(RITA, [])
    page = render.history_page(ADA, [])
    assert "/console/audit" in page and "/console/flagged" in page
    assert 'value="csrf-ada"' in page  # the sign-out form


def test_decision_history_links_items_and_labels_decisions() -> None:
    rows = [ReviewDecision(id=1, item_id=7, reviewer="user:1", decision="reject", note="<a logo>", at=NOW)]
    page = render.history_page(RITA, rows)
    assert "<a href=/console/items/7>#7</a>" in page and "Not intimate-image abuse" in page
    assert "&lt;a logo&gt;" in page and "2026-12-01 12:00:00 UTC" in page
    assert "No decisions yet." in render.decision_table([])


def test_flagged_page_lists_entries_with_their_counts() -> None:
    state = EntryReviewState(entry_id=3, confirmed=0, rejected=2, flagged_for_audit=True, updated_at=NOW)
    page = render.flagged_page(ADA, [(state, entry())], {1: "survivors"})
    assert "<td>#3</td><td>survivors</td>" in page and "<td>2</td>" in page
    assert "No entries are waiting" in render.flagged_page(ADA, [], {})


def test_audit_log_links_older_rows_only_after_a_full_page() -> None:
    def events(ids: range) -> list[AuditEvent]:
        return [
            AuditEvent(id=i, at=NOW, actor="key:k", action="bank.created", subject="bank:1", details={"n": i})
            for i in ids
        ]

    full = render.audit_log_page(ADA, events(range(250, 250 - render.AUDIT_PAGE_SIZE, -1)))
    assert f'href="/console/audit?before={251 - render.AUDIT_PAGE_SIZE}">Older' in full
    last = render.audit_log_page(ADA, events(range(40, 0, -1)))
    assert "Older" not in last and "<td>40</td>" in last and "{&quot;n&quot;: 40}" in last


def test_audit_log_shows_no_case_numbers() -> None:
    case = "case:RL-ABCD-EFGH-JKLM-NPQR"
    rows = [
        AuditEvent(id=2, at=NOW, actor=case, action="case.withdrawn", subject=case, details={}),
        AuditEvent(id=1, at=NOW, actor=case, action="case.created", subject=case, details={}),
    ]
    page = render.audit_log_page(ADA, rows)
    assert "RL-ABCD" not in page
    shown = render.without_case_number(case)
    assert page.count(f"<td>{shown}</td>") == 4 and shown != render.without_case_number("case:RL-OTHER")
    assert render.without_case_number("key:abc") == "key:abc"


def test_a_third_party_entry_says_so_and_whether_she_has_claimed_it() -> None:
    from redline.bank.models import Case
    from redline.intake.cases import FlaggerRecord

    flagged = Case(id="RL-X", flagged_by="abcd1234", claimed_at=None)
    record = FlaggerRecord("abcd1234", cases=3, pictures=40, rejected=2, quarantined=1)
    page = item_page(RITA, item(), provenance=render.Provenance.of(entry(), flagged, record))
    assert "third party: flagger key abcd1234" in page and "has NOT (yet) claimed" in page
    assert "40 pictures in 3 cases, 2 rejected by reviewers, 1 quarantined" in page
    assert "RL-X" not in page  # never the case number
    flagged.claimed_at = NOW
    claimed = render.Provenance.of(entry(), flagged, None)
    assert "has claimed the case" in item_page(RITA, item(), provenance=claimed)
    own = render.Provenance.of(entry(), Case(id="RL-Y", flagged_by=None), None)
    assert "her own case" in item_page(RITA, item(), provenance=own)


def test_mirrors_page_shows_position_lag_and_errors_escaped() -> None:
    from redline.mirror.sync import Status

    assert "/console/mirrors" not in render.history_page(RITA, [])
    assert "/console/mirrors" in render.history_page(ADA, [])
    assert "mirrors no hub" in render.mirrors_page(ADA, [])
    failing = Status(
        name="hub",
        url="https://hub.example.org",
        bank="hub",
        from_banks=[],
        enabled=True,
        position=120,
        head=150,
        lag_changes=30,
        lag_s=4.2,
        entries=99,
        refused=2,
        last_error="page refused (altered): <b>x</b>",
        last_error_at=NOW,
        synced_at=NOW,
    )
    page = render.mirrors_page(ADA, [failing, replace(failing, name="other", refused=0, last_error="")])
    assert "<td>120</td>" in page and "30 rows, read to the end 4 s ago" in page
    assert (
        '<span class="alert">2</span>' in page and "&lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page
    )
    assert '<span class="ok">synced</span>' in page
