"""The log's signing key and this instance's witness key: from the settings, or ``data_dir/keys/*.key``.

A key file is made once, atomically (written under a temporary name, then hard-linked into place, so two
server processes starting together end up with the same key, never two), readable by the owner only.
Without a configured name, the key's name (the checkpoint origin) is derived from the key itself, so two
instances never share an origin by accident.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

from redline.config import Settings
from redline.evidence.note import COSIGNATURE_V1, ED25519, SignerKey


def _stored_key(path: Path, alg: int, prefix: str) -> SignerKey:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fresh = SignerKey.generate("pending", alg)
        name = prefix + hashlib.sha256(fresh.verifier().public).hexdigest()[:8]
        key = SignerKey(name, alg, fresh.seed)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(key.text() + "\n")
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
        finally:
            tmp.unlink()
    return SignerKey.parse(path.read_text())


def _named(key: SignerKey, name: str) -> SignerKey:
    return SignerKey(name, key.alg, key.seed) if name and name != key.name else key


def log_signer(settings: Settings) -> SignerKey:
    key = (
        SignerKey.parse(settings.tlog_key)
        if settings.tlog_key
        else _stored_key(settings.data_dir / "keys" / "log.key", ED25519, "redline-log/")
    )
    if key.alg != ED25519:
        raise ValueError("the log key must be an Ed25519 (0x01) signer key")
    return _named(key, settings.tlog_origin)


def witness_signer(settings: Settings) -> SignerKey:
    key = (
        SignerKey.parse(settings.witness_key)
        if settings.witness_key
        else _stored_key(settings.data_dir / "keys" / "witness.key", COSIGNATURE_V1, "redline-witness/")
    )
    if key.alg != COSIGNATURE_V1:
        raise ValueError("the witness key must be a cosignature/v1 (0x04) signer key")
    return _named(key, settings.witness_name)
