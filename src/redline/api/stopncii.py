"""StopNCII's partner API shape, served: ``/stopncii/v1/FetchHashes``, ``SubmitHashes``, ``SubmitFeedback``.

A partner whose code already speaks StopNCII (python-threatexchange's ``StopNCIIAPI``, HMA's ``stop_ncii``
exchange) points its base URL at ``https://hub.example/stopncii/v1`` and uses a Redline API key as its
subscription key (``Ocp-Apim-Subscription-Key``; ``x-functions-key`` or ``Authorization: Bearer`` work too).
Scopes: fetching is ``feed``, feedback on fetched hashes is ``feed``, submitting hashes is ``submit``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials
from sqlalchemy import select

from redline.api.deps import Caller, bearer, partner_of, services
from redline.api.problems import Problem
from redline.bank import grants, service
from redline.bank.models import ApiKey, Entry
from redline.interop import stopncii

router = APIRouter(prefix="/stopncii/v1", tags=["stopncii"])
#: Hashes partners submit through ``SubmitHashes`` land here (created on first use), with the partner's key as
#: their origin, as ``POST /v1/banks/{bank}/entries`` does for Redline's own API.
SUBMISSION_BANK = "stopncii-submissions"
subscription_key = APIKeyHeader(
    name="Ocp-Apim-Subscription-Key", auto_error=False, description="a Redline API key"
)
function_key = APIKeyHeader(name="x-functions-key", auto_error=False, description="a Redline API key")


def _caller(scope: str) -> Any:
    def dependency(
        request: Request,
        subscription: Annotated[str | None, Security(subscription_key)],
        function: Annotated[str | None, Security(function_key)],
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
    ) -> Caller:
        tokens = [t for t in (subscription, function, credentials.credentials if credentials else None) if t]
        if not tokens:
            raise Problem(
                "unauthorized",
                "send a Redline API key as Ocp-Apim-Subscription-Key",
                headers={"WWW-Authenticate": "Bearer"},
            )
        with services(request).db.read() as session:
            keys = [
                k
                for k in (service.authenticate_key(session, t) for t in dict.fromkeys(tokens))
                if k is not None
            ]
            if not keys:
                raise Problem(
                    "unauthorized", "unknown or revoked API key", headers={"WWW-Authenticate": "Bearer"}
                )
            key = next((k for k in keys if scope in k.scopes), None)
            if key is None:
                raise Problem("forbidden", f"this API key does not have the {scope!r} scope")
            return Caller(key.id, frozenset(key.scopes))

    return dependency


@router.get("/FetchHashes")
def fetch_hashes(
    request: Request,
    caller: Annotated[Caller, Depends(_caller("feed"))],
    startTimestamp: Annotated[int, Query(ge=0, le=2**40)] = 0,
    pageSize: Annotated[int, Query(ge=1, le=stopncii.MAX_PAGE)] = stopncii.MAX_PAGE,
    nextPageToken: Annotated[str, Query(max_length=128)] = "",
) -> dict[str, Any]:
    """Hash records in change order, at most 800 a page; follow ``nextPageToken`` while ``hasMoreRecords``,
    then
    store ``nextSetTimestamp`` and pass it as ``startTimestamp`` next time."""
    found = services(request)
    with found.db.read() as session:
        cursor = (
            stopncii.Cursor.parse(nextPageToken)
            if nextPageToken
            else stopncii.start_cursor(session, startTimestamp)
        )
        key = session.get(ApiKey, caller.key_id)
        floor = stopncii.key_floor(session, key.created_at) if key is not None else 0
        try:
            readable = grants.readable_banks(session, caller.key_id)
        except grants.NothingToRead as exc:
            raise Problem("forbidden", exc.detail) from None
        page = stopncii.fetch_page(session, cursor, pageSize, not_before=floor, bank_names=readable)
    # Hashes are sensitive: the audit log says which partner was sent which stretch of the change log.
    with found.db.write() as session:
        service.audit(
            session,
            caller.actor,
            "stopncii.fetched",
            f"key:{caller.key_id}",
            after=cursor.after,
            to=page.next_cursor.after,
            records=len(page.records),
        )
    return page.as_json()


@router.post("/SubmitHashes")
def submit_hashes(
    request: Request,
    caller: Annotated[Caller, Depends(_caller("submit"))],
    body: Annotated[Any, Body()] = None,
) -> dict[str, Any]:
    """``{"count", "hashRecords": [{"signalType", "hashValue", "CSPFeedbacks"}]}``: all stored, or none.
    A hash this partner already submitted is not stored twice; its feedback is updated."""
    merged = dict(stopncii.parse_submission(body))  # the last record of a repeated hash wins
    source = partner_of(request, caller)
    with services(request).db.write() as session:
        bank = service.ensure_bank(session, SUBMISSION_BANK, "system")
        held = {
            (t, v)
            for t, v in session.execute(
                select(Entry.signal_type, Entry.value).where(
                    Entry.bank_id == bank.id,
                    Entry.origin == caller.actor,
                    Entry.value.in_({h.value for h in merged}),
                )
            )
        }
        fresh = [h for h in merged if (h.signal_type, h.value) not in held]
        if fresh:
            service.add_entries(
                session,
                SUBMISSION_BANK,
                fresh,
                source="partner",
                origin=caller.actor,
                actor=caller.actor,
                tags=["stopncii"],
            )
        feedback = [(h, f[-1]) for h, f in merged.items() if f]
        if feedback:
            # On the hashes this partner just submitted, not on same-valued entries of banks it cannot read.
            stopncii.record_feedback(
                session, source, feedback, actor=caller.actor, bank_names=[SUBMISSION_BANK]
            )
    return {"count": len(merged), "added": len(fresh)}


@router.post("/SubmitFeedback")
def submit_feedback(
    request: Request,
    caller: Annotated[Caller, Depends(_caller("feed"))],
    body: Annotated[Any, Body()] = None,
) -> dict[str, Any]:
    """``{"count", "hashFeedbacks": [{"hashValue", "feedbackValue", "tags"}]}``. StopNCII's feedback carries
    no
    signal type; the length of the hash tells PDQ (64 hex) from MD5 (32 hex)."""
    if not isinstance(body, dict) or not isinstance(body.get("hashFeedbacks"), list):
        raise Problem("invalid-request", 'send {"count": N, "hashFeedbacks": [...]}')
    raw = body["hashFeedbacks"]
    if not raw or len(raw) > 10_000:
        raise Problem("invalid-request", "hashFeedbacks must hold 1 to 10000 items")
    items = []
    for position, item in enumerate(raw):
        try:
            value = item.get("hashValue") if isinstance(item, dict) else None
            kind = "VideoMD5" if isinstance(value, str) and len(value.strip()) == 32 else "ImagePDQ"
            items.append((stopncii.signal_of(kind, value), stopncii.feedback_from(item)))
        except service.BankError as exc:
            raise Problem("invalid-request", f"hashFeedbacks[{position}]: {exc.detail}") from None
    source = partner_of(request, caller)
    with services(request).db.write() as session:
        try:
            readable = grants.readable_banks(session, caller.key_id)
        except grants.NothingToRead as exc:
            raise Problem("forbidden", exc.detail) from None
        # Only on hashes of banks this key reads: "known" must not tell a partner what else a hub holds.
        known, updated = stopncii.record_feedback(
            session, source, items, actor=caller.actor, bank_names=readable
        )
    return {"count": len(items), "known": known, "entries": updated}
