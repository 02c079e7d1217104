"""Shared set-up steps for the review tests."""

from __future__ import annotations

from redline.bank import service
from redline.bank.db import Database
from redline.bank.secrets import ContactCipher


def submit(db: Database, cipher: ContactCipher, hashes: list[tuple[str, str]]) -> list[int]:
    with db.write() as s:
        new = service.submit_case(
            s,
            bank_name="survivors",
            hashes=[service.normalize_hash(t, v, 90 if t == "pdq" else None) for t, v in hashes],
            attestation={"subject": "self", "adult": True, "non_consensual": True},
            cipher=cipher,
        )
        return new.entry_ids


def api_key(db: Database, partner: str = "platform-a") -> str:
    with db.write() as s:
        key, _ = service.create_api_key(s, name=partner, scopes=["match"], actor="test", partner=partner)
        return key.id
