"""From matches to actions: decide each match's action, log it, queue it for review, announce it.

Called by the match endpoints inside one write transaction, so the match log rows, the survivor-facing match
counts (``match_events``, with the decided action), the review items and the ``match.created`` outbox events
are committed together or not at all.

The match log keeps every matched hash (md5, sha256, pdq and pdq_region of one upload are four rows). What a
reviewer and a webhook receiver see is grouped: when the request is one piece of content (an uploaded file,
or hashes sent with a ``content_id``), all its matches of one survivor picture (same case and ``item``; the
whole case when the submitter gave no items; the entry itself when it has no case) are one review item and
one ``match.created`` event listing every matched signal.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from redline.actions.models import REVIEW_ACTIONS, MatchLogEntry
from redline.actions.rules import Rule, decide, load_rules, severity
from redline.bank.cases import record_matches
from redline.bank.models import ApiKey, Bank, utcnow
from redline.events import emit
from redline.review.queue import open_item

#: Caller metadata is stored with the match: keep it small (bytes of its JSON form).
MAX_METADATA_BYTES = 4096
MAX_CONTENT_ID = 256
MAX_METADATA_DEPTH = 16


class MetadataError(ValueError):
    """``content_id`` or ``metadata`` the service will not store."""


def check_caller_fields(content_id: str | None, metadata: dict[str, Any] | None) -> dict[str, Any]:
    """Validate the platform's own reference for its content; returns the metadata to store.

    Refused here, before any matching, is everything one of the databases cannot store (PostgreSQL refuses
    NUL characters in text and JSON, and NaN or infinities in JSON; neither takes lone surrogates), so both
    refuse the same requests and a match is never found and then lost to a failed log write."""
    if content_id is not None:
        if not 1 <= len(content_id) <= MAX_CONTENT_ID:
            raise MetadataError(f"content_id must be 1 to {MAX_CONTENT_ID} characters")
        if not _storable_text(content_id):
            raise MetadataError("content_id may not contain NUL or unpaired surrogate characters")
    meta = metadata or {}
    if _depth(meta) > MAX_METADATA_DEPTH:
        raise MetadataError(f"metadata may nest at most {MAX_METADATA_DEPTH} levels deep")
    try:
        encoded = json.dumps(meta, separators=(",", ":"), allow_nan=False)
    except ValueError:
        raise MetadataError("metadata may not contain NaN or infinite numbers") from None
    if len(encoded) > MAX_METADATA_BYTES:
        raise MetadataError(f"metadata larger than {MAX_METADATA_BYTES} bytes of JSON")
    if not _storable(meta):
        raise MetadataError("metadata may not contain NUL or unpaired surrogate characters")
    return meta


def _depth(value: object) -> int:
    """How deeply ``value`` nests, counted without recursion (a hostile value may nest thousands deep)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            if level > MAX_METADATA_DEPTH:
                break
            stack.extend((v, level + 1) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


def _storable_text(text: str) -> bool:
    return "\x00" not in text and not any("\ud800" <= ch <= "\udfff" for ch in text)


def _storable(value: object) -> bool:
    """Every text in a JSON value (keys included) is one both databases store."""
    if isinstance(value, str):
        return _storable_text(value)
    if isinstance(value, dict):
        return all(_storable_text(str(k)) and _storable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_storable(v) for v in value)
    return True


@dataclass(frozen=True)
class Origin:
    """Where a match came from: a platform's request, or a scan of content it already hosts."""

    kind: str = "request"
    scan_id: str | None = None


#: A platform's own ``/v1/match`` or ``/v1/match/file`` call.
REQUEST = Origin()


@dataclass(frozen=True)
class Hit:
    """One match as the matcher found it."""

    query_type: str
    query_value: str
    entry_id: int
    bank_id: int
    bank_name: str
    distance: int
    #: The bank's ``default_action`` (``review`` unless the operator chose another).
    bank_action: str = "review"
    #: The survivor case and picture (``Entry.item``) of the matched entry, when it has them.
    case_id: str | None = None
    item: int | None = None

    @property
    def picture(self) -> tuple[str, int | None] | None:
        """What one review item stands for: a survivor's picture (or her whole case when she gave no
        pictures' positions); None for an entry without a case, which stands for itself."""
        return (self.case_id, self.item) if self.case_id is not None else None


@dataclass(frozen=True)
class Decided:
    action: str
    match_id: int
    review_item_id: int | None


def act_on_matches(
    session: Session,
    hits: Sequence[Hit],
    *,
    api_key_id: str,
    partner_id: int | None,
    content_id: str | None = None,
    metadata: dict[str, Any] | None = None,
    rules: Sequence[Rule] | None = None,
    one_content: bool = False,
    origin: Origin = REQUEST,
) -> list[Decided]:
    """Decide and log every hit, queue and announce them per picture; one :class:`Decided` per hit, in
    order. ``one_content``: the hits are of one piece of content (an upload), so the hits of one picture
    share one review item and one event; otherwise (a batch of unrelated hashes) each hit is its own.
    ``origin`` marks scan results in the log and the events (what a receiver may treat differently: the
    content has been up for a while)."""
    if not hits:
        return []
    meta = check_caller_fields(content_id, metadata)
    active_rules = load_rules(session) if rules is None else list(rules)
    now = utcnow()
    actions = [decide(active_rules, h.bank_id, h.query_type, h.distance, h.bank_action) for h in hits]
    urgency = [severity(a, h.query_type, h.distance) for a, h in zip(actions, hits, strict=True)]
    groups: dict[object, list[int]] = {}
    for position, hit in enumerate(hits):
        picture = ("picture", hit.picture) if hit.picture else ("entry", hit.entry_id)
        key = picture if one_content else position
        groups.setdefault(key, []).append(position)
    item_ids: list[int | None] = [None] * len(hits)
    rows: list[MatchLogEntry] = []
    for positions in groups.values():
        # The most urgent hit (then the closest) stands for the picture in its review item and its event.
        positions.sort(key=lambda i: (-urgency[i], hits[i].distance, hits[i].entry_id))
        queued = [i for i in positions if actions[i] in REVIEW_ACTIONS]
        if queued:
            lead = hits[queued[0]]
            item = open_item(
                session,
                entry_id=lead.entry_id,
                bank_id=lead.bank_id,
                signal_type=lead.query_type,
                distance=lead.distance,
                action=actions[queued[0]],
                severity=urgency[queued[0]],
                api_key_id=api_key_id,
                partner_id=partner_id,
                content_id=content_id,
                meta=meta,
                picture=lead.picture if one_content else None,
            )
            for i in queued:
                item_ids[i] = item.id
    for position, hit in enumerate(hits):
        row = MatchLogEntry(
            at=now,
            api_key_id=api_key_id,
            partner_id=partner_id,
            content_id=content_id,
            meta=meta,
            query_type=hit.query_type,
            query_value=hit.query_value,
            entry_id=hit.entry_id,
            bank_id=hit.bank_id,
            distance=hit.distance,
            action=actions[position],
            review_item_id=item_ids[position],
            origin=origin.kind,
            scan_id=origin.scan_id,
        )
        session.add(row)
        rows.append(row)
    session.flush()
    for positions in groups.values():
        lead_at = positions[0]
        lead = hits[lead_at]
        item_id = next((item_ids[i] for i in positions if item_ids[i] is not None), None)
        emit(
            session,
            "match.created",
            {
                "match_id": rows[lead_at].id,
                "entry_id": lead.entry_id,
                "bank": lead.bank_name,
                "signal_type": lead.query_type,
                "distance": lead.distance,
                "action": actions[lead_at],
                "review_item_id": item_id,
                "content_id": content_id,
                "metadata": meta,
                "origin": origin.kind,
                "scan_id": origin.scan_id,
                # Found when the entry went live, among content checked before (redline.retro): the
                # content has been up since then.
                "retroactive": origin.kind == "retroactive",
                # Every matched signal of this picture, closest first (the match log has one row each).
                "matches": [
                    {
                        "match_id": rows[i].id,
                        "entry_id": hits[i].entry_id,
                        "signal_type": hits[i].query_type,
                        "distance": hits[i].distance,
                        "action": actions[i],
                    }
                    for i in positions
                ],
            },
            partner_id=partner_id,
        )
    out = [Decided(a, row.id, i) for a, row, i in zip(actions, rows, item_ids, strict=True)]
    # The survivor's case page counts matches by the action actually taken, so record the decided one.
    record_matches(
        session, api_key_id, [(h.entry_id, h.distance, d.action) for h, d in zip(hits, out, strict=True)]
    )
    return out


class MatchLike(Protocol):
    """What the matcher reports for one match (``redline.match.service.Match``)."""

    @property
    def entry_id(self) -> int: ...
    @property
    def bank(self) -> str: ...
    @property
    def signal_type(self) -> str: ...
    @property
    def distance(self) -> int: ...
    @property
    def action(self) -> str: ...
    @property
    def case_id(self) -> str | None: ...
    @property
    def item(self) -> int | None: ...


def act_on_results(
    session: Session,
    query_values: Sequence[str],
    results: Sequence[Sequence[MatchLike]],
    *,
    api_key_id: str,
    content_id: str | None = None,
    metadata: dict[str, Any] | None = None,
    one_content: bool = False,
    origin: Origin = REQUEST,
) -> list[list[Decided]]:
    """:func:`act_on_matches` for a whole match request: ``results[i]`` are the matches of query
    ``query_values[i]``. Returns the decisions in the same shape."""
    check_caller_fields(content_id, metadata)
    if not any(results):
        return [[] for _ in results]
    bank_ids = {name: bank_id for name, bank_id in session.execute(select(Bank.name, Bank.id))}
    partner_id = session.scalar(select(ApiKey.partner_id).where(ApiKey.id == api_key_id))
    flat = [
        Hit(
            query_type=m.signal_type,
            query_value=value,
            entry_id=m.entry_id,
            bank_id=bank_ids[m.bank],
            bank_name=m.bank,
            distance=m.distance,
            bank_action=m.action,
            case_id=m.case_id,
            item=m.item,
        )
        for value, matches in zip(query_values, results, strict=True)
        for m in matches
    ]
    decided = iter(
        act_on_matches(
            session,
            flat,
            api_key_id=api_key_id,
            partner_id=partner_id,
            content_id=content_id,
            metadata=metadata,
            one_content=one_content,
            origin=origin,
        )
    )
    return [[next(decided) for _ in matches] for matches in results]


def matches_of_items(session: Session, item_ids: Sequence[int]) -> dict[int, list[MatchLogEntry]]:
    """Every logged match behind each review item (an upload's md5, sha256, pdq … of one picture), closest
    first: what the reviewer's one decision covers."""
    out: dict[int, list[MatchLogEntry]] = {item_id: [] for item_id in item_ids}
    if item_ids:
        for row in session.scalars(
            select(MatchLogEntry)
            .where(MatchLogEntry.review_item_id.in_(list(item_ids)))
            .order_by(MatchLogEntry.distance, MatchLogEntry.id)
        ):
            out[int(row.review_item_id or 0)].append(row)
    return out
