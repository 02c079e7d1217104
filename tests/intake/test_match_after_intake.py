"""After an intake, each person's pictures match on a platform through ``/v1/match/file`` (edited copies
included), each to her own case only; a claimed case withdraws and stops matching in under a second."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from PIL import Image
from typer.testing import CliRunner

from redline.cli.main import app
from tests.intake.conftest import Hub
from tests.support.bank import new_key
from tests.support.media import distinct_picture

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def edited_copy(original: bytes) -> bytes:
    """What a re-upload looks like: cropped by 8% on each side, scaled down, re-encoded at quality 70."""
    image = Image.open(io.BytesIO(original)).convert("RGB")
    w, h = image.size
    cropped = image.crop((w * 8 // 100, h * 8 // 100, w * 92 // 100, h * 92 // 100)).resize(
        (w * 3 // 4, h * 3 // 4)
    )
    out = io.BytesIO()
    cropped.save(out, "JPEG", quality=70)
    return out.getvalue()


def matched_cases(hub: Hub, key: dict[str, str], picture: bytes) -> set[str]:
    response = httpx.post(
        f"{hub.url}/v1/match/file", headers=key, files={"file": ("x.jpg", picture, "image/jpeg")}, timeout=30
    )
    assert response.status_code == 200, response.text
    ids = {m["entry_id"] for r in response.json()["results"] for m in r["matches"]}
    if not ids:
        return set()
    engine = sa.create_engine(hub.database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.select(sa.text("case_id")).select_from(sa.text("entries")).where(
                sa.text("id IN :ids").bindparams(sa.bindparam("ids", expanding=True))
            ), {"ids": sorted(ids)})  # fmt: skip
            return {r[0] for r in rows}
    finally:
        engine.dispose()


@pytest.mark.timing
def test_each_persons_pictures_match_her_case_and_a_claimed_case_withdraws_fast(
    hub: Hub, tmp_path: Path
) -> None:
    root = tmp_path / "collection"
    originals: dict[str, list[bytes]] = {}
    for p, name in enumerate(["Ho Ka Yan", "Lam Wai", "Yip Sum"]):
        (root / name).mkdir(parents=True)
        originals[name] = [distinct_picture(200 + p * 10 + n, "JPEG", size=384) for n in range(3)]
        for n, data in enumerate(originals[name]):
            (root / name / f"{name} {n}.jpg").write_bytes(data)
    out = tmp_path / "private"
    args = ["intake", str(root), "--server", hub.url, "--key", hub.flag_key, "--out", str(out), "--yes"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    sheets = {}
    for sheet in (out / "sheets").glob("*.html"):
        html = sheet.read_text("utf-8")
        label = re.search(r'<p class="for">([^<]+) · person', html)
        case_id = re.search(r'data-testid="case-id">([^<]+)<', html)
        secret = re.search(r"<span>([0-9A-Z]{4}(?:-[0-9A-Z]{4}){5})</span>", html)
        assert label and case_id and secret
        sheets[label[1]] = (case_id[1], secret[1])
    platform = {"Authorization": f"Bearer {new_key(hub.database_url, 'match')}"}
    for name, pictures in originals.items():
        for picture in pictures:
            assert matched_cases(hub, platform, edited_copy(picture)) == {sheets[name][0]}, name
    # She claims her case, then withdraws it: it stops matching within a second.
    case_id, sheet_secret = sheets["Lam Wai"]
    claimed = httpx.post(f"{hub.url}/v1/cases/{case_id}/claim", headers={"X-Case-Secret": sheet_secret})
    own = claimed.json()["secret"]
    copy = edited_copy(originals["Lam Wai"][0])
    withdrawn = httpx.post(f"{hub.url}/v1/cases/{case_id}/withdraw", headers={"X-Case-Secret": own})
    assert withdrawn.status_code == 200
    done = time.monotonic()
    # The time until a query sent after the withdrawal no longer matches (a query's own hashing excluded).
    asked = time.monotonic()
    while matched_cases(hub, platform, copy):
        assert asked - done < 1.0, "still matching a second after the withdrawal"
        time.sleep(0.02)
        asked = time.monotonic()
    assert asked - done < 1.0
    assert matched_cases(hub, platform, edited_copy(originals["Yip Sum"][0])) == {sheets["Yip Sum"][0]}
