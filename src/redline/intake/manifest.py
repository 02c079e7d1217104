"""Intake manifests: what a flagger's machine hashed, signed there (Ed25519, a C2SP signed note).

Two parts, because the file names are the women's names:

* the **public manifest** (the signed note) lists, per file, its SHA-256, PDQ, size, media type and hashing
  time, the tool version, and the SHA-256 of the private part's ciphertext. It names nobody: the server
  stores it with the case, enters its SHA-256 in the tamper-evident log, and puts it in the case's evidence
  bundle. The server never needs it to match.
* the **private part** (file paths, metadata summaries: EXIF date/camera/software, C2PA presence, PNG
  generator text keys) is AES-256-GCM encrypted under a key that stays with the flagger. Shown later to the
  police with its key, it is bound to the logged manifest by the ciphertext's SHA-256.

A collection manifest lists the person manifests' SHA-256 (and their case numbers), signed the same way.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from redline.evidence.note import NoteError, SignerKey, VerifierKey, open_note, sign

PERSON_HEADER = "redline intake manifest v1"
COLLECTION_HEADER = "redline intake collection v1"
_HEADERS = (PERSON_HEADER, COLLECTION_HEADER)
#: Largest manifest the server accepts (a person's folder of ~10,000 files).
MAX_MANIFEST_BYTES = 4 * 1024 * 1024


class ManifestError(ValueError):
    """A manifest that is malformed, unsigned or signed by another key than it names."""


def canonical_json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=True, sort_keys=True, separators=(",", ":"))


def sign_manifest(header: str, body: dict[str, Any], signer: SignerKey) -> str:
    """The signed note: the header line, one line of canonical JSON naming the signer's public key, then
    the signature. ASCII-only JSON, so the note's text has no control characters."""
    content = {**body, "signer": signer.verifier().text()}
    return sign(f"{header}\n{canonical_json(content)}\n", signer)


@dataclass(frozen=True)
class OpenManifest:
    header: str
    body: dict[str, Any]
    signer: VerifierKey
    sha256: str


def open_manifest(note: str, *, header: str = PERSON_HEADER) -> OpenManifest:
    """Parse and verify ``note`` against the key it names (so it proves who signed it, not that the signer
    is trusted: the log row and the flagger's key id on the case say that)."""
    if len(note.encode()) > MAX_MANIFEST_BYTES:
        raise ManifestError("the manifest is too large")
    lines = note.split("\n", 2)
    if len(lines) < 3 or lines[0] != header or lines[0] not in _HEADERS:
        raise ManifestError(f"not a manifest: the first line must be {header!r}")
    try:
        body = json.loads(lines[1])
        signer = VerifierKey.parse(str(body["signer"]))
        opened = open_note(note, [signer])
    except (ValueError, KeyError, TypeError, NoteError) as exc:
        raise ManifestError(f"the manifest's signature does not verify: {exc}") from None
    if not isinstance(body, dict) or opened.text != f"{lines[0]}\n{lines[1]}\n":
        raise ManifestError("the manifest has more than one line of content")
    return OpenManifest(header, body, signer, hashlib.sha256(note.encode()).hexdigest())


def manifest_sha256s(manifest: OpenManifest) -> set[str]:
    """The SHA-256 of each file a person manifest lists."""
    files = manifest.body.get("files")
    if not isinstance(files, list):
        raise ManifestError("a person manifest lists its files")
    return {str(f.get("sha256", "")) for f in files if isinstance(f, dict)}


def new_names_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def encrypt_private(key: bytes, private: dict[str, Any], context: str) -> bytes:
    """AES-256-GCM of the private part (nonce + ciphertext); ``context`` (the person's label) is bound in."""
    nonce = os.urandom(12)
    return nonce + AESGCM(key).encrypt(nonce, canonical_json(private).encode(), context.encode())


def decrypt_private(key: bytes, blob: bytes, context: str) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(AESGCM(key).decrypt(blob[:12], blob[12:], context.encode()))
    except (InvalidTag, ValueError) as exc:
        raise ManifestError("the private part does not open with this key") from exc
    return data
