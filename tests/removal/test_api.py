"""The removal routes over HTTP: filing without an account, specific problems per field, the requester's
view with number and secret, the staff workflow, exports, and what the access log never writes."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from tests.support.apps import Api

PDQ = "0" * 64
MD5 = "a" * 32


def body(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "jurisdiction": "us",
        "subject": "self",
        "name": "Maria Example",
        "email": "maria@example.org",
        "signature": "Maria Example",
        "locations": [],
        "pictures": [
            {"hashes": [{"type": "pdq", "value": PDQ, "quality": 90}, {"type": "md5", "value": MD5}]}
        ],
        "statements": ["good_faith_non_consent"],
    }
    values.update(changes)
    return values


def test_filing_needs_no_account_and_problems_name_their_fields(api: Api) -> None:
    listed = api.client.get("/v1/removal/jurisdictions").json()
    assert {j["code"]: j["period_hours"] for j in listed} == {"us": 48, "uk": 48, "eu": 48, "au": 24}
    bad = api.client.post("/v1/removal-requests", json=body(email="nope", signature="", statements=[]))
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    assert {f["field"]: f["code"] for f in bad.json()["fields"]} == {
        "email": "email.invalid",
        "signature": "signature.missing",
        "statements.good_faith_non_consent": "statement.good_faith_non_consent",
    }
    created = api.client.post("/v1/removal-requests", json=body())
    assert created.status_code == 201, created.text
    filed = created.json()
    view = api.client.get(
        f"/v1/removal-requests/{filed['number']}", headers={"X-Request-Secret": filed["secret"]}
    )
    assert view.status_code == 200 and view.json()["outcome"] == "pending"
    wrong = api.client.get(f"/v1/removal-requests/{filed['number']}", headers={"X-Request-Secret": "x"})
    assert wrong.status_code == 401


def test_staff_remove_sweep_and_export(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    platform = api.key("match")
    for content_id, hashes in (("post-1", [("md5", MD5), ("pdq", PDQ)]), ("post-2", [("md5", MD5)])):
        response = api.client.post(
            "/v1/match",
            headers=platform,
            json={"content_id": content_id, "hashes": [{"type": t, "value": v} for t, v in hashes]},
        )
        assert response.status_code == 200, response.text
    filed = api.client.post("/v1/removal-requests", json=body()).json()
    number = filed["number"]
    staff = api.key("review")
    assert api.client.get("/v1/removals", headers=api.key("match")).status_code == 403
    (listed,) = api.client.get("/v1/removals", headers=staff).json()
    assert listed["number"] == number and 47 * 3600 < listed["seconds_left"] <= 48 * 3600
    record = api.client.get(f"/v1/removals/{number}", headers=staff).json()
    item = record["items"][0]
    assert "requester" not in record and "maria" not in json.dumps(record).lower()
    item_id = _item_id(api, number)
    base = f"/v1/removals/{number}/items/{item_id}"
    assert api.client.post(f"{base}/resolve", headers=staff, json={"content_id": "post-1"}).status_code == 200
    removed = api.client.post(f"{base}/remove", headers=staff, json={"method": "removed"})
    assert removed.status_code == 200 and removed.json()["sweep"]["exact"] == 1  # the sweep ran with it
    assert api.client.post(f"{base}/remove", headers=staff, json={}).status_code == 409
    swept = api.client.post(f"/v1/removals/{number}/sweep", headers=staff).json()
    assert (swept["exact"], swept["perceptual"]) == (0, 0)  # a re-run lists nothing twice
    record = api.client.get(f"/v1/removals/{number}", headers=staff).json()
    assert record["status"] == "closed" and item["position"] == 0
    assert [c["content_id"] for c in record["copies"]] == ["post-2"]
    copy_id = _copy_id(api, number)
    decided = api.client.post(
        f"/v1/removals/{number}/copies/{copy_id}/decision",
        headers=staff,
        json={"decision": "dismissed", "reason": "nonsense"},
    )
    assert decided.status_code == 400 and "dismissal" in decided.json()["detail"]
    decided = api.client.post(
        f"/v1/removals/{number}/copies/{copy_id}/decision",
        headers=staff,
        json={"decision": "removed", "reason": "removed"},
    )
    assert decided.status_code == 200
    view = api.client.get(
        f"/v1/removal-requests/{number}", headers={"X-Request-Secret": filed["secret"]}
    ).json()
    assert view["outcome"] == "removed" and view["copies_removed"] == 1
    statements = api.client.get(f"/v1/removals/{number}/dsa-statements", headers=staff).json()
    assert [s["puid"] for s in statements] == ["post-1", "post-2"]
    csv = api.client.get(f"/v1/removals/{number}/record.csv", headers=staff)
    assert csv.headers["content-type"].startswith("text/csv") and "item.removed" in csv.text
    assert api.client.get(f"/v1/removals/{number}/requester", headers=staff).status_code == 403
    admin = api.key("admin")
    assert (
        api.client.get(f"/v1/removals/{number}/requester", headers=admin).json()["email"]
        == "maria@example.org"
    )
    complaint = api.client.post(
        f"/v1/removals/{number}/complaints",
        headers=staff,
        json={"content_id": "post-2", "text": "mine, consented"},
    )
    assert complaint.status_code == 201
    decided = api.client.post(
        f"/v1/removals/{number}/complaints/{complaint.json()['id']}/decision",
        headers=staff,
        json={"decision": "rejected", "reason": "the person shown did not consent"},
    )
    assert decided.json()["status"] == "rejected"
    figures = api.client.get("/v1/removal-reports?days=1", headers=admin).json()
    assert figures["requests"] == 1 and figures["within_deadline_share"] == 1.0


def test_the_access_log_never_writes_a_request_number(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    filed = api.client.post("/v1/removal-requests", json=body()).json()
    with caplog.at_level(logging.INFO, logger="redline.access"):
        api.client.get(
            f"/v1/removal-requests/{filed['number']}", headers={"X-Request-Secret": filed["secret"]}
        )
    logged = " ".join(r.getMessage() for r in caplog.records if r.name == "redline.access")
    assert filed["number"] not in logged and "client" not in logged


def _item_id(api: Api, number: str) -> int:
    from redline.removal.requests import get_request, items_of

    with api.db.read() as s:
        return items_of(s, get_request(s, number).id)[0].id


def _copy_id(api: Api, number: str) -> int:
    from redline.removal.requests import copies_of, get_request

    with api.db.read() as s:
        return copies_of(s, get_request(s, number).id)[0].id
