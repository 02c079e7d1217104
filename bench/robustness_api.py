"""End-to-end robustness: originals registered through POST /v1/cases, copies checked through the API.

    .venv/bin/python bench/robustness_api.py --step 8

Starts the real app in-process on a fresh SQLite database (no mocks): each original becomes a survivor case
holding the hashes the portal submits (``pdq``, and the four ``pdq_region`` hashes when the API accepts that
type); each transformed copy is uploaded to ``POST /v1/match/file`` as a PNG (the server hashes it and keeps
nothing), and, for the robust rule, its derived hashes (``robust.query_hashes``) are sent to
``POST /v1/match`` as ``pdq_region`` queries. Recall and false matches are read from the responses' entry ids.
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy import text

from redline.api.app import create_app
from redline.bank import service
from redline.bank.db import Database
from redline.config import Settings
from redline.eval import harness
from redline.eval.transforms import TRANSFORMS, apply_transform
from redline.signals.image import hash_image
from redline.signals.robust import entry_hashes, query_hashes, usable

ATTESTATION = {"subject": "self", "adult": True, "non_consensual": True}
PLAIN = "plain PDQ: /v1/match/file (or server-side hash_image + /v1/match)"
DEFAULT_PHOTOS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "photos"


def png(image: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")  # type: ignore[attr-defined]
    return buffer.getvalue()


def photos_of(body: dict[str, object], entry_photo: dict[int, int]) -> set[int]:
    """The photos whose stored entries the response matched."""
    found = {m["entry_id"] for r in body["results"] for m in r["matches"]}  # type: ignore[attr-defined,index]
    return {entry_photo[e] for e in found if e in entry_photo}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS)
    parser.add_argument("--step", type=int, default=8, help="use every STEP-th photo")
    args = parser.parse_args()
    photos = harness.load_photos(args.photos)[:: args.step]

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), case_rate_per_hour=1_000_000, change_poll_interval=0.05)
        database = Database(settings.effective_database_url)
        database.upgrade()
        database.dispose()
        app = create_app(settings)
        with TestClient(app) as client:
            while client.get("/readyz").status_code != 200:
                time.sleep(0.05)
            with app.state.services.db.write() as session:
                _, token = service.create_api_key(session, name="bench", scopes=["match"], actor="bench")
            auth = {"Authorization": f"Bearer {token}"}

            regions_accepted = True
            case_photo: dict[str, int] = {}
            for index, photo in enumerate(photos):
                stored = usable(entry_hashes(np.asarray(photo.image)))
                hashes = [{"type": "pdq", "value": stored[0].hex, "quality": stored[0].quality}]
                if regions_accepted:
                    hashes += [{"type": "pdq_region", "value": h.hex, "quality": h.quality} for h in stored]
                response = client.post("/v1/cases", json={"hashes": hashes, "attestation": ATTESTATION})
                if response.status_code == 422 and regions_accepted:
                    regions_accepted = False
                    body = {"hashes": hashes[:1], "attestation": ATTESTATION}
                    response = client.post("/v1/cases", json=body)
                assert response.status_code == 201, response.text
                case_photo[response.json()["case_id"]] = index
            with app.state.services.db.read() as session:
                rows = session.execute(text("SELECT id, case_id FROM entries")).all()
            entry_photo = {int(r[0]): case_photo[r[1]] for r in rows if r[1] in case_photo}
            time.sleep(1.0)  # the live index picks new entries up within a second

            match_file = True
            hits: dict[str, dict[str, list[set[int]]]] = defaultdict(lambda: defaultdict(list))
            started = time.perf_counter()
            for photo in photos:
                for transform in TRANSFORMS:
                    copy = apply_transform(transform, photo.id, photo.image)
                    data = png(copy)
                    response = client.post("/v1/match/file", headers=auth,
                                           files={"file": ("copy.png", data, "image/png")})
                    if response.status_code in (404, 405):
                        # /v1/match/file not there yet: hash as the server would, then match the hash.
                        match_file = False
                        signals = hash_image(data)
                        body = {"hashes": [{"type": "pdq", "value": signals.pdq}]}
                        response = client.post("/v1/match", headers=auth, json=body)
                    assert response.status_code == 200, response.text
                    plain = photos_of(response.json(), entry_photo)
                    hits[PLAIN][transform.name].append(plain)
                    if regions_accepted:
                        derived = usable(query_hashes(np.asarray(copy)))
                        body = {"hashes": [{"type": "pdq_region", "value": h.hex} for h in derived]}
                        response = client.post("/v1/match", headers=auth, json=body)
                        assert response.status_code == 200, response.text
                        robust = photos_of(response.json(), entry_photo) | plain
                        hits["/v1/match pdq_region (robust)"][transform.name].append(robust)
            elapsed = time.perf_counter() - started

    print(f"# {len(photos)} photos, {len(TRANSFORMS)} transforms, in-process app on SQLite; "
          f"pdq_region accepted by the API: {regions_accepted}; /v1/match/file available: {match_file}; "
          f"querying took {elapsed:.0f} s")
    for rule, per_transform in hits.items():
        print(f"\n## {rule}\n\n| transform | recall | false matches |\n|---|---|---|")
        total = found = false = 0
        for name, sets in per_transform.items():
            ok = sum(1 for i, s in enumerate(sets) if i in s)
            bad = sum(len(s - {i}) for i, s in enumerate(sets))
            total, found, false = total + len(sets), found + ok, false + bad
            print(f"| {name} | {100 * ok / len(sets):.1f}% | {bad} |")
        pairs = total * (len(photos) - 1)
        print(f"| **overall** | {100 * found / total:.1f}% | {false} of {pairs:,} pairs |")


if __name__ == "__main__":
    main()
