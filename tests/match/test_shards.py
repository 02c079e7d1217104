"""Shards of the match index (docs/SHARDS.md): shard k of n holds exactly the entries with id % n == k, and an
API process whose index lives in 4 real shard processes answers exactly as one process holding it all."""

from __future__ import annotations

import io
import os
import secrets
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image, ImageOps

from redline.bank import service
from redline.bank.db import Database
from redline.bank.models import Case
from redline.bank.secrets import ContactCipher
from redline.match.fanout import ShardClient, ShardUnavailable, answer, parse_searches
from redline.match.service import IndexSearch, Matcher
from redline.match.shards import ShardSpec
from redline.match.snapshots import SnapshotPolicy
from tests.support import ATTESTATION, wait_until
from tests.support.bank import new_key
from tests.support.media import distinct_picture, flip, picture_hashes, png
from tests.support.server import Server, free_port, shard

SHARDS = 4
PROBLEM = "application/problem+json"


def submit(db: Database, cipher: ContactCipher, hashes: list[dict[str, Any]]) -> str:
    normalized = [service.normalize_hash(h["type"], h["value"], h.get("quality")) for h in hashes]
    with db.write() as session:
        case = service.submit_case(
            session, bank_name="survivors", hashes=normalized, attestation=ATTESTATION, cipher=cipher
        )
    return case.case_id


def indexed(picture: int) -> list[dict[str, Any]]:
    return [
        h for h in picture_hashes(distinct_picture(picture), item=0) if h["type"] in ("pdq", "pdq_region")
    ]


def everything_in(m: Matcher) -> dict[str, set[int]]:
    """Every id in each of the matcher's indexes (a search at the full radius finds every stored code)."""
    zero = {"pdq": "0" * 64, "pdq_region": "0" * 64}
    found = m.search([IndexSearch(name, [value], 256) for name, value in zero.items()])
    return {name: set(hits[0].ids.tolist()) for name, hits in zip(zero, found, strict=True)}


def test_shards_split_every_index_into_disjoint_parts_kept_current(
    db: Database, cipher: ContactCipher, tmp_path: Path
) -> None:
    cases = [submit(db, cipher, indexed(seed)) for seed in range(7)]  # over 100 entries, up to 18 each

    def start(spec: ShardSpec | None, directory: Path = tmp_path / "index") -> Matcher:
        m = Matcher(db, min_quality=50, poll_interval=0.05, snapshots=SnapshotPolicy(directory), shard=spec)
        m.load()
        return m

    whole = start(None)
    parts = [start(ShardSpec(k, SHARDS)) for k in range(SHARDS)]
    assert whole.size > 100 and sum(p.size for p in parts) == whole.size
    for k, part in enumerate(parts):
        held = everything_in(part)
        assert held["pdq_region"] and all(i % SHARDS == k for ids in held.values() for i in ids)
    for name in ("pdq", "pdq_region"):
        assert set().union(*(everything_in(p)[name] for p in parts)) == everything_in(whole)[name]

    # The change log: each shard takes in only its new entries, and drops only its withdrawn ones.
    later = submit(db, cipher, indexed(7))
    with db.write() as session:
        gone = session.get(Case, cases[0])
        assert gone is not None
        service.withdraw_case(session, gone)
    for m in (whole, *parts):
        m.poll()
    assert sum(p.size for p in parts) == whole.size
    query = [IndexSearch("pdq_region", [h["value"] for h in indexed(7)[1:6]], 45)]
    merged = [np.concatenate([p.search(query)[0][i].ids for p in parts]) for i in range(5)]
    assert [sorted(ids.tolist()) for ids in merged] == [
        sorted(h.ids.tolist()) for h in whole.search(query)[0]
    ]
    assert later

    # Snapshots: each shard in a folder of its own, never loaded by another part.
    parts[1].write_snapshot()
    assert list((tmp_path / "index" / "shard-1-of-4").glob("pdq-*.snap"))
    assert start(ShardSpec(1, SHARDS)).loaded_from == "snapshot"
    assert start(ShardSpec(2, SHARDS)).loaded_from == "database"
    moved = tmp_path / "moved"
    (tmp_path / "index" / "shard-1-of-4").rename(moved)
    assert start(None, moved).loaded_from == "database"  # refused: it holds a part, not the whole


