"""The mirror's side: adding a mirror, reading the hub's signed pages into the local bank, sending the
local reviewers' verdicts back.

Exactly once across crashes: a page is applied in one transaction together with the mirror's new
position, and that transaction first moves the position only if it is still the one the page was asked
for, so two processes (or a process restarted after ``kill -9``) never apply a page twice; the
``mirror_entries`` primary key refuses a second copy of a hub entry in any case. A page that fails any
check (``redline.mirror.signing``) applies nothing: the refusal is counted (``refused``, the alert metric)
and its reason kept in ``last_error``.

Every change of a mirrored entry's status goes through ``redline.bank.status.change_status``, so the local
match index drops a withdrawn or quarantined entry within its poll interval, and the change is audited.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from redline import __version__
from redline.bank.audit import audit
from redline.bank.banks import create_bank
from redline.bank.db import Database
from redline.bank.entries import insert_entries
from redline.bank.errors import BankError, Conflict, NotFound
from redline.bank.hashes import HashInput, normalize_hash
from redline.bank.models import ENTRY_STATUSES, Bank, Entry, utcnow
from redline.bank.names import NameRefused, check_bank_name
from redline.bank.secrets import ContactCipher
from redline.bank.status import change_status
from redline.mirror.models import Mirror, MirrorEntry
from redline.mirror.signing import PageRefused, VerifiedPage, new_nonce, verify_page
from redline.review.models import ReviewDecision, ReviewItem

log = logging.getLogger(__name__)
PAGE_SIZE = 1_000
FEEDBACK_BATCH = 500
#: A verdict is sent again until it is this old (seconds), so one committed late (ids are not in commit
#: order on PostgreSQL) is never skipped; the hub counts a repeated verdict once.
FEEDBACK_SETTLE_S = 5.0
_CONTEXT = "mirror-key:"


class MirrorError(BankError):
    code = "mirror-failed"


def actor_of(name: str) -> str:
    return f"mirror:{name}"


def _check_name(name: str) -> str:
    if not name or len(name) > 64 or not all(c.isascii() and (c.isalnum() or c in "-_.") for c in name):
        raise BankError("a mirror's name is 1-64 letters, digits, '-', '_' or '.'")
    return name


def add_mirror(
    session: Session,
    *,
    name: str,
    url: str,
    key: str,
    bank: str,
    pinned_keys: Sequence[str],
    from_banks: Sequence[str],
    cipher: ContactCipher,
    actor: str,
) -> Mirror:
    """Register a hub feed mirrored into ``bank`` (made if missing; an existing one must be empty), which
    becomes read-only: only this mirror adds to it or changes its entries."""
    from redline.evidence.note import NoteError, VerifierKey

    _check_name(name)
    try:
        check_bank_name(bank)
    except NameRefused as exc:  # bad input, not a server fault (found by tests/api/test_fuzz.py)
        raise BankError(str(exc)) from None
    if not url.startswith(("https://", "http://")):
        raise BankError("the hub URL must start with https:// (or http:// on a private network)")
    if not pinned_keys:
        raise BankError("pin at least one of the hub's feed keys (`redline feed-key show` on the hub)")
    for text in pinned_keys:
        try:
            VerifierKey.parse(text)
        except NoteError as exc:
            raise BankError(f"hub key {text[:40]!r}: {exc}") from None
    if session.get(Mirror, name) is not None:
        raise Conflict(f"a mirror named {name!r} exists")
    target = session.scalar(select(Bank).where(Bank.name == bank))
    if target is None:
        target = create_bank(session, name=bank, actor=actor, description=f"mirror of {url}")
    elif target.mirror is not None:
        raise Conflict(f"bank {bank!r} is already filled by the mirror {target.mirror!r}")
    elif session.scalar(select(Entry.id).where(Entry.bank_id == target.id).limit(1)) is not None:
        raise Conflict(f"bank {bank!r} already holds entries; a mirror fills a bank of its own")
    target.mirror = name
    mirror = Mirror(
        name=name,
        url=url.rstrip("/"),
        bank_id=target.id,
        from_banks=sorted(set(from_banks)),
        key_encrypted=cipher.encrypt(key, _CONTEXT + name),
        pinned_keys=list(pinned_keys),
        position=0,
        head=0,
        page_hash="",
        feedback_position=int(session.scalar(select(func.max(ReviewDecision.id))) or 0),
        applied=0,
        refused=0,
        last_error="",
        enabled=True,
        lease_owner="",
        created_at=utcnow(),
    )
    session.add(mirror)
    session.flush()
    audit(
        session,
        actor,
        "mirror.added",
        f"mirror:{name}",
        url=mirror.url,
        bank=bank,
        from_banks=mirror.from_banks or "*",
        pinned_keys=[VerifierKey.parse(k).name for k in pinned_keys],
    )
    return mirror


def set_enabled(session: Session, name: str, enabled: bool, *, actor: str) -> Mirror:
    mirror = get_mirror(session, name)
    if mirror.enabled != enabled:
        mirror.enabled = enabled
        audit(session, actor, "mirror.enabled" if enabled else "mirror.paused", f"mirror:{name}")
    return mirror


def remove_mirror(session: Session, name: str, *, actor: str) -> int:
    """Stop mirroring ``name`` for good; returns how many of its entries stopped matching.

    Once a mirror is gone no withdrawal from its hub can reach this instance any more, so none of its
    entries may keep matching: every active or quarantined one is marked ``expired`` (through
    ``change_status``: the change log, so every process's index drops them, and the audit log). The rows
    stay, as every entry's do (nothing a hub sent is lost, and past matches keep their entry); the hub's
    key and the mirror's position are deleted; the bank stays, disabled and no longer read-only, under
    its name (a new mirror needs a bank of its own)."""
    # Lock the mirror's row first: a page being applied holds it (apply_page moves its position), so its
    # entries are committed, and seen below, before any is missed.
    mirror = session.scalar(select(Mirror).where(Mirror.name == name).with_for_update())
    if mirror is None:
        raise NotFound(f"no mirror named {name!r}")
    bank = session.get_one(Bank, mirror.bank_id)
    live = list(
        session.scalars(
            select(Entry).where(Entry.bank_id == bank.id, Entry.status.in_(("active", "quarantined")))
        )
    )
    expired = change_status(
        session,
        live,
        "expired",
        actor=actor,
        reason="mirror removed",
        subject=f"bank:{bank.name}",
        details={"mirror": name},
    )
    session.execute(delete(MirrorEntry).where(MirrorEntry.mirror == name))
    bank.mirror = None
    bank.enabled = False
    url = mirror.url
    session.delete(mirror)
    session.flush()
    audit(session, actor, "mirror.removed", f"mirror:{name}", url=url, bank=bank.name, expired=len(expired))
    return len(expired)


def list_mirrors(session: Session) -> list[Mirror]:
    return list(session.scalars(select(Mirror).order_by(Mirror.name)))


def get_mirror(session: Session, name: str) -> Mirror:
    mirror = session.get(Mirror, name)
    if mirror is None:
        raise NotFound(f"no mirror named {name!r}")
    return mirror


@dataclass(frozen=True)
class Status:
    """What ``redline mirror list``, the operator API and ``/metrics`` show."""

    name: str
    url: str
    bank: str
    from_banks: list[str]
    enabled: bool
    position: int
    head: int
    #: Hub change-log rows not read yet, as of the last page.
    lag_changes: int
    #: Seconds since the mirror last read the hub's feed to its end (None: never).
    lag_s: float | None
    entries: int
    refused: int
    last_error: str
    last_error_at: datetime | None
    synced_at: datetime | None
    pinned_keys: list[str] = field(default_factory=list)


def statuses(session: Session, now: datetime | None = None) -> list[Status]:
    now = now or utcnow()
    counts = dict(
        session.execute(
            select(MirrorEntry.mirror, func.count())
            .join(Entry, Entry.id == MirrorEntry.entry_id)
            .where(Entry.status == "active")
            .group_by(MirrorEntry.mirror)
        ).all()
    )
    banks = dict(session.execute(select(Bank.id, Bank.name)).all())
    return [
        Status(
            name=m.name,
            url=m.url,
            bank=banks.get(m.bank_id, "?"),
            from_banks=list(m.from_banks),
            enabled=m.enabled,
            position=m.position,
            head=m.head,
            lag_changes=max(0, m.head - m.position),
            lag_s=(now - m.synced_at).total_seconds() if m.synced_at else None,
            entries=int(counts.get(m.name, 0)),
            refused=m.refused,
            last_error=m.last_error,
            last_error_at=m.last_error_at,
            synced_at=m.synced_at,
            pinned_keys=list(m.pinned_keys),
        )
        for m in list_mirrors(session)
    ]


# --- applying a verified page ----------------------------------------------------------------------------


@dataclass
class Applied:
    added: int = 0
    changed: int = 0
    ignored: int = 0

    def __iadd__(self, other: Applied) -> Applied:
        self.added += other.added
        self.changed += other.changed
        self.ignored += other.ignored
        return self


def apply_page(session: Session, name: str, page: VerifiedPage) -> Applied:
    """Apply ``page`` to mirror ``name``'s bank in the caller's transaction. Raises :class:`Conflict` when
    another process applied it first (the position moved): the caller's transaction is rolled back."""
    moved = session.execute(
        update(Mirror)
        .where(Mirror.name == name, Mirror.position == page.after)
        .values(position=page.position, head=page.head, page_hash=page.digest)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("another process applied this page first")
    mirror = get_mirror(session, name)
    bank = session.get_one(Bank, mirror.bank_id)
    latest: dict[int, dict[str, Any]] = {}  # the last item per hub entry says what it is now
    for item in page.items:
        latest[int(item["entry_id"])] = item
    held: dict[int, Entry] = {}
    remote_ids = sorted(latest)
    for start in range(0, len(remote_ids), 1000):
        for remote_id, entry in session.execute(
            select(MirrorEntry.remote_id, Entry)
            .join(Entry, Entry.id == MirrorEntry.entry_id)
            .where(MirrorEntry.mirror == name, MirrorEntry.remote_id.in_(remote_ids[start : start + 1000]))
        ).all():
            held[remote_id] = entry
    result = Applied()
    new: dict[tuple[str, ...], list[tuple[int, HashInput]]] = {}  # by tags (one insert per tag set)
    by_status: dict[str, list[Entry]] = {}
    for remote_id, item in latest.items():
        status = item.get("status")
        mine = held.get(remote_id)
        if status not in ENTRY_STATUSES:
            result.ignored += 1
        elif mine is not None:
            if mine.status != status:
                by_status.setdefault(str(status), []).append(mine)
        elif status == "active" and isinstance(item.get("value"), str):
            try:
                hashed = normalize_hash(str(item.get("type")), item["value"], item.get("quality"))
            except BankError:
                result.ignored += 1  # a signal type this instance does not know
                continue
            tags = tuple(str(t)[:64] for t in (item.get("tags") or [])[:32])
            new.setdefault(tags, []).append((remote_id, hashed))
        else:
            result.ignored += 1  # a tombstone of an entry this mirror never had: nothing to store
    for tags, members in new.items():
        ids = insert_entries(
            session, bank, [h for _, h in members], source="import", origin=actor_of(name), tags=tags
        )
        session.execute(
            insert(MirrorEntry),
            [
                {"mirror": name, "remote_id": rid, "entry_id": eid}
                for (rid, _), eid in zip(members, ids, strict=True)
            ],
        )
        result.added += len(ids)
    for status, entries in by_status.items():
        changed = change_status(
            session,
            entries,
            status,
            actor=actor_of(name),
            reason=f"hub: {status}",
            details={"mirror": name},
        )
        result.changed += len(changed)
    if result.added or result.changed:
        audit(
            session,
            actor_of(name),
            "mirror.applied",
            f"mirror:{name}",
            after=page.after,
            position=page.position,
            added=result.added,
            changed=result.changed,
        )
    mirror.applied += result.added + result.changed
    if page.keys and sorted(page.keys) != sorted(mirror.pinned_keys):
        # The hub's key set as a page signed by a pinned key lists it: a rotation's next key is pinned
        # now, a retired one dropped.
        audit(session, actor_of(name), "mirror.keys_pinned", f"mirror:{name}", keys=len(page.keys))
        mirror.pinned_keys = list(page.keys)
    session.flush()
    return result


# --- talking to the hub ----------------------------------------------------------------------------------


@dataclass
class SyncResult:
    pages: int = 0
    applied: Applied = field(default_factory=Applied)
    verdicts_sent: int = 0
    position: int = 0


@dataclass(frozen=True)
class _Plan:
    url: str
    key: str
    position: int
    head: int
    pinned: list[str]
    banks: list[str]
    feedback_position: int


def _plan(db: Database, name: str, cipher: ContactCipher) -> _Plan:
    with db.read() as session:
        m = get_mirror(session, name)
        return _Plan(
            url=m.url,
            key=cipher.decrypt(m.key_encrypted, _CONTEXT + name),
            position=m.position,
            head=m.head,
            pinned=list(m.pinned_keys),
            banks=list(m.from_banks),
            feedback_position=m.feedback_position,
        )


def _record_error(db: Database, name: str, error: str, *, refused: bool) -> None:
    with db.write() as session:
        values: dict[str, Any] = {"last_error": error[:512], "last_error_at": utcnow()}
        if refused:
            values["refused"] = Mirror.refused + 1
        session.execute(update(Mirror).where(Mirror.name == name).values(**values))


def client_for(key: str, timeout_s: float) -> httpx.Client:
    return httpx.Client(
        timeout=timeout_s,
        trust_env=False,
        follow_redirects=False,
        headers={"Authorization": f"Bearer {key}", "user-agent": f"Redline-Mirror/{__version__}"},
    )


def sync(
    db: Database,
    name: str,
    cipher: ContactCipher,
    *,
    page_size: int = PAGE_SIZE,
    timeout_s: float = 30.0,
    max_pages: int | None = None,
    keep_going: Callable[[], bool] = lambda: True,
) -> SyncResult:
    """Read every page after the mirror's position (or ``max_pages``), then send verdicts back.
    Raises :class:`MirrorError` (recorded in ``last_error``; a refused page also counts in ``refused``)."""
    plan = _plan(db, name, cipher)
    result = SyncResult(position=plan.position)
    position, head, pinned = plan.position, plan.head, plan.pinned
    with client_for(plan.key, timeout_s) as client:
        while max_pages is None or result.pages < max_pages:
            nonce = new_nonce()
            params: dict[str, Any] = {"after": position, "limit": page_size, "nonce": nonce}
            if plan.banks:
                params["banks"] = ",".join(plan.banks)
            try:
                response = client.get(plan.url + "/v1/mirror/feed", params=params)
            except httpx.HTTPError as exc:
                _record_error(db, name, f"hub unreachable: {type(exc).__name__}: {exc}", refused=False)
                raise MirrorError(f"hub unreachable: {exc}") from None
            if response.status_code != 200:
                error = f"hub answered {response.status_code}: {response.text[:200]}"
                _record_error(db, name, error, refused=False)
                raise MirrorError(error)
            try:
                try:
                    body = response.json()
                except ValueError:
                    raise PageRefused("malformed", "the page is not JSON") from None
                page = verify_page(
                    body, pinned=pinned, after=position, head_seen=head, banks=plan.banks, nonce=nonce
                )
            except PageRefused as exc:
                error = f"page refused ({exc.reason}): {exc.detail}"
                log.warning("mirror %s: %s", name, error)
                _record_error(db, name, error, refused=True)
                raise MirrorError(error) from None
            done = not body.get("more")
            try:
                with db.write() as session:
                    result.applied += apply_page(session, name, page)
                    if done:
                        session.execute(
                            update(Mirror)
                            .where(Mirror.name == name)
                            .values(synced_at=utcnow(), last_error="")
                        )
            except Conflict:
                break  # another process applied this page first: it is syncing this mirror now
            position, head, pinned = page.position, page.head, page.keys or pinned
            result.pages += 1
            result.position = position
            if done or not keep_going():
                break
        result.verdicts_sent = send_verdicts(db, name, client, plan.url)
    return result


def send_verdicts(db: Database, name: str, client: httpx.Client, url: str) -> int:
    """Local reviewers' confirm/reject decisions on mirrored entries, to the hub in batches; the position
    advances once the hub has them (a failure is retried next round)."""
    with db.read() as session:
        since = get_mirror(session, name).feedback_position
        rows = session.execute(
            select(ReviewDecision.id, ReviewDecision.decision, ReviewDecision.at, MirrorEntry.remote_id)
            .join(ReviewItem, ReviewItem.id == ReviewDecision.item_id)
            .join(MirrorEntry, MirrorEntry.entry_id == ReviewItem.entry_id)
            .where(
                MirrorEntry.mirror == name,
                ReviewDecision.id > since,
                ReviewDecision.decision.in_(("confirm", "reject")),
            )
            .order_by(ReviewDecision.id)
            .limit(FEEDBACK_BATCH)
        ).all()
    if not rows:
        return 0
    verdicts = [{"entry_id": remote_id, "verdict": decision} for _, decision, _, remote_id in rows]
    try:
        response = client.post(url + "/v1/mirror/verdicts", json={"verdicts": verdicts})
    except httpx.HTTPError as exc:
        _record_error(db, name, f"sending verdicts failed: {exc}", refused=False)
        return 0
    if response.status_code != 200:
        _record_error(db, name, f"hub refused verdicts: {response.status_code}", refused=False)
        return 0
    settled = utcnow() - timedelta(seconds=FEEDBACK_SETTLE_S)
    advance = since
    for decision_id, _, at, _ in rows:
        if at > settled:
            break
        advance = decision_id
    if advance > since:
        with db.write() as session:
            session.execute(
                update(Mirror)
                .where(Mirror.name == name, Mirror.feedback_position < advance)
                .values(feedback_position=advance)
            )
    return len(rows)
