"""The log's HTTP API, the witness endpoint's refusals, and evidence bundles (SQLite and PostgreSQL)."""

from __future__ import annotations

import base64
import io
import os
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pytest

from redline.evidence.checkpoint import Checkpoint
from redline.evidence.merkle import EMPTY_ROOT, leaf_hash, verify_consistency, verify_inclusion
from redline.evidence.note import SignerKey, VerifierKey, open_note, sign
from redline.evidence.rows import canonical_bytes
from redline.evidence.verify import verify_bundle
from redline.evidence.witness import trust_log
from tests.support import wait_until
from tests.support.apps import Api

PDQ = "f" * 64
NEAR = "0" * 5 + "f" * 59  # 20 bits away: a "review" match
CONTACT = "someone.private@example.org"
BUNDLE_FILES = (
    "README.md",
    "README.zh-Hant.md",
    "README.zh-Hans.md",
    "SHA256SUMS",
    "rows.jsonl",
    "checkpoint.txt",
    "log.vkey",
    "certificate-hk-s22a.md",
    "certificate-us-fre-902.md",
)
REDLINE = Path(sys.executable).parent / "redline"


def _checkpoint(api: Api, admin: dict[str, str]) -> tuple[str, Checkpoint, VerifierKey]:
    key = VerifierKey.parse(api.client.get("/v1/log/key").text)
    response = api.client.post("/v1/log/checkpoint", headers=admin)
    assert response.status_code == 200, response.text
    note = open_note(response.text, [key])
    assert api.client.get("/v1/log/checkpoint").text == response.text
    return response.text, Checkpoint.parse(note.text), key


def test_proofs_from_the_api_verify_against_signed_checkpoints(api: Api) -> None:
    admin, auditor = api.key("admin"), api.key("audit")
    api.submit([{"type": "pdq", "value": PDQ, "quality": 90}])
    _, first, _ = _checkpoint(api, admin)
    api.submit([{"type": "md5", "value": "a" * 32}])
    _, second, _ = _checkpoint(api, admin)
    assert second.size > first.size

    page = api.client.get("/v1/log/entries", params={"start": 0, "limit": 1000}, headers=auditor).json()
    assert [item["index"] for item in page["items"]] == list(range(page["tree_size"]))
    for item in page["items"][: second.size]:
        proof = api.client.get(
            "/v1/log/proof/inclusion",
            params={"audit_id": item["row"]["id"], "size": second.size},
            headers=auditor,
        ).json()
        leaf = leaf_hash(canonical_bytes(item["row"]))
        assert leaf.hex() == item["leaf_hash"] == proof["leaf_hash"]
        path = [base64.b64decode(p) for p in proof["proof"]]
        verify_inclusion(proof["index"], second.size, leaf, path, second.root)

    body = api.client.get(
        "/v1/log/proof/consistency", params={"old": first.size, "new": second.size}, headers=auditor
    ).json()
    verify_consistency(
        first.size, second.size, first.root, second.root, [base64.b64decode(p) for p in body["proof"]]
    )
    too_big = api.client.get("/v1/log/proof/consistency", params={"old": 1, "new": 10**9}, headers=auditor)
    assert too_big.status_code == 400
    assert too_big.headers["content-type"] == "application/problem+json"
    assert api.client.get("/v1/log/checkpoint", params={"size": 10**9}).status_code == 404


def _witness_request(old: int, note: str, proof: Sequence[bytes] = ()) -> bytes:
    lines = "".join(base64.b64encode(p).decode() + "\n" for p in proof)
    return f"old {old}\n{lines}\n{note}".encode()


def test_the_witness_endpoint_refuses_what_the_protocol_says_it_must(api: Api) -> None:
    log = SignerKey.generate("other.example/log")
    body = Checkpoint("other.example/log", 0, EMPTY_ROOT)
    note = sign(body.text(), log)
    url = "/v1/witness/add-checkpoint"
    assert api.client.post(url, content=_witness_request(0, note)).status_code == 404  # not trusted
    _trust(api, log.verifier().text())
    forged = sign(body.text(), SignerKey.generate("other.example/log"))
    assert api.client.post(url, content=_witness_request(0, forged)).status_code == 403
    assert api.client.post(url, content=b"nonsense").status_code == 400
    ok = api.client.post(url, content=_witness_request(0, note))
    assert ok.status_code == 200, ok.text
    assert ok.text.startswith("— redline-witness/") and ok.text.endswith("\n")
    # A checkpoint of size 2 claimed as growing from size 1, which the witness never saw: 409 + its size.
    bigger = sign(Checkpoint("other.example/log", 2, b"\x01" * 32).text(), log)
    conflict = api.client.post(url, content=_witness_request(1, bigger, [b"\x02" * 32]))
    assert conflict.status_code == 409
    assert conflict.headers["content-type"].startswith("text/x.tlog.size")
    assert conflict.text == "0\n"
    # From 0 a proof must be empty; then the same size with another root is a conflict.
    assert api.client.post(url, content=_witness_request(0, bigger)).status_code == 200
    other_root = sign(Checkpoint("other.example/log", 2, b"\x03" * 32).text(), log)
    assert api.client.post(url, content=_witness_request(2, other_root)).status_code == 409


def _trust(api: Api, vkey: str) -> None:
    with api.db.write() as session:
        trust_log(session, vkey, "test")


