"""C2SP signed notes (c2sp.org/signed-note) with Ed25519 keys, and cosignatures (c2sp.org/tlog-cosignature).

A note is UTF-8 text ending in a newline, a blank line, then one line per signature:
``— <key name> base64(4-byte key ID || signature)``. The key ID is the first four bytes of
``SHA-256(name || "\\n" || algorithm byte || public key)``, so a verifier ignores lines of keys it does
not know instead of trying them all. Two algorithms are used here:

* ``0x01`` Ed25519 over the note text: the log's own signature on its checkpoints.
* ``0x04`` cosignature/v1: Ed25519 over ``"cosignature/v1\\ntime <t>\\n" || text`` with the 8-byte big-endian
  timestamp ``t`` between key ID and signature: a witness's statement that, at ``t``, this was the largest
  checkpoint of the log it had verified as consistent.

Keys are written the way Go's ``golang.org/x/mod/sumdb/note`` writes them, so other tools read them:
verifier key ``<name>+<hex key ID>+base64(alg || public key)``, signer key ``PRIVATE+KEY+<name>+<hex key
ID>+base64(alg || 32-byte seed)``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ED25519 = 0x01
COSIGNATURE_V1 = 0x04
_ALGORITHMS = (ED25519, COSIGNATURE_V1)
_DASH = "\u2014 "
_MAX_SIGNATURES = 100


class NoteError(ValueError):
    """A malformed key or note, or a note no trusted key has signed."""


def _check_name(name: str) -> str:
    if not name or any(c.isspace() for c in name) or "+" in name:
        raise NoteError(f"invalid key name {name!r}: it must be non-empty, without spaces or '+'")
    return name


def _key_id(name: str, alg: int, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([alg]) + public).digest()[:4]


def _b64decode(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise NoteError("invalid base64") from None


@dataclass(frozen=True)
class VerifierKey:
    name: str
    alg: int
    public: bytes = field(repr=False)

    @property
    def key_id(self) -> bytes:
        return _key_id(self.name, self.alg, self.public)

    def text(self) -> str:
        material = base64.b64encode(bytes([self.alg]) + self.public).decode()
        return f"{self.name}+{self.key_id.hex()}+{material}"

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        # The base64 part may itself contain '+', so split from the left exactly twice.
        parts = text.strip().split("+", 2)
        if len(parts) != 3 or len(parts[1]) != 8:
            raise NoteError("a verifier key reads <name>+<8 hex digits>+<base64>")
        name, key_hash, material = _check_name(parts[0]), parts[1], _b64decode(parts[2])
        if len(material) != 33 or material[0] not in _ALGORITHMS:
            raise NoteError("only Ed25519 (0x01) and cosignature/v1 (0x04) verifier keys are supported")
        key = cls(name, material[0], material[1:])
        if key.key_id.hex() != key_hash.lower():
            raise NoteError("the verifier key's hash does not match its name and key")
        return key

    def _verify(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True)
class SignerKey:
    name: str
    alg: int
    seed: bytes = field(repr=False)

    @classmethod
    def generate(cls, name: str, alg: int = ED25519) -> SignerKey:
        seed = Ed25519PrivateKey.generate().private_bytes_raw()
        return cls(_check_name(name), alg, seed)

    @property
    def _private(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self.seed)

    def verifier(self) -> VerifierKey:
        public = self._private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return VerifierKey(self.name, self.alg, public)

    def text(self) -> str:
        material = base64.b64encode(bytes([self.alg]) + self.seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.verifier().key_id.hex()}+{material}"

    @classmethod
    def parse(cls, text: str) -> SignerKey:
        parts = text.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise NoteError("a signer key reads PRIVATE+KEY+<name>+<8 hex digits>+<base64>")
        material = _b64decode(parts[4])
        if len(material) != 33 or material[0] not in _ALGORITHMS:
            raise NoteError("only Ed25519 signer keys are supported")
        key = cls(_check_name(parts[2]), material[0], material[1:])
        if key.verifier().key_id.hex() != parts[3].lower():
            raise NoteError("the signer key's hash does not match its name and key")
        return key

    def signature_line(self, text: str, timestamp: int | None = None) -> str:
        """One ``— name base64`` line signing ``text`` (a cosignature carries ``timestamp``, now if None)."""
        _check_text(text)
        key_id = self.verifier().key_id
        if self.alg == COSIGNATURE_V1:
            when = int(time.time()) if timestamp is None else timestamp
            blob = key_id + struct.pack(">Q", when) + self._private.sign(_cosigned_message(text, when))
        else:
            blob = key_id + self._private.sign(text.encode())
        return f"{_DASH}{self.name} {base64.b64encode(blob).decode()}\n"


def _cosigned_message(text: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n{text}".encode()


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise NoteError("a note's text must end with a newline")
    if any((ord(c) < 0x20 and c != "\n") or c == "\x7f" for c in text):
        raise NoteError("a note's text must not contain control characters")


def sign(text: str, *signers: SignerKey) -> str:
    """The signed note: ``text``, a blank line, one signature line per signer."""
    return text + "\n" + "".join(s.signature_line(text) for s in signers)


@dataclass(frozen=True)
class Signature:
    key: VerifierKey
    #: The cosignature's time (POSIX seconds); None for a plain Ed25519 signature.
    timestamp: int | None
    line: str


@dataclass(frozen=True)
class Note:
    text: str
    #: Signatures that verified against a trusted key.
    verified: tuple[Signature, ...]
    #: Signature lines of keys we were not given (kept, not trusted).
    other_lines: tuple[str, ...]

    def signed_by(self, key: VerifierKey) -> Signature | None:
        return next((s for s in self.verified if s.key == key), None)


def split(note: str) -> tuple[str, list[str]]:
    """``(text, signature lines)`` of a note, without checking any signature."""
    cut = note.rfind("\n\n")
    if cut < 0 or not note.endswith("\n"):
        raise NoteError("not a signed note: no blank line before the signatures")
    text, lines = note[: cut + 1], note[cut + 2 :].splitlines(keepends=True)
    _check_text(text)
    if not lines or len(lines) > _MAX_SIGNATURES:
        raise NoteError("a signed note has between 1 and 100 signature lines")
    for line in lines:
        if not line.startswith(_DASH) or len(line.split(" ")) != 3:
            raise NoteError(f"malformed signature line {line!r}")
    return text, lines


def open_note(note: str, keys: Iterable[VerifierKey]) -> Note:
    """Parse ``note`` and check its signatures against ``keys``. A line naming a known key whose signature
    does not verify is an error (someone forged or altered it); lines of unknown keys are kept aside."""
    text, lines = split(note)
    by_id = {(k.name, k.key_id): k for k in keys}
    verified: list[Signature] = []
    others: list[str] = []
    for line in lines:
        _, name, blob_text = line.rstrip("\n").split(" ")
        blob = _b64decode(blob_text)
        key = by_id.get((name, blob[:4]))
        if key is None:
            others.append(line)
            continue
        if key.alg == COSIGNATURE_V1:
            if len(blob) != 4 + 8 + 64:
                raise NoteError(f"malformed cosignature from {name}")
            (when,) = struct.unpack(">Q", blob[4:12])
            ok = when < 2**63 and key._verify(_cosigned_message(text, when), blob[12:])
            signature = Signature(key, when, line)
        else:
            ok = len(blob) == 4 + 64 and key._verify(text.encode(), blob[4:])
            signature = Signature(key, None, line)
        if not ok:
            raise NoteError(f"the signature of {name} does not verify: the note was altered or forged")
        verified.append(signature)
    if not verified:
        raise NoteError("no signature from a trusted key")
    return Note(text, tuple(verified), tuple(others))
