"""End-to-end robustness: originals registered through POST /v1/cases, edited copies uploaded to
POST /v1/match/file, plain PDQ and robust matching in the same run.

    .venv/bin/python bench/robustness_api.py --step 8

Starts the real app in-process twice on one fresh SQLite database (no mocks): one with robust matching off
(``REDLINE_ROBUST_MATCHING=false``: the upload's md5/sha256/pdq only, what Redline did before) and one with
it on (the same plus ~110 derived ``pdq_region`` queries). Each original becomes a survivor case holding what
the portal submits for a picture: ``pdq`` and the 35 ``pdq_region`` hashes of ``robust.entry_hashes`` on
the full-size pixels (the portal's JavaScript computes exactly these; tests/web/test_pdq_conformance.py).
Each transformed copy is uploaded as a PNG to both apps, in alternating order; the server hashes it and keeps
nothing. Recall and false matches are read from the responses' entry ids; latency is the client-side time
of each upload (in-process, so it includes the server's hashing, index search and match logging).
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy import text

from redline.api.app import create_app
from redline.bank import service
from redline.bank.db import Database
from redline.config import Settings
from redline.eval import harness
from redline.eval.transforms import TRANSFORMS, apply_transform
from redline.signals.robust import entry_hashes

ATTESTATION = {"subject": "self", "adult": True, "non_consensual": True}
PLAIN, ROBUST = "plain (robust matching off)", "robust (robust matching on)"
DEFAULT_PHOTOS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "photos"


def png(image: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@contextmanager
def running(settings: Settings) -> Iterator[tuple[TestClient, Any]]:
    app = create_app(settings)
    with TestClient(app) as client:
        while client.get("/readyz").status_code != 200:
            time.sleep(0.05)
        yield client, app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS)
    parser.add_argument("--step", type=int, default=8, help="use every STEP-th photo")
    args = parser.parse_args()
    photos = harness.load_photos(args.photos)[:: args.step]

    with tempfile.TemporaryDirectory() as tmp:
        base = Settings(
            data_dir=Path(tmp),
            case_rate_per_hour=1_000_000,
            change_poll_interval=0.05,
            index_snapshots=False,
        )
        database = Database(base.effective_database_url)
        database.upgrade()
        database.dispose()
        with (
            running(base) as (robust_client, app),
            running(replace(base, robust_matching=False)) as (plain_client, _),
        ):
            with app.state.services.db.write() as session:
                _, token = service.create_api_key(session, name="bench", scopes=["match"], actor="bench")
            auth = {"Authorization": f"Bearer {token}"}

            case_photo: dict[str, int] = {}
            for index, photo in enumerate(photos):
                stored = [h for h in entry_hashes(np.asarray(photo.image)) if h.quality > 0]
                hashes = [{"type": "pdq", "value": stored[0].hex, "quality": stored[0].quality}]
                hashes += [{"type": "pdq_region", "value": h.hex, "quality": h.quality} for h in stored]
                body = {"hashes": hashes, "attestation": ATTESTATION}
                response = robust_client.post("/v1/cases", json=body)
                assert response.status_code == 201, response.text
                case_photo[response.json()["case_id"]] = index
            with app.state.services.db.read() as session:
                rows = session.execute(text("SELECT id, case_id FROM entries")).all()
            entry_photo = {int(r[0]): case_photo[r[1]] for r in rows if r[1] in case_photo}
            time.sleep(1.0)  # both live indexes pick new entries up within a second

            clients = {PLAIN: plain_client, ROBUST: robust_client}
            hits: dict[str, dict[str, list[set[int]]]] = defaultdict(lambda: defaultdict(list))
            latency: dict[str, list[float]] = defaultdict(list)
            region_queries: list[int] = []
            uploads = 0
            for photo in photos:
                for transform in TRANSFORMS:
                    data = png(apply_transform(transform, photo.id, photo.image))
                    order = [PLAIN, ROBUST] if uploads % 2 == 0 else [ROBUST, PLAIN]
                    uploads += 1
                    for rule in order:
                        started = time.perf_counter()
                        response = clients[rule].post(
                            "/v1/match/file", headers=auth, files={"file": ("copy.png", data, "image/png")}
                        )
                        latency[rule].append(time.perf_counter() - started)
                        assert response.status_code == 200, response.text
                        body = response.json()
                        found = {m["entry_id"] for r in body["results"] for m in r["matches"]}
                        hits[rule][transform.name].append({entry_photo[e] for e in found if e in entry_photo})
                        if rule == ROBUST:
                            region_queries.append(body["region_queries"])

    print(
        f"# {len(photos)} photos x {len(TRANSFORMS)} transforms = {uploads} uploads to each app "
        f"(in-process, SQLite); pdq_region queries per upload: mean {statistics.mean(region_queries):.1f}"
    )
    print("\n| transform | " + " | ".join(hits) + " |\n|---|" + "---|" * len(hits))
    names = list(hits[PLAIN])
    for name in [*names, "overall"]:
        cells = []
        for per_transform in hits.values():
            chosen = names if name == "overall" else [name]
            ok = sum(i in s for n in chosen for i, s in enumerate(per_transform[n]))
            cells.append(f"{100 * ok / sum(len(per_transform[n]) for n in chosen):.1f}%")
        print(f"| {'**overall**' if name == 'overall' else name} | " + " | ".join(cells) + " |")
    for rule, per_transform in hits.items():
        false = sum(len(s - {i}) for sets in per_transform.values() for i, s in enumerate(sets))
        pairs = uploads * (len(photos) - 1)
        print(f"\n{rule}: {false} false matches over {pairs:,} (upload, other photo) pairs")
    print("\n| per upload (ms) | mean | p50 | p95 |\n|---|---|---|---|")
    rows = {rule: [1000 * v for v in values] for rule, values in latency.items()}
    paired = zip(rows[ROBUST], rows[PLAIN], strict=True)
    rows["added by robust matching (paired)"] = [r - p for r, p in paired]
    for rule, values in rows.items():
        ms = sorted(values)
        p50, p95 = ms[len(ms) // 2], ms[int(0.95 * len(ms))]
        print(f"| {rule} | {statistics.mean(ms):.0f} | {p50:.0f} | {p95:.0f} |")


if __name__ == "__main__":
    main()
