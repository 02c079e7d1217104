"""``redline intake`` on a synthetic collection: throughput against ``redline hash`` on the same files in the
same run, every person's edited copies matching her own case through ``/v1/match/file``, and claimed cases
withdrawn and no longer matching.

    .venv/bin/python bench/intake.py --persons 8 --pictures 10

The collection: ``--persons`` folders of ``--pictures`` neutral photos each from ``../shared/corpus/photos``
(BSDS500, Kodak; no people in intimate settings), each a different photo re-encoded (JPEG quality 60-95),
cropped (0-10% a side) and scaled (60-100%), seeded. A Redline server (SQLite) is served on loopback in this
process. Each command runs as a fresh process over the whole collection and over a one-file collection;
files/s is ``(N - 1) / (t_N - t_1)`` (start-up cancels out), and CPU ms per file likewise. Measured:

* baseline: ``redline hash FOLDER --jobs 1`` (reduced-scale JPEG decode, PDQ, MD5/SHA-256);
* ``redline intake FOLDER`` (full-size decode as the portal does, PDQ, the stored region hashes, MD5/SHA-256,
  metadata summary, state file, signed manifests, one HTTP request per person, sheets);
* then, for every person, a re-posted copy of one of her files (5% cropped a side, 75% size, JPEG quality
  70) through ``/v1/match/file``: matched to her own case, and whether it also matched another's;
* for ``--withdraw`` persons: claim with the sheet's secret, withdraw with the new one, then the time from
  the withdrawal's answer until her PDQ and SHA-256 hashes sent to ``/v1/match`` no longer match (the match
  index's own delay), and until a ``/v1/match/file`` query of a re-posted copy started after it no longer
  matches (0 when the first such query already did not).

JSON lines on stdout, with the load average (the development machine is shared).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = ROOT.parent / "shared" / "corpus" / "photos"
CLI = [sys.executable, "-c", "from redline.cli.main import app; app()"]


def loadavg() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def variant(path: Path, rng: random.Random) -> bytes:
    image = Image.open(path).convert("RGB")
    w, h = image.size
    left, top, right, bottom = (rng.uniform(0, 0.1) for _ in range(4))
    image = image.crop((int(w * left), int(h * top), int(w * (1 - right)), int(h * (1 - bottom))))
    scale = rng.uniform(0.6, 1.0)
    image = image.resize((max(64, int(image.width * scale)), max(64, int(image.height * scale))))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=rng.randint(60, 95))
    return out.getvalue()


def reupload(path: Path) -> bytes:
    """A copy of a collection file as it would be re-posted: 5% cropped a side, 75% size, JPEG quality 70."""
    image = Image.open(path).convert("RGB")
    w, h = image.size
    image = image.crop((w // 20, h // 20, w - w // 20, h - h // 20)).resize((w * 3 // 4, h * 3 // 4))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=70)
    return out.getvalue()


def collection(
    root: Path, photos: list[Path], persons: int, pictures: int, seed: int
) -> dict[str, list[Path]]:
    rng = random.Random(seed)
    chosen: dict[str, list[Path]] = {}
    for p in range(persons):
        folder = root / f"Person {p:02d}"
        folder.mkdir(parents=True)
        chosen[folder.name] = []
        for n, photo in enumerate(photos[p * pictures : (p + 1) * pictures]):
            target = folder / f"IMG_{n:04d}.jpg"
            target.write_bytes(variant(photo, rng))
            chosen[folder.name].append(target)
    return chosen


def serve(data_dir: Path) -> tuple[str, Any]:
    import uvicorn

    from redline.api.app import create_app
    from redline.bank.db import Database
    from redline.config import Settings

    settings = Settings(data_dir=data_dir, database_url=f"sqlite:///{data_dir}/bench.db")
    Database(settings.database_url).upgrade()
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    while not app.state.services.matcher.ready.is_set():
        time.sleep(0.05)
    return f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}", app


def key(app: Any, *scopes: str) -> str:
    from redline.bank import service

    with app.state.services.db.write() as session:
        _, token = service.create_api_key(session, name="bench", scopes=list(scopes), actor="bench")
    return str(token)


_WRAPPER = (
    "import json, resource, subprocess, sys, time; t = time.perf_counter(); "
    "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
    "u = resource.getrusage(resource.RUSAGE_CHILDREN); "
    "print(json.dumps([time.perf_counter() - t, u.ru_utime + u.ru_stime]))"
)


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    out = subprocess.run([sys.executable, "-c", _WRAPPER, *command], env=env, check=True, capture_output=True)
    wall, cpu = json.loads(out.stdout)
    return float(wall), float(cpu)


def measure(name: str, many: list[str], one: list[str], env: dict[str, str], count: int) -> dict[str, Any]:
    before = loadavg()
    wall_one, cpu_one = timed(one, env)
    wall_many, cpu_many = timed(many, env)
    return {
        "run": name,
        "files": count,
        "seconds": round(wall_many, 2),
        "files_per_s": round((count - 1) / max(wall_many - wall_one, 1e-9), 2),
        "cpu_ms_per_file": round(1000 * (cpu_many - cpu_one) / (count - 1), 1),
        "load": f"{before} -> {loadavg()}",
    }


def matched_cases(url: str, match_key: str, picture: bytes, app: Any) -> set[str]:
    from sqlalchemy import select

    from redline.bank.models import Entry

    response = httpx.post(
        f"{url}/v1/match/file",
        headers={"Authorization": f"Bearer {match_key}"},
        files={"file": ("q.jpg", picture, "image/jpeg")},
        timeout=60,
    )
    response.raise_for_status()
    ids = {m["entry_id"] for r in response.json()["results"] for m in r["matches"]}
    if not ids:
        return set()
    with app.state.services.db.read() as session:
        return {c for c in session.scalars(select(Entry.case_id).where(Entry.id.in_(ids))) if c}


def case_hashes(app: Any, case_id: str) -> tuple[list[dict[str, str]], set[int]]:
    from sqlalchemy import select

    from redline.bank.models import Entry

    with app.state.services.db.read() as session:
        rows = session.execute(
            select(Entry.id, Entry.signal_type, Entry.value).where(Entry.case_id == case_id)
        ).all()
    kept = [(i, t, v) for i, t, v in rows if t in ("pdq", "sha256")]
    return [{"type": t, "value": v} for _, t, v in kept], {i for i, _, _ in kept}


def hash_matches(url: str, match_key: str, hashes: list[dict[str, str]], entries: set[int]) -> int:
    response = httpx.post(
        f"{url}/v1/match",
        headers={"Authorization": f"Bearer {match_key}"},
        json={"hashes": hashes},
        timeout=60,
    )
    response.raise_for_status()
    return sum(m["entry_id"] in entries for r in response.json()["results"] for m in r["matches"])


def sheets(out: Path) -> dict[str, tuple[str, str]]:
    found = {}
    for sheet in (out / "sheets").glob("*.html"):
        html = sheet.read_text("utf-8")
        label = re.search(r'<p class="for">([^<]+) · person', html)
        case_id = re.search(r'data-testid="case-id">([^<]+)<', html)
        secret = re.search(r"<span>([0-9A-Z]{4}(?:-[0-9A-Z]{4}){5})</span>", html)
        if label and case_id and secret:
            found[label[1]] = (case_id[1], secret[1])
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=8)
    parser.add_argument("--pictures", type=int, default=10)
    parser.add_argument("--withdraw", type=int, default=3)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    photos = sorted(p for p in PHOTOS.rglob("*") if p.suffix.lower() in (".jpg", ".png"))
    if len(photos) < args.persons * args.pictures:
        sys.exit(f"need {args.persons * args.pictures} photos under {PHOTOS}, found {len(photos)}")
    rng = random.Random(args.seed + 1)
    with tempfile.TemporaryDirectory(prefix="redline-bench-intake-") as tmp:
        work = Path(tmp)
        chosen = collection(work / "collection", photos, args.persons, args.pictures, args.seed)
        collection(work / "one", photos[-1:], 1, 1, args.seed)  # a photo of nobody in the collection
        url, app = serve(work / "server")
        env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
        env["REDLINE_FLAG_KEY"] = key(app, "flag")
        count = args.persons * args.pictures
        hashing = measure(
            "redline hash --jobs 1 (baseline)",
            [*CLI, "hash", str(work / "collection"), "--jobs", "1"],
            [*CLI, "hash", str(work / "one"), "--jobs", "1"],
            env,
            count,
        )
        print(json.dumps(hashing), flush=True)

        def intake(source: Path, out: Path) -> list[str]:
            return [*CLI, "intake", str(source), "--server", url, "--out", str(out), "--yes"]

        taken = measure(
            "redline intake",
            intake(work / "collection", work / "out"),
            intake(work / "one", work / "out-one"),
            env,
            count,
        )
        taken["vs_hash_cpu"] = round(taken["cpu_ms_per_file"] / max(hashing["cpu_ms_per_file"], 1e-9), 2)
        taken["vs_hash_wall"] = round(hashing["files_per_s"] / max(taken["files_per_s"], 1e-9), 2)
        print(json.dumps(taken), flush=True)

        cases = sheets(work / "out")
        match_key = key(app, "match")
        own = other = 0
        for person, bases in chosen.items():
            found = matched_cases(url, match_key, reupload(rng.choice(bases)), app)
            own += cases[person][0] in found
            other += bool(found - {cases[person][0]})
        print(json.dumps({"run": "match edited copies", "persons": len(chosen), "matched_own_case": own,
                          "matched_another_case": other, "load": loadavg()}), flush=True)  # fmt: skip

        latencies, index_latencies = [], []
        for person in list(chosen)[: args.withdraw]:
            case_id, sheet_secret = cases[person]
            claimed = httpx.post(f"{url}/v1/cases/{case_id}/claim", headers={"X-Case-Secret": sheet_secret})
            new_secret = claimed.json()["secret"]
            query = reupload(chosen[person][0])
            if case_id not in matched_cases(url, match_key, query, app):
                sys.exit(f"{person}'s re-upload does not match her case before the withdrawal")
            hashes, entries = case_hashes(app, case_id)
            httpx.post(
                f"{url}/v1/cases/{case_id}/withdraw", headers={"X-Case-Secret": new_secret}
            ).raise_for_status()
            done = time.monotonic()
            # The match index itself: her hashes sent to /v1/match (no hashing of a file on the way).
            while hash_matches(url, match_key, hashes, entries):
                time.sleep(0.005)
            index_latencies.append(time.monotonic() - done)
            asked = time.monotonic()
            while case_id in matched_cases(url, match_key, query, app):
                time.sleep(0.01)
                asked = time.monotonic()
            latencies.append(asked - done)
        print(json.dumps({"run": "claim, withdraw, stop matching", "cases": len(latencies),
                          "index_max_ms": round(1000 * max(index_latencies), 1),
                          "index_median_ms": round(1000 * statistics.median(index_latencies), 1),
                          "match_file_max_ms": round(1000 * max(latencies), 1),
                          "load": loadavg()}), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
