"""Errors as RFC 9457 problem details (``application/problem+json``).

Every error the API returns has a stable ``type`` URI, ``https://redline.dev/problems/<code>``, listed in
:data:`PROBLEMS` and in docs/OPERATING.md; clients branch on it, so a code is never renamed. Clients never see
a stack trace: unexpected errors are logged server-side and answered with ``internal-error``.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from redline.bank.service import BankError
from redline.match.fanout import ShardUnavailable
from redline.signals.budget import DecoderBusy

log = logging.getLogger(__name__)
PROBLEM_BASE = "https://redline.dev/problems/"

#: code -> (HTTP status, title). The documented, stable set.
PROBLEMS: dict[str, tuple[int, str]] = {
    "invalid-request": (400, "The request is not valid"),
    "invalid-cursor": (400, "The feed cursor is not valid"),
    "unauthorized": (401, "An API key is required"),
    "wrong-case-secret": (401, "Unknown case or wrong case secret"),
    "forbidden": (403, "This API key may not do that"),
    "not-found": (404, "Not found"),
    "method-not-allowed": (405, "Method not allowed"),
    "conflict": (409, "Conflicts with the current state"),
    "payload-too-large": (413, "The request body is too large"),
    "file-too-large": (413, "The file is too large"),
    "too-many-pixels": (413, "The image has too many pixels"),
    "unsupported-media-type": (415, "Unsupported content type"),
    "unsupported-format": (415, "Unsupported file format"),
    "validation-error": (422, "The request body does not have the expected shape"),
    "invalid-hash": (422, "A hash is not valid"),
    "empty-file": (422, "The file is empty"),
    "truncated": (422, "The file is truncated"),
    "corrupt": (422, "The file is damaged"),
    "unreadable": (422, "The file could not be read"),
    "timeout": (422, "The file took too long to process"),
    "rate-limited": (429, "Too many requests; try again later"),
    "internal-error": (500, "Internal error"),
    "not-ready": (503, "The service is starting"),
    "busy": (503, "The server is busy; try again shortly"),
    "index-unavailable": (503, "Part of the match index is unavailable; try again shortly"),
}
_BY_STATUS = {
    400: "invalid-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation-error",
    429: "rate-limited",
    503: "not-ready",
}


class Problem(Exception):
    """Raise to answer with a problem document."""

    def __init__(self, code: str, detail: str = "", *, headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(detail or code)
        self.code = code
        self.status = PROBLEMS[code][0]
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


def problem_response(
    code: str, detail: str = "", *, instance: str = "", headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    status, title = PROBLEMS[code]
    body: dict[str, Any] = {"type": PROBLEM_BASE + code, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    body.update(extra)
    return JSONResponse(body, status_code=status, headers=headers, media_type="application/problem+json")


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(
            exc.code, exc.detail, instance=request.url.path, headers=exc.headers, **exc.extra
        )

    @app.exception_handler(DecoderBusy)
    async def _busy(request: Request, exc: DecoderBusy) -> JSONResponse:
        # Any route that decodes an upload (/v1/match/file, HMA's /h/hash) answers the same 503.
        headers = {"Retry-After": str(exc.retry_after)}
        return problem_response("busy", str(exc), instance=request.url.path, headers=headers)

    @app.exception_handler(ShardUnavailable)
    async def _shard(request: Request, exc: ShardUnavailable) -> JSONResponse:
        # Which shard and why is for the operator (it names internal addresses); never partial results.
        route = getattr(request.scope.get("route"), "path", "unmatched")
        log.error("match index shard unavailable on %s %s: %s", request.method, route, exc)
        detail = "a shard of the match index did not answer; nothing was matched"
        return problem_response(
            "index-unavailable", detail, instance=request.url.path, headers={"Retry-After": "5"}
        )

    @app.exception_handler(BankError)
    async def _bank(request: Request, exc: BankError) -> JSONResponse:
        code = exc.code if exc.code in PROBLEMS else "invalid-request"
        return problem_response(code, exc.detail, instance=request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
            for e in exc.errors()[:20]
        ]
        return problem_response("validation-error", "see errors", instance=request.url.path, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _BY_STATUS.get(
            exc.status_code, "invalid-request" if exc.status_code < 500 else "internal-error"
        )
        detail = exc.detail if isinstance(exc.detail, str) and exc.status_code < 500 else ""
        return problem_response(code, detail, instance=request.url.path, headers=dict(exc.headers or {}))

    # A number beyond what the database column holds (an id of 2**64) is bad input, not a server fault.
    @app.exception_handler(OverflowError)
    @app.exception_handler(DataError)
    async def _out_of_range(request: Request, exc: Exception) -> JSONResponse:
        return problem_response("invalid-request", "a value is out of range", instance=request.url.path)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # The route template, not the path: paths hold case numbers (api/accesslog.py).
        route = getattr(request.scope.get("route"), "path", "unmatched")
        log.exception("unhandled error on %s %s", request.method, route)
        return problem_response("internal-error", instance=request.url.path)
