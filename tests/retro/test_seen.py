"""The seen-hashes store: what is kept of a checked upload, how it is searched, and its expiry."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from redline.bank.db import Database
from redline.bank.models import AuditEvent
from redline.retro.models import SeenHash, SeenUpload
from redline.retro.seen import (
    WHOLE_UPLOAD_REACH,
    Checked,
    SeenHashIn,
    SeenIndex,
    SeenQuery,
    best_per_content,
    find_seen,
    kept_hashes,
    purge_expired,
    record_seen,
    remember_checked,
)

PDQ = "0" * 64


def flip(value: str, bits: int) -> str:
    """``value`` with its first ``bits`` bits flipped."""
    number = int(value, 16) ^ (((1 << bits) - 1) << (256 - bits))
    return f"{number:064x}"


def _seen(db: Database, content_id: str, hashes: list[SeenHashIn], key: str = "key1") -> int:
    with db.write() as session:
        seen_id = record_seen(session, api_key_id=key, partner_id=None, content_id=content_id, hashes=hashes)
    assert seen_id is not None
    return seen_id


def test_kept_hashes_keep_plain_and_whole_upload_regions_only() -> None:
    plain = [SeenHashIn("md5", "a" * 32), SeenHashIn("pdq", PDQ)]
    regions = [
        SeenHashIn("pdq_region", PDQ, "full"),
        SeenHashIn("pdq_region", flip(PDQ, 9), "mirror"),
        SeenHashIn("pdq_region", flip(PDQ, 40), "window_0.9_+0.02_+0.00"),
        SeenHashIn("pdq_region", PDQ, "full"),
    ]
    # The full region hash equal to the plain PDQ is that hash: kept once
    assert kept_hashes(plain, regions) == [*plain, regions[1]]
    other_full = SeenHashIn("pdq_region", flip(PDQ, 2), "full")
    assert kept_hashes(plain, [other_full]) == [*plain, other_full]


def test_find_seen_exact_and_perceptual_at_the_types_thresholds(db: Database) -> None:
    near = _seen(db, "near", [SeenHashIn("md5", "b" * 32), SeenHashIn("pdq", flip(PDQ, 20))])
    _seen(db, "far", [SeenHashIn("pdq", flip(PDQ, 40))])
    copy = _seen(db, "copy", [SeenHashIn("md5", "a" * 32)])
    hits = find_seen(db, [SeenQuery("pdq", PDQ), SeenQuery("md5", "a" * 32)])
    assert [(h.query, h.content_id, h.distance, h.exact) for h in hits] == [
        (0, "near", 20, False),
        (1, "copy", 0, True),
    ]
    assert hits[0].seen_id == near and hits[1].seen_id == copy and hits[0].value == flip(PDQ, 20)
    # A stricter threshold, the caller's
    assert find_seen(db, [SeenQuery("pdq", PDQ, threshold=10)]) == []
    # An unknown type is a clear error, not an empty answer
    with pytest.raises(ValueError, match="unknown signal type"):
        find_seen(db, [SeenQuery("nonsense", PDQ)])


def test_a_crop_finds_whole_upload_hashes_within_the_measured_reach(db: Database) -> None:
    """A crop stored by the survivor vs the upload's full/mirror hash: at most ``WHOLE_UPLOAD_REACH`` bits
    (forward matching's 64 costs seconds per picture at 10M seen uploads); vs any other derived hash, were
    one kept, at pdq_region's own threshold (45)."""
    assert WHOLE_UPLOAD_REACH == 31
    _seen(db, "mirrored", [SeenHashIn("pdq_region", flip(PDQ, 29), "mirror")])
    _seen(db, "mirrored-far", [SeenHashIn("pdq_region", flip(PDQ, 33), "mirror")])
    _seen(db, "window", [SeenHashIn("pdq_region", flip(PDQ, 40), "window_0.9_+0.00_+0.00")])
    hits = find_seen(db, [SeenQuery("pdq_region", PDQ)])
    assert [(h.content_id, h.distance, h.label) for h in hits] == [
        ("mirrored", 29, "mirror"),
        ("window", 40, "window_0.9_+0.00_+0.00"),
    ]
    # A plain pdq query never finds region hashes
    assert find_seen(db, [SeenQuery("pdq", PDQ)]) == []
    # A seen plain PDQ is the upload's full region hash too: a crop finds it within the reach
    _seen(db, "plain", [SeenHashIn("pdq", flip(PDQ, 31))])
    _seen(db, "plain-far", [SeenHashIn("pdq", flip(PDQ, 32))])
    hits = find_seen(db, [SeenQuery("pdq_region", PDQ)])
    assert [(h.content_id, h.signal_type, h.label, h.distance) for h in hits] == [
        ("mirrored", "pdq_region", "mirror", 29),
        ("plain", "pdq_region", "full", 31),
        ("window", "pdq_region", "window_0.9_+0.00_+0.00", 40),
    ]


def test_live_index_refresh_and_best_per_content(db: Database) -> None:
    index = SeenIndex(db)
    assert index.refresh() == 0
    _seen(db, "c1", [SeenHashIn("pdq", flip(PDQ, 12)), SeenHashIn("pdq_region", flip(PDQ, 3), "full")])
    _seen(db, "c1", [SeenHashIn("pdq", flip(PDQ, 5))])  # the same content checked again
    _seen(db, "c2", [SeenHashIn("pdq", flip(PDQ, 30))], key="key2")
    assert index.refresh() == 4 and len(index) == 4
    hits = find_seen(db, [SeenQuery("pdq", PDQ), SeenQuery("pdq_region", PDQ)], index=index)
    assert len(hits) == 6  # the region query finds the plain PDQs too, as the uploads' full hashes
    best = best_per_content(hits)
    assert [(h.api_key_id, h.content_id, h.distance) for h in best] == [("key1", "c1", 3), ("key2", "c2", 30)]


def test_purge_deletes_expired_uploads_and_their_hashes(db: Database) -> None:
    old = _seen(db, "old", [SeenHashIn("pdq", PDQ), SeenHashIn("md5", "a" * 32)])
    _seen(db, "new", [SeenHashIn("pdq", flip(PDQ, 2))])
    index = SeenIndex(db)
    index.refresh()
    with db.write() as session:
        when = session.scalar(select(SeenUpload.seen_at).where(SeenUpload.id == old))
        assert when is not None
        session.execute(
            update(SeenUpload).where(SeenUpload.id == old).values(seen_at=when - timedelta(days=91))
        )
    with db.write() as session:
        assert purge_expired(session, timedelta(days=90)) == 1
        assert purge_expired(session, timedelta(days=90)) == 0
    with db.read() as session:
        assert (
            session.scalar(select(func.count()).select_from(SeenHash).where(SeenHash.upload_id == old)) == 0
        )
        purged = session.scalars(select(AuditEvent).where(AuditEvent.action == "seen.purged")).all()
    assert [(e.subject, e.details["uploads"], e.details["retention_days"]) for e in purged] == [
        ("seen_uploads", 1, 90)
    ]
    # The index still holds the purged hash; it is never reported
    hits = find_seen(db, [SeenQuery("pdq", PDQ), SeenQuery("md5", "a" * 32)], index=index)
    assert [h.content_id for h in hits] == ["new"]


def test_a_row_that_commits_after_a_later_one_is_still_loaded(db: Database) -> None:
    """PostgreSQL hands out ids before commit: id 3 can become visible after id 5 was read."""
    upload = _seen(db, "a", [SeenHashIn("pdq", flip(PDQ, 1))])
    index = SeenIndex(db)
    with db.write() as session:
        session.add(SeenHash(id=5, upload_id=upload, signal_type="pdq", value=flip(PDQ, 2)))
    assert index.refresh() == 2
    with db.write() as session:  # the transaction that took id 3 commits only now
        session.add(SeenHash(id=3, upload_id=upload, signal_type="pdq", value=flip(PDQ, 3)))
    assert index.refresh() == 1 and len(index) == 3
    assert index.refresh() == 0


def test_content_checked_again_replaces_its_hashes_and_the_live_index_sees_the_new_ones(db: Database) -> None:
    """SQLite would hand the deleted rows' ids out again; the index follows rows by id, so they must grow."""
    index = SeenIndex(db)
    first = [SeenHashIn("pdq", flip(PDQ, 100))]
    remember_checked(db, api_key_id="key1", checked=[Checked("post", first)])
    index.refresh()
    remember_checked(db, api_key_id="key1", checked=[Checked("post", [SeenHashIn("pdq", flip(PDQ, 4))])])
    index.refresh()
    hits = find_seen(db, [SeenQuery("pdq", PDQ)], index=index)
    assert [(h.content_id, h.distance) for h in hits] == [("post", 4)]
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(SeenUpload)) == 1
