"""The hashes of content platforms checked: recording them, searching them, deleting them when expired.

:func:`find_seen` is the one search over them. Retroactive matching (``redline.retro.worker``) calls it
with each entry that goes live, and the removal workflow's sweep calls it with the hashes of a reported
picture. Its contract (kept stable):

* a query is a normalised hash of a registered type (``redline.bank.hashes.normalize_hash``) as the bank
  stores it: ``md5`` / ``sha256`` (exact), ``pdq``, ``pdq_region`` (a survivor's device's crops);
* a query of type T is compared with the seen hashes of type T only, exactly as forward matching compares
  an upload's query of type T with the entries of type T, at the query's ``threshold`` (default: the
  type's) plus the seen hash's label allowance (``full``/``mirror`` region hashes of the whole upload:
  ``match.derive.region_allowance``). With every derived hash kept, a hit here is exactly a match
  forward matching would have made; with fewer kept (``KEPT_REGION_LABELS``), a subset of them;
* one :class:`SeenHit` per (query, seen upload): the closest of that upload's hashes, ``exact`` for the
  digests; sorted by query, then distance. :func:`best_per_content` folds them to one per content.

No FastAPI here; the pixels never reach this module (it only ever receives hashes).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import bindparam, delete, func, select, text
from sqlalchemy.orm import Session

from redline.bank.audit import audit
from redline.bank.db import Database
from redline.bank.models import ApiKey, utcnow
from redline.index import CodeArray, HammingIndex, IdArray, new_index
from redline.match.derive import region_allowance
from redline.retro.models import SeenHash, SeenUpload
from redline.signals.types import SIGNAL_TYPES, signal_type

#: The robust region hashes kept per seen upload besides its plain hashes: the two of the whole upload
#: (plain and mirrored), chosen by measurement (docs/RETROACTIVE.md, "What is kept"): they keep most of
#: robust recall at 64 bytes per upload, where all ~110 derived hashes would cost ~3.5 KB.
KEPT_REGION_LABELS: frozenset[str] = frozenset({"full", "mirror"})
#: The largest distance between a survivor's stored crop (``pdq_region``) and a seen upload's hash of the
#: whole upload (its plain PDQ as ``full``, its ``mirror``). Forward matching allows 64 for these pairs
#: (``robust.WHOLE_THRESHOLD``); searching 10M seen uploads that far costs seconds per picture. Measured
#: (docs/RETROACTIVE.md, "What is kept"): at 31 retroactive recall is 39.6% (plain PDQ alone 31.1%, 45.1%
#: at 45, 54.9% at 64) and one picture against 10M seen uploads costs ~19x less than at 45.
WHOLE_UPLOAD_REACH = 31
#: How long an id skipped over by a refresh is looked for again (a transaction that took its id before a
#: later one committed); and the largest run of skipped ids remembered (more: a rolled-back bulk load).
_GAP_WAIT_S = 120.0
_MAX_GAP = 10_000
_LOAD_CHUNK = 200_000
#: (region type, plain type, label): a seen plain PDQ is also the upload's ``full`` region hash.
_WHOLE_ALIAS = ("pdq_region", "pdq", "full")


@dataclass(frozen=True)
class SeenQuery:
    """A hash to look for among the seen ones (normalised: ``redline.bank.hashes.normalize_hash``)."""

    signal_type: str
    value: str
    #: Largest distance that counts (before the seen hash's label allowance); None: the type's default.
    threshold: int | None = None


@dataclass(frozen=True)
class SeenHit:
    """One seen upload that one query found."""

    #: Position of the query in the caller's list.
    query: int
    seen_id: int
    content_id: str
    api_key_id: str
    partner_id: int | None
    #: How the content was checked: ``request`` or ``scan``.
    origin: str
    seen_at: datetime
    #: The seen hash that matched, as the query's type (a plain PDQ found by a ``pdq_region`` query is
    #: the upload's ``full`` region hash).
    signal_type: str
    value: str
    label: str | None
    distance: int
    #: An identical copy (same MD5 / SHA-256), not a perceptual near-duplicate.
    exact: bool


@dataclass(frozen=True)
class SeenHashIn:
    """A hash of a checked upload, to be kept (a ``pdq_region`` one with its label)."""

    signal_type: str
    value: str
    label: str | None = None


def kept_hashes(plain: Iterable[SeenHashIn], regions: Iterable[SeenHashIn]) -> list[SeenHashIn]:
    """What is kept of one checked upload: every plain hash (exact digests, PDQ), and of its robust region
    hashes those labelled in :data:`KEPT_REGION_LABELS`; each once. The ``full`` region hash is the plain
    PDQ itself: it is not stored twice (a plain ``pdq`` seen hash is searched as the upload's ``full`` one
    too, see :func:`find_seen`)."""
    plain = list(plain)
    pdq_values = {h.value for h in plain if h.signal_type == _WHOLE_ALIAS[1]}
    out: list[SeenHashIn] = []
    seen: set[tuple[str, str, str | None]] = set()
    for h in [*plain, *(r for r in regions if r.label in KEPT_REGION_LABELS)]:
        if (h.signal_type, h.label) == (_WHOLE_ALIAS[0], _WHOLE_ALIAS[2]) and h.value in pdq_values:
            continue
        key = (h.signal_type, h.value, h.label)
        if key not in seen:
            seen.add(key)
            out.append(h)
    return out


def record_seen(
    session: Session,
    *,
    api_key_id: str,
    partner_id: int | None,
    content_id: str,
    hashes: Sequence[SeenHashIn],
    origin: str = "request",
) -> int | None:
    """Keep the hashes of one checked upload (in the caller's transaction); returns its row id, or None
    when there is nothing to keep."""
    if not hashes:
        return None
    upload = SeenUpload(
        api_key_id=api_key_id, partner_id=partner_id, content_id=content_id, origin=origin, seen_at=utcnow()
    )
    session.add(upload)
    session.flush()
    session.add_all(
        SeenHash(upload_id=upload.id, signal_type=h.signal_type, value=h.value, label=h.label) for h in hashes
    )
    return upload.id


@dataclass(frozen=True)
class Checked:
    """One piece of content a platform checked: its id and the hashes it was looked up by."""

    content_id: str
    plain: Sequence[SeenHashIn]
    regions: Sequence[SeenHashIn] = ()


def remember_checked(
    db: Database, *, api_key_id: str, checked: Sequence[Checked], origin: str = "request"
) -> int:
    """Keep what :func:`kept_hashes` keeps of each checked upload, in one transaction, attributed to the
    key's partner (whose webhooks a later retroactive match goes to). Returns how many were kept."""
    kept = [(c.content_id, kept_hashes(c.plain, c.regions)) for c in checked]
    kept = [(content_id, hashes) for content_id, hashes in kept if hashes]
    if not kept:
        return 0
    with db.write() as session:
        partner_id = session.scalar(select(ApiKey.partner_id).where(ApiKey.id == api_key_id))
        # A content id names one piece of the platform's content: checked again, its new hashes replace
        # the old ones (and its retention starts again), so a re-run scan keeps one row per file.
        forget_content(session, api_key_id, [content_id for content_id, _ in kept])
        for content_id, hashes in kept:
            record_seen(
                session,
                api_key_id=api_key_id,
                partner_id=partner_id,
                content_id=content_id,
                hashes=hashes,
                origin=origin,
            )
    return len(kept)


def forget_content(session: Session, api_key_id: str, content_ids: Sequence[str]) -> int:
    """Delete what was kept of these contents of this key (checked again, or removed by the platform);
    returns how many seen uploads went."""
    ids = list(
        session.scalars(
            select(SeenUpload.id).where(
                SeenUpload.api_key_id == api_key_id, SeenUpload.content_id.in_(sorted(set(content_ids)))
            )
        )
    )
    if ids:
        session.execute(delete(SeenHash).where(SeenHash.upload_id.in_(ids)))
        session.execute(delete(SeenUpload).where(SeenUpload.id.in_(ids)))
    return len(ids)


def indexed_rows(session: Session) -> int:
    """How many seen hashes an up-to-date :class:`SeenIndex` holds."""
    kinds = [k.name for k in SIGNAL_TYPES.indexed()]
    return int(
        session.scalar(select(func.count()).select_from(SeenHash).where(SeenHash.signal_type.in_(kinds))) or 0
    )


def purge_expired(session: Session, retention: timedelta, *, chunk: int = 10_000) -> int:
    """Delete the seen uploads (and their hashes) checked longer than ``retention`` ago; returns how many.
    Chunked, so a large backlog never holds one huge transaction's locks for long (call until 0)."""
    cutoff = utcnow() - retention
    ids = list(session.scalars(select(SeenUpload.id).where(SeenUpload.seen_at < cutoff).limit(chunk)))
    if not ids:
        return 0
    session.execute(delete(SeenHash).where(SeenHash.upload_id.in_(ids)))
    session.execute(delete(SeenUpload).where(SeenUpload.id.in_(ids)))
    # Deleting data is a state change like any other: one audit row per chunk (counts, no content ids).
    audit(session, "system", "seen.purged", "seen_uploads", uploads=len(ids), retention_days=retention.days)
    return len(ids)


def _group_of(type_name: str, label: str | None) -> tuple[str, int]:
    """Which in-memory index a seen hash lives in: its type and its label's allowance."""
    return type_name, region_allowance(label) if SIGNAL_TYPES[type_name].once_per_case else 0


class SeenIndex:
    """The seen perceptual hashes in memory (``redline.index``), one index per (type, allowance), by
    ``seen_hashes.id``. Exact digests stay in the database (looked up by value, indexed).

    :meth:`refresh` adds the rows committed since the last one (and those that committed late);
    deleted rows are dropped by :meth:`forget` or, lazily, because every candidate is checked against
    the database before it is reported. Thread-safe: one lock around refresh and search."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._indexes: dict[tuple[str, int], HammingIndex] = {}
        self._position = 0
        self._gaps: dict[int, float] = {}  # id skipped over -> when first noticed (monotonic)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return sum(len(i) for i in self._indexes.values())

    def refresh(self) -> int:
        """Load the seen hashes committed since the last refresh; returns how many rows were read.

        PostgreSQL hands out ids before commit, so a row with a smaller id can become visible after a
        larger one: the ids skipped over are remembered for :data:`_GAP_WAIT_S` and looked for again."""
        read = 0
        with self._lock, self._db.engine.connect() as conn:
            now = time.monotonic()
            self._gaps = {i: t for i, t in self._gaps.items() if now - t < _GAP_WAIT_S}
            columns = (SeenHash.id, SeenHash.signal_type, SeenHash.value, SeenHash.label)
            late = sorted(self._gaps)
            for start in range(0, len(late), 5_000):
                found = conn.execute(
                    select(*columns).where(SeenHash.id.in_(late[start : start + 5_000]))
                ).all()
                self._take(found)
                read += len(found)
            rows = conn.execute(
                select(*columns)
                .where(SeenHash.id > self._position)
                .order_by(SeenHash.id)
                .execution_options(yield_per=_LOAD_CHUNK)
            )
            for batch in rows.partitions(_LOAD_CHUNK):
                for row in batch:
                    row_id = int(row.id)
                    if row_id > self._position + 1 and row_id - self._position <= _MAX_GAP:
                        self._gaps.update(dict.fromkeys(range(self._position + 1, row_id), now))
                    self._position = max(self._position, row_id)
                self._take(batch)
                read += len(batch)
        return read

    def _take(self, rows: Sequence[Any]) -> None:
        grouped: dict[tuple[str, int], tuple[list[int], list[str]]] = {}
        for row in rows:
            self._gaps.pop(int(row.id), None)
            if SIGNAL_TYPES[row.signal_type].indexed():
                ids, values = grouped.setdefault(_group_of(row.signal_type, row.label), ([], []))
                ids.append(int(row.id))
                values.append(row.value)
        for group, (ids, values) in grouped.items():
            self._add(group, ids, values)

    def _add(self, group: tuple[str, int], ids: list[int], values: list[str]) -> None:
        index = self._index_for(group)
        index.add(np.array(ids, dtype=np.int64), _codes(values, index.bits))

    def _index_for(self, group: tuple[str, int]) -> HammingIndex:
        index = self._indexes.get(group)
        if index is None:
            kind = signal_type(group[0])
            # Split for the reach the searches of this group use (redline.index.new_index): whole-upload
            # hashes are searched at most WHOLE_UPLOAD_REACH far, the others at their type's threshold.
            whole = group[1] > 0
            tuned = (
                min(kind.default_threshold + group[1], WHOLE_UPLOAD_REACH)
                if whole
                else kind.default_threshold
            )
            index = self._indexes[group] = new_index(kind.hash_length, tuned_for=tuned)
        return index

    def add(self, group_type: str, label: str | None, ids: IdArray, codes: CodeArray) -> None:
        """Add packed codes directly, as ``seen_hashes`` ids (benchmarks; the database path is
        :meth:`refresh`)."""
        with self._lock:
            self._index_for(_group_of(group_type, label)).add(ids, codes)

    def forget(self, hash_ids: Sequence[int]) -> None:
        """Drop deleted rows from memory."""
        with self._lock:
            ids = np.array(list(hash_ids), dtype=np.int64)
            for index in self._indexes.values():
                index.remove(ids)

    def candidates(
        self, queries: Sequence[SeenQuery], *, whole_reach: int = WHOLE_UPLOAD_REACH
    ) -> list[dict[int, int]]:
        """Per query: seen hash id -> distance, for every indexed hash within reach (not yet checked
        against the database). ``whole_reach``: the cap on the search of whole-upload hashes (see
        :func:`find_seen`)."""
        out: list[dict[int, int]] = [{} for _ in queries]
        with self._lock:
            for (name, allowance), index in self._indexes.items():
                by_reach: dict[int, list[int]] = {}
                for i, q in enumerate(queries):
                    reach = _reach(q, name, allowance, whole_reach)
                    if reach is not None:
                        by_reach.setdefault(reach, []).append(i)
                for reach, positions in by_reach.items():
                    codes = _codes([queries[i].value for i in positions], index.bits)
                    for i, hits in zip(positions, index.search(codes, reach), strict=True):
                        for hash_id, distance in zip(hits.ids.tolist(), hits.distances.tolist(), strict=True):
                            out[i][int(hash_id)] = int(distance)
        return out


def _reach(
    query: SeenQuery, group_type: str, allowance: int, whole_reach: int = WHOLE_UPLOAD_REACH
) -> int | None:
    """How far ``query`` searches the seen hashes of ``group_type`` (None: not at all): its own type's at
    its threshold plus their label's allowance, whole-upload hashes at most ``whole_reach``; a
    ``pdq_region`` query also the plain PDQ hashes, as the uploads' ``full`` region hashes."""
    kind = signal_type(query.signal_type)
    threshold = query.threshold if query.threshold is not None else kind.default_threshold
    if group_type == query.signal_type:
        return threshold if allowance == 0 else min(threshold + allowance, whole_reach)
    if (query.signal_type, group_type) == _WHOLE_ALIAS[:2]:
        return min(threshold + region_allowance(_WHOLE_ALIAS[2]), whole_reach)
    return None


_ROWS = text(
    "SELECT h.id AS hash_id, h.signal_type, h.value, h.label, u.id AS seen_id, u.content_id, u.api_key_id, "
    "u.partner_id, u.origin, u.seen_at FROM seen_hashes h JOIN seen_uploads u ON u.id = h.upload_id "
    "WHERE h.id IN :ids"
).bindparams(bindparam("ids", expanding=True))


def find_seen(
    db: Database,
    queries: Sequence[SeenQuery],
    *,
    index: SeenIndex | None = None,
    partner_id: int | None = None,
    not_before: datetime | None = None,
    whole_reach: int = WHOLE_UPLOAD_REACH,
) -> list[SeenHit]:
    """Which seen uploads each query finds (the module docstring has the contract).

    ``index``: a live :class:`SeenIndex` (the retro worker keeps one); None builds one from the database
    for this call (fine for an occasional sweep; O(seen hashes)). ``partner_id``: only that platform's
    uploads. ``not_before``: only uploads checked at or after it (e.g. now minus the retention).
    ``whole_reach``: how far a survivor's stored crop is searched against a seen upload's whole-upload
    hashes. Retroactive matching keeps :data:`WHOLE_UPLOAD_REACH` (cheap at 10M uploads, every entry);
    the removal sweep, one request at a time, passes ``robust.WHOLE_THRESHOLD`` (64, what forward
    matching allows), because a re-encoded, resized and cropped copy is often farther than 31."""
    if not queries:
        return []
    unknown = sorted({q.signal_type for q in queries} - SIGNAL_TYPES.keys())
    if unknown:
        raise ValueError(f"unknown signal type(s): {', '.join(unknown)}")
    if index is None:
        index = SeenIndex(db)
        index.refresh()
    found = index.candidates(queries, whole_reach=whole_reach)
    exact_types = {q.signal_type for q in queries if not SIGNAL_TYPES[q.signal_type].indexed()}
    with db.read() as session:
        for name in exact_types:
            positions = [i for i, q in enumerate(queries) if q.signal_type == name]
            values = sorted({queries[i].value for i in positions})
            by_value: dict[str, list[int]] = {}
            for exact in session.execute(
                select(SeenHash.id, SeenHash.value).where(
                    SeenHash.signal_type == name, SeenHash.value.in_(values)
                )
            ):
                by_value.setdefault(exact.value, []).append(int(exact.id))
            for i in positions:
                found[i].update(dict.fromkeys(by_value.get(queries[i].value, ()), 0))
        wanted = sorted({h for f in found for h in f})
        rows: dict[int, Any] = {}
        for start in range(0, len(wanted), 5_000):
            chunk = wanted[start : start + 5_000]
            rows.update({int(r.hash_id): r for r in session.execute(_ROWS, {"ids": chunk})})
    hits: list[SeenHit] = []
    for position, (query, candidates) in enumerate(zip(queries, found, strict=True)):
        best: dict[int, SeenHit] = {}
        for hash_id, distance in candidates.items():
            row = rows.get(hash_id)
            if row is None:
                continue  # deleted (expired) since the index read it
            as_full = (query.signal_type, row.signal_type) == _WHOLE_ALIAS[:2]
            if row.signal_type != query.signal_type and not as_full:
                continue
            if partner_id is not None and row.partner_id != partner_id:
                continue
            seen_at = aware_utc(row.seen_at)
            if not_before is not None and seen_at < not_before:
                continue
            hit = SeenHit(
                query=position,
                seen_id=int(row.seen_id),
                content_id=row.content_id,
                api_key_id=row.api_key_id,
                partner_id=row.partner_id,
                origin=row.origin,
                seen_at=seen_at,
                signal_type=query.signal_type,
                value=row.value,
                label=_WHOLE_ALIAS[2] if as_full else row.label,
                distance=distance,
                exact=not SIGNAL_TYPES[query.signal_type].indexed(),
            )
            known = best.get(hit.seen_id)
            if known is None or hit.distance < known.distance:
                best[hit.seen_id] = hit
        hits += sorted(best.values(), key=lambda h: (h.distance, h.seen_id))
    return hits


def best_per_content(hits: Iterable[SeenHit]) -> list[SeenHit]:
    """One hit per seen piece of content (platform key and ``content_id``): an exact one first, then the
    closest; ordered that way too."""
    best: dict[tuple[str, str], SeenHit] = {}
    for hit in hits:
        key = (hit.api_key_id, hit.content_id)
        known = best.get(key)
        if known is None or (not hit.exact, hit.distance) < (not known.exact, known.distance):
            best[key] = hit
    return sorted(best.values(), key=lambda h: (not h.exact, h.distance, h.seen_id))


def _codes(values: Sequence[str], bits: int) -> Any:
    if not values:
        return np.empty((0, bits // 8), dtype=np.uint8)
    return np.frombuffer(bytes.fromhex("".join(values)), dtype=np.uint8).reshape(-1, bits // 8)


def aware_utc(value: Any) -> datetime:
    """Raw SQL returns SQLite's datetimes as text without a zone (stored as UTC)."""
    parsed: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