def test_an_evidence_bundle_verifies_and_any_changed_byte_fails(api: Api, tmp_path: Path) -> None:
    admin = api.key("admin")
    case = api.submit([{"type": "pdq", "value": PDQ, "quality": 90}], contact=CONTACT)
    api.submit([{"type": "md5", "value": "b" * 32}])  # another case: not in this bundle
    platform = api.key("match", "review")
    near = {"hashes": [{"type": "pdq", "value": NEAR}], "content_id": "post-1"}
    matches: list[dict[str, object]] = []

    def matched() -> bool:
        matches[:] = api.client.post("/v1/match", headers=platform, json=near).json()["results"][0]["matches"]
        return bool(matches)

    wait_until(matched)
    decided = api.client.post(
        f"/v1/review/items/{matches[0]['review_item_id']}/decision",
        headers=platform,
        json={"decision": "confirm"},
    )
    assert decided.status_code == 200, decided.text
    withdrawn = api.client.post(
        f"/v1/cases/{case['case_id']}/withdraw", headers={"X-Case-Secret": case["secret"]}
    )
    assert withdrawn.status_code == 200, withdrawn.text
    key = VerifierKey.parse(api.client.get("/v1/log/key").text)

    response = api.client.get(f"/v1/evidence/cases/{case['case_id']}", headers=admin)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    folder = tmp_path / "bundle"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        archive.extractall(folder)
    folder = folder / case["case_id"]
    names = sorted(p.name for p in folder.iterdir())
    assert set(BUNDLE_FILES) <= set(names)
    report = verify_bundle(folder, key)
    assert report.ok, report.problems
    actions = [line for line in (folder / "rows.jsonl").read_text().splitlines()]
    for action in ("case.created", "case.withdrawn", "review.decided"):
        assert any(f'"{action}"' in a for a in actions), action
    assert not any('"md5"' in a or "b" * 32 in a for a in actions)  # nothing of the other case
    everything = b"".join(p.read_bytes() for p in folder.iterdir())
    assert CONTACT.encode() not in everything and PDQ.encode() not in everything

    for name in names:
        path = folder / name
        original = path.read_bytes()
        for offset in (0, len(original) // 2, len(original) - 2):
            changed = bytearray(original)
            changed[offset] ^= 0x01
            path.write_bytes(bytes(changed))
            assert not verify_bundle(folder, key).ok, f"a changed byte {offset} of {name} went unnoticed"
        path.write_bytes(original)
    assert verify_bundle(folder, key).ok

    unknown = api.client.get("/v1/evidence/cases/RL-NONE", headers=admin)
    assert unknown.status_code == 404


@pytest.mark.slow
def test_the_command_line_makes_and_checks_a_bundle(api: Api, tmp_path: Path) -> None:
    case = api.submit([{"type": "pdq", "value": PDQ, "quality": 90}])
    env = {
        "REDLINE_DATABASE_URL": api.settings.effective_database_url,
        "REDLINE_DATA_DIR": str(api.settings.data_dir),
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
    }
    run = lambda *args: subprocess.run([str(REDLINE), *args], env=env, capture_output=True, text=True)  # noqa: E731
    vkey = run("log", "key").stdout.strip()
    made = run("evidence", "bundle", case["case_id"], "--out", str(tmp_path / "b.zip"))
    assert made.returncode == 0, made.stderr
    checked = run("log", "verify", str(tmp_path / "b.zip"), "--key", vkey)
    assert checked.returncode == 0, checked.stderr
    assert "OK" in checked.stdout
    other = SignerKey.generate(vkey.split("+")[0]).verifier().text()
    refused = run("log", "verify", str(tmp_path / "b.zip"), "--key", other)
    assert refused.returncode == 1 and "FAILED" in refused.stderr

    export = tmp_path / "log.jsonl"
    assert run("log", "export", "--out", str(export)).returncode == 0
    (tmp_path / "log.vkey").write_text(vkey + "\n")
    good = run("log", "verify", str(export), "--key", str(tmp_path / "log.vkey"))
    assert good.returncode == 0 and good.stdout.startswith("OK"), good.stderr
    export.write_text(export.read_text().replace('"case.created"', '"case.creates"', 1))
    bad = run("log", "verify", str(export), "--key", vkey)
    assert bad.returncode == 1 and "differs from what was logged" in bad.stderr


def test_checkpoints_are_published_on_their_own_at_the_interval(database_url: str, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from redline.api.app import create_app
    from tests.support import ATTESTATION, wait_until
    from tests.support.apps import make_settings

    app = create_app(make_settings(database_url, tmp_path / "data", tlog_checkpoint_interval_s=0.2))
    with TestClient(app) as client:
        key = VerifierKey.parse(client.get("/v1/log/key").text)
        wait_until(lambda: client.get("/v1/log/checkpoint").status_code == 200, timeout=15)
        before = Checkpoint.parse(open_note(client.get("/v1/log/checkpoint").text, [key]).text).size
        body = {"hashes": [{"type": "md5", "value": "c" * 32}], "attestation": ATTESTATION}
        assert client.post("/v1/cases", json=body).status_code == 201

        def grew() -> bool:
            note = open_note(client.get("/v1/log/checkpoint").text, [key])
            return Checkpoint.parse(note.text).size > before

        wait_until(grew, timeout=15)
