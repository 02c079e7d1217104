"""POST /v1/match/file: hashed server-side, matched, and the upload deleted in every path."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from redline.api.app import create_app
from redline.signals import hash_file
from tests.support import wait_until
from tests.support.apps import Api, make_settings, uploads_left
from tests.support.media import neutral_png


def test_file_matches_and_is_not_kept(api: Api, tmp_path: Path) -> None:
    data = neutral_png()
    local = tmp_path / "pattern.png"
    local.write_bytes(data)
    signals = hash_file(local)
    api.submit([{"type": "pdq", "value": signals.pdq, "quality": signals.pdq_quality}])
    key = api.key("match")

    def upload() -> dict[str, object]:
        response = api.client.post(
            "/v1/match/file", headers=key, files={"file": ("x.png", data, "image/png")}
        )
        assert response.status_code == 200, response.text
        body: dict[str, object] = response.json()
        return body

    wait_until(lambda: any(r["matches"] for r in upload()["results"]), timeout=2.0)  # type: ignore[union-attr]
    body = upload()
    # vpdq: the picture is looked up among videos' frames too (a frame grab posted as a picture).
    assert [h["type"] for h in body["hashes"]] == ["md5", "sha256", "pdq", "vpdq"]  # type: ignore[union-attr]
    assert body["signals"]["pdq"] == signals.pdq  # type: ignore[index]
    assert body["results"][2]["matches"][0]["distance"] == 0  # type: ignore[index]
    assert uploads_left(api) == []


def test_bad_files_are_refused_and_not_kept(api: Api) -> None:
    key = api.key("match")
    cases = [
        (b"", 422, "empty-file"),
        (b"just some text, not an image" * 10, 415, "unsupported-format"),
        (neutral_png()[:400], 422, "truncated"),
    ]
    for content, status, code in cases:
        response = api.client.post(
            "/v1/match/file", headers=key, files={"file": ("f.png", content, "image/png")}
        )
        assert response.status_code == status, (code, response.text)
        assert response.json()["type"] == f"https://redline.dev/problems/{code}"
        assert uploads_left(api) == []
    no_file = api.client.post("/v1/match/file", headers=key, data={"other": "x"})
    assert no_file.status_code == 400 and uploads_left(api) == []
    unauthenticated = api.client.post("/v1/match/file", files={"file": ("x.png", neutral_png(), "image/png")})
    assert unauthenticated.status_code == 401 and uploads_left(api) == []


def test_too_large_upload_is_refused(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, tmp_path / "data", max_file_bytes=10_000)
    app = create_app(settings)
    with TestClient(app) as client:
        wait_until(lambda: client.get("/readyz").status_code == 200)
        api = Api(client, settings, app.state.services.db)
        response = client.post(
            "/v1/match/file",
            headers=api.key("match"),
            files={"file": ("big.png", b"\x89PNG" + b"\0" * 200_000, "image/png")},
        )
        assert response.status_code == 413 and response.headers["content-type"] == "application/problem+json"
        assert uploads_left(api) == []
