"""HMA's REST API, the subset HMA clients and ROOST's Coop use, under ``/hma`` (docs/INTEROP.md).

Coop builds every URL as ``${HMA_SERVICE_URL}/c/...`` and sends no credentials, so its key travels in the base
URL: ``HMA_SERVICE_URL=https://hub.example/hma/<API key>``. :class:`HmaPaths` takes the key out of the path
before routing (and before the access log sees the path) and merges the double slashes Coop's concatenation
makes; other clients may send ``Authorization: Bearer <key>`` to ``/hma/...`` instead.

Answers are HMA's: HMA's status codes, and errors carry HMA's ``{"message": ...}`` field inside a Redline
problem document, so Coop (which parses every body as JSON and deletes its own bank row on a 404 from
``GET /c/bank/{name}``) sees what HMA would say. A missing or wrong key is a 401, never a 404. Lookups are
read-only: no match log, no review item, no webhook (Coop repeats them at every rule evaluation and runs its
own review).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Security
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile as StarletteUploadFile
from starlette.formparsers import MultiPartException
from starlette.types import ASGIApp, Receive, Scope, Send

from redline.actions.urlpolicy import UrlPolicy
from redline.api.deps import Services, bearer, services
from redline.api.problems import Problem, problem_response
from redline.api.uploads import UploadFile
from redline.bank import service
from redline.interop import hma
from redline.interop.fetch import FetchError, fetch_to_file
from redline.match.service import Query as MatchQuery
from redline.signals import SignalError, hash_file
from redline.signals.files import exact_digests_of_file, read_head
from redline.signals.sniff import sniff

router = APIRouter(prefix="/hma", tags=["hma"])
#: Scopes: curation of the caller's own HMA banks is a partner's submission right; hashing and lookup are
#: matching. A Coop deployment's key needs both (``--scope submit --scope match``).
CURATE, MATCH = "submit", "match"
_KEY_SCOPE_FIELD = "redline.hma_key"
_SLASHES = re.compile(r"/{2,}")
_HMA_SEGMENTS = {"c", "h", "m", ""}


class HmaPaths:
    """ASGI middleware for ``/hma/...``: merges ``//`` (HMA's werkzeug does; Coop relies on it) and moves an
    API key given as the first path segment (``/hma/rk_.../c/banks``) out of the path into the scope."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/hma/"):
            path = _SLASHES.sub("/", scope["path"])
            first, _, rest = path[len("/hma/") :].partition("/")
            # Anything but HMA's own top-level segments is taken as the key: a mistyped key in Coop's base URL
            # must answer 401 (Coop keeps its banks), not the 404 of an unknown path (Coop deletes them).
            if first not in _HMA_SEGMENTS:
                scope[_KEY_SCOPE_FIELD] = first
                path = "/hma/" + rest
            # Changed in place: uvicorn's access log reads this same scope, so it never logs the key.
            scope["path"] = path
            scope["raw_path"] = path.encode()
        await self.app(scope, receive, send)


class HmaCaller:
    def __init__(self, key_id: str, owner: str) -> None:
        self.key_id, self.owner = key_id, owner

    @property
    def actor(self) -> str:
        return f"key:{self.key_id}"


def _caller(scope_name: str) -> Any:
    def dependency(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]
    ) -> HmaCaller:
        token = request.scope.get(_KEY_SCOPE_FIELD) or (credentials.credentials if credentials else None)
        if not token:
            raise Problem(
                "unauthorized",
                "put the API key in the base URL (/hma/<key>/...) or send Authorization: Bearer <key>",
                headers={"WWW-Authenticate": "Bearer"},
            )
        with services(request).db.read() as session:
            key = service.authenticate_key(session, token)
            if key is None:
                raise Problem(
                    "unauthorized", "unknown or revoked API key", headers={"WWW-Authenticate": "Bearer"}
                )
            if scope_name not in key.scopes:
                raise Problem("forbidden", f"this API key does not have the {scope_name!r} scope")
            return HmaCaller(key.id, hma.owner_for_key(session, key.id))

    return dependency


Curator = Annotated[HmaCaller, Depends(_caller(CURATE))]
Matcher = Annotated[HmaCaller, Depends(_caller(MATCH))]


_PROBLEM_FOR_STATUS = {400: "invalid-request", 403: "forbidden", 404: "not-found", 413: "file-too-large"}


def message(status: int, text: str) -> JSONResponse:
    """An HMA error: a Redline problem document carrying HMA's ``message`` field, with HMA's status."""
    return problem_response(_PROBLEM_FOR_STATUS.get(status, "not-ready"), text, message=text)


