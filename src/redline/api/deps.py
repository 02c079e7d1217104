"""What routes depend on: the per-app services, the caller's API key and scope, a case and its secret."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import Path as PathParam
from fastapi import Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select

from redline.api.metrics import Metrics
from redline.api.problems import Problem
from redline.api.ratelimit import RateLimiter
from redline.bank.db import Database
from redline.bank.models import ApiKey, Case, Partner
from redline.bank.secrets import ContactCipher, SecretCheckBusy
from redline.bank.service import WrongSecret, authenticate_case, authenticate_key
from redline.config import Settings
from redline.match.service import Matcher
from redline.signals.budget import DecodeBudget

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
    #: Wrong case secrets per client address (counted after the check: a right secret is never limited).
    secret_failures: RateLimiter
    upload_dir: Path
    #: Decoded image memory shared by this process's uploads (signals/budget.py).
    decode_budget: DecodeBudget


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


def normal_case_id(typed: str) -> str:
    """Case numbers as people type them: any case, surrounding or inner spaces ignored."""
    return "".join(typed.split()).upper()


def case_with_secret(
    request: Request,
    case_id: Annotated[str, PathParam(max_length=64)],
    secret: Annotated[str | None, Security(case_secret)],
) -> Case:
    """Dependency: the case, if the request carries its secret. Unknown case = wrong secret (no oracle).

    Survivors share addresses (carrier NAT, shelters, proxies), so nothing counts against a right secret:
    the secret is checked first, and only wrong ones count towards the address's limit, after which wrong
    ones are answered 429. That limit is not what keeps secrets safe (120 random bits cannot be guessed);
    it tells a script to stop."""
    found = services(request)
    if not secret:
        raise Problem("wrong-case-secret", "send the case secret in the X-Case-Secret header")
    try:
        with found.db.read() as session:
            return authenticate_case(session, normal_case_id(case_id), secret[:256])
    except WrongSecret as exc:
        rate_limited(found.secret_failures, request)
        raise Problem("wrong-case-secret", exc.detail) from None
    except SecretCheckBusy:
        raise Problem(
            "busy", "too many case checks at once; try again in a moment", headers={"Retry-After": "2"}
        ) from None


def partner_of(request: Request, caller: Caller) -> str:
    """The name of the caller's partner (organisation), else ``key:<id>``: who pulled, who gave feedback."""
    with services(request).db.read() as session:
        partner = session.scalar(
            select(Partner.name)
            .join(ApiKey, ApiKey.partner_id == Partner.id)
            .where(ApiKey.id == caller.key_id)
        )
    return partner or caller.actor
