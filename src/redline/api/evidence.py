"""HTTP routes of the tamper-evident log (``/v1/log``), evidence bundles and the witness endpoint.

Who may call what (declared in tests/api/test_authz.py): the signed checkpoint and the log's public key are
public (anyone must be able to hold the operator to them, as for Go's checksum database); proofs and rows
need the read-only ``audit`` scope (police, auditors, a monitoring service); publishing on demand and
evidence bundles need ``admin``. ``add-checkpoint`` is public as in c2sp.org/tlog-witness: a request is only
acted on when a log this instance trusts signed it.
"""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from redline.api.deps import Caller, require_scope, services
from redline.api.problems import Problem
from redline.evidence.bundle import BundleError, build_bundle
from redline.evidence.keys import witness_signer
from redline.evidence.log import (
    TransparencyLog,
    checkpoint_at,
    cosigned_note,
    latest_checkpoint,
    logged_rows,
    prove_consistency,
    prove_inclusion,
    tree_size,
)
from redline.evidence.merkle import ProofError
from redline.evidence.models import LogLeaf
from redline.evidence.publisher import publish_now
from redline.evidence.witness import SIZE_MEDIA_TYPE, WitnessRefusal, add_checkpoint

router = APIRouter(prefix="/v1", tags=["evidence"])
Admin = Annotated[Caller, Depends(require_scope("admin"))]
Auditor = Annotated[Caller, Depends(require_scope("audit"))]
Size = Annotated[int, Query(ge=0, le=2**62)]
_MAX_WITNESS_BODY = 64 * 1024


class InclusionProof(BaseModel):
    index: int
    tree_size: int
    audit_id: int
    leaf_hash: str
    #: Base64 hashes, leaf first (RFC 6962 audit path).
    proof: list[str]


class ConsistencyProof(BaseModel):
    old: int
    new: int
    proof: list[str]


class LoggedRowOut(BaseModel):
    index: int
    leaf_hash: str
    row: dict[str, object] | None


class LogPage(BaseModel):
    tree_size: int
    items: list[LoggedRowOut]


def transparency_log(request: Request) -> TransparencyLog:
    found: TransparencyLog = request.app.state.tlog
    return found


def _b64(items: list[bytes]) -> list[str]:
    return [base64.b64encode(p).decode() for p in items]


@router.get("/log/checkpoint", response_class=PlainTextResponse)
def get_checkpoint(request: Request, size: Size | None = None) -> PlainTextResponse:
    """The latest signed checkpoint (C2SP tlog-checkpoint in a signed note, with witness cosignatures), or
    the one of ``size``."""
    with services(request).db.read() as session:
        found = latest_checkpoint(session) if size is None else checkpoint_at(session, size)
        if found is None:
            raise Problem("not-found", "no checkpoint of that size has been published")
        return PlainTextResponse(cosigned_note(session, found))


@router.post("/log/checkpoint", response_class=PlainTextResponse)
def publish_checkpoint(request: Request, caller: Admin) -> PlainTextResponse:
    """Publish a checkpoint now (if the log grew) and ask the witnesses to cosign it."""
    tlog = transparency_log(request)
    publish_now(tlog)
    with tlog.db.read() as session:
        found = latest_checkpoint(session)
        assert found is not None
        return PlainTextResponse(cosigned_note(session, found))


@router.get("/log/key", response_class=PlainTextResponse)
def get_key(request: Request) -> PlainTextResponse:
    """The log's verifier key (C2SP vkey): what ``redline log verify --key`` needs."""
    return PlainTextResponse(transparency_log(request).verifier.text() + "\n")


@router.get("/log/proof/inclusion", response_model=InclusionProof)
def inclusion(
    request: Request,
    caller: Auditor,
    size: Annotated[int, Query(ge=1, le=2**62)],
    index: Size | None = None,
    audit_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
) -> InclusionProof:
    """Inclusion proof of leaf ``index`` (or of audit row ``audit_id``) in the tree of ``size`` leaves."""
    if (index is None) == (audit_id is None):
        raise Problem("invalid-request", "give exactly one of index and audit_id")
    with services(request).db.read() as session:
        condition = LogLeaf.idx == index if index is not None else LogLeaf.audit_id == audit_id
        leaf = session.query(LogLeaf).filter(condition).first()
        if leaf is None:
            raise Problem("not-found", "that row is not in the log (yet)")
        try:
            proof = prove_inclusion(session, leaf.idx, size)
        except ProofError as exc:
            raise Problem("invalid-request", str(exc)) from None
        return InclusionProof(
            index=leaf.idx,
            tree_size=size,
            audit_id=leaf.audit_id,
            leaf_hash=bytes(leaf.leaf_hash).hex(),
            proof=_b64(proof),
        )


@router.get("/log/proof/consistency", response_model=ConsistencyProof)
def consistency(request: Request, caller: Auditor, old: Size, new: Size) -> ConsistencyProof:
    """Consistency proof that the tree of ``new`` leaves extends the tree of ``old`` leaves."""
    with services(request).db.read() as session:
        try:
            proof = prove_consistency(session, old, new)
        except ProofError as exc:
            raise Problem("invalid-request", str(exc)) from None
    return ConsistencyProof(old=old, new=new, proof=_b64(proof))


@router.get("/log/entries", response_model=LogPage)
def entries(
    request: Request,
    caller: Auditor,
    start: Size = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> LogPage:
    """Leaves ``start`` .. ``start + limit - 1`` with the audit rows they were made from."""
    with services(request).db.read() as session:
        rows = logged_rows(session, start, limit)
        size = tree_size(session)
    items = [LoggedRowOut(index=r.index, leaf_hash=r.leaf_hash.hex(), row=r.record) for r in rows]
    return LogPage(tree_size=size, items=items)


@router.get("/evidence/cases/{case_id}", response_class=Response)
def evidence_bundle(request: Request, case_id: str, caller: Admin) -> Response:
    """The case's evidence bundle as a zip (docs/EVIDENCE.md); the making of it is audited."""
    try:
        bundle = build_bundle(transparency_log(request), case_id[:64], actor=caller.actor)
    except BundleError as exc:
        raise Problem("not-found", str(exc)) from None
    return Response(
        bundle.zip_bytes(),
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="evidence-{bundle.case_id}.zip"',
            "X-Bundle-SHA256SUMS": bundle.digest,
        },
    )


@router.post("/witness/add-checkpoint", response_class=PlainTextResponse)
async def witness_add_checkpoint(request: Request) -> Response:
    """c2sp.org/tlog-witness ``add-checkpoint``: cosign a trusted log's checkpoint if it is consistent."""
    body = await request.body()
    if len(body) > _MAX_WITNESS_BODY:
        raise Problem("payload-too-large")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Problem("invalid-request", "the body is not UTF-8") from None
    found = services(request)
    try:
        signer = witness_signer(found.settings)
        line = await run_in_threadpool(add_checkpoint, found.db, signer, text)
    except WitnessRefusal as refusal:
        if refusal.status == 409 and refusal.size is not None:
            return Response(f"{refusal.size}\n", status_code=409, media_type=SIZE_MEDIA_TYPE)
        code = {400: "invalid-request", 403: "forbidden", 404: "not-found", 409: "conflict"}.get(
            refusal.status, "validation-error"
        )
        raise Problem(code, refusal.detail) from None
    return PlainTextResponse(line)