def _bank_error(exc: service.BankError) -> JSONResponse:
    status = 404 if isinstance(exc, service.NotFound) else 403 if isinstance(exc, hma.HmaForbidden) else 400
    return message(status, exc.detail)


def _ratio(value: Any) -> float | None:
    """Coop sends ``enabled_ratio`` as a string on create (``"0.5"``) and as a number on update."""
    if value is None:
        return None
    try:
        if isinstance(value, bool):
            raise ValueError
        return float(value)
    except (TypeError, ValueError):
        raise service.BankError("enabled_ratio must be a number between 0 and 1") from None


def _body(raw: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise service.BankError("the body must be a JSON object")
    return raw


# --- curation ----------------------------------------------------------------------------------------------


@router.get("/c/banks")
def list_banks(request: Request, caller: Curator) -> JSONResponse:
    with services(request).db.read() as session:
        return JSONResponse([b.as_json() for b in hma.list_banks(session, caller.owner)])


@router.post("/c/banks")
def create_bank(request: Request, caller: Curator, raw: Annotated[Any, Body()] = None) -> JSONResponse:
    """``{"name": "COOP_ORG_BANK", "enabled_ratio": "1"}`` (ratio wins over ``enabled``) -> 201."""
    try:
        body = _body(raw)
        name = body.get("name")
        if not isinstance(name, str):
            raise service.BankError("name is required")
        ratio = _ratio(body.get("enabled_ratio"))
        if ratio is None:
            ratio = 0.0 if body.get("enabled") is False else 1.0
        with services(request).db.write() as session:
            view = hma.create_bank(session, caller.owner, name, ratio, actor=caller.actor)
    except service.BankError as exc:
        return _bank_error(exc)
    except IntegrityError:  # the same name created at the same moment by another request
        return message(403, "Bank already exists")
    return JSONResponse(view.as_json(), status_code=201)


@router.get("/c/bank/{name}")
def get_bank(name: str, request: Request, caller: Curator) -> JSONResponse:
    """200, or 404 only when this caller has no bank of that name (Coop deletes its own row on a 404)."""
    try:
        with services(request).db.read() as session:
            return JSONResponse(hma.get_bank(session, caller.owner, name).as_json())
    except service.BankError as exc:
        return _bank_error(exc)


@router.put("/c/bank/{name}")
def update_bank(
    name: str, request: Request, caller: Curator, raw: Annotated[Any, Body()] = None
) -> JSONResponse:
    """``{"enabled_ratio": 0.5}``, ``{"enabled": false}`` or ``{"name": "NEW_NAME"}``."""
    try:
        body = _body(raw)
        ratio = _ratio(body.get("enabled_ratio"))
        if ratio is None and isinstance(body.get("enabled"), bool):
            ratio = 1.0 if body["enabled"] else 0.0
        rename = body.get("name")
        if rename is not None and not isinstance(rename, str):
            raise service.BankError("name must be a string")
        with services(request).db.write() as session:
            view = hma.update_bank(
                session, caller.owner, name, actor=caller.actor, ratio=ratio, rename=rename
            )
    except service.BankError as exc:
        return _bank_error(exc)
    return JSONResponse(view.as_json())


@router.delete("/c/bank/{name}")
def delete_bank(name: str, request: Request, caller: Curator) -> JSONResponse:
    """200 ``{"message": "Done"}``, also when there is no such bank (as HMA)."""
    with services(request).db.write() as session:
        hma.delete_bank(session, caller.owner, name, actor=caller.actor)
    return JSONResponse({"message": "Done"})


@router.post("/c/bank/{name}/signal")
def add_signal(
    name: str, request: Request, caller: Curator, raw: Annotated[Any, Body()] = None
) -> JSONResponse:
    """``{"pdq": "<hex>", "note": "..."}`` -> ``{"id": 1, "signals": {"pdq": "<hex>"}}``."""
    try:
        body = dict(_body(raw))
        note = body.pop("note", "") or ""
        if not isinstance(note, str) or len(note) > 255:
            raise service.BankError("note must be a string of at most 255 characters")
        signals = {k: v for k, v in body.items() if isinstance(v, str)}
        if len(signals) != len(body):
            raise service.BankError("signal values must be strings")
        with services(request).db.write() as session:
            content_id, stored = hma.add_content(
                session, caller.owner, name, signals, actor=caller.actor, note=note
            )
    except service.BankError as exc:
        return _bank_error(exc)
    return JSONResponse({"id": content_id, "signals": stored})


@router.post("/c/bank/{name}/content")
def add_content_by_url(
    name: str,
    request: Request,
    caller: Curator,
    url: Annotated[str, Query(max_length=4096)],
) -> JSONResponse:
    """``?url=``: fetched under the SSRF policy, hashed here, the file deleted; its signals go in the bank."""
    found = services(request)
    try:
        signals = hash_url(found, url)
        if not signals:
            raise service.BankError("Invalid pdq signal: the picture's PDQ quality is too low to match")
        with found.db.write() as session:
            content_id, stored = hma.add_content(session, caller.owner, name, signals, actor=caller.actor)
    except FetchError as exc:
        return message(exc.status, exc.message)
    except SignalError as exc:
        return message(400, exc.message)
    except service.BankError as exc:
        return _bank_error(exc)
    return JSONResponse({"id": content_id, "signals": stored})


@router.get("/c/bank/{name}/content/{content_id}")
def get_content(
    name: str,
    content_id: int,
    request: Request,
    caller: Curator,
    include_signals: bool = False,
) -> JSONResponse:
    try:
        with services(request).db.read() as session:
            view = hma.get_bank(session, caller.owner, name)
            entry = hma.content(session, caller.owner, name, content_id)
            body: dict[str, Any] = {
                "id": entry.id,
                # HMA: 1 = enabled, 0 = disabled. A Redline entry that left ``active`` never matches.
                "disable_until_ts": 1 if entry.status == "active" else 0,
                "original_media_uri": None,
                "bank": view.as_json(),
            }
            if include_signals:
                body["signals"] = {hma.TO_HMA.get(entry.signal_type, entry.signal_type): entry.value}
    except service.BankError as exc:
        return _bank_error(exc)
    return JSONResponse(body)


@router.delete("/c/bank/{name}/content/{content_id}")
def delete_content(name: str, content_id: int, request: Request, caller: Curator) -> JSONResponse:
    try:
        with services(request).db.write() as session:
            deleted = hma.remove_content(session, caller.owner, name, content_id, actor=caller.actor)
    except service.BankError as exc:
        return _bank_error(exc)
    return JSONResponse({"deleted": deleted})


# Exchanges: Redline pulls from hubs itself (``redline stopncii pull``), not through HMA's exchange config.
# These answers make Coop's bank pages show "no exchange" instead of an error.


@router.get("/c/exchanges/apis")
def exchange_apis(caller: Curator) -> JSONResponse:
    return JSONResponse([])


@router.get("/c/exchanges")
def exchanges(caller: Curator) -> JSONResponse:
    return JSONResponse([])


@router.get("/c/exchanges/api/{api}")
def exchange_api(api: str, caller: Curator) -> JSONResponse:
    return message(400, f"no such Exchange API '{api}'")


@router.get("/c/exchange/{name}")
def exchange(name: str, caller: Curator) -> JSONResponse:
    return message(404, f"Exchange '{name}' not found")


@router.get("/c/exchange/{name}/status")
def exchange_status(name: str, caller: Curator) -> JSONResponse:
    return message(404, f"Exchange '{name}' not found")


# --- hashing and matching ----------------------------------------------------------------------------------


def hma_signals(path: Path, found: Services) -> dict[str, str]:
    """HMA signals of a file: ``{"pdq": ...}`` for a picture (left out below the minimum quality: an empty or
    unusable hash would only make the client's lookup fail), ``{"video_md5": ...}`` for a video."""
    sniffed = sniff(read_head(path, 64))
    if sniffed is not None and sniffed.media_type == "video":
        md5, _ = exact_digests_of_file(path)  # HMA's video signal is the file's MD5; no decode needed
        return {"video_md5": md5}
    signals = hash_file(path, found.settings.signal_limits(), budget=found.decode_budget)
    pdq = getattr(signals, "pdq", "")
    return {"pdq": pdq} if pdq and not getattr(signals, "pdq_low_quality", True) else {}


def hash_url(found: Services, url: str) -> dict[str, str]:
    """HMA signals of the file at ``url``, fetched under the SSRF policy and deleted after hashing."""
    settings = found.settings
    policy = UrlPolicy(
        allow_loopback=settings.webhook_allow_loopback, allow_private=settings.webhook_allow_private
    )
    with UploadFile(found.upload_dir) as stored:  # nameless where the system allows (api/uploads.py)
        fetch_to_file(url, stored.path, policy=policy, max_bytes=settings.max_file_bytes)
        return hma_signals(stored.path, found)


@router.get("/h/hash")
def hash_from_url(
    request: Request, caller: Matcher, url: Annotated[str, Query(max_length=4096)]
) -> JSONResponse:
    try:
        return JSONResponse(hash_url(services(request), url))
    except FetchError as exc:
        return message(exc.status, exc.message)
    except SignalError as exc:
        return message(400, exc.message)


@router.post(
    "/h/hash",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "photo": {"type": "string", "format": "binary"},
                            "video": {"type": "string", "format": "binary"},
                        },
                    }
                }
            },
        }
    },
)
async def hash_from_upload(request: Request, caller: Matcher) -> JSONResponse:
    """HMA's multipart form: one file, its field name the content type (``photo=@x.jpg`` or ``video=@x.mp4``).
    Hashed here and deleted in every path, as ``/v1/match/file`` does."""
    found = services(request)
    with UploadFile(found.upload_dir) as stored:
        try:
            form = await request.form(max_files=1, max_fields=2)
        except (MultiPartException, ValueError, KeyError):
            return message(400, "Missing multipart/form-data file upload (one file, field photo or video)")
        try:
            uploads = [(k, v) for k, v in form.multi_items() if isinstance(v, StarletteUploadFile)]
            if len(uploads) != 1 or uploads[0][0] not in ("photo", "video"):
                return message(
                    400, "Missing multipart/form-data file upload (one file, field photo or video)"
                )
            while chunk := await uploads[0][1].read(1 << 20):
                stored.file.write(chunk)
            stored.file.flush()
        finally:
            await form.close()
        try:
            return JSONResponse(await run_in_threadpool(hma_signals, stored.path, found))
        except SignalError as exc:
            return message(400, exc.message)


