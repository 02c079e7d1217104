"""Removal requests in the domain: validation per jurisdiction, the clock, removal into the bank, the sweep,
outcomes, records without personal data, reports (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from redline.actions.models import WebhookEvent
from redline.actions.outbox import register_endpoint
from redline.actions.urlpolicy import UrlPolicy
from redline.bank import service
from redline.bank.db import Database
from redline.bank.errors import Conflict
from redline.bank.models import AuditEvent, Entry, utcnow
from redline.bank.secrets import ContactCipher
from redline.removal import clocks, records, reports
from redline.removal.models import RemovalRequest
from redline.removal.requests import (
    InvalidRequest,
    authenticate_request,
    copies_of,
    decide_complaint,
    file_complaint,
    file_request,
    get_request,
    items_of,
    refuse_item,
    remove_item,
    resolve_item,
)
from redline.removal.sweep import decide_copy, sweep
from redline.removal.validation import RequestForm, validate
from redline.retro.seen import SeenHashIn, SeenQuery, find_seen, record_seen

PDQ = "0" * 64
MD5 = "a" * 32
EMAIL = "maria.example@example.org"


def flip(value: str, bits: int) -> str:
    number = int(value, 16) ^ (((1 << bits) - 1) << (256 - bits))
    return f"{number:064x}"


def picture() -> list[service.HashInput]:
    return [
        service.normalize_hash("pdq", PDQ, 90),
        service.normalize_hash("pdq_region", PDQ, 90),
        service.normalize_hash("md5", MD5),
    ]


def us_form(**changes: Any) -> RequestForm:
    values: dict[str, Any] = {
        "jurisdiction": "us",
        "subject": "self",
        "name": "Maria Example",
        "email": EMAIL,
        "signature": "Maria Example",
        "locations": ["https://platform.example/p/1"],
        "pictures": [picture()],
        "statements": frozenset({"good_faith_non_consent"}),
    }
    values.update(changes)
    return RequestForm(**values)


def subscribe(db: Database) -> None:
    with db.write() as s:
        register_endpoint(s, url="http://127.0.0.1:9/h", policy=UrlPolicy(allow_loopback=True), actor="t")


def events(db: Database, kind: str) -> list[dict[str, Any]]:
    with db.read() as s:
        return [e.payload["data"] for e in s.scalars(select(WebhookEvent).where(WebhookEvent.type == kind))]


def test_each_jurisdiction_asks_for_what_its_law_needs() -> None:
    assert validate(us_form()) == []
    empty = RequestForm(jurisdiction="us", subject="agent")
    codes = {p.field: p.code for p in validate(empty)}
    assert codes == {
        "name": "name.missing",
        "email": "email.missing",
        "signature": "signature.missing",
        "items": "items.missing",
        "statements.good_faith_non_consent": "statement.good_faith_non_consent",
        "statements.authorised": "statement.authorised",
    }
    eu = {p.code for p in validate(RequestForm(jurisdiction="eu", subject="self", explanation="short"))}
    assert {"explanation.too_short", "statement.good_faith_accurate"} <= eu and "signature.missing" not in eu
    uk = {p.code for p in validate(RequestForm(jurisdiction="uk", subject="self"))}
    assert "statement.declaration_true" in uk and "explanation.missing" not in uk
    au = {p.code for p in validate(RequestForm(jurisdiction="au", subject="agent"))}
    assert "notice_reference.missing" in au and "statement.authorised" not in au
    bad = {
        p.field: p.code for p in validate(us_form(email="maria@", signature="M", locations=["javascript:x"]))
    }
    assert bad == {
        "email": "email.invalid",
        "signature": "signature.mismatch",
        "locations.0": "location.invalid",
    }
    assert validate(RequestForm(jurisdiction="mars", subject="self"))[0].code == "jurisdiction.unknown"


def test_a_valid_request_starts_its_clock_and_keeps_personal_data_encrypted(
    db: Database, cipher: ContactCipher
) -> None:
    subscribe(db)
    with db.write() as s:
        new = file_request(s, us_form(), cipher)
    assert new.number.startswith("TD-") and new.deadline_at - new.received_at == timedelta(hours=48)
    with db.read() as s:
        request = authenticate_request(s, new.number.lower(), new.secret)
        assert new.secret not in request.secret_hash
        assert EMAIL.encode() not in request.personal_encrypted
        audit = " ".join(json.dumps(a.details) for a in s.scalars(select(AuditEvent)))
        assert EMAIL not in audit and "Maria" not in audit
        with pytest.raises(service.WrongSecret):
            authenticate_request(s, new.number, "WRONG-SECRET")
        assert [i.location for i in items_of(s, request.id)] == ["https://platform.example/p/1", None]
    assert events(db, "removal.received")[0]["request"] == new.number
    assert EMAIL not in json.dumps(events(db, "removal.received"))
    with db.write() as s, pytest.raises(InvalidRequest) as refused:
        file_request(s, us_form(name=""), cipher)
    assert [p.code for p in refused.value.problems] == ["name.missing"]
    with db.read() as s:
        assert s.scalar(select(RemovalRequest.id).where(RemovalRequest.number != new.number)) is None


def test_a_linked_case_needs_its_secret(db: Database, cipher: ContactCipher) -> None:
    with db.write() as s:
        case = service.submit_case(
            s, bank_name="survivors", hashes=picture(), attestation={"subject": "self"}, cipher=cipher
        )
    with db.write() as s, pytest.raises(InvalidRequest) as refused:
        file_request(s, us_form(case_id=case.case_id, case_secret="nope"), cipher)
    assert refused.value.problems[0].code == "case.wrong"
    with db.write() as s:
        new = file_request(s, us_form(case_id=case.case_id, case_secret=case.secret), cipher)
    with db.read() as s:
        assert get_request(s, new.number).case_id == case.case_id


def _seen(db: Database, content_id: str, hashes: list[SeenHashIn], origin: str = "request") -> None:
    with db.write() as s:
        record_seen(
            s, api_key_id="key1", partner_id=None, content_id=content_id, hashes=hashes, origin=origin
        )


def test_removal_sweep_outcome_record_and_report(db: Database, cipher: ContactCipher) -> None:
    subscribe(db)
    _seen(db, "post-1", [SeenHashIn("md5", MD5), SeenHashIn("pdq", PDQ)])
    _seen(
        db, "post-2", [SeenHashIn("md5", MD5), SeenHashIn("pdq", PDQ)], origin="scan"
    )  # identical, back catalogue
    _seen(
        db, "post-3", [SeenHashIn("md5", "c" * 32), SeenHashIn("pdq", flip(PDQ, 44))]
    )  # re-encoded, cropped
    _seen(db, "post-4", [SeenHashIn("md5", "d" * 32), SeenHashIn("pdq", flip(PDQ, 128))])  # another picture
    # Retroactive matching's reach (31) does not get to post-3: the sweep's wider one must.
    whole = find_seen(db, [SeenQuery("pdq_region", PDQ)])
    assert {h.content_id for h in whole} == {"post-1", "post-2"}
    with db.write() as s:
        new = file_request(s, us_form(locations=[]), cipher)
    with db.write() as s:
        request = get_request(s, new.number)
        (item,) = items_of(s, request.id)
        resolve_item(s, request, item.id, "post-1", actor="user:1")
        remove_item(s, request, item.id, method="removed", actor="user:1", bank_name="removals")
    with db.read() as s:
        request = get_request(s, new.number)
        (item,) = items_of(s, request.id)
        assert request.status == "closed" and item.status == "removed" and item.decided_by == "user:1"
        entries = s.scalars(select(Entry).where(Entry.id.in_(item.entry_ids))).all()
        assert {(e.signal_type, e.value) for e in entries} >= {("pdq", PDQ), ("md5", MD5)}
        assert all(e.status == "active" and e.origin == f"removal:{new.number}" for e in entries)
    result = sweep(db, new.number, actor="user:1")
    assert (result.exact, result.perceptual) == (1, 1)
    assert sweep(db, new.number, actor="user:1").exact == 0  # a re-run lists nothing twice
    with db.write() as s:
        request = get_request(s, new.number)
        copies = copies_of(s, request.id)
        assert [(c.content_id, c.exact, c.status) for c in copies] == [
            ("post-2", True, "pending"),
            ("post-3", False, "pending"),
        ]
        assert copies[1].distance == 44
        assert [c.found_in for c in copies] == [
            "scan",
            "seen",
        ]  # the back catalogue (`redline scan`) and uploads
        decide_copy(s, request, copies[0].id, decision="removed", reason="removed", note="", actor="user:2")
        decide_copy(s, request, copies[1].id, decision="removed", reason="disabled", note="", actor="user:2")
        with pytest.raises(Conflict):
            decide_copy(
                s, request, copies[1].id, decision="dismissed", reason="other", note="", actor="user:2"
            )
    assert [e["outcome"] for e in events(db, "removal.closed")] == ["removed"]
    removed = events(db, "removal.content_removed")
    assert [e["statement_of_reasons"]["content_id"] for e in removed] == ["post-1", "post-2", "post-3"]
    with db.read() as s:
        request = get_request(s, new.number)
        full = records.record(s, request, cipher=cipher, personal=True)
        assert full["requester"]["email"] == EMAIL
        plain = records.record(s, request)
        assert EMAIL not in json.dumps(plain) and "Maria" not in json.dumps(plain)
        assert plain["within_deadline"] is True and plain["hours_to_removal"] < 48
        assert [c["kind"] for c in plain["copies"]] == ["exact", "perceptual"]
        assert {"user:1", "user:2", "requester", "system"} <= set(plain["people"])
        kinds = [line["kind"] for line in plain["log"]]
        assert kinds[:3] == ["received", "validated", "message"] and "swept" in kinds
        statements = records.dsa_statements(s, request, platform_id="example:")
        text = json.dumps(statements)
        assert EMAIL not in text and "Maria" not in text and "platform.example" not in text
        assert [st["puid"] for st in statements] == ["example:post-1", "example:post-2", "example:post-3"]
        assert (
            statements[0]["source_type"] == "SOURCE_ARTICLE_16"
            and statements[0]["automated_detection"] == "No"
        )
        assert (
            statements[1]["source_type"] == "SOURCE_VOLUNTARY"
            and statements[1]["automated_detection"] == "Yes"
        )
        assert statements[2]["decision_visibility"] == ["DECISION_VISIBILITY_CONTENT_DISABLED"]
        assert records.record_csv(plain).splitlines()[0] == "request,at,actor,kind,details"
        figures = reports.report(s, utcnow() - timedelta(days=1), utcnow() + timedelta(days=1))
    assert figures.requests == 1 and figures.within_deadline_share == 1.0
    assert figures.copies_found_per_request == 2.0 and figures.copies_removed == 2


def test_refusal_gives_reasons_and_clock_escalates_then_breaches(db: Database, cipher: ContactCipher) -> None:
    subscribe(db)
    start = utcnow()
    with db.write() as s:
        refused = file_request(s, us_form(pictures=[]), cipher, now=start)
        late = file_request(s, us_form(pictures=[]), cipher, now=start)
    with db.write() as s:
        request = get_request(s, refused.number)
        (item,) = items_of(s, request.id)
        refuse_item(s, request, item.id, reason="not_found", note="no such post", actor="user:1")
    assert events(db, "removal.closed")[0] == {
        "request": refused.number,
        "outcome": "refused",
        "reasons": ["not_found"],
    }
    with db.write() as s:
        assert clocks.tick(s, start + timedelta(hours=30)).escalated == 1  # 18 h left: the 24 h mark
        assert clocks.tick(s, start + timedelta(hours=31)).escalated == 0  # once per mark
        assert clocks.tick(s, start + timedelta(hours=47, minutes=30)).escalated == 1  # 12, 4 and 1 h at once
        assert clocks.tick(s, start + timedelta(hours=49)) == clocks.Tick(escalated=0, breached=1)
        assert clocks.tick(s, start + timedelta(hours=50)).breached == 0
    assert [e["mark"] for e in events(db, "removal.escalated")] == ["24h", "1h"]
    assert [e["request"] for e in events(db, "removal.breached")] == [late.number]
    with db.write() as s:
        request = get_request(s, late.number)
        (item,) = items_of(s, request.id)
        resolve_item(s, request, item.id, "post-9", actor="user:1")
        remove_item(
            s,
            request,
            item.id,
            method="removed",
            actor="user:1",
            bank_name="removals",
            now=start + timedelta(hours=50),
        )
    with db.read() as s:
        request = get_request(s, late.number)
        data = records.record(s, request)
        assert data["breached_at"] is not None and data["within_deadline"] is False  # never hidden
        assert data["escalations"] == ["24h", "12h", "4h", "1h"]
        figures = reports.report(s, start - timedelta(days=1), start + timedelta(days=3))
    assert figures.breached == 1 and figures.refusals_by_reason == {"not_found": 1}
    assert figures.within_deadline_share == 0.0 and figures.median_hours_to_removal == pytest.approx(
        50, abs=0.01
    )


def test_an_upheld_complaint_stops_the_removed_hashes_matching(db: Database, cipher: ContactCipher) -> None:
    with db.write() as s:
        new = file_request(s, us_form(locations=[]), cipher)
    with db.write() as s:
        request = get_request(s, new.number)
        (item,) = items_of(s, request.id)
        resolve_item(s, request, item.id, "post-1", actor="user:1")
        remove_item(s, request, item.id, method="removed", actor="user:1", bank_name="removals")
        with pytest.raises(service.NotFound):
            file_complaint(s, request, content_id="post-9", text="x", cipher=cipher, actor="key:p")
        complaint = file_complaint(
            s, request, content_id="post-1", text="it is me, I agreed", cipher=cipher, actor="key:p"
        )
        assert b"agreed" not in complaint.text_encrypted
        decide_complaint(s, request, complaint.id, decision="upheld", reason="consent shown", actor="user:2")
    with db.read() as s:
        (item,) = items_of(s, get_request(s, new.number).id)
        statuses = set(s.scalars(select(Entry.status).where(Entry.id.in_(item.entry_ids))))
    assert statuses == {"withdrawn"}


def test_bulk_requests_are_flagged_not_dropped(db: Database, cipher: ContactCipher) -> None:
    with db.write() as s:
        numbers = [file_request(s, us_form(pictures=[]), cipher).number for _ in range(11)]
    with db.read() as s:
        flags = [get_request(s, n).flags for n in numbers]
    assert flags[:10] == [[]] * 10 and flags[10] == ["bulk"]
