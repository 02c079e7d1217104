"""Robust matching through the API: ``pdq_region`` hashes accepted (and refused) like PDQ, searched at their
own threshold, and derived server-side from uploads to ``/v1/match/file`` (docs/ROBUSTNESS.md)."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from redline.api.file_match import best_per_case, hash_upload
from redline.config import Settings
from redline.signals import hash_image, robust
from redline.signals.budget import DecodeBudget
from tests.support import ATTESTATION, wait_until
from tests.support.apps import Api, match, uploads_left
from tests.support.media import flip, neutral_png, photo_copies, png, region

PROBLEM = "application/problem+json"
BUDGET = DecodeBudget(1 << 30, wait_s=0)


def test_a_query_allowance_widens_only_that_query_and_only_against_whole_pictures(api: Api) -> None:
    """The whole upload's hashes (allowance 19) match a stored whole picture (its ``pdq`` entry) up to 64
    bits, and a stored crop (``pdq_region`` entry) only up to 45, like every other region query
    (``robust.allowance_applies``): the allowance widens neither the other queries nor the crops."""
    from redline.match.service import Query

    crop, whole = secrets.token_hex(32), secrets.token_hex(32)
    api.submit([region(crop), {"type": "pdq", "value": whole, "quality": 90}])
    matcher = api.client.app.state.services.matcher  # type: ignore[attr-defined]
    wait_until(lambda: bool(matcher.match([Query("pdq_region", crop)])[0]), timeout=1.0)
    wait_until(lambda: bool(matcher.match([Query("pdq", whole)])[0]), timeout=1.0)
    whole_60, whole_65, crop_60, crop_45 = flip(whole, 60), flip(whole, 65), flip(crop, 60), flip(crop, 45)
    loose, strict, beyond, loose_crop, near_crop = matcher.match(
        [
            Query("pdq_region", whole_60, 19),
            Query("pdq_region", whole_60),
            Query("pdq_region", whole_65, 19),
            Query("pdq_region", crop_60, 19),
            Query("pdq_region", crop_45, 19),
        ]
    )
    assert [(m.signal_type, m.distance) for m in loose] == [("pdq", 60)]
    assert strict == [] and beyond == [] and loose_crop == []
    assert [(m.signal_type, m.distance) for m in near_crop] == [("pdq_region", 45)]
    # An edge strip's stricter threshold (allowance -13: 32 bits) counts against crops and whole pictures.
    strip = robust.STRIP_THRESHOLD - robust.ROBUST_THRESHOLD
    crop_32, crop_33, whole_33 = flip(crop, 32), flip(crop, 33), flip(whole, 33)
    near, far, far_whole = matcher.match(
        [
            Query("pdq_region", crop_32, strip),
            Query("pdq_region", crop_33, strip),
            Query("pdq_region", whole_33, strip),
        ]
    )
    assert [(m.signal_type, m.distance) for m in near] == [("pdq_region", 32)]
    assert far == [] and far_whole == []


def test_hash_only_lookups_get_each_labels_threshold(api: Api) -> None:
    """A platform that derives the query hashes itself sends their labels to /v1/match and gets the same
    thresholds as /v1/match/file: an edge strip 32 bits, the whole upload 64 against whole pictures, any
    other label (or none) the bank's 45. A label on a type that has none is refused."""
    key = api.key("match")
    crop, whole = secrets.token_hex(32), secrets.token_hex(32)
    api.submit([region(crop), {"type": "pdq", "value": whole, "quality": 90}])
    wait_until(lambda: bool(match(api, key, ("pdq_region", crop))[0]), timeout=1.0)

    def lookup(*hashes: dict[str, str]) -> list[list[int]]:
        response = api.client.post("/v1/match", headers=key, json={"hashes": list(hashes)})
        assert response.status_code == 200, response.text
        return [[m["distance"] for m in r["matches"]] for r in response.json()["results"]]

    def q(value: str, label: str | None = None) -> dict[str, str]:
        return {"type": "pdq_region", "value": value, **({"label": label} if label else {})}

    assert lookup(
        q(flip(crop, 32), "band_left_0.1"),
        q(flip(crop, 40), "band_top_0.2"),
        q(flip(crop, 40), "window_0.9_+0.02_-0.04"),
        q(flip(crop, 40)),
        q(flip(whole, 60), "full"),
        q(flip(whole, 60)),
    ) == [[32], [], [40], [40], [60], []]
    refused = api.client.post(
        "/v1/match", headers=key, json={"hashes": [{"type": "pdq", "value": whole, "label": "full"}]}
    )
    assert refused.status_code == 422 and refused.headers["content-type"] == PROBLEM
    assert "label is only for pdq_region" in refused.json()["detail"]


