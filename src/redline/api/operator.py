"""Operator routes (scope ``admin``): banks and thresholds, bulk import, entry status, API keys, audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from redline.api.deps import Caller, require_scope, services
from redline.api.problems import Problem
from redline.api.schemas import (
    AuditOut,
    AuditPage,
    BankIn,
    BankOut,
    BankPatch,
    EntryOut,
    EntryPatch,
    ImportOut,
    KeyCreated,
    KeyIn,
    KeyOut,
)
from redline.bank import grants, service
from redline.bank.importing import ImportFormat, parse_hashes
from redline.bank.models import ApiKey, Bank, Entry
from redline.signals.types import SIGNAL_TYPES

router = APIRouter(prefix="/v1", tags=["operators"])
Admin = Annotated[Caller, Depends(require_scope("admin"))]
EntryId = Annotated[int, Path(ge=1, le=2**63 - 1)]
_IMPORT_TYPES: dict[str, ImportFormat] = {
    "text/csv": "csv",
    "application/x-ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "application/jsonlines": "jsonl",
}


def bank_out(bank: Bank) -> BankOut:
    return BankOut(
        name=bank.name,
        description=bank.description,
        thresholds={name: service.threshold_for(bank.thresholds, name) for name in SIGNAL_TYPES},
        default_action=bank.default_action,
        enabled=bank.enabled,
        created_at=bank.created_at,
    )


def key_out(key: ApiKey) -> KeyOut:
    return KeyOut(
        id=key.id, name=key.name, scopes=key.scopes, created_at=key.created_at, revoked_at=key.revoked_at
    )


@router.get("/banks", response_model=list[BankOut])
def list_banks(request: Request, caller: Admin) -> list[BankOut]:
    with services(request).db.read() as session:
        return [bank_out(b) for b in service.list_banks(session)]


@router.post("/banks", status_code=201, response_model=BankOut)
def create_bank(body: BankIn, request: Request, caller: Admin) -> BankOut:
    with services(request).db.write() as session:
        return bank_out(
            service.create_bank(
                session,
                name=body.name,
                actor=caller.actor,
                description=body.description,
                thresholds={str(k): v for k, v in body.thresholds.items()},
                default_action=body.default_action,
            )
        )


@router.get("/banks/{bank}", response_model=BankOut)
def get_bank(bank: str, request: Request, caller: Admin) -> BankOut:
    with services(request).db.read() as session:
        return bank_out(service.get_bank(session, bank))


@router.patch("/banks/{bank}", response_model=BankOut)
def update_bank(bank: str, body: BankPatch, request: Request, caller: Admin) -> BankOut:
    with services(request).db.write() as session:
        return bank_out(
            service.update_bank(
                session,
                bank,
                actor=caller.actor,
                description=body.description,
                thresholds={str(k): v for k, v in body.thresholds.items()}
                if body.thresholds is not None
                else None,
                default_action=body.default_action,
                enabled=body.enabled,
            )
        )


@router.post(
    "/banks/{bank}/import",
    response_model=ImportOut,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/x-ndjson": {"schema": {"type": "string"}},
            },
        }
    },
)
async def import_entries(bank: str, request: Request, caller: Admin) -> ImportOut:
    """Bulk import: CSV (header ``type,value[,quality]``) or JSON Lines; all lines valid or none stored."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    fmt = _IMPORT_TYPES.get(media_type)
    if fmt is None:
        raise Problem("unsupported-media-type", "send text/csv or application/x-ndjson")
    raw = await request.body()
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Problem("invalid-request", "the file must be UTF-8 text") from None

    def store() -> int:
        hashes = parse_hashes(content, fmt)
        with services(request).db.write() as session:
            return len(
                service.add_entries(
                    session,
                    bank,
                    hashes,
                    source="import",
                    origin=f"import:{caller.actor}",
                    actor=caller.actor,
                )
            )

    return ImportOut(bank=bank, imported=await run_in_threadpool(store))


def entry_out(entry: Entry, bank: str) -> EntryOut:
    return EntryOut(
        id=entry.id,
        bank=bank,
        type=entry.signal_type,
        value=entry.value if entry.status == "active" else None,
        quality=entry.quality,
        source=entry.source,
        status=entry.status,
        tags=entry.tags,
        case_id=entry.case_id,
        created_at=entry.created_at,
        updated_at=entry.updated_at,
    )


