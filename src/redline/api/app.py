"""The FastAPI application: ``create_app(settings)``.

``redline serve`` runs it under uvicorn (``create_app_from_env`` as the factory, so each worker process
builds its own app, database pool and match index).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import Response

from redline import __version__
from redline.actions.models import ACTIONS
from redline.actions.worker import DeliveryWorker, WorkerConfig
from redline.api import (
    evidence,
    hma,
    intake,
    mirror,
    moderation,
    operator,
    platform,
    removal,
    scan,
    sharing,
    stopncii,
    survivor,
)
from redline.api.accesslog import AccessLog
from redline.api.deps import Services, services
from redline.api.help import help_router
from redline.api.metrics import Metrics
from redline.api.middleware import BodySizeLimit, RequestMetrics, SecurityHeaders
from redline.api.problems import Problem, install_problem_handlers
from redline.api.ratelimit import RateLimiter
from redline.api.schemas import Ready
from redline.api.uploads import UPLOADS
from redline.bank import service
from redline.bank.db import Database
from redline.bank.secrets import ContactCipher
from redline.config import Settings
from redline.evidence.keys import log_signer
from redline.evidence.log import TransparencyLog
from redline.evidence.publisher import LogPublisher
from redline.match.fanout import ShardClient, ShardedMatcher
from redline.match.service import Matcher
from redline.match.snapshots import SnapshotPolicy
from redline.mirror.sync import statuses as mirror_statuses
from redline.mirror.worker import MirrorWorker
from redline.removal.clocks import parse_marks
from redline.removal.worker import ClockWorker
from redline.retro.worker import RetroConfig, RetroWorker
from redline.signals.budget import DecodeBudget
from redline.signals.types import PdqRegionSignal
from redline.web import register_web
from redline.web.console.deps import ConsoleServices
from redline.web.console.routes import mount_console

log = logging.getLogger(__name__)
_MULTIPART_OVERHEAD = 64 * 1024


def create_app(settings: Settings) -> FastAPI:
    if settings.robust_sure_radius < 0:  # every robust search would fail; say so at start instead
        raise ValueError("REDLINE_ROBUST_SURE_RADIUS must be 0 or more (45 or more: an exact search)")
    db = Database(settings.effective_database_url)
    matcher: Matcher
    sure_radii = {PdqRegionSignal.name: settings.robust_sure_radius}
    if settings.shards:  # the index lives in shard processes (docs/SHARDS.md)
        matcher = ShardedMatcher(
            db,
            ShardClient.from_settings(settings),
            min_quality=settings.pdq_min_quality,
            poll_interval=settings.change_poll_interval,
            sure_radii=sure_radii,
        )
    else:
        matcher = Matcher(
            db,
            min_quality=settings.pdq_min_quality,
            poll_interval=settings.change_poll_interval,
            snapshots=SnapshotPolicy.from_settings(settings),
            sure_radii=sure_radii,
        )
    found = Services(
        settings=settings,
        db=db,
        matcher=matcher,
        metrics=Metrics(),
        cipher=ContactCipher.from_settings(settings.contact_key, settings.data_dir),
        submissions=RateLimiter(settings.case_rate_per_hour, 3600),
        secret_failures=RateLimiter(settings.case_rate_per_hour * 4, 3600),
        upload_dir=settings.data_dir / UPLOADS,
        decode_budget=DecodeBudget(settings.decode_budget_bytes, settings.decode_wait_s),
    )

    if settings.flagged_action not in ACTIONS:
        raise ValueError(f"REDLINE_FLAGGED_ACTION must be one of {', '.join(ACTIONS)}")
    tlog = TransparencyLog(db, log_signer(settings))
    escalation_marks = parse_marks(settings.removal_escalation_marks_h)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with db.write() as session:
            service.ensure_bank(session, settings.survivor_bank, "system")
        matcher.start()
        # Webhook deliveries: every process runs a worker; leases keep each delivery to one of them.
        webhooks = DeliveryWorker(db, WorkerConfig.from_settings(settings)).start()
        # Retroactive matching: entries that go live, searched against content checked before (one
        # process of those sharing data_dir runs it).
        retro = RetroWorker(
            db, RetroConfig.from_settings(settings), lock_path=settings.data_dir / "retro.lock"
        )
        retro.start()
        app.state.removal.seen_index = lambda: retro.index  # removal sweeps reuse it (refreshed per sweep)
        # The audit log as a tamper-evident log: sequenced and checkpointed in the background.
        publisher = LogPublisher(tlog, settings.tlog_checkpoint_interval_s).start()
        # Mirrors of other hubs' feeds: every process runs the sync; a lease per mirror keeps it to one.
        mirrors = MirrorWorker(
            db,
            found.cipher,
            interval_s=settings.mirror_interval_s,
            page_size=settings.mirror_page_size,
            lease_s=settings.mirror_lease_s,
        ).start()
        # Removal deadlines: escalations and breaches (docs/REMOVAL.md).
        clock = ClockWorker(
            db, interval_s=settings.removal_clock_interval_s, marks_h=escalation_marks
        ).start()
        try:
            yield
        finally:
            clock.stop()
            mirrors.stop()
            publisher.stop()
            retro.stop()
            webhooks.stop()
            matcher.stop()
            db.dispose()

    app = FastAPI(
        title="Redline hash bank",
        version=__version__,
        description="Survivors submit hashes of images; platforms match uploads against them.",
        lifespan=lifespan,
        docs_url=None,  # Swagger UI loads scripts from a CDN, which the Content-Security-Policy forbids
        redoc_url=None,
    )
    app.state.services = found
    app.state.tlog = tlog
    app.state.removal = removal.RemovalServices(filings=RateLimiter(settings.removal_rate_per_hour, 3600))
    install_problem_handlers(app)
    app.include_router(survivor.router)
    app.include_router(intake.router)
    app.include_router(help_router(settings))
    app.include_router(platform.router)
    app.include_router(scan.router)
    app.include_router(operator.router)
    app.include_router(moderation.router)
    app.include_router(evidence.router)
    app.include_router(hma.router)
    app.include_router(stopncii.router)
    app.include_router(mirror.router)
    app.include_router(sharing.router)
    app.include_router(removal.public)
    app.include_router(removal.staff)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """The process is up. Answered on the event loop, not in the thread pool that decodes uploads."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], response_model=Ready)
    def readyz(request: Request) -> Ready:
        """Ready once the match index is loaded: route traffic here only then."""
        current = services(request).matcher
        if not current.ready.is_set():
            raise Problem("not-ready", "the match index is still loading", headers={"Retry-After": "2"})
        return Ready(status="ready", entries=current.size, change_log_position=current.position)

    @app.get("/metrics", tags=["health"], response_class=Response)
    def metrics(request: Request) -> Response:
        """Prometheus metrics of this process."""
        current = services(request)
        with current.db.read() as session:
            mirrored = mirror_statuses(session)
        return Response(
            current.metrics.render(current.matcher, mirrored), media_type="text/plain; version=0.0.4"
        )

    mount_console(app, ConsoleServices(db=db, settings=settings))
    register_web(app)  # last: the portal's mount at / answers every path no route above claimed

    def body_limit(path: str) -> int:
        if path in ("/v1/match/file", "/hma/h/hash"):
            return settings.max_file_bytes + _MULTIPART_OVERHEAD
        if path.startswith("/v1/banks/") and path.endswith("/import"):
            return settings.max_import_bytes
        return settings.max_request_bytes

    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "X-Case-Secret"],
        )
    app.add_middleware(BodySizeLimit, limit_for=body_limit)
    app.add_middleware(RequestMetrics, metrics=found.metrics)
    app.add_middleware(SecurityHeaders)
    if settings.access_log:
        app.add_middleware(AccessLog)
    # Outermost: takes the key out of /hma/<key>/... before anything else reads the path.
    app.add_middleware(hma.HmaPaths)
    return app


def create_app_from_env() -> FastAPI:
    """Factory for uvicorn workers: settings from ``REDLINE_*`` environment variables."""
    # Decoding and hashing threads hand the GIL back only every switch interval (5 ms by default); the event
    # loop needs it for every step of every request, so with a few busy threads a /healthz queued behind
    # them for hundreds of milliseconds. 0.5 ms keeps it responsive (docs/BENCHMARKS.md, "Decoding memory").
    sys.setswitchinterval(0.0005)
    return create_app(Settings.from_env())