def test_pdq_region_is_accepted_refused_and_matched_like_pdq(api: Api) -> None:
    key, admin, submit, feed = api.key("match"), api.key("admin"), api.key("submit"), api.key("feed")
    stored = secrets.token_hex(32)
    plain = {"type": "pdq", "value": secrets.token_hex(32), "quality": 90}
    case = api.submit([region(stored.upper()), plain])
    status = api.client.get(f"/v1/cases/{case['case_id']}", headers={"X-Case-Secret": case["secret"]}).json()
    assert [h["type"] for h in status["hashes"]] == ["pdq_region", "pdq"]

    for bad in ("zz" * 32, stored[:63], stored + "00", ""):
        response = api.client.post("/v1/cases", json={"hashes": [region(bad)], "attestation": ATTESTATION})
        assert response.status_code == 422, bad
        assert response.headers["content-type"] == PROBLEM
        lookup = {"hashes": [{"type": "pdq_region", "value": bad}]}
        query = api.client.post("/v1/match", headers=key, json=lookup)
        assert query.status_code == 422 and query.headers["content-type"] == PROBLEM, bad
    too_good = api.client.post(
        "/v1/cases", json={"hashes": [region(stored, 101)], "attestation": ATTESTATION}
    )
    assert too_good.status_code == 422

    # Its own threshold (45 by default), its own index: a pdq query never matches a pdq_region entry.
    wait_until(lambda: bool(match(api, key, ("pdq_region", stored))[0]), timeout=1.0)
    near, far, other_type = match(
        api, key, ("pdq_region", flip(stored, 44)), ("pdq_region", flip(stored, 46)), ("pdq", stored)
    )
    assert far == [] and other_type == []
    assert near[0]["type"] == "pdq_region" and near[0]["distance"] == 44 and near[0]["quality"] == 90
    assert near[0]["action"] == "review" and near[0]["review_item_id"] is not None

    bank = api.client.get("/v1/banks/survivors", headers=admin).json()
    assert bank["thresholds"]["pdq_region"] == 45
    patched = api.client.patch("/v1/banks/survivors", headers=admin, json={"thresholds": {"pdq_region": 30}})
    assert patched.status_code == 200 and patched.json()["thresholds"]["pdq_region"] == 30
    assert match(api, key, ("pdq_region", flip(stored, 40))) == [[]]
    too_high = api.client.patch("/v1/banks/survivors", headers=admin, json={"thresholds": {"pdq_region": 97}})
    assert too_high.status_code in (400, 422)

    partner = secrets.token_hex(32)
    assert api.client.post("/v1/banks", headers=admin, json={"name": "hotline"}).status_code == 201
    granted = api.client.put(f"/v1/keys/{submit['Authorization'].split('_')[1]}/banks/hotline", headers=admin)
    feed_id = feed["Authorization"].split("_")[1]
    reads = api.client.put(f"/v1/keys/{feed_id}/feed-banks/hotline", headers=admin)
    assert reads.status_code == 204
    assert granted.status_code == 204
    added = api.client.post(
        "/v1/banks/hotline/entries", headers=submit, json={"hashes": [region(partner, 70)]}
    )
    assert added.status_code == 201
    imported_value = secrets.token_hex(32)
    imported = api.client.post(
        "/v1/banks/survivors/import",
        headers={**admin, "content-type": "text/csv"},
        content=f"type,value,quality\npdq_region,{imported_value},88\n",
    )
    assert imported.status_code == 200 and imported.json()["imported"] == 1
    items = api.client.get("/v1/feed", headers=feed).json()["items"]
    regions = {(i["value"], i["quality"]) for i in items if i["type"] == "pdq_region"}
    assert regions == {(stored, 90), (partner, 70), (imported_value, 88)}


def test_best_per_case_reports_each_case_once_under_its_closest_hash() -> None:
    class Hit:
        def __init__(self, entry_id: int, distance: int, case_id: str | None = None) -> None:
            self.entry_id, self.distance, self.case_id = entry_id, distance, case_id

    # Entries 1 and 4 are crops of one picture in case "c1"; 2 and 3 came without a case.
    a1, a2, d3 = Hit(1, 30, "c1"), Hit(1, 12, "c1"), Hit(4, 9, "c1")
    b1, c2, b3 = Hit(2, 20), Hit(3, 40), Hit(2, 20)
    kept = best_per_case([[a1, b1], [a2, c2], [b3, d3], []])
    assert [(position, [(h.entry_id, h.distance) for h in hits]) for position, hits in kept] == [
        (0, [(2, 20)]),  # tie with hash 2: the earlier hash is kept
        (1, [(3, 40)]),
        (2, [(4, 9)]),  # case c1 once, under its closest crop
    ]
    # A case the upload's plain hashes already matched gets no second item.
    kept = best_per_case([[a1, b1], [d3]], already=[[Hit(7, 3, "c1")]])
    assert [(position, [h.entry_id for h in hits]) for position, hits in kept] == [(0, [2])]