def test_a_shard_checks_what_it_is_asked(db: Database, cipher: ContactCipher) -> None:
    submit(db, cipher, indexed(1))
    part = Matcher(db, min_quality=50, poll_interval=0.05, shard=ShardSpec(0, 2))
    part.load()
    searched = parse_searches({"searches": [{"signal_type": "pdq", "threshold": 31, "values": ["A" * 64]}]})
    assert searched == [IndexSearch("pdq", ["a" * 64], 31)]
    answered = answer(part, searched)
    assert answered["shard"] == "shard-0-of-2" and answered["position"] == part.position
    for bad in (
        {},
        {"searches": [{"signal_type": "md5", "threshold": 0, "values": []}]},  # exact: not indexed
        {"searches": [{"signal_type": "nope", "threshold": 0, "values": []}]},
        {"searches": [{"signal_type": "pdq", "threshold": 257, "values": []}]},
        {"searches": [{"signal_type": "pdq", "threshold": True, "values": []}]},
        {"searches": [{"signal_type": "pdq", "threshold": 31, "values": ["ab"]}]},
    ):
        with pytest.raises(ValueError):
            parse_searches(bad)
    with pytest.raises(ValueError):
        ShardSpec(4, 4)
    with pytest.raises(ValueError, match="REDLINE_SHARD_SECRET"):
        ShardClient(["http://127.0.0.1:1"], "", 1.0)


# --- real processes -------------------------------------------------------------------------------------


def post(url: str, key: str, **kwargs: Any) -> httpx.Response:
    return httpx.post(url, headers={"Authorization": f"Bearer {key}"}, timeout=30, **kwargs)


def matched(response: httpx.Response) -> list[list[tuple[Any, ...]]]:
    """What was found, without the match log's and review queue's own ids (each process writes its own)."""
    assert response.status_code == 200, response.text
    fields = ("entry_id", "bank", "type", "distance", "quality", "status", "action")
    return [[tuple(m[f] for f in fields) for m in r["matches"]] for r in response.json()["results"]]


def edited_copies(seed: int) -> list[bytes]:
    """Re-share edits only the robust hashes find (``redline compare``: ``match_robust``): framed, cropped."""
    image = Image.open(io.BytesIO(distinct_picture(seed, size=512))).convert("RGB")
    return [png(ImageOps.expand(image, border=80, fill=(30, 30, 30))), png(image.crop((60, 40, 512, 512)))]


