"""From matches to actions: decide each match's action, log it, queue it for review, announce it.

Called by the match endpoints inside one write transaction, so the match log row, the survivor-facing match
count (``match_events``, with the decided action), the review item and the ``match.created`` outbox event are
committed together or not at all.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from redline.actions.models import REVIEW_ACTIONS, MatchLogEntry
from redline.actions.outbox import emit
from redline.actions.rules import Rule, decide, load_rules, severity
from redline.bank.models import ApiKey, Bank, utcnow
from redline.bank.service import record_matches
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
) -> list[Decided]:
    """Decide, log, queue and announce every hit; one :class:`Decided` per hit, in order."""
    if not hits:
        return []
    meta = check_caller_fields(content_id, metadata)
    active_rules = load_rules(session) if rules is None else list(rules)
    now = utcnow()
    out: list[Decided] = []
    for hit in hits:
        action = decide(active_rules, hit.bank_id, hit.query_type, hit.distance, hit.bank_action)
        item_id: int | None = None
        if action in REVIEW_ACTIONS:
            item = open_item(
                session,
                entry_id=hit.entry_id,
                bank_id=hit.bank_id,
                signal_type=hit.query_type,
                distance=hit.distance,
                action=action,
                severity=severity(action, hit.query_type, hit.distance),
                api_key_id=api_key_id,
                partner_id=partner_id,
                content_id=content_id,
                meta=meta,
            )
            item_id = item.id
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
            action=action,
            review_item_id=item_id,
        )
        session.add(row)
        session.flush()
        emit(
            session,
            "match.created",
            {
                "match_id": row.id,
                "entry_id": hit.entry_id,
                "bank": hit.bank_name,
                "signal_type": hit.query_type,
                "distance": hit.distance,
                "action": action,
                "review_item_id": item_id,
                "content_id": content_id,
                "metadata": meta,
            },
            partner_id=partner_id,
        )
        out.append(Decided(action, row.id, item_id))
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


def act_on_results(
    session: Session,
    query_values: Sequence[str],
    results: Sequence[Sequence[MatchLike]],
    *,
    api_key_id: str,
    content_id: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> list[list[Decided]]:
    """:func:`act_on_matches` for a whole match request: ``results[i]`` are the matches of query
    ``query_values[i]``. Returns the decisions in the same shape."""
    check_caller_fields(content_id, metadata)
    if not any(results):
        return [[] for _ in results]
    bank_ids = {name: bank_id for name, bank_id in session.execute(select(Bank.name, Bank.id))}
    partner_id = session.scalar(select(ApiKey.partner_id).where(ApiKey.id == api_key_id))
    flat = [
        Hit(m.signal_type, value, m.entry_id, bank_ids[m.bank], m.bank, m.distance, m.action)
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
        )
    )
    return [[next(decided) for _ in matches] for matches in results]
