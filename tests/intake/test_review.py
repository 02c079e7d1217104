"""Reviewers see a third-party entry as such, with whether the person has claimed it; rejections are
counted per flagger (the review/quarantine loop curbs a flagger filing someone's ordinary photos)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from redline.intake.cases import flagger_records
from tests.support import wait_until
from tests.support.apps import App, login, make_app

PDQ = "f" * 64
NEAR = "0" * 5 + "f" * 59  # 20 bits away


@pytest.fixture
def web(database_url: str, tmp_path: Path) -> Iterator[App]:
    yield from make_app(database_url, tmp_path / "data")


def test_the_console_shows_third_party_unclaimed_and_counts_rejections_per_flagger(web: App) -> None:
    flagger = web.key("flag", partner="equality-office")
    filed = web.client.post(
        "/v1/intake/cases", headers=flagger, json={"hashes": [{"type": "pdq", "value": PDQ, "quality": 90}]}
    ).json()
    platform = web.key("match", "review", partner="platform-a")
    found: list[dict[str, object]] = []

    def matched() -> bool:
        body = {"hashes": [{"type": "pdq", "value": NEAR}], "content_id": "post-1"}
        found[:] = web.client.post("/v1/match", headers=platform, json=body).json()["results"][0]["matches"]
        return bool(found)

    wait_until(matched)
    assert found[0]["action"] == "review"  # third-party: a human first, never blocked automatically
    item_id = found[0]["review_item_id"]
    web.user("ada", role="admin")
    login(web.client, "ada")
    page = web.client.get(f"/console/items/{item_id}").text
    assert "third party: flagger key" in page and "has NOT (yet) claimed" in page
    assert filed["case_id"] not in page
    with web.db.read() as session:
        [before] = flagger_records(session)
    assert (before.cases, before.pictures, before.rejected, before.quarantined) == (1, 1, 0, 0)
    verdict = {"decision": "reject", "note": "a logo"}
    decided = web.client.post(f"/v1/review/items/{item_id}/decision", headers=platform, json=verdict)
    assert decided.status_code == 200
    with web.db.read() as session:
        [after] = flagger_records(session)
    assert after.rejected == 1
    sheet = {"X-Case-Secret": filed["secret"]}
    claimed = web.client.post(f"/v1/cases/{filed['case_id']}/claim", headers=sheet)
    assert claimed.status_code == 200
    page = web.client.get(f"/console/items/{item_id}").text
    assert "has claimed the case" in page and "1 rejected by reviewers" in page