@pytest.fixture
def cluster(database_url: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """An API process holding the whole index, 4 shard processes and an API process that uses them, on one
    database and one data_dir (each shard's snapshots in a folder of its own)."""
    data = tmp_path / "data"
    data.mkdir()
    secret = secrets.token_hex(16)
    whole = Server(database_url, data, wait=False)
    shards = [
        shard(database_url, data, k, SHARDS, env={"REDLINE_SHARD_SECRET": secret}) for k in range(SHARDS)
    ]
    env = {
        "REDLINE_SHARDS": ",".join(s.url for s in shards),
        "REDLINE_SHARD_SECRET": secret,
        "REDLINE_SHARD_TIMEOUT_S": "2",
    }
    sharded = Server(database_url, data, env=env, wait=False)
    started = [whole, *shards, sharded]
    try:
        for each in started:
            each.wait_ready(1)
        yield {"whole": whole, "shards": shards, "sharded": sharded, "secret": secret}
    finally:
        for each in started:
            each.terminate()
        for each in started:
            each.stop()


# On PostgreSQL only, the database a sharded bank runs on (SQLite passes too, but doubles the time).
@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_four_shard_processes_answer_as_one_process(cluster: dict[str, Any], database_url: str) -> None:
    whole, shards, sharded = cluster["whole"], cluster["shards"], cluster["sharded"]
    key = new_key(database_url, "match")
    pictures = [picture_hashes(distinct_picture(seed, size=512), item=0) for seed in range(4)]
    cases = []
    for hashes in pictures:  # submitted while every process runs: the shards take them from the change log
        created = httpx.post(whole.url + "/v1/cases", json={"hashes": hashes, "attestation": ATTESTATION})
        assert created.status_code == 201, created.text
        cases.append(created.json())
    database = Database(database_url)
    with database.engine.connect() as conn:
        last = conn.exec_driver_sql("SELECT MAX(seq) FROM changes").scalar_one()
    database.dispose()
    wait_until(lambda: httpx.get(sharded.url + "/readyz").json()["change_log_position"] >= last, timeout=10)
    per_shard = [httpx.get(s.url + "/readyz").json()["entries"] for s in shards]
    assert all(per_shard) and sum(per_shard) == httpx.get(whole.url + "/readyz").json()["entries"]

    queries = []
    for hashes in pictures:
        plain = next(h["value"] for h in hashes if h["type"] == "pdq")
        regions = [h["value"] for h in hashes if h["type"] == "pdq_region"]
        queries += [("pdq", plain), ("pdq", flip(plain, 20)), ("pdq", flip(plain, 40))]
        queries += [
            ("pdq_region", flip(r, bits)) for r, bits in zip(regions[:12], range(0, 60, 5), strict=False)
        ]
        queries.append(("md5", next(h["value"] for h in hashes if h["type"] == "md5")))
    queries += [("pdq", secrets.token_hex(32)), ("pdq_region", secrets.token_hex(32))]
    body = {"json": {"hashes": [{"type": t, "value": v} for t, v in queries]}}
    one, split = (matched(post(s.url + "/v1/match", key, **body)) for s in (whole, sharded))
    assert one == split
    assert sum(map(len, one)) > len(pictures) * 8  # most queries found something, several found many

    def file_match(server: Server, data: bytes) -> Any:
        response = post(server.url + "/v1/match/file", key, files={"file": ("copy.png", data, "image/png")})
        return response.json()["hashes"], matched(response)

    for copy in (edited_copies(0)[0], edited_copies(2)[1]):
        hashes, found = file_match(sharded, copy)
        assert (hashes, found) == file_match(whole, copy)
        assert any(m[2] == "pdq_region" for matches in found for m in matches)

    # A withdrawal: gone from the API's answer at once (database re-check), and from its shard's own index
    # within a poll.
    gone = cases[1]
    plain = next(h["value"] for h in pictures[1] if h["type"] == "pdq")
    search = {"searches": [{"signal_type": "pdq", "threshold": 0, "values": [plain]}]}

    def held_by_shards() -> list[int]:
        answers = [post(s.url + "/internal/search", cluster["secret"], json=search).json() for s in shards]
        return [i for a in answers for i in a["results"][0][0]["ids"]]

    assert len(held_by_shards()) == 1  # by exactly one shard
    withdrawn = httpx.post(
        f"{whole.url}/v1/cases/{gone['case_id']}/withdraw", headers={"X-Case-Secret": gone["secret"]}
    )
    assert withdrawn.status_code == 200
    lookup = {"json": {"hashes": [{"type": "pdq", "value": plain}]}}
    assert matched(post(sharded.url + "/v1/match", key, **lookup)) == [[]]
    wait_until(lambda: held_by_shards() == [], timeout=5)
    assert post(shards[0].url + "/internal/search", "wrong", json=search).status_code == 401
    assert httpx.post(shards[0].url + "/internal/search", json=search).status_code == 401

    # A shard that hangs, then one that is gone: a clear 503, never the other shards' part alone.
    kept = next(h["value"] for h in pictures[0] if h["type"] == "pdq")
    lookup = {"json": {"hashes": [{"type": "pdq", "value": kept}]}}
    os.kill(shards[2].process.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        hung = post(sharded.url + "/v1/match", key, **lookup)
        assert hung.status_code == 503 and time.monotonic() - started < 10
    finally:
        os.kill(shards[2].process.pid, signal.SIGCONT)
    assert matched(post(sharded.url + "/v1/match", key, **lookup))[0]
    shards[3].kill_hard()
    down = post(sharded.url + "/v1/match", key, **lookup)
    assert down.status_code == 503 and down.headers["content-type"] == PROBLEM
    assert down.json()["type"].endswith("/index-unavailable") and "Retry-After" in down.headers
    assert "127.0.0.1" not in down.text  # the shard's address is for the server log only
    md5 = next(h["value"] for h in pictures[0] if h["type"] == "md5")
    exact = {"json": {"hashes": [{"type": "md5", "value": md5}]}}
    assert matched(post(sharded.url + "/v1/match", key, **exact))[0]  # exact hashes need no shard


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_api_process_waits_for_its_shards(database_url: str, tmp_path: Path) -> None:
    missing = f"http://127.0.0.1:{free_port()}"
    env = {"REDLINE_SHARDS": missing, "REDLINE_SHARD_SECRET": "s"}
    server = Server(database_url, tmp_path, env=env, wait=False)
    try:
        wait_until(lambda: _answers(server.url + "/healthz"), timeout=30)
        assert httpx.get(server.url + "/readyz").status_code == 503
    finally:
        server.stop()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_shard_answers_are_checked(database_url: str, tmp_path: Path) -> None:
    """A URL list out of order (or missing a shard) is refused, not searched: it would drop a part."""
    data = tmp_path / "data"
    data.mkdir()
    env = {"REDLINE_SHARD_SECRET": "s"}
    started = [shard(database_url, data, k, 2, env=env) for k in range(2)]
    try:
        for each in started:
            each.wait_ready(1)
        good = ShardClient([s.url for s in started], "s", 5)
        assert [s.label for s in good.status()] == ["shard-0-of-2", "shard-1-of-2"]
        swapped = ShardClient([s.url for s in reversed(started)], "s", 5)
        with pytest.raises(ShardUnavailable, match="in order"):
            swapped.search([IndexSearch("pdq", ["0" * 64], 31)])
        with pytest.raises(ShardUnavailable, match="401"):
            ShardClient([s.url for s in started], "wrong", 5).search([IndexSearch("pdq", ["0" * 64], 31)])
        for client in (good, swapped):
            client.close()
    finally:
        for each in started:
            each.stop()
