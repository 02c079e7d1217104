"""A new signal type is one class and one registration: stored, matched, fed and listed with no other edit.

The toy type here is a 64-bit perceptual hash (the first 64 bits of PDQ), so it can also be derived from a
file: ``redline protect`` stores it and ``/v1/match/file`` looks uploads up by it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient

from redline.api.app import create_app
from redline.cli.protect import hashes_of
from redline.config import Settings
from redline.signals import hash_file
from redline.signals.types import SIGNAL_TYPES, DerivedHash, SignalType
from tests.support import ATTESTATION, wait_until
from tests.support.apps import Api, make_settings
from tests.support.media import neutral_png

if TYPE_CHECKING:
    from redline.signals.types import FileSignals

TOY = "toy64"


class Toy64Signal(SignalType):
    """The first 64 bits of an image's PDQ hash: a toy perceptual hash of another length than PDQ's."""

    name = TOY
    hash_length = 64
    distance_metric = "hamming"
    default_threshold = 4
    max_threshold = 16
    min_quality = 50
    media = frozenset({"image"})

    @classmethod
    def _stored(cls, signals: FileSignals) -> list[DerivedHash]:
        if signals.media_type != "image":
            return []
        return [DerivedHash(cls.name, signals.pdq[:16], signals.pdq_quality)]

    @classmethod
    def _queried(cls, signals: FileSignals, min_quality: int) -> list[DerivedHash]:
        usable = signals.media_type == "image" and signals.pdq_quality >= min_quality
        return cls._stored(signals) if usable else []


@pytest.fixture
def toy_api(database_url: str, tmp_path: Path) -> Iterator[Api]:
    SIGNAL_TYPES.register(Toy64Signal)  # the one registration; the app made after it knows the type
    try:
        settings = make_settings(database_url, tmp_path / "data")
        app = create_app(settings)
        with TestClient(app) as client:
            wait_until(lambda: client.get("/readyz").status_code == 200)
            yield Api(client, settings, app.state.services.db)
    finally:
        SIGNAL_TYPES.unregister(TOY)


def flip64(value: str, bits: int) -> str:
    return f"{int(value, 16) ^ ((1 << bits) - 1):016x}"


def lookup(api: Api, key: dict[str, str], *values: str) -> list[list[dict[str, Any]]]:
    body = {"hashes": [{"type": TOY, "value": v} for v in values]}
    response = api.client.post("/v1/match", headers=key, json=body)
    assert response.status_code == 200, response.text
    return [r["matches"] for r in response.json()["results"]]


def test_a_registered_toy_type_is_stored_matched_fed_and_listed(toy_api: Api) -> None:
    api, key, feed, admin = toy_api, toy_api.key("match"), toy_api.key("feed"), toy_api.key("admin")
    stored = "0123456789abcdef"
    case = api.submit([{"type": TOY, "value": stored.upper(), "quality": 80}])
    # Matched: the matcher made a 64-bit index for it and learns the entry from the change log.
    wait_until(lambda: bool(lookup(api, key, stored)[0]), timeout=2.0)
    near, far = lookup(api, key, flip64(stored, 3), flip64(stored, 5))
    assert [(m["type"], m["distance"]) for m in near] == [(TOY, 3)] and far == []  # threshold 4
    # Fed: partners mirror it like any other hash.
    items = api.client.get("/v1/feed", headers=feed).json()["items"]
    assert [(i["type"], i["value"]) for i in items] == [(TOY, stored)]
    # Listed: the API schema, the bank's thresholds (settable like any type's) and the case page.
    schema = api.client.get("/openapi.json").json()["components"]["schemas"]
    assert TOY in schema["HashIn"]["properties"]["type"]["enum"]
    [bank] = api.client.get("/v1/banks", headers=admin).json()
    assert bank["thresholds"][TOY] == 4
    patched = api.client.patch("/v1/banks/survivors", headers=admin, json={"thresholds": {TOY: 6}})
    assert patched.status_code == 200 and patched.json()["thresholds"][TOY] == 6
    wait_until(lambda: bool(lookup(api, key, flip64(stored, 5))[0]), timeout=2.0)
    too_far = api.client.patch("/v1/banks/survivors", headers=admin, json={"thresholds": {TOY: 17}})
    assert too_far.status_code == 400 and "between 0 and 16" in too_far.text
    status = api.client.get(f"/v1/cases/{case['case_id']}", headers={"X-Case-Secret": case["secret"]})
    assert [h["type"] for h in status.json()["hashes"]] == [TOY]
    # Its value format is checked like PDQ's: 16 hex characters.
    short = {"hashes": [{"type": TOY, "value": "ab"}], "attestation": ATTESTATION}
    bad = api.client.post("/v1/cases", json=short)
    assert bad.status_code == 422 and "16 hexadecimal" in bad.text


def test_a_registered_type_is_derived_from_files(toy_api: Api, tmp_path: Path) -> None:
    """Its derivations are used by ``redline protect`` (stored) and ``/v1/match/file`` (queried)."""
    path = tmp_path / "picture.png"
    path.write_bytes(neutral_png())
    signals = hash_file(path, Settings(data_dir=tmp_path))
    assert signals.media_type == "image"
    prefix = signals.pdq[:16]
    assert {"type": TOY, "value": prefix, "quality": signals.pdq_quality} in hashes_of(signals)

    api = toy_api
    api.submit([{"type": TOY, "value": prefix, "quality": signals.pdq_quality}])
    key = api.key("match")
    wait_until(lambda: bool(lookup(api, key, prefix)[0]), timeout=2.0)
    response = api.client.post("/v1/match/file", headers=key, files={"file": ("a.png", neutral_png())})
    assert response.status_code == 200, response.text
    body = response.json()
    pairs = zip(body["hashes"], body["results"], strict=True)
    found = [(h["type"], [m["distance"] for m in r["matches"]]) for h, r in pairs]
    assert (TOY, [0]) in found


def test_an_unknown_type_is_refused_with_the_known_ones(api: Api) -> None:
    body = {"hashes": [{"type": TOY, "value": "00"}]}
    response = api.client.post("/v1/match", headers=api.key("match"), json=body)
    assert response.status_code == 422 and response.headers["content-type"] == "application/problem+json"
    assert "unknown signal type" in response.text and "pdq_region" in response.text
