"""API keys and the partner organisations they belong to."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from redline.bank.audit import audit
from redline.bank.errors import BankError, NotFound
from redline.bank.models import SCOPES, ApiKey, Partner, utcnow
from redline.bank.secrets import api_key_matches, new_api_key, split_api_key


def create_api_key(
    session: Session, *, name: str, scopes: Iterable[str], actor: str, partner: str | None = None
) -> tuple[ApiKey, str]:
    """A new key and its token (shown once)."""
    scopes = sorted(set(scopes))
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        raise BankError(f"scopes must be among {', '.join(SCOPES)}")
    partner_id = None
    if partner:
        row = session.scalar(select(Partner).where(Partner.name == partner))
        if row is None:
            row = Partner(name=partner, created_at=utcnow())
            session.add(row)
            session.flush()
            audit(session, actor, "partner.created", f"partner:{partner}")
        partner_id = row.id
    fresh = new_api_key()
    key = ApiKey(
        id=fresh.key_id,
        name=name,
        partner_id=partner_id,
        secret_hash=fresh.secret_hash,
        scopes=scopes,
        created_at=utcnow(),
    )
    session.add(key)
    audit(session, actor, "key.created", f"key:{key.id}", name=name, scopes=scopes, partner=partner)
    return key, fresh.token


def revoke_api_key(session: Session, key_id: str, *, actor: str) -> ApiKey:
    key = session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"no API key {key_id!r}")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        audit(session, actor, "key.revoked", f"key:{key_id}", name=key.name)
    return key


def list_api_keys(session: Session) -> Sequence[ApiKey]:
    return session.scalars(select(ApiKey).order_by(ApiKey.created_at)).all()


def authenticate_key(session: Session, token: str) -> ApiKey | None:
    """The live key for ``token``, or None. The key itself is never logged or stored."""
    parts = split_api_key(token)
    if parts is None:
        return None
    key = session.get(ApiKey, parts[0]) if len(parts[0]) <= 24 else None
    if key is None or key.revoked_at is not None or not api_key_matches(key.secret_hash, parts[1]):
        return None
    return key
