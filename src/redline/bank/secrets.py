"""Case secrets, API keys and encryption of contact details.

* **Case secrets** are what a survivor holds to follow or withdraw a case, shown once. They are written on
  paper and read aloud, so they are 24 characters of Crockford base32 in groups of four
  (``7K3M-Q9XD-...``): 120 bits from the OS random generator, no letters I, L, O or U, and typed input is
  forgiving (any case; dashes and spaces ignored; O read as 0, I and L as 1). Being random and 120 bits
  long, they cannot be guessed however fast guesses are tested, so they are stored as SHA-256 (``sha256$``
  prefix) and checked in microseconds, like API keys: nothing needs to rate-limit a correct secret, and
  checks cannot exhaust the CPU. Secrets issued before this format (``token_urlsafe``, stored as argon2id)
  stay valid; their slow checks run at most :data:`ARGON2_CONCURRENCY` at a time per process.
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
import threading
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_HASHER = PasswordHasher()
_KEY_PREFIX = "rk"


def new_case_id() -> str:
    """Public case number: 80 random bits, base32, easy to read aloud (``RL-XXXX-XXXX-XXXX-XXXX``)."""
    raw = base64.b32encode(secrets.token_bytes(10)).decode()
    return "RL-" + "-".join(raw[i : i + 4] for i in range(0, 16, 4))


#: Crockford's base32: digits and letters without I, L, O, U.
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})
SECRET_CHARS = 24  # x 5 bits = 120 bits
SECRET_GROUP = 4
_SHA256_PREFIX = "sha256$"
#: argon2 checks of pre-2026 secrets that may run at once in a process (each takes ~50 ms of one core).
ARGON2_CONCURRENCY = 2
ARGON2_WAIT_S = 2.0
_argon2_slots = threading.BoundedSemaphore(ARGON2_CONCURRENCY)
#: Compared against when a case does not exist, so that a wrong case id takes as long to refuse as a wrong
#: secret of the current format (no timing oracle for which case ids exist).
_DUMMY_SHA256 = _SHA256_PREFIX + secrets.token_hex(32)


class SecretCheckBusy(Exception):
    """Too many slow (argon2) secret checks are running in this process; try again in a moment."""


def new_case_secret() -> str:
    raw = "".join(secrets.choice(CROCKFORD) for _ in range(SECRET_CHARS))
    return "-".join(raw[i : i + SECRET_GROUP] for i in range(0, SECRET_CHARS, SECRET_GROUP))


def canonical_case_secret(typed: str) -> str:
    """What a secret of the current format means, however it was typed: upper case, no dashes or spaces,
    the letters people read for 0 and 1 turned into those digits."""
    kept = "".join(ch for ch in typed.upper() if ch not in "- \t\r\n")
    return kept.translate(_READ_AS)


def hash_case_secret(secret: str) -> str:
    return _SHA256_PREFIX + _sha256(canonical_case_secret(secret))


def verify_case_secret(stored_hash: str | None, secret: str) -> bool:
    """True if ``secret`` is the one ``stored_hash`` was made from; ``stored_hash=None`` (no such case) is
    refused after the same work as a wrong secret of the current format. Raises :class:`SecretCheckBusy`
    when an old (argon2) secret cannot get a check slot within ``ARGON2_WAIT_S``."""
    if stored_hash is None or stored_hash.startswith(_SHA256_PREFIX):
        expected = stored_hash or _DUMMY_SHA256
        matches = hmac.compare_digest(expected, hash_case_secret(secret))
        return matches and stored_hash is not None
    if not _argon2_slots.acquire(timeout=ARGON2_WAIT_S):
        raise SecretCheckBusy("too many case-secret checks at once")
    try:
        return _HASHER.verify(stored_hash, secret.strip())
    except (VerificationError, InvalidHashError):
        return False
    finally:
        _argon2_slots.release()


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
