"""Case secrets, API keys and encryption of contact details.

* **Case secrets** are what a survivor holds to follow or withdraw a case: 256 bits from the OS random
  generator, shown once, stored only as an argon2id hash (slow on purpose: a stolen database must not let
  anyone test guesses quickly, and the secret may be written down or reused by a person).
* **API keys** (``rk_<id>_<secret>``) are stored as SHA-256 of the 256-bit secret part. A slow hash protects
  low-entropy secrets from guessing; a 256-bit random secret cannot be guessed whatever the hash, and every
  platform request checks a key, so argon2's ~50 ms per request would cap the service at a few dozen requests
  per second per core for no security gain. The ``<id>`` part finds the row; the comparison of hashes is
  constant-time (``hmac.compare_digest``).
* **Contact details** (optional, given by a survivor) are encrypted with AES-256-GCM under a key from the
  settings or ``data_dir/contact.key``; the case id is bound in as associated data so a ciphertext cannot be
  moved to another case.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_HASHER = PasswordHasher()
_KEY_PREFIX = "rk"
#: A valid argon2 hash of a random secret: verified against when a case does not exist, so that a wrong
#: case id takes as long to refuse as a wrong secret (no timing oracle for which case ids exist).
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(32))


def new_case_id() -> str:
    """Public case number: 80 random bits, base32, easy to read aloud (``RL-XXXX-XXXX-XXXX-XXXX``)."""
    raw = base64.b32encode(secrets.token_bytes(10)).decode()
    return "RL-" + "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def new_case_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_case_secret(secret: str) -> str:
    return _HASHER.hash(secret)


def verify_case_secret(stored_hash: str | None, secret: str) -> bool:
    """Constant-effort check; ``stored_hash=None`` (no such case) still spends the same time."""
    try:
        return _HASHER.verify(stored_hash or _DUMMY_HASH, secret) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class NewApiKey:
    key_id: str
    secret_hash: str
    #: The full key, shown once to the operator.
    token: str


def new_api_key() -> NewApiKey:
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return NewApiKey(key_id, _sha256(secret), f"{_KEY_PREFIX}_{key_id}_{secret}")


def split_api_key(token: str) -> tuple[str, str] | None:
    """``(key_id, secret)`` of a well-formed key, else None."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != _KEY_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


def api_key_matches(stored_hash: str, secret: str) -> bool:
    return hmac.compare_digest(stored_hash, _sha256(secret))


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ContactCipher:
    """AES-256-GCM for contact details at rest."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("contact key must be 32 bytes")
        self._aead = AESGCM(key)

    @classmethod
    def from_settings(cls, contact_key: str, data_dir: Path) -> ContactCipher:
        if contact_key:
            return cls(base64.b64decode(contact_key))
        path = data_dir / "contact.key"
        if not path.exists():
            data_dir.mkdir(parents=True, exist_ok=True)
            # Written aside then hard-linked into place: two processes starting together end up with the
            # same key, and nobody reads a half-written file.
            tmp = data_dir / f".contact.key.{os.getpid()}.{secrets.token_hex(4)}"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(base64.b64encode(AESGCM.generate_key(bit_length=256)))
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
        return cls(base64.b64decode(path.read_bytes()))

    def encrypt(self, plaintext: str, context: str) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, plaintext.encode(), context.encode())

    def decrypt(self, blob: bytes, context: str) -> str:
        return self._aead.decrypt(blob[:12], blob[12:], context.encode()).decode()