@router.get("/entries/{entry_id}", response_model=EntryOut)
def get_entry(entry_id: EntryId, request: Request, caller: Admin) -> EntryOut:
    with services(request).db.read() as session:
        entry = service.get_entry(session, entry_id)
        bank = session.get(Bank, entry.bank_id)
        return entry_out(entry, bank.name if bank else "")


@router.patch("/entries/{entry_id}", response_model=EntryOut)
def set_entry_status(entry_id: EntryId, body: EntryPatch, request: Request, caller: Admin) -> EntryOut:
    """Quarantine an entry (stops matching, kept for review), release it, or mark it expired."""
    with services(request).db.write() as session:
        # Writes the change log, the audit row and the webhook to platforms, in this transaction.
        entry = service.set_entry_status(
            session, entry_id, body.status, actor=caller.actor, reason=body.reason
        )
        bank = session.get(Bank, entry.bank_id)
        return entry_out(entry, bank.name if bank else "")


@router.get("/keys", response_model=list[KeyOut])
def list_keys(request: Request, caller: Admin) -> list[KeyOut]:
    with services(request).db.read() as session:
        return [key_out(k) for k in service.list_api_keys(session)]


@router.post("/keys", status_code=201, response_model=KeyCreated)
def create_key(body: KeyIn, request: Request, caller: Admin) -> KeyCreated:
    found = services(request)
    with found.db.write() as session:
        key, token = service.create_api_key(
            session, name=body.name, scopes=body.scopes, actor=caller.actor, partner=body.partner
        )
        session.flush()
        survivors = found.settings.survivor_bank
        for bank in body.banks:
            grants.grant(session, key.id, bank, actor=caller.actor, survivor_bank=survivors)
        for bank in body.feed_banks:
            grants.grant(session, key.id, bank, actor=caller.actor, survivor_bank=survivors, purpose="feed")
        return KeyCreated(
            **key_out(key).model_dump(),
            token=token,
            banks=sorted(set(body.banks)),
            feed_banks=sorted(set(body.feed_banks)),
        )


@router.put("/keys/{key_id}/banks/{bank}", status_code=204)
def grant_bank(key_id: str, bank: str, request: Request, caller: Admin) -> None:
    """Let a ``submit`` key add hashes to ``bank`` (never the survivors' bank)."""
    found = services(request)
    with found.db.write() as session:
        grants.grant(session, key_id, bank, actor=caller.actor, survivor_bank=found.settings.survivor_bank)


@router.delete("/keys/{key_id}/banks/{bank}", status_code=204)
def revoke_bank_grant(key_id: str, bank: str, request: Request, caller: Admin) -> None:
    with services(request).db.write() as session:
        grants.revoke(session, key_id, bank, actor=caller.actor)


@router.put("/keys/{key_id}/feed-banks/{bank}", status_code=204)
def grant_feed_bank(key_id: str, bank: str, request: Request, caller: Admin) -> None:
    """Let a ``feed`` key read ``bank`` in feeds (``/v1/feed``, the mirror feed, StopNCII FetchHashes)."""
    found = services(request)
    with found.db.write() as session:
        grants.grant(
            session,
            key_id,
            bank,
            actor=caller.actor,
            survivor_bank=found.settings.survivor_bank,
            purpose="feed",
        )


@router.delete("/keys/{key_id}/feed-banks/{bank}", status_code=204)
def revoke_feed_bank(key_id: str, bank: str, request: Request, caller: Admin) -> None:
    with services(request).db.write() as session:
        grants.revoke(session, key_id, bank, actor=caller.actor, purpose="feed")


@router.delete("/keys/{key_id}", response_model=KeyOut)
def revoke_key(key_id: str, request: Request, caller: Admin) -> KeyOut:
    with services(request).db.write() as session:
        return key_out(service.revoke_api_key(session, key_id, actor=caller.actor))


@router.get("/audit", response_model=AuditPage)
def audit_log(
    request: Request,
    caller: Admin,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditPage:
    with services(request).db.read() as session:
        events = service.audit_page(session, after, limit)
        items = [
            AuditOut(id=e.id, at=e.at, actor=e.actor, action=e.action, subject=e.subject, details=e.details)
            for e in events
        ]
    return AuditPage(items=items, next_after=items[-1].id if items else after)
