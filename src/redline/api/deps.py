"""What routes depend on: the per-app services, the caller's API key and scope, a case and its secret."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import Path as PathParam
from fastapi import Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from redline.api.metrics import Metrics
from redline.api.problems import Problem
from redline.api.ratelimit import RateLimiter
from redline.bank.db import Database
from redline.bank.models import Case
from redline.bank.secrets import ContactCipher
from redline.bank.service import WrongSecret, authenticate_case, authenticate_key
from redline.config import Settings
from redline.match.service import Matcher

bearer = HTTPBearer(auto_error=False, description="API key: `Authorization: Bearer rk_...`")
case_secret = APIKeyHeader(
    name="X-Case-Secret", auto_error=False, description="the secret shown at submission"
)


@dataclass
class Services:
    settings: Settings
    db: Database
    matcher: Matcher
    metrics: Metrics
    cipher: ContactCipher
    submissions: RateLimiter
    secret_checks: RateLimiter
    upload_dir: Path


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


@dataclass(frozen=True)
class Caller:
    key_id: str
    scopes: frozenset[str]

    @property
    def actor(self) -> str:
        return f"key:{self.key_id}"


def require_scope(scope: str) -> Callable[..., Caller]:
    """Dependency: a live API key with ``scope``; 401 without a valid key, 403 without the scope."""

    def dependency(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]
    ) -> Caller:
        if credentials is None:
            raise Problem(
                "unauthorized", "send Authorization: Bearer <API key>", headers={"WWW-Authenticate": "Bearer"}
            )
        with services(request).db.read() as session:
            key = authenticate_key(session, credentials.credentials)
            caller = Caller(key.id, frozenset(key.scopes)) if key is not None else None
        if caller is None:
            raise Problem(
                "unauthorized", "unknown or revoked API key", headers={"WWW-Authenticate": "Bearer"}
            )
        if scope not in caller.scopes:
            raise Problem("forbidden", f"this API key does not have the {scope!r} scope")
        return caller

    return dependency


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def rate_limited(limiter: RateLimiter, request: Request) -> None:
    wait = limiter.hit(client_address(request))
    if wait is not None:
        raise Problem("rate-limited", headers={"Retry-After": str(int(wait) + 1)})


def case_with_secret(
    request: Request,
    case_id: Annotated[str, PathParam(max_length=64)],
    secret: Annotated[str | None, Security(case_secret)],
) -> Case:
    """Dependency: the case, if the request carries its secret. Unknown case = wrong secret (no oracle)."""
    found = services(request)
    if not secret:
        raise Problem("wrong-case-secret", "send the case secret in the X-Case-Secret header")
    rate_limited(found.secret_checks, request)
    with found.db.read() as session:
        try:
            return authenticate_case(session, case_id, secret[:256])
        except WrongSecret as exc:
            raise Problem("wrong-case-secret", exc.detail) from None
