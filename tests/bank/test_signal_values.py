"""Hash values that are not 256-bit hex (PhotoDNA's 144 bytes, a TMK float vector) are stored, logged and
fed without another migration; the registry refuses type declarations the bank could not serve."""

from __future__ import annotations

import base64
import secrets
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from redline.api.app import create_app
from redline.bank import service
from redline.bank.db import Database
from redline.bank.models import Change, Entry
from redline.bank.secrets import ContactCipher
from redline.signals.types import MAX_VALUE_CHARS, SIGNAL_TYPES, SignalRegistry, SignalType
from tests.support import ATTESTATION, wait_until
from tests.support.apps import make_settings


class PhotoDnaLike(SignalType):
    """Shaped like PhotoDNA: 144 bytes, compared by Euclidean distance (no matcher for that yet)."""

    name = "photodna_test"
    dtype = "uint8"
    hash_length = 144
    distance_metric = "euclidean"


class TmkLike(SignalType):
    """Shaped like a TMK+PDQF level-1 feature: 256 float32, compared by cosine (no matcher yet)."""

    name = "tmk_test"
    dtype = "float32"
    hash_length = 256
    distance_metric = "cosine"
    media = frozenset({"video"})


@pytest.fixture
def wide_types() -> Iterator[None]:
    for kind in (PhotoDnaLike, TmkLike):
        SIGNAL_TYPES.register(kind)
    yield
    for kind in (PhotoDnaLike, TmkLike):
        SIGNAL_TYPES.unregister(kind.name)


def vector(seed: int) -> str:
    return base64.b64encode(struct.pack("<256f", *(seed + i / 7 for i in range(256)))).decode()


def test_wide_values_are_stored_logged_fed_and_scrubbed(
    wide_types: None, db: Database, cipher: ContactCipher
) -> None:
    photodna = secrets.token_hex(144)
    tmk = vector(3)
    assert len(photodna) == 288 and len(tmk) == 1368 > 128  # longer than the old VARCHAR(128)
    hashes = [
        service.normalize_hash("photodna_test", photodna.upper()),
        service.normalize_hash("tmk_test", tmk),
    ]
    with db.write() as s:
        new = service.submit_case(
            s, bank_name="survivors", hashes=hashes, attestation=ATTESTATION, cipher=cipher
        )
    with db.read() as s:
        stored = s.scalars(select(Entry.value).order_by(Entry.id)).all()
        assert stored == [photodna, tmk]  # canonical: lowercase hex, base64 as sent
        assert [c.value for c, _ in service.feed_page(s, 0, 10)] == [photodna, tmk]
    with db.write() as s:
        case = service.authenticate_case(s, new.case_id, new.secret)
        service.withdraw_case(s, case)
    with db.read() as s:
        assert s.scalars(select(Change.value).where(Change.status == "active")).all() == [None, None]


@pytest.mark.parametrize(
    ("kind", "value", "why"),
    [
        ("photodna_test", "ab" * 143, "288 hexadecimal"),
        ("tmk_test", "not base64!", "base64 of 256"),
        ("tmk_test", base64.b64encode(b"\0" * 12).decode(), "1024 bytes"),
        ("tmk_test", base64.b64encode(struct.pack("<256f", *[float("nan")] * 256)).decode(), "finite"),
    ],
)
def test_wide_values_are_checked(wide_types: None, kind: str, value: str, why: str) -> None:
    with pytest.raises(service.Invalid, match=why):
        service.normalize_hash(kind, value)


def test_a_type_without_a_matcher_is_refused_as_a_query(
    wide_types: None, database_url: str, tmp_path: Path
) -> None:
    app = create_app(make_settings(database_url, tmp_path / "data"))
    with TestClient(app) as client:
        wait_until(lambda: client.get("/readyz").status_code == 200)
        value = secrets.token_hex(144)
        body = {"hashes": [{"type": "photodna_test", "value": value}], "attestation": ATTESTATION}
        assert client.post("/v1/cases", json=body).status_code == 201
        with app.state.services.db.write() as s:
            _, token = service.create_api_key(s, name="m", scopes=["match"], actor="test")
        query = {"hashes": [{"type": "photodna_test", "value": value}]}
        refused = client.post("/v1/match", headers={"Authorization": f"Bearer {token}"}, json=query)
        assert refused.status_code == 422 and "not matched yet" in refused.json()["detail"]


def test_the_migration_keeps_values_and_admits_long_ones(unmigrated_database_url: str) -> None:
    """m004 on a database that already holds entries, changes and match-log rows (SQLite replaces the
    columns in place, PostgreSQL alters their type)."""
    db = Database(unmigrated_database_url)
    try:
        db.upgrade("m002")
        pdq = secrets.token_hex(32)
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO banks (id, name, description, thresholds, default_action, enabled, "
                    "created_at) VALUES (1, 'b', '', '{}', 'review', true, CURRENT_TIMESTAMP)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO entries (id, bank_id, signal_type, value, source, origin, tags, "
                    "status, created_at, updated_at) VALUES (1, 1, 'pdq', :v, 'import', '', '[]', "
                    "'active', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                {"v": pdq},
            )
            conn.execute(
                text(
                    "INSERT INTO changes (entry_id, bank_id, signal_type, value, tags, status, at) "
                    "VALUES (1, 1, 'pdq', :v, '[]', 'active', CURRENT_TIMESTAMP)"
                ),
                {"v": pdq},
            )
            conn.execute(
                text(
                    "INSERT INTO match_events (entry_id, api_key_id, distance, action, at) "
                    "VALUES (1, 'k', 0, 'review', CURRENT_TIMESTAMP)"
                )
            )
        db.upgrade()
        long_value = "a" * MAX_VALUE_CHARS
        with db.engine.begin() as conn:
            assert conn.execute(text("SELECT value FROM entries")).scalar_one() == pdq
            assert conn.execute(text("SELECT value FROM changes")).scalar_one() == pdq
            assert conn.execute(text("SELECT count(*) FROM match_events")).scalar_one() == 1
            conn.execute(text("UPDATE entries SET value = :v"), {"v": long_value})
            conn.execute(text("UPDATE changes SET value = :v"), {"v": long_value})
            assert (
                conn.execute(
                    text("SELECT value FROM entries WHERE signal_type = 'pdq' AND value = :v"),
                    {"v": long_value},
                ).scalar_one()
                == long_value
            )
    finally:
        db.dispose()


class _NoName(SignalType):
    hash_length = 64
    distance_metric = "hamming"


@pytest.mark.parametrize(
    ("attributes", "why"),
    [
        ({"name": "Bad-Name"}, "name must be"),
        ({"name": "odd_bits", "hash_length": 96}, "multiples of 64"),
        ({"name": "huge", "dtype": "uint8", "hash_length": 4096, "distance_metric": "euclidean"}, "2048"),
        ({"name": "loose", "default_threshold": 9, "max_threshold": 8}, "default_threshold"),
        ({"name": "pdq"}, "registered"),
    ],
)
def test_registration_refuses_what_the_bank_cannot_serve(attributes: dict[str, object], why: str) -> None:
    registry = SignalRegistry(*SIGNAL_TYPES.values())
    kind = type("Declared", (_NoName,), dict(attributes))
    with pytest.raises(ValueError, match=why):
        registry.register(kind)
    with pytest.raises(ValueError, match="declares no name"):
        registry.register(_NoName)
