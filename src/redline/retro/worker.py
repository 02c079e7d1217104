"""The retroactive-matching worker: every entry that goes live is searched against the seen hashes.

Where entries go live: the change log (``changes``; ``bank.status`` owns it). A survivor's case, a partner's
push, an operator's import, a mirrored entry and an entry released from quarantine all append an ``active``
row there, so following the log is following every way in. The worker reads the rows after its cursor
(``retro_cursor``), keeps those whose entry is *still* active in an enabled bank when it looks (a case
withdrawn or an entry quarantined before then raises nothing), searches them with
``redline.retro.seen.find_seen`` and turns every hit into a match through the one moderation path
(``actions.matchlog.act_on_matches``: action rules, match log, review item, ``match.created`` with
``origin: retroactive`` and ``retroactive: true``), attributed to the key that checked the content.

Off the request path: a thread of the server process, like the webhook worker. Only one process per data
directory runs it (an ``flock``: each would otherwise hold the whole seen index in memory). Exactly once:
the cursor moves in the same transaction as the matches it produced, by compare-and-set, so a restart (or
a second worker on another machine) neither misses nor repeats an entry; a content already matched to an
entry (forward, or by an earlier retroactive run) is not matched to it again.

Why rows are searched only ``settle_s`` after they were written: an upload matched just before its
server process applied the entry is recorded as seen a moment after; waiting a second lets that row be
read first, so the upload is found here instead of falling between the two.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, func, or_, select, text, update
from sqlalchemy.orm import Session

from redline.actions.matchlog import Hit, Origin, act_on_matches
from redline.actions.models import MatchLogEntry
from redline.bank.banks import threshold_for
from redline.bank.db import Database
from redline.bank.models import Change, Entry, utcnow
from redline.config import Settings
from redline.match.snapshots import WriterLock
from redline.retro.models import RetroCursor
from redline.retro.seen import (
    SeenHit,
    SeenIndex,
    SeenQuery,
    aware_utc,
    find_seen,
    indexed_rows,
    purge_expired,
)
from redline.signals.types import SIGNAL_TYPES

log = logging.getLogger(__name__)

#: The origin of retroactive matches in the match log and the events.
RETROACTIVE = Origin("retroactive")
_CURSOR_ID = 1
_BATCH = 2_000

_ENTRIES = text(
    "SELECT e.id, e.signal_type, e.value, e.quality, e.status, e.case_id, e.item, e.bank_id, "
    "b.name AS bank, b.thresholds, b.default_action, b.enabled AS bank_enabled "
    "FROM entries e JOIN banks b ON b.id = e.bank_id WHERE e.id IN :ids"
).bindparams(bindparam("ids", expanding=True))


class _Overtaken(Exception):
    """The cursor moved under us."""


@dataclass(frozen=True)
class RetroConfig:
    retention: timedelta
    poll_interval_s: float = 0.5
    purge_interval_s: float = 3600.0
    min_quality: int = 50
    settle_s: float = 1.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RetroConfig:
        return cls(
            retention=timedelta(days=settings.seen_retention_days),
            poll_interval_s=settings.retro_poll_interval,
            purge_interval_s=settings.seen_purge_interval_s,
            min_quality=settings.pdq_min_quality,
        )


class RetroWorker:
    def __init__(self, db: Database, config: RetroConfig, *, lock_path: Path | None = None) -> None:
        self.db = db
        self.config = config
        self.index = SeenIndex(db)
        self._lock = WriterLock(lock_path) if lock_path is not None else None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_purge = 0.0

    # --- one round -----------------------------------------------------------------------------------------

    def run_once(self) -> int:
        """Search the entries that went live since the cursor; returns how many matches were made."""
        if self.config.retention <= timedelta(0):
            self._skip_to_head()
            return 0
        self.index.refresh()
        made = 0
        while True:
            position = self._position()
            settled = utcnow() - timedelta(seconds=self.config.settle_s)
            with self.db.read() as session:
                rows = session.execute(
                    select(Change.seq, Change.entry_id, Change.status, Change.value, Change.at)
                    .where(Change.seq > position)
                    .order_by(Change.seq)
                    .limit(_BATCH)
                ).all()
            # The settled prefix only: ``at`` is taken before the log is locked, so a later row can carry
            # an earlier time, and the cursor must never pass a row that was not searched.
            young = next((i for i, r in enumerate(rows) if aware_utc(r.at) > settled), len(rows))
            full_batch = len(rows) == _BATCH and young == len(rows)
            rows = rows[:young]
            if not rows:
                return made
            live = sorted({int(r.entry_id) for r in rows if r.status == "active" and r.value is not None})
            made += self._search_and_act(live, position, int(rows[-1].seq))
            if not full_batch:
                return made

    def _search_and_act(self, entry_ids: list[int], position: int, new_position: int) -> int:
        entries = self._live_entries(entry_ids)
        queries = [
            SeenQuery(e.signal_type, e.value, threshold_for(_json(e.thresholds), e.signal_type))
            for e in entries
        ]
        not_before = utcnow() - self.config.retention
        hits = find_seen(self.db, queries, index=self.index, not_before=not_before) if queries else []
        by_content: dict[tuple[str, str], list[SeenHit]] = {}
        for hit in hits:
            by_content.setdefault((hit.api_key_id, hit.content_id), []).append(hit)
        made = 0
        try:
            with self.db.write() as session:
                moved = session.execute(
                    update(RetroCursor)
                    .where(RetroCursor.id == _CURSOR_ID, RetroCursor.position == position)
                    .values(position=new_position, updated_at=utcnow())
                )
                if moved.rowcount != 1:  # type: ignore[attr-defined]
                    raise _Overtaken
                for (api_key_id, content_id), found in by_content.items():
                    made += self._act(session, api_key_id, content_id, found, entries)
        except _Overtaken:  # another worker searched these rows meanwhile: its matches stand, not ours
            return 0
        return made

    def _act(
        self, session: Session, api_key_id: str, content_id: str, found: list[SeenHit], entries: list[Any]
    ) -> int:
        closest: dict[int, SeenHit] = {}  # per entry: the content may have been checked more than once
        for h in found:
            entry_id = int(entries[h.query].id)
            if entry_id not in closest or h.distance < closest[entry_id].distance:
                closest[entry_id] = h
        hits = _one_per_picture(
            [
                Hit(
                    query_type=h.signal_type,
                    query_value=h.value,
                    entry_id=int(e.id),
                    bank_id=int(e.bank_id),
                    bank_name=e.bank,
                    distance=h.distance,
                    bank_action=e.default_action,
                    case_id=e.case_id,
                    item=e.item,
                )
                for h in closest.values()
                for e in [entries[h.query]]
            ]
        )
        done = _matched_groups(session, api_key_id, content_id, hits)
        hits = [h for h in hits if _group(h) not in done]
        if not hits:
            return 0
        act_on_matches(
            session,
            hits,
            api_key_id=api_key_id,
            partner_id=found[0].partner_id,
            content_id=content_id,
            one_content=True,
            origin=RETROACTIVE,
        )
        return len(hits)

    def _live_entries(self, entry_ids: list[int]) -> list[Any]:
        """The entries among ``entry_ids`` that are active in an enabled bank *now*, with a searchable hash
        (of a matchable type; perceptual ones of usable quality)."""
        out: list[Any] = []
        with self.db.read() as session:
            for start in range(0, len(entry_ids), 5_000):
                for row in session.execute(_ENTRIES, {"ids": entry_ids[start : start + 5_000]}):
                    kind = SIGNAL_TYPES.get(row.signal_type)
                    if kind is None or not kind.matchable() or row.status != "active" or not row.bank_enabled:
                        continue
                    # Video frames are judged per video (redline.match.video), which retroactive matching
                    # does not do yet: one frame in common is no match, so they are not looked up here.
                    if row.signal_type == "vpdq":
                        continue
                    if kind.indexed() and row.quality is not None and row.quality < self.config.min_quality:
                        continue
                    out.append(row)
        return out

    def _position(self) -> int:
        with self.db.read() as session:
            position = session.scalar(select(RetroCursor.position).where(RetroCursor.id == _CURSOR_ID))
        if position is not None:
            return int(position)
        # First start: entries already live were live before anything was seen; start at the head.
        with self.db.write() as session:
            head = int(session.scalar(select(func.coalesce(func.max(Change.seq), 0))) or 0)
            if session.get(RetroCursor, _CURSOR_ID) is None:
                session.add(RetroCursor(id=_CURSOR_ID, position=head, updated_at=utcnow()))
        return self._position()

    def _skip_to_head(self) -> None:
        """Retention 0: nothing is kept, so nothing can be found; entries that go live meanwhile are not
        searched later either (there would be nothing they could have been seen with)."""
        position = self._position()
        with self.db.read() as session:
            head = int(session.scalar(select(func.coalesce(func.max(Change.seq), 0))) or 0)
        if head <= position:
            return  # no write transaction when nothing moved
        with self.db.write() as session:
            session.execute(
                update(RetroCursor)
                .where(RetroCursor.id == _CURSOR_ID, RetroCursor.position == position)
                .values(position=max(head, position), updated_at=utcnow())
            )

    def purge(self) -> int:
        """Delete the seen uploads older than the retention (all of them when it is 0); returns how many."""
        removed = 0
        retention = max(self.config.retention, timedelta(0))
        while True:
            with self.db.write() as session:
                count = purge_expired(session, retention)
            removed += count
            if count == 0:
                break
        if removed:
            log.info("deleted %d seen uploads older than the retention", removed)
        with self.db.read() as session:
            rows = indexed_rows(session)
        if len(self.index) > rows * 1.1 + 1_000:
            # Deleted rows (expired, or replaced by a new check of the same content) are never reported,
            # but hold memory: once they are a tenth of it, start again from the database, without them.
            self.index = SeenIndex(self.db)
        return removed

    # --- the loop ------------------------------------------------------------------------------------------

    def run(self) -> None:
        while not self._stop.is_set():
            if self._lock is not None and not self._lock.try_acquire():
                self._stop.wait(max(self.config.poll_interval_s, 5.0))  # another process runs it
                continue
            try:
                if time.monotonic() - self._last_purge >= self.config.purge_interval_s:
                    self._last_purge = time.monotonic()
                    self.purge()
                self.run_once()
            except Exception:  # the database may be briefly away; retry, the cursor says where we were
                log.exception("retroactive matching failed; retrying")
                self._stop.wait(1.0)
            self._stop.wait(self.config.poll_interval_s)

    def start(self) -> RetroWorker:
        self._thread = threading.Thread(target=self.run, name="redline-retro", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._lock is not None:
            self._lock.release()


def _one_per_picture(hits: Sequence[Hit]) -> list[Hit]:
    """Of one content's hits: every hit of a plain type (exact digests, PDQ), and of the region hits only
    the closest per case (or case-less entry) that no plain hit matched — what ``/v1/match/file`` logs for
    an upload (``api.file_match.best_per_case``): a survivor's picture is stored as ~35 region entries, and
    one content must not make 35 log rows of it."""
    plain = [h for h in hits if not SIGNAL_TYPES[h.query_type].once_per_case]
    done = {_group(h) for h in plain}
    best: dict[object, Hit] = {}
    for h in hits:
        if SIGNAL_TYPES[h.query_type].once_per_case and _group(h) not in done:
            known = best.get(_group(h))
            if known is None or (h.distance, h.entry_id) < (known.distance, known.entry_id):
                best[_group(h)] = h
    return [*plain, *sorted(best.values(), key=lambda h: (h.distance, h.entry_id))]


def _matched_groups(session: Session, api_key_id: str, content_id: str, hits: Sequence[Hit]) -> set[object]:
    """The cases (or case-less entries) among ``hits``' that this content already matched, forward or
    retroactively: they have their match and review item."""
    cases = sorted({h.case_id for h in hits if h.case_id is not None})
    loose = sorted({h.entry_id for h in hits if h.case_id is None})
    if not hits:
        return set()
    rows = session.execute(
        select(Entry.id, Entry.case_id)
        .join(MatchLogEntry, MatchLogEntry.entry_id == Entry.id)
        .where(
            MatchLogEntry.api_key_id == api_key_id,
            MatchLogEntry.content_id == content_id,
            or_(Entry.case_id.in_(cases), Entry.id.in_(loose)),
        )
    )
    return {row.case_id if row.case_id is not None else ("entry", int(row.id)) for row in rows}


def _group(hit: Hit) -> object:
    return hit.case_id if hit.case_id is not None else ("entry", hit.entry_id)


def _json(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        import json

        parsed: dict[str, Any] = json.loads(value)
        return parsed
    return dict(value or {})
