"""Reading a StopNCII-shaped API (StopNCII itself, or another Redline hub's ``/stopncii/v1``) into a local
bank.

Records are snapshots: the latest one for a (signalType, hashValue) says what the hash is now. ``Active`` (or
``Received``) adds it, or restores an entry this source had expired; ``Withdrawn`` and ``Deleted`` expire the
local entry at once, so it stops matching in this hub and in everything that mirrors it. This is what
python-threatexchange 1.2.17 gets wrong (it tests ``hashValue`` where it means ``hashStatus``, so a withdrawn
StopNCII hash keeps matching in HMA).

Each page is applied in one transaction together with its ``nextSetTimestamp`` as the new checkpoint, so a
crash mid-pull loses nothing and the next run starts from the last applied page; re-applying is harmless.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from redline import __version__
from redline.bank import service
from redline.bank.db import Database
from redline.bank.models import Entry, utcnow
from redline.bank.service import BankError
from redline.interop.models import StopnciiPull
from redline.interop.stopncii import MAX_PAGE, signal_of

#: ``hashStatus`` values that mean "this hash is in the bank" and "delete it".
LIVE = {"Active", "Received"}
GONE = {"Withdrawn", "Deleted"}


@dataclass
class Applied:
    added: int = 0
    restored: int = 0
    removed: int = 0
    skipped: int = 0

    def __iadd__(self, other: Applied) -> Applied:
        self.added += other.added
        self.restored += other.restored
        self.removed += other.removed
        self.skipped += other.skipped
        return self


def apply_records(
    session: Session, bank_name: str, records: Iterable[Mapping[str, Any]], *, origin: str, actor: str
) -> Applied:
    """Apply snapshot records to ``bank_name``'s entries from ``origin``. Unknown signal types (VideoTMK,
    Text,
    URL) and unknown statuses are skipped and counted; a malformed hash is an error naming the record."""
    bank = service.get_bank(session, bank_name)
    latest: dict[tuple[str, str], str] = {}
    result = Applied()
    for position, record in enumerate(records):
        name = str(record.get("signalType", "")).rsplit(".", 1)[-1]
        status = record.get("hashStatus", "Active")
        if name not in ("ImagePDQ", "VideoMD5") or status not in LIVE | GONE:
            result.skipped += 1
            continue
        try:
            hashed = signal_of(name, record.get("hashValue"))
        except BankError as exc:
            raise BankError(f"record {position}: {exc.detail}") from None
        latest[(hashed.signal_type, hashed.value)] = str(status)
    existing: dict[tuple[str, str], Entry] = {}
    for kind in {t for t, _ in latest}:
        values = [v for t, v in latest if t == kind]
        for start in range(0, len(values), 1000):
            for entry in session.scalars(
                select(Entry).where(
                    Entry.bank_id == bank.id,
                    Entry.origin == origin,
                    Entry.signal_type == kind,
                    Entry.value.in_(values[start : start + 1000]),
                )
            ):
                existing[(entry.signal_type, entry.value)] = entry
    new: list[service.HashInput] = []
    for (kind, value), status in latest.items():
        held = existing.get((kind, value))
        if status in LIVE:
            if held is None:
                new.append(service.HashInput(kind, value))
            elif held.status == "expired":
                service.set_entry_status(
                    session, held.id, "active", actor=actor, reason=f"{origin}: {status}"
                )
                result.restored += 1
        elif held is not None and held.status not in ("expired", "withdrawn"):
            service.set_entry_status(session, held.id, "expired", actor=actor, reason=f"{origin}: {status}")
            result.removed += 1
    if new:
        service.add_entries(
            session, bank_name, new, source="import", origin=origin, actor=actor, tags=["stopncii"]
        )
        result.added = len(new)
    return result


class PullError(RuntimeError):
    pass


@dataclass
class PullResult:
    pages: int
    applied: Applied
    checkpoint: int


def pull(
    db: Database,
    *,
    name: str,
    url: str,
    key: str,
    bank: str,
    actor: str,
    function_key: str = "",
    page_size: int = MAX_PAGE,
    timeout_s: float = 60.0,
    max_pages: int | None = None,
) -> PullResult:
    """Pull every page after this source's checkpoint. ``key`` is StopNCII's subscription key and
    ``function_key`` its FetchHashes function key (default: the same); against Redline, a ``feed`` key."""
    origin = f"stopncii:{name}"
    with db.write() as session:
        state = session.get(StopnciiPull, name)
        target = service.get_bank(session, bank)
        if state is None:
            state = StopnciiPull(
                name=name, url=url, bank_id=target.id, checkpoint=0, records=0, last_error=""
            )
            session.add(state)
            service.audit(session, actor, "stopncii.source.added", f"stopncii:{name}", url=url, bank=bank)
        elif state.bank_id != target.id or state.url != url:
            raise PullError(
                f"source {name!r} pulls {state.url} into another bank; give a new source a new name"
            )
        checkpoint = state.checkpoint
    headers = {
        "Ocp-Apim-Subscription-Key": key,
        "x-functions-key": function_key or key,
        "user-agent": f"Redline-StopNCII/{__version__}",
    }
    total, pages, token, next_set = Applied(), 0, "", checkpoint
    with httpx.Client(timeout=timeout_s, trust_env=False, follow_redirects=False, headers=headers) as client:
        while max_pages is None or pages < max_pages:
            params: dict[str, Any] = {"startTimestamp": checkpoint, "pageSize": page_size}
            if token:
                params["nextPageToken"] = token
            try:
                response = client.get(url.rstrip("/") + "/FetchHashes", params=params)
                response.raise_for_status()
                page = response.json()
                records = page["hashRecords"]
                more = bool(page["hasMoreRecords"])
                next_set = int(page["nextSetTimestamp"])
            except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
                _record_error(db, name, f"{type(exc).__name__}: {exc}")
                raise PullError(f"FetchHashes failed: {type(exc).__name__}: {exc}") from None
            with db.write() as session:
                applied = apply_records(session, bank, records, origin=origin, actor=actor)
                state = session.get(StopnciiPull, name)
                assert state is not None
                state.records += len(records)
                state.last_error = ""
                state.updated_at = utcnow()
                state.checkpoint = next_set
            total += applied
            pages += 1
            token = page.get("nextPageToken") or ""
            if not more:
                break
    return PullResult(pages, total, next_set if pages else checkpoint)


def _record_error(db: Database, name: str, error: str) -> None:
    with db.write() as session:
        state = session.get(StopnciiPull, name)
        if state is not None:
            state.last_error = error[:512]
            state.updated_at = utcnow()
