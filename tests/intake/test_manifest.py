"""The intake manifest: metadata summaries (EXIF, C2PA, PNG generator chunks), the signed public part, and
the encrypted private part the flagger keeps, bound to the public one by its SHA-256."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin
from typer.testing import CliRunner

from redline.cli.main import app
from redline.evidence.note import SignerKey
from redline.intake.manifest import (
    PERSON_HEADER,
    ManifestError,
    decrypt_private,
    encrypt_private,
    new_names_key,
    open_manifest,
    sign_manifest,
)
from redline.intake.metadata import metadata_summary
from tests.intake.conftest import Hub
from tests.support.media import distinct_picture


def generated_png(path: Path) -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "a prompt naming Chan Tai Man, Steps: 30")
    info.add_text("Software", "ComfyUI")
    info.add_text("workflow", "{}")
    Image.open(io.BytesIO(distinct_picture(80))).save(path, "PNG", pnginfo=info)


def camera_jpeg(path: Path) -> None:
    image = Image.open(io.BytesIO(distinct_picture(81))).convert("RGB")
    exif = Image.Exif()
    exif[271], exif[272], exif[305], exif[306] = "Canon", "EOS 5D", "GIMP 2.10", "2024:07:01 10:00:00"
    image.save(path, "JPEG", exif=exif.tobytes())


def test_metadata_summaries_name_the_generator_never_the_prompt(tmp_path: Path) -> None:
    png, jpeg, c2pa = tmp_path / "a.png", tmp_path / "b.jpg", tmp_path / "c.jpg"
    generated_png(png)
    camera_jpeg(jpeg)
    c2pa.write_bytes(distinct_picture(82, "JPEG") + b"\xff\xeb\x00\x20JP\x00\x00jumbc2pa.manifest")
    summary = metadata_summary(png)
    assert summary["png_text_keys"] == ["Software", "parameters", "workflow"]
    assert summary["generator"] == ["AUTOMATIC1111 / Forge (parameters)", "ComfyUI (workflow)", "ComfyUI"]
    assert "Chan" not in json.dumps(summary) and summary["c2pa"] is False
    camera = metadata_summary(jpeg)
    assert (camera["camera_make"], camera["camera_model"], camera["software"]) == (
        "Canon",
        "EOS 5D",
        "GIMP 2.10",
    )
    assert camera["exif_datetime"] == "2024:07:01 10:00:00"
    assert metadata_summary(c2pa)["c2pa"] is True


def test_manifests_verify_only_unchanged_and_private_parts_open_only_with_the_key() -> None:
    signer = SignerKey.generate("redline-flagger")
    note = sign_manifest(PERSON_HEADER, {"files": [{"sha256": "a" * 64}]}, signer)
    opened = open_manifest(note)
    assert opened.signer == signer.verifier() and opened.sha256 == hashlib.sha256(note.encode()).hexdigest()
    with pytest.raises(ManifestError):
        open_manifest(note.replace("a" * 64, "b" * 64))
    other = SignerKey.generate("redline-flagger")  # a forger's key swapped in: the signature no longer fits
    with pytest.raises(ManifestError):
        open_manifest(note.replace(signer.verifier().text(), other.verifier().text()))
    key = new_names_key()
    blob = encrypt_private(key, {"files": [{"path": "Chan Tai Man/1.jpg"}]}, "person-001")
    assert b"Chan" not in blob
    assert decrypt_private(key, blob, "person-001")["files"][0]["path"] == "Chan Tai Man/1.jpg"
    with pytest.raises(ManifestError):
        decrypt_private(new_names_key(), blob, "person-001")
    with pytest.raises(ManifestError):
        decrypt_private(key, blob, "person-002")  # moved to another person: refused


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_flaggers_private_part_is_bound_to_the_logged_manifest(hub: Hub, tmp_path: Path) -> None:
    root = tmp_path / "collection"
    (root / "Chan Tai Man").mkdir(parents=True)
    generated_png(root / "Chan Tai Man" / "made.png")
    camera_jpeg(root / "Chan Tai Man" / "photo.jpg")
    out = tmp_path / "private"
    args = ["intake", str(root), "--server", hub.url, "--key", hub.flag_key, "--out", str(out), "--yes"]
    assert CliRunner().invoke(app, args).exit_code == 0
    note = (out / "manifests" / "person-001.manifest").read_text()
    blob = (out / "manifests" / "person-001.private.enc").read_bytes()
    public = open_manifest(note).body
    assert public["private_sha256"] == hashlib.sha256(blob).hexdigest()
    assert {f["media_type"] for f in public["files"]} == {"image"} and len(public["files"]) == 2
    assert all(f["pdq"] and f["size"] > 0 and f["hashed_at"].endswith("Z") for f in public["files"])
    assert public["tool"].startswith("redline ")
    private = decrypt_private(base64.b64decode((out / "names.key").read_bytes()), blob, "person-001")
    assert private["label"] == "Chan Tai Man"
    by_path = {f["path"]: f for f in private["files"]}
    assert by_path["Chan Tai Man/made.png"]["metadata"]["generator"][0].startswith("AUTOMATIC1111")
    assert by_path["Chan Tai Man/photo.jpg"]["metadata"]["camera_make"] == "Canon"
    assert "Chan" not in note
    for name in ("flagger.key", "names.key", "state.sqlite"):
        assert (out / name).stat().st_mode & 0o077 == 0, name  # readable by the flagger alone