@pytest.mark.shared
def test_edited_upload_matches_an_entry_stored_only_as_region_hashes(api: Api, corpus: Path) -> None:
    photo, copies = photo_copies(corpus)
    stored = robust.entry_hashes(np.asarray(photo))  # what the portal computes for the original
    case = api.submit([region(h.hex, h.quality) for h in stored])
    key = api.key("match")
    wait_until(lambda: bool(match(api, key, ("pdq_region", stored[0].hex))[0]), timeout=1.0)
    ids = {e["entry_id"] for r in match(api, key, *(("pdq_region", h.hex) for h in stored)) for e in r}
    assert len(ids) == len(stored) == 1 + len(robust.STORED_REGIONS)

    for name, copy in copies.items():
        data = png(copy)
        plain = hash_image(data).pdq
        # Plain PDQ would not catch it: far beyond the PDQ threshold from the stored whole-picture hash.
        assert (int(plain, 16) ^ int(stored[0].hex, 16)).bit_count() > 60, name
        response = api.client.post(
            "/v1/match/file",
            headers=key,
            files={"file": ("copy.png", data, "image/png")},
            data={"content_id": name},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["region_queries"] >= 20, name
        assert [h["type"] for h in body["hashes"][:3]] == ["md5", "sha256", "pdq"]
        assert all(r["matches"] == [] for r in body["results"][:3]), name
        found = [(h, m) for h, r in zip(body["hashes"], body["results"], strict=True) for m in r["matches"]]
        assert found, f"{name}: no robust match"
        entries = [m["entry_id"] for _, m in found]
        assert len(entries) == 1 and set(entries) <= ids  # one picture, one case: one match, the photo's own
        for derived, m in found:
            assert derived["type"] == "pdq_region" and derived["label"]
            assert m["type"] == "pdq_region" and m["distance"] <= 45
            assert m["action"] in ("review", "block_and_review") and m["review_item_id"] is not None
        assert min(m["distance"] for _, m in found) <= 25, name
        assert "upright" not in body["signals"] and len(response.content) < 20_000  # hashes only, no pixels
    assert uploads_left(api) == []
    status = api.client.get(f"/v1/cases/{case['case_id']}", headers={"X-Case-Secret": case["secret"]}).json()
    assert status["matches"] >= 2 and set(status["actions"]) <= {"review", "block_and_review"}


@pytest.mark.shared
def test_hash_only_lookup_with_a_content_id_reports_each_case_once(api: Api, corpus: Path) -> None:
    """A platform that derives the query hashes itself and sends them to /v1/match with its content_id
    gets one match (one review item) per picture, like /v1/match/file; without a content_id the request
    may hold many contents, so every (hash, entry) pair is reported."""
    photo, copies = photo_copies(corpus)
    stored = robust.entry_hashes(np.asarray(photo))
    api.submit([region(h.hex, h.quality) for h in stored])
    key = api.key("match")
    wait_until(lambda: bool(match(api, key, ("pdq_region", stored[0].hex))[0]), timeout=1.0)
    # Four of this copy's derived hashes are within 45 of the stored 0.9 crop, each reached by the first stage
    # (the off-centre copy has one such pair within the sure radius, and one at 44 that only the exact search
    # or another split reaches).
    derived = robust.usable(robust.query_hashes(np.asarray(copies["cropped and framed"])))
    queries = [{"type": "pdq_region", "value": h.hex} for h in derived]

    def lookup(**extra: str) -> list[list[dict[str, Any]]]:
        response = api.client.post("/v1/match", headers=key, json={"hashes": queries, **extra})
        assert response.status_code == 200, response.text
        results = response.json()["results"]
        assert len(results) == len(queries)  # still one result per query, in order
        return [r["matches"] for r in results]

    ungrouped = [m for r in lookup() for m in r]
    assert len(ungrouped) > 1  # several derived hashes near the picture's stored crops
    grouped = lookup(content_id="post-1")
    assert sum(len(r) for r in grouped) == 1
    [best] = [m for r in grouped for m in r]
    assert best["distance"] == min(m["distance"] for m in ungrouped) and best["review_item_id"] is not None


def test_upload_hashing_respects_the_robust_setting(tmp_path: Path) -> None:
    upload = tmp_path / "upload.png"
    upload.write_bytes(neutral_png())
    signals, derived = hash_upload(upload, Settings(data_dir=tmp_path), BUDGET)
    assert signals.upright is None  # type: ignore[union-attr]  # the pixels stop in hash_upload
    first = derived[0].hash
    assert derived and first.label == "full" and first.value == signals.pdq  # type: ignore[union-attr]
    assert all(d.hash.type == "pdq_region" and (d.hash.quality or 0) >= 50 for d in derived)
    # The whole-upload hashes (plain, mirror) carry robust.py's looser operating point; the rest none.
    allowances = {d.hash.label: d.allowance for d in derived}
    assert allowances["full"] == robust.WHOLE_THRESHOLD - robust.ROBUST_THRESHOLD > 0
    strips = {band.label for band in robust.STORED_BANDS}
    present = strips & allowances.keys()  # the upload's edge strips (a flat one is dropped), stricter
    assert present and all(
        allowances[label] == robust.STRIP_THRESHOLD - robust.ROBUST_THRESHOLD < 0 for label in present
    )
    assert all(a == 0 for label, a in allowances.items() if label not in ("full", "mirror", *strips))
    assert hash_upload(upload, Settings(data_dir=tmp_path, robust_matching=False), BUDGET)[1] == []
    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (3, 900), (200, 10, 10)).save(tiny)
    assert len(hash_upload(tiny, Settings(data_dir=tmp_path), BUDGET)[1]) <= 1
