"""Standard Webhooks signatures (https://www.standardwebhooks.com/).

Why this scheme: receivers can verify Redline's deliveries with any Standard Webhooks library, in any
language, instead of a bespoke format. A delivery carries three headers:

* ``webhook-id`` — the message id, identical on every retry of the same event (receivers deduplicate on it);
* ``webhook-timestamp`` — Unix seconds when this attempt was signed (receivers reject stale ones);
* ``webhook-signature`` — space-separated ``v1,<base64 HMAC-SHA256>`` values over
  ``"{id}.{timestamp}.{body}"``, one per active secret, so an endpoint's secret can be rotated
  without a window of failed verification.

Secrets are ``whsec_`` followed by base64 of 24-64 random bytes; the HMAC key is the decoded bytes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable, Mapping

SECRET_PREFIX = "whsec_"  # noqa: S105 - a format prefix, not a secret
SIGNATURE_VERSION = "v1"
#: How far a timestamp may be from the receiver's clock (either way) before the message is refused.
DEFAULT_TOLERANCE_S = 5 * 60


class InvalidSignature(ValueError):
    """The message was not signed by any of the given secrets, or its timestamp is out of tolerance."""


def new_secret(nbytes: int = 32) -> str:
    """A fresh endpoint secret in the ``whsec_<base64>`` form."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(nbytes)).decode("ascii")


def _key(secret: str) -> bytes:
    raw = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(raw, validate=True)
    except ValueError:
        raise ValueError("webhook secret must be 'whsec_' followed by base64") from None
    if not 24 <= len(key) <= 64:
        raise ValueError("webhook secret must decode to 24-64 bytes")
    return key


def validate_secret(secret: str) -> str:
    """Return ``secret`` unchanged, or raise ``ValueError`` when it is not a usable signing secret."""
    _key(secret)
    return secret


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<base64>`` signature of ``body`` for ``msg_id`` at ``timestamp``."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode('ascii')}"


def signature_headers(
    secrets_: Iterable[str], msg_id: str, body: bytes, timestamp: int | None = None
) -> dict[str, str]:
    """The three Standard Webhooks headers for one delivery attempt, signed with every active secret."""
    ts = int(time.time()) if timestamp is None else timestamp
    signatures = [sign(s, msg_id, ts, body) for s in secrets_]
    if not signatures:
        raise ValueError("an endpoint needs at least one secret to sign with")
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": " ".join(signatures),
    }


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> None:
    """Check a received message the way a receiver should; raises :class:`InvalidSignature`.

    Header names are matched case-insensitively. Any one valid ``v1`` signature suffices (rotation).
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        msg_id = lowered["webhook-id"]
        ts_raw = lowered["webhook-timestamp"]
        sig_header = lowered["webhook-signature"]
    except KeyError as missing:
        raise InvalidSignature(f"missing header {missing.args[0]}") from None
    try:
        ts = int(ts_raw)
    except ValueError:
        raise InvalidSignature("webhook-timestamp is not an integer") from None
    current = time.time() if now is None else now
    if abs(current - ts) > tolerance_s:
        raise InvalidSignature("webhook-timestamp outside the tolerance window")
    expected = sign(secret, msg_id, ts, body)
    for candidate in sig_header.split():
        if hmac.compare_digest(candidate.encode(), expected.encode()):
            return
    raise InvalidSignature("no matching v1 signature")
