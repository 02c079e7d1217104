"""``redline compare UPLOAD STORED`` gives the verdict the server gives: the stored picture submitted as the
portal submits it, the upload sent to ``/v1/match/file``; matched there if and only if compare says match."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from redline.cli.main import app
from redline.signals import hash_image, robust
from tests.support import wait_until
from tests.support.apps import Api, match
from tests.support.media import PHOTO, photo_copies, png, region

pytestmark = pytest.mark.shared


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the verdict, not the database
def test_compare_agrees_with_the_server_on_crops_frames_and_other_photos(
    api: Api, corpus: Path, tmp_path: Path
) -> None:
    photo, copies = photo_copies(corpus)
    stored_file = tmp_path / "stored.png"
    stored_file.write_bytes(png(photo))
    plain = hash_image(stored_file)
    stored = robust.entry_hashes(np.asarray(photo))  # what the portal sends for the picture
    whole = {"type": "pdq", "value": plain.pdq, "quality": plain.pdq_quality}
    api.submit([whole, *(region(h.hex, h.quality) for h in stored)])
    key = api.key("match")
    wait_until(lambda: bool(match(api, key, ("pdq_region", stored[0].hex))[0]), timeout=1.0)

    others = sorted(p for p in (corpus / "photos/bsds500").rglob("*.jpg") if not str(p).endswith(PHOTO))
    uploads = {
        **copies,
        "resized": photo.resize((photo.width // 2, photo.height // 2)),
        "another photo": Image.open(others[0]).convert("RGB"),
    }
    verdicts = {}
    for name, image in uploads.items():
        upload = tmp_path / f"{name.replace(' ', '-')}.png"
        upload.write_bytes(png(image))
        response = api.client.post(
            "/v1/match/file", headers=key, files={"file": (upload.name, upload.read_bytes(), "image/png")}
        )
        assert response.status_code == 200, response.text
        server_matched = any(r["matches"] for r in response.json()["results"])
        result = CliRunner().invoke(app, ["compare", str(upload), str(stored_file)])
        assert result.exit_code == 0, result.output
        out = json.loads(result.stdout)
        verdicts[name] = out["verdict"]
        assert (out["verdict"] != "no_match") == server_matched, (name, out)
    # The crops that plain PDQ misses (distance far beyond 31) are robust matches, as on the server.
    assert verdicts == {
        "cropped and framed": "match_robust",
        "cropped off-centre": "match_robust",
        "resized": "match",
        "another photo": "no_match",
    }


def test_compare_says_when_it_compares_plain_pdq_only(corpus: Path, tmp_path: Path) -> None:
    photo, copies = photo_copies(corpus)
    stored_file, upload = tmp_path / "stored.png", tmp_path / "crop.png"
    stored_file.write_bytes(png(photo))
    upload.write_bytes(png(copies["cropped off-centre"]))
    plain = json.loads(CliRunner().invoke(app, ["compare", str(upload), str(stored_file), "--plain"]).stdout)
    assert plain["verdict"] == "no_match" and plain["distance"] > 60
    assert plain["robust"] == {"checked": False, "why": "--plain: plain PDQ only"}
    stored_hash = hash_image(stored_file).pdq
    with_hash = json.loads(CliRunner().invoke(app, ["compare", str(upload), stored_hash]).stdout)
    assert with_hash["verdict"] == "no_match" and with_hash["robust"]["checked"] is False
    assert "needs the file" in with_hash["robust"]["why"]
