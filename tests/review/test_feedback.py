"""Matches become actions and review items; decisions feed back into the bank (SQLite and PostgreSQL)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from redline.actions import outbox, rules
from redline.actions.matchlog import Hit, MetadataError, act_on_matches, check_caller_fields
from redline.actions.models import MatchLogEntry, WebhookEvent
from redline.actions.urlpolicy import UrlPolicy
from redline.bank import service
from redline.bank.db import Database
from redline.bank.models import Bank, Change, Entry, utcnow
from redline.bank.secrets import ContactCipher
from redline.bank.service import Conflict, set_entry_status
from redline.match.service import Matcher, Query
from redline.review import queue
from redline.review.models import ReviewItem
from tests.support import ATTESTATION
from tests.support.bank import api_key, submit

PDQ = "f" * 64
PDQ_20_AWAY = "0" * 5 + "f" * 59  # 20 bits differ
MD5 = "a" * 32


def bank_id(db: Database) -> int:
    with db.read() as s:
        return s.scalars(select(Bank.id).where(Bank.name == "survivors")).one()


def hit(db: Database, entry_id: int, distance: int, query_type: str = "pdq") -> Hit:
    return Hit(query_type, PDQ, entry_id, bank_id(db), "survivors", distance)


def test_default_bands_and_operator_rules() -> None:
    assert rules.decide([], 1, "md5", 0) == "block_and_review"
    assert rules.decide([], 1, "pdq", 8) == "block_and_review"
    assert rules.decide([], 1, "pdq", 9) == "review"
    custom = [
        rules.Rule(None, "pdq", 0, 31, "review", priority=100),
        rules.Rule(1, "pdq", 25, 31, "log", priority=10),
    ]
    assert rules.decide(custom, 1, "pdq", 3) == "review"
    assert rules.decide(custom, 1, "pdq", 28) == "log"
    assert rules.decide(custom, 2, "pdq", 28) == "review"  # the bank-1 rule does not apply to bank 2
    # A bank's own default action (other than "review") comes after operator rules, before the bands.
    assert rules.decide([], 1, "pdq", 20, bank_action="block") == "block"
    assert rules.decide(custom, 1, "pdq", 28, bank_action="block") == "log"
    # An unknown action (stored before banks' actions were checked) is ignored: the bands decide.
    assert rules.decide([], 1, "pdq", 20, bank_action="nuke_everything") == "review"
    assert rules.severity("block_and_review", "md5", 0) > rules.severity("block_and_review", "pdq", 20)
    assert rules.severity("block_and_review", "pdq", 20) > rules.severity("review", "pdq", 20)


def test_caller_fields_are_bounded() -> None:
    with pytest.raises(MetadataError):
        check_caller_fields("x" * 300, None)
    with pytest.raises(MetadataError):
        check_caller_fields("c1", {"blob": "x" * 5000})
    assert check_caller_fields(None, None) == {}


def test_matches_are_logged_queued_and_announced(db: Database, cipher: ContactCipher) -> None:
    exact_entry, near_entry = submit(db, cipher, [("md5", MD5), ("pdq", PDQ)])
    key = api_key(db)
    with db.write() as s:
        outbox.register_endpoint(
            s, url="http://127.0.0.1:9/h", policy=UrlPolicy(allow_loopback=True), actor="t"
        )
    with db.write() as s:
        decided = act_on_matches(
            s,
            [hit(db, exact_entry, 0, "md5"), hit(db, near_entry, 20)],
            api_key_id=key,
            partner_id=None,
            content_id="post-123",
            metadata={"uploader": "u9"},
        )
    assert [d.action for d in decided] == ["block_and_review", "review"]
    with db.read() as s:
        log = s.scalars(select(MatchLogEntry).order_by(MatchLogEntry.id)).all()
        assert [(r.entry_id, r.distance, r.content_id, r.meta) for r in log] == [
            (exact_entry, 0, "post-123", {"uploader": "u9"}),
            (near_entry, 20, "post-123", {"uploader": "u9"}),
        ]
        items = queue.queue(s)
        assert [i.entry_id for i in items] == [exact_entry, near_entry]  # the exact match is more severe
        events = s.scalars(select(WebhookEvent).where(WebhookEvent.type == "match.created")).all()
        assert len(events) == 2 and events[0].payload["data"]["content_id"] == "post-123"
    # The same content matching again does not open a second item.
    with db.write() as s:
        again = act_on_matches(
            s, [hit(db, near_entry, 18)], api_key_id=key, partner_id=None, content_id="post-123"
        )
    assert again[0].review_item_id == decided[1].review_item_id


def subscribe(db: Database) -> None:
    """An endpoint for every event, so that events are kept in the outbox."""
    with db.write() as s:
        outbox.register_endpoint(
            s, url="http://127.0.0.1:9/h", policy=UrlPolicy(allow_loopback=True), actor="t"
        )


def _item(db: Database, entry_id: int, key: str, content_id: str) -> int:
    with db.write() as s:
        [d] = act_on_matches(
            s, [hit(db, entry_id, 20)], api_key_id=key, partner_id=None, content_id=content_id
        )
        assert d.review_item_id is not None
        return d.review_item_id


@pytest.mark.timing
def test_k_independent_rejections_quarantine_and_stop_matching(db: Database, cipher: ContactCipher) -> None:
    [entry_id] = submit(db, cipher, [("pdq", PDQ)])
    key = api_key(db)
    subscribe(db)
    matcher = Matcher(db, min_quality=50, poll_interval=0.1)
    matcher.start()
    try:
        assert matcher.ready.wait(10)
        assert len(matcher.match([Query("pdq", PDQ_20_AWAY)])[0]) == 1

        def reject(reviewer: str, content: str) -> queue.Outcome:
            item_id = _item(db, entry_id, key, content)
            with db.write() as s:
                return queue.decide(s, item_id, reviewer=reviewer, decision="reject", reject_quarantine=3)

        assert reject("user:1", "a").rejected == 1
        assert reject("user:1", "b").rejected == 1  # the same reviewer again counts once
        assert reject("user:2", "c").rejected == 2
        with db.read() as s:
            assert queue.review_states(s, [entry_id]) == {entry_id: queue.NOT_BLOCKED}
        outcome = reject("key:xyz", "d")
        assert outcome.quarantined and outcome.rejected == 3
        decided_at = time.monotonic()
        with db.read() as s:
            entry = s.get(Entry, entry_id)
            assert entry is not None and entry.status == "quarantined"
            state = queue.entry_state(s, entry_id)
            assert state is not None and state.flagged_for_audit
            assert (
                s.scalars(select(Change.status).order_by(Change.seq.desc()).limit(1)).one() == "quarantined"
            )
            types = s.scalars(select(WebhookEvent.type)).all()
            assert "entry.quarantined" in types
        while len(matcher.match([Query("pdq", PDQ_20_AWAY)])[0]) != 0:
            assert time.monotonic() - decided_at < 1.0, "quarantined entry still matching after 1 s"
            time.sleep(0.02)
        deadline = time.monotonic() + 1.0
        while matcher.size != 0:  # the live index dropped it too (through the change log)
            assert time.monotonic() < deadline
            time.sleep(0.02)
        with db.read() as s:
            assert [e.id for _, e in queue.flagged_entries(s)] == [entry_id]
        # The operator audits and releases it: more rejections do not quarantine it again behind their back.
        with db.write() as s:
            set_entry_status(s, entry_id, "active", actor="operator", reason="audited: genuine")
        assert not reject("user:7", "e").quarantined
        with db.read() as s:
            entry = s.get(Entry, entry_id)
            assert entry is not None and entry.status == "active"
    finally:
        matcher.stop()


def test_quarantine_covers_the_other_hashes_of_the_same_picture(db: Database, cipher: ContactCipher) -> None:
    """A picture is many entries (pdq, pdq_region crops, md5, sha256) sharing an ``item``; verdicts that
    quarantine one of them quarantine the picture, not the submission's other pictures."""
    crop = "0f" * 32
    with db.write() as s:
        new = service.submit_case(
            s,
            bank_name="survivors",
            hashes=[
                service.normalize_hash("pdq", PDQ, 90, item=0),
                service.normalize_hash("pdq_region", PDQ, 90, item=0),
                service.normalize_hash("pdq_region", crop, 90, item=0),
                service.normalize_hash("md5", MD5, item=0),
                service.normalize_hash("pdq", PDQ_20_AWAY, 90, item=1),
                service.normalize_hash("md5", "b" * 32, item=1),
            ],
            attestation=ATTESTATION,
            cipher=cipher,
        )
    picture, other = new.entry_ids[:4], new.entry_ids[4:]
    key = api_key(db)
    subscribe(db)

    def reject(entry_id: int, reviewer: str, content: str) -> queue.Outcome:
        item_id = _item(db, entry_id, key, content)
        with db.write() as s:
            return queue.decide(s, item_id, reviewer=reviewer, decision="reject", reject_quarantine=3)

    # Three reviewers, three differently edited copies, each reported under a different entry of the picture:
    # they judged the same picture, so the third verdict is the K-th.
    assert reject(picture[2], "user:1", "a").rejected == 1
    assert reject(picture[0], "user:2", "b").rejected == 2
    assert reject(other[0], "user:4", "x").rejected == 1  # the other picture's verdicts are its own
    outcome = reject(picture[1], "user:3", "c")
    assert outcome.quarantined and outcome.rejected == 3
    with db.read() as s:
        status = {e.id: e.status for e in s.scalars(select(Entry))}
        assert [status[i] for i in picture] == ["quarantined"] * 4
        assert [status[i] for i in other] == ["active"] * 2
        flagged = [e.id for _, e in queue.flagged_entries(s)]
        assert sorted(flagged) == sorted(picture)  # all of the picture awaits the operator's audit
        events = s.scalars(select(WebhookEvent).where(WebhookEvent.type == "entry.quarantined")).all()
        # One event for the picture, in the documented shape (docs/MODERATION.md: data lists entry_ids).
        [event] = events
        assert sorted(event.payload["data"]["entry_ids"]) == sorted(picture)
        assert event.payload["data"]["same_item_as"] == picture[1]
    # The operator audits the picture and releases it: later rejections do not quarantine any of it again.
    with db.write() as s:
        for entry_id in picture:
            set_entry_status(s, entry_id, "active", actor="operator", reason="audited: genuine")
    assert not reject(picture[3], "user:5", "d").quarantined
    with db.read() as s:
        assert {s.get(Entry, i).status for i in picture} == {"active"}  # type: ignore[union-attr]


