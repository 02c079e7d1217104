"""A shard process's HTTP service (``redline shard serve``; docs/SHARDS.md): its part of the match index,
searched by API processes through one internal endpoint. ``redline.match.fanout`` defines the calls.

Nothing here is public: no portal, no platform API, no OpenAPI document. Searches need the shared secret
(``REDLINE_SHARD_SECRET``), because hashes are sensitive; the process refuses to start without one.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from redline.api.middleware import BodySizeLimit
from redline.api.problems import Problem, install_problem_handlers
from redline.bank.db import Database
from redline.config import Settings
from redline.match.fanout import READY_PATH, SEARCH_PATH, answer, parse_searches
from redline.match.service import Matcher
from redline.match.shards import ShardSpec
from redline.match.snapshots import SnapshotPolicy

log = logging.getLogger(__name__)
#: A search carries every hash of one ``match()`` (a long video's frames: tens of thousands); only callers
#: with the secret get this far.
_MAX_SEARCH_BYTES = 64 * 1024 * 1024


def create_shard_app(settings: Settings, shard: ShardSpec) -> FastAPI:
    if not settings.shard_secret:
        raise ValueError("REDLINE_SHARD_SECRET must be set: a shard answers searches only with it")
    secret = f"Bearer {settings.shard_secret}".encode()
    db = Database(settings.effective_database_url)
    matcher = Matcher(
        db,
        min_quality=settings.pdq_min_quality,
        poll_interval=settings.change_poll_interval,
        snapshots=SnapshotPolicy.from_settings(settings),
        shard=shard,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        matcher.start()
        try:
            yield
        finally:
            matcher.stop()
            db.dispose()

    app = FastAPI(
        title=f"Redline match index {shard.label}",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    install_problem_handlers(app)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(READY_PATH)
    def readyz() -> dict[str, Any]:
        """Ready once this shard's part is loaded and caught up with the change log."""
        if not matcher.ready.is_set():
            raise Problem("not-ready", "the match index shard is still loading", headers={"Retry-After": "2"})
        return {
            "status": "ready",
            "shard": shard.label,
            "entries": matcher.size,
            "change_log_position": matcher.position,
        }

    @app.post(SEARCH_PATH)
    async def search(request: Request) -> JSONResponse:
        given = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, secret):
            raise Problem("unauthorized", "this endpoint needs the shard secret")
        if not matcher.ready.is_set():
            raise Problem("not-ready", "the match index shard is still loading", headers={"Retry-After": "2"})
        try:
            searches = parse_searches(json.loads(await request.body()))
        except ValueError as exc:  # also bad JSON (json.JSONDecodeError is a ValueError)
            raise Problem("invalid-request", str(exc)) from None
        found = await run_in_threadpool(answer, matcher, searches)
        return JSONResponse(found)

    app.add_middleware(BodySizeLimit, limit_for=lambda path: _MAX_SEARCH_BYTES)
    return app