def lookup_signal(
    found: Services, owner: str, hma_type: str, signal: str, *, banks: list[str], seed: str | None
) -> dict[str, list[dict[str, Any]]]:
    query = hma.to_redline_signal(hma_type, signal)
    with found.db.read() as session:
        visible = hma.visible_banks(session, owner, seed=seed, only=banks)
    result: dict[str, list[dict[str, Any]]] = {}
    if not visible:
        return result
    exact = query.signal_type != "pdq"
    matches = found.matcher.match([MatchQuery(query.signal_type, query.value)])[0]
    found.metrics.queries.labels(query.signal_type).inc()  # counted with /v1/match's lookups
    if matches:
        found.metrics.matches.labels(query.signal_type).inc(len(matches))
    for match in matches:
        for hma_name in visible.get(match.bank, ()):
            distance = "-" if exact else str(match.distance)
            result.setdefault(hma_name, []).append({"bank_content_id": match.entry_id, "distance": distance})
    return result


@router.get("/m/lookup")
def lookup(
    request: Request,
    caller: Matcher,
    signal_type: Annotated[str | None, Query(max_length=32)] = None,
    signal: Annotated[str | None, Query(max_length=256)] = None,
    url: Annotated[str | None, Query(max_length=4096)] = None,
    banks: Annotated[str, Query(max_length=65536)] = "",
    seed: Annotated[str | None, Query(max_length=256)] = None,
) -> JSONResponse:
    """``?signal_type=pdq&signal=<hex>`` -> ``{"BANK": [{"bank_content_id": 1, "distance": "4"}]}``
    (``{}``: no match); ``?url=`` hashes first and answers per signal type. No side effects."""
    found = services(request)
    if not found.matcher.ready.is_set():
        return message(503, "index not yet ready")
    only = [b for b in banks.split(",") if b]
    try:
        if signal is not None and signal_type is not None:
            return JSONResponse(
                lookup_signal(found, caller.owner, signal_type, signal, banks=only, seed=seed)
            )
        if url is None:
            return message(400, "Either url or both signal and signal_type are required")
        per_type = {
            t: lookup_signal(found, caller.owner, t, v, banks=only, seed=seed)
            for t, v in hash_url(found, url).items()
        }
        return JSONResponse(per_type.get(signal_type or "", per_type))
    except FetchError as exc:
        return message(exc.status, exc.message)
    except SignalError as exc:
        return message(400, exc.message)
    except service.BankError as exc:
        return _bank_error(exc)


@router.get("/m/index/status")
def index_status(request: Request, caller: Matcher) -> JSONResponse:
    matcher = services(request).matcher
    ready = matcher.ready.is_set()
    return JSONResponse(
        {"pdq": {"present": ready, "built_to": matcher.position if ready else -1, "size": matcher.size}}
    )