def test_confirmation_verifies_and_feeds_blocked(db: Database, cipher: ContactCipher) -> None:
    [entry_id, other] = submit(db, cipher, [("pdq", PDQ), ("md5", MD5)])
    key = api_key(db)
    subscribe(db)
    item_id = _item(db, entry_id, key, "p1")
    with db.read() as s:
        assert queue.review_states(s, [entry_id, other]) == {
            entry_id: queue.PENDING_REVIEW,
            other: queue.PENDING_REVIEW,
        }
        seq_before = s.scalars(select(Change.seq).order_by(Change.seq.desc()).limit(1)).one()
    with db.write() as s:
        outcome = queue.decide(
            s, item_id, reviewer="user:1", decision="confirm", note="clear match", reject_quarantine=3
        )
    assert outcome.verified and outcome.state == queue.BLOCKED
    with db.read() as s:
        assert queue.review_states(s, [entry_id]) == {entry_id: queue.BLOCKED}
        # Announced in the change log (the partner feed) with its hash, still active.
        change = s.scalars(select(Change).where(Change.seq > seq_before)).one()
        assert change.entry_id == entry_id and change.status == "active" and change.value == PDQ
        event = s.scalars(select(WebhookEvent).where(WebhookEvent.type == "review.decided")).one()
        assert event.payload["data"]["state"] == "Blocked" and event.payload["data"]["note"] == "clear match"
    with db.write() as s, pytest.raises(Conflict):
        queue.decide(s, item_id, reviewer="user:2", decision="reject", reject_quarantine=3)


