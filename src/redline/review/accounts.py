"""Console accounts: argon2id passwords, server-side sessions, CSRF tokens, sign-in throttling.

Why server-side sessions: a session can be ended (sign-out, disabled account) and expires on the server, not
only in the browser. The cookie holds a 256-bit random token; the database holds its SHA-256, so a leaked
database gives no usable session. Each session has its own CSRF token, which every form repeats and the
server compares in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from redline.bank.audit import audit
from redline.bank.errors import BankError, Conflict, NotFound
from redline.bank.models import utcnow
from redline.review.models import ROLES, ConsoleSession, ConsoleSignInFailure, ConsoleUser

_HASHER = PasswordHasher()
#: Verified against when the username is unknown, so both failures take the same time.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(24))
MIN_PASSWORD = 12


class AccountError(BankError):
    code = "account-refused"


def create_user(session: Session, *, username: str, password: str, role: str, actor: str) -> ConsoleUser:
    username = username.strip()
    if not 1 <= len(username) <= 64 or not username.isprintable():
        raise AccountError("username must be 1 to 64 printable characters")
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"password must be at least {MIN_PASSWORD} characters")
    if session.scalar(select(ConsoleUser.id).where(ConsoleUser.username == username)) is not None:
        raise Conflict(f"a console user named {username!r} exists")
    user = ConsoleUser(
        username=username,
        password_hash=_HASHER.hash(password),
        role=role,
        disabled=False,
        created_at=utcnow(),
    )
    session.add(user)
    session.flush()
    audit(session, actor, "console.user.created", f"user:{user.id}", username=username, role=role)
    return user


def set_password(session: Session, username: str, password: str, *, actor: str) -> None:
    user = _by_name(session, username)
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"password must be at least {MIN_PASSWORD} characters")
    user.password_hash = _HASHER.hash(password)
    _end_all(session, user.id)
    audit(session, actor, "console.user.password", f"user:{user.id}")


def set_disabled(session: Session, username: str, disabled: bool, *, actor: str) -> None:
    user = _by_name(session, username)
    user.disabled = disabled
    if disabled:
        _end_all(session, user.id)
    audit(session, actor, "console.user." + ("disabled" if disabled else "enabled"), f"user:{user.id}")


def list_users(session: Session) -> list[ConsoleUser]:
    return list(session.scalars(select(ConsoleUser).order_by(ConsoleUser.username)))


def _by_name(session: Session, username: str) -> ConsoleUser:
    user = session.scalar(select(ConsoleUser).where(ConsoleUser.username == username))
    if user is None:
        raise NotFound(f"no console user {username!r}")
    return user


def _end_all(session: Session, user_id: int) -> None:
    session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.user_id == user_id, ConsoleSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )


def authenticate(session: Session, username: str, password: str) -> ConsoleUser | None:
    """The enabled user with this password, or None. Unknown users cost the same time as wrong passwords."""
    user = session.scalar(select(ConsoleUser).where(ConsoleUser.username == username[:64]))
    try:
        ok: bool = _HASHER.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or user is None or user.disabled:
        return None
    if _HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = _HASHER.hash(password)
    return user


@dataclass(frozen=True)
class SignedIn:
    user: ConsoleUser
    csrf_token: str
    session_id: str


def _token_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(session: Session, user: ConsoleUser, ttl: timedelta) -> tuple[str, str]:
    """A new session for ``user``: returns (cookie token, CSRF token)."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        ConsoleSession(
            id=_token_id(token), user_id=user.id, csrf_token=csrf, created_at=now, expires_at=now + ttl
        )
    )
    user.last_login_at = now
    audit(session, f"user:{user.id}", "console.signed_in", f"user:{user.id}")
    return token, csrf


def current(session: Session, token: str | None, now: datetime | None = None) -> SignedIn | None:
    """The signed-in user for a cookie token, if the session is live and the account enabled."""
    if not token or len(token) > 128:
        return None
    row = session.execute(
        select(ConsoleSession, ConsoleUser)
        .join(ConsoleUser, ConsoleUser.id == ConsoleSession.user_id)
        .where(ConsoleSession.id == _token_id(token))
    ).first()
    if row is None:
        return None
    console_session, user = row
    if (
        console_session.ended_at is not None
        or console_session.expires_at <= (now or utcnow())
        or user.disabled
    ):
        return None
    return SignedIn(user, console_session.csrf_token, console_session.id)


def end_session(session: Session, token: str) -> None:
    session.execute(
        update(ConsoleSession).where(ConsoleSession.id == _token_id(token)).values(ended_at=utcnow())
    )


def csrf_ok(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())


@dataclass(frozen=True)
class SignInThrottle:
    """At most ``limit`` failed sign-ins per (username, client address) per ``window``, for the deployment.

    Failures are rows in the database, so every worker process and server counts the same ones (a
    per-process count let ``--workers N`` grant N times the limit). Successful sign-ins do not count, so a
    user who knows the password is stopped only by failures from her own address. Two workers checking at
    the same instant may each let one more guess through; argon2's cost bounds that, as it bounds the rate.
    """

    limit: int
    window: timedelta = timedelta(minutes=15)

    def allowed(self, session: Session, username: str, address: str, now: datetime | None = None) -> bool:
        since = (now or utcnow()) - self.window
        failures = session.scalar(
            select(func.count())
            .select_from(ConsoleSignInFailure)
            .where(ConsoleSignInFailure.key == _throttle_key(username, address))
            .where(ConsoleSignInFailure.at > since)
        )
        return (failures or 0) < self.limit

    def failed(self, session: Session, username: str, address: str, now: datetime | None = None) -> None:
        at = now or utcnow()
        # Rows past the window count for nobody: drop them here, so the table stays the window's size.
        session.execute(delete(ConsoleSignInFailure).where(ConsoleSignInFailure.at <= at - self.window))
        session.add(ConsoleSignInFailure(key=_throttle_key(username, address), at=at))


def _throttle_key(username: str, address: str) -> str:
    return hashlib.sha256(f"{username[:64].lower()}\0{address}".encode()).hexdigest()
