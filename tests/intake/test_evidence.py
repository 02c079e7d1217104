"""A third-party case's evidence bundle carries its signed intake manifest, bound to the log."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

from redline.evidence.note import SignerKey, VerifierKey
from redline.evidence.verify import BUNDLE_MANIFEST, BUNDLE_SUMS, verify_bundle
from redline.intake.manifest import PERSON_HEADER, sign_manifest
from tests.support.apps import Api
from tests.support.media import distinct_picture, picture_hashes


def _bundle(api: Api, case_id: str, folder: Path) -> Path:
    response = api.client.get(f"/v1/evidence/cases/{case_id}", headers=api.key("admin"))
    assert response.status_code == 200, response.text
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        archive.extractall(folder)
    return folder / case_id


def _resum(folder: Path) -> None:
    """What a forger who replaced a file would do: rewrite SHA256SUMS to fit."""
    names = sorted(p.name for p in folder.iterdir() if p.name != BUNDLE_SUMS)
    lines = [f"{hashlib.sha256((folder / n).read_bytes()).hexdigest()}  {n}\n" for n in names]
    (folder / BUNDLE_SUMS).write_text("".join(lines))


def test_the_bundle_holds_the_manifest_and_a_swapped_one_fails(api: Api, tmp_path: Path) -> None:
    picture = distinct_picture(50)
    signer = SignerKey.generate("redline-flagger")
    files = [{"item": 0, "sha256": hashlib.sha256(picture).hexdigest(), "size": len(picture)}]
    note = sign_manifest(PERSON_HEADER, {"files": files}, signer)
    body = {"hashes": picture_hashes(picture, 0), "manifest": note}
    created = api.client.post("/v1/intake/cases", headers=api.key("flag"), json=body).json()
    key = VerifierKey.parse(api.client.get("/v1/log/key").text)
    folder = _bundle(api, created["case_id"], tmp_path / "a")
    assert (folder / BUNDLE_MANIFEST).read_text() == note
    assert "intake manifest" in (folder / "README.md").read_text()
    report = verify_bundle(folder, key)
    assert report.ok, report.problems
    # One changed byte: caught by SHA256SUMS.
    original = (folder / BUNDLE_MANIFEST).read_bytes()
    (folder / BUNDLE_MANIFEST).write_bytes(original.replace(b'"size":', b'"size":9', 1))
    assert not verify_bundle(folder, key).ok
    # A forger's own, validly signed manifest with SHA256SUMS rewritten: the log never recorded it.
    files[0]["size"] += 1
    (folder / BUNDLE_MANIFEST).write_text(sign_manifest(PERSON_HEADER, {"files": files}, signer))
    _resum(folder)
    problems = verify_bundle(folder, key).problems
    assert any("none of the logged rows" in p for p in problems), problems
    # The original back in place verifies again.
    (folder / BUNDLE_MANIFEST).write_bytes(original)
    _resum(folder)
    assert verify_bundle(folder, key).ok