def test_escalation_and_previews(db: Database, cipher: ContactCipher) -> None:
    [entry_id] = submit(db, cipher, [("pdq", PDQ)])
    key = api_key(db)
    item_id = _item(db, entry_id, key, "p1")
    with db.write() as s:
        queue.attach_preview(
            s, item_id, ttl=timedelta(hours=1), actor="key:k", data=b"\x89PNG...", content_type="image/png"
        )
    with db.write() as s, pytest.raises(queue.ReviewError):
        queue.attach_preview(
            s, item_id, ttl=timedelta(hours=1), actor="key:k", data=b"x", content_type="text/html"
        )
    with db.write() as s, pytest.raises(queue.ReviewError):
        queue.attach_preview(
            s, item_id, ttl=timedelta(hours=1), actor="key:k", url="http://insecure.example/x.png"
        )
    with db.write() as s:
        queue.decide(s, item_id, reviewer="user:1", decision="escalate", note="unsure", reject_quarantine=3)
    with db.write() as s, pytest.raises(queue.ReviewError, match="admin"):
        queue.decide(
            s, item_id, reviewer="user:1", decision="reject", reject_quarantine=3, may_decide_escalated=False
        )
    with db.read() as s:
        item = s.get(ReviewItem, item_id)
        assert item is not None and item.status == "escalated" and queue.preview_of(item)[0] is not None
    with db.write() as s:
        queue.decide(s, item_id, reviewer="user:9", decision="reject", reject_quarantine=3)
    with db.read() as s:
        item = s.get(ReviewItem, item_id)
        assert item is not None and item.preview_data is None  # not kept once decided
        assert [d.decision for d in queue.decisions(s, item_id=item_id)] == ["reject", "escalate"]

    other = _item(db, entry_id, key, "p2")
    with db.write() as s:
        queue.attach_preview(
            s, other, ttl=timedelta(seconds=1), actor="key:k", url="https://cdn.example/p2.jpg"
        )
    with db.write() as s:
        assert queue.drop_expired_previews(s, utcnow() + timedelta(seconds=2)) == 1
    with db.read() as s:
        item = s.get(ReviewItem, other)
        assert item is not None and item.preview_url is None
