"""The HTTP API end to end (in-process), on SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
from pathlib import Path

from fastapi.testclient import TestClient

from redline.api.app import create_app
from redline.api.middleware import CONTENT_SECURITY_POLICY
from tests.support import ATTESTATION, wait_until
from tests.support.apps import Api, make_settings, match
from tests.support.media import flip

PROBLEM = "application/problem+json"


def pdq() -> str:
    return secrets.token_hex(32)


def test_survivor_case_matches_live_and_withdrawal_stops_it(api: Api) -> None:
    key = api.key("match")
    image, md5 = pdq(), secrets.token_hex(16)
    case = api.submit([{"type": "pdq", "value": image.upper(), "quality": 92}, {"type": "md5", "value": md5}])
    assert case["hashes"] == 2 and len(case["secret"].replace("-", "")) == 24

    # Within a second the near-duplicate and the exact hash match (the index learns from the change log).
    wait_until(lambda: bool(match(api, key, ("pdq", flip(image, 10)))[0]), timeout=1.0)
    near, exact, miss = match(
        api, key, ("pdq", flip(image, 10)), ("md5", md5.upper()), ("pdq", flip(image, 40))
    )
    assert near[0]["distance"] == 10 and near[0]["bank"] == "survivors" and near[0]["action"] == "review"
    assert near[0]["quality"] == 92 and near[0]["status"] == "active" and near[0]["type"] == "pdq"
    assert exact[0]["distance"] == 0 and miss == []

    status = api.client.get(f"/v1/cases/{case['case_id']}", headers={"X-Case-Secret": case["secret"]}).json()
    # Counted by the action the rules decided: the exact MD5 is blocked, the PDQ near-match goes to review.
    assert status["status"] == "active" and status["matches"] == 3
    assert status["actions"] == {"review": 2, "block_and_review": 1}
    assert [(h["type"], h["matches"]) for h in status["hashes"]] == [("pdq", 2), ("md5", 1)]
    assert "value" not in str(status) and image not in str(status)

    withdrawn = api.client.post(
        f"/v1/cases/{case['case_id']}/withdraw", headers={"X-Case-Secret": case["secret"]}
    )
    assert withdrawn.status_code == 200 and withdrawn.json()["withdrawn"] == 2
    # Candidates are re-checked against the database: no match the moment the withdrawal commits.
    assert match(api, key, ("pdq", image), ("md5", md5)) == [[], []]
    wait_until(lambda: api.client.get("/readyz").json()["entries"] == 0, timeout=1.0)


def test_case_page_counts_the_action_the_rules_decided(api: Api) -> None:
    """The bank's default action is ``review``; an operator rule blocks close PDQ matches. The survivor's
    case page must count what was done (``block``), not the bank default."""
    admin, key = api.key("admin"), api.key("match")
    rule = {"action": "block", "max_distance": 12, "signal_type": "pdq", "bank": "survivors"}
    assert api.client.post("/v1/rules", headers=admin, json=rule).status_code == 201
    image = pdq()
    case = api.submit([{"type": "pdq", "value": image, "quality": 90}])
    wait_until(lambda: bool(match(api, key, ("pdq", flip(image, 5)))[0]), timeout=1.0)
    near, far = match(api, key, ("pdq", flip(image, 11)), ("pdq", flip(image, 20)))
    assert near[0]["action"] == "block" and far[0]["action"] == "review"
    status = api.client.get(f"/v1/cases/{case['case_id']}", headers={"X-Case-Secret": case["secret"]}).json()
    assert status["matches"] == 3 and status["actions"] == {"block": 2, "review": 1}


def test_case_secret_is_required_and_checked(api: Api) -> None:
    case = api.submit([{"type": "sha256", "value": secrets.token_hex(32)}])
    url = f"/v1/cases/{case['case_id']}"
    for headers in ({}, {"X-Case-Secret": "wrong"}, {"X-Case-Secret": case["secret"][:-1]}):
        response = api.client.get(url, headers=headers)
        assert response.status_code == 401 and response.headers["content-type"] == PROBLEM
        assert response.json()["type"] == "https://redline.dev/problems/wrong-case-secret"
    unknown = api.client.get("/v1/cases/RL-AAAA-BBBB-CCCC-DDDD", headers={"X-Case-Secret": case["secret"]})
    assert (
        unknown.status_code == 401
        and unknown.json()["detail"] == api.client.get(url, headers={"X-Case-Secret": "x"}).json()["detail"]
    )


def test_only_hashes_are_accepted(api: Api) -> None:
    good = {"hashes": [{"type": "pdq", "value": pdq()}], "attestation": ATTESTATION}
    bad_bodies = [
        {**good, "image": "aGVsbG8="},
        {**good, "hashes": [{"type": "pdq", "value": pdq(), "filename": "me.jpg"}]},
        {**good, "hashes": [{"type": "pdq", "value": "zz" * 32}]},
        {**good, "hashes": [{"type": "md5", "value": pdq()}]},
        {**good, "hashes": [{"type": "pdq", "value": pdq(), "item": -1}]},
        {**good, "hashes": [{"type": "pdq", "value": pdq(), "item": "photo.jpg"}]},
        {**good, "hashes": []},
        {**good, "attestation": {**ATTESTATION, "adult": False}},
        {"hashes": good["hashes"]},
    ]
    for body in bad_bodies:
        response = api.client.post("/v1/cases", json=body)
        assert response.status_code == 422, body
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["type"].startswith("https://redline.dev/problems/")
    raw = api.client.post("/v1/cases", content=b"\x89PNG\r\n", headers={"content-type": "image/png"})
    assert raw.status_code == 422
    with api.db.read() as session:
        from sqlalchemy import func, select

        from redline.bank.models import Case

        assert session.scalar(select(func.count()).select_from(Case)) == 0


def test_feed_pages_entries_and_tombstones(api: Api) -> None:
    key = api.key("feed")
    first = api.submit([{"type": "pdq", "value": pdq(), "quality": 80}, {"type": "md5", "value": "a" * 32}])
    api.submit([{"type": "sha256", "value": "b" * 64}], tags=["synthetic"])
    api.client.post(f"/v1/cases/{first['case_id']}/withdraw", headers={"X-Case-Secret": first["secret"]})

    seen, cursor = [], ""
    while True:
        page = api.client.get("/v1/feed", headers=key, params={"cursor": cursor, "limit": 1}).json()
        seen.extend(page["items"])
        cursor = page["cursor"]
        if not page["more"]:
            break
    # The two added-then-withdrawn entries appear only as tombstones, without their hashes.
    assert [(i["kind"], i["type"], i["status"]) for i in seen] == [
        ("entry", "sha256", "active"),
        ("tombstone", "pdq", "withdrawn"),
        ("tombstone", "md5", "withdrawn"),
    ]
    assert seen[0]["value"] == "b" * 64 and seen[0]["tags"] == ["synthetic"]
    assert all(i["value"] is None for i in seen[1:])
    assert [i["seq"] for i in seen] == sorted(i["seq"] for i in seen)
    again = api.client.get("/v1/feed", headers=key, params={"cursor": cursor}).json()
    assert again["items"] == [] and again["cursor"] == cursor
    bad = api.client.get("/v1/feed", headers=key, params={"cursor": "not-a-cursor"})
    assert bad.status_code == 400 and bad.json()["type"].endswith("/invalid-cursor")


def test_operator_banks_import_quarantine_keys_audit(api: Api) -> None:
    admin, matcher = api.key("admin"), api.key("match")
    created = api.client.post(
        "/v1/banks",
        headers=admin,
        json={"name": "hotline", "thresholds": {"pdq": 20}, "default_action": "block"},
    )
    assert created.status_code == 201 and created.json()["thresholds"]["pdq"] == 20
    assert (
        api.client.post(
            "/v1/banks", headers=admin, json={"name": "hotline", "default_action": "log"}
        ).status_code
        == 409
    )
    image = pdq()
    body = f"type,value,quality\npdq,{image},90\nmd5,{'c' * 32},\n"
    imported = api.client.post(
        "/v1/banks/hotline/import", headers={**admin, "content-type": "text/csv"}, content=body
    )
    assert imported.status_code == 200 and imported.json()["imported"] == 2
    bad_import = api.client.post(
        "/v1/banks/hotline/import",
        headers={**admin, "content-type": "text/csv"},
        content="type,value\npdq,nothex\n",
    )
    assert bad_import.status_code == 400 and "line 2" in bad_import.json()["detail"]

    wait_until(lambda: bool(match(api, matcher, ("pdq", image))[0]), timeout=1.0)
    # The bank's own threshold (20) decides: distance 25 does not match there.
    assert match(api, matcher, ("pdq", flip(image, 25))) == [[]]
    hit = match(api, matcher, ("pdq", flip(image, 20)))[0][0]
    assert hit["action"] == "block" and hit["bank"] == "hotline"

    quarantined = api.client.patch(
        f"/v1/entries/{hit['entry_id']}",
        headers=admin,
        json={"status": "quarantined", "reason": "benign meme"},
    )
    assert quarantined.status_code == 200 and quarantined.json()["value"] is None
    assert match(api, matcher, ("pdq", image)) == [[]]
    api.client.patch(f"/v1/entries/{hit['entry_id']}", headers=admin, json={"status": "active"})
    wait_until(lambda: bool(match(api, matcher, ("pdq", image))[0]), timeout=1.0)
    disabled = api.client.patch("/v1/banks/hotline", headers=admin, json={"enabled": False})
    assert disabled.json()["enabled"] is False and match(api, matcher, ("pdq", image)) == [[]]

    new_key = api.client.post(
        "/v1/keys", headers=admin, json={"name": "platform", "scopes": ["match"]}
    ).json()
    token_headers = {"Authorization": f"Bearer {new_key['token']}"}
    assert (
        api.client.post(
            "/v1/match", headers=token_headers, json={"hashes": [{"type": "md5", "value": "c" * 32}]}
        ).status_code
        == 200
    )
    assert all("token" not in k for k in api.client.get("/v1/keys", headers=admin).json())
    assert api.client.delete(f"/v1/keys/{new_key['id']}", headers=admin).json()["revoked_at"] is not None
    assert (
        api.client.post(
            "/v1/match", headers=token_headers, json={"hashes": [{"type": "md5", "value": "c" * 32}]}
        ).status_code
        == 401
    )

    audit = api.client.get("/v1/audit", headers=admin, params={"limit": 1000}).json()["items"]
    actions = [e["action"] for e in audit]
    for expected in (
        "bank.created",
        "import",
        "entry.quarantined",
        "entry.active",
        "bank.changed",
        "key.created",
        "key.revoked",
    ):
        assert expected in actions
    assert new_key["token"] not in str(audit)


def test_partner_submission(api: Api) -> None:
    admin, matcher = api.key("admin"), api.key("match")
    assert api.client.post("/v1/banks", headers=admin, json={"name": "hotline"}).status_code == 201
    created = api.client.post(
        "/v1/keys", headers=admin, json={"name": "Hotline", "scopes": ["submit"], "banks": ["hotline"]}
    )
    assert created.status_code == 201 and created.json()["banks"] == ["hotline"]
    submit = {"Authorization": f"Bearer {created.json()['token']}"}
    response = api.client.post(
        "/v1/banks/hotline/entries",
        headers=submit,
        json={"hashes": [{"type": "sha256", "value": "d" * 64}]},
    )
    assert response.status_code == 201 and response.json()["added"] == 1
    assert match(api, matcher, ("sha256", "d" * 64))[0][0]["entry_id"] == response.json()["entry_ids"][0]
    missing = api.client.post(
        "/v1/banks/nope/entries", headers=submit, json={"hashes": [{"type": "sha256", "value": "d" * 64}]}
    )
    assert missing.status_code == 403 and missing.headers["content-type"] == PROBLEM


def test_match_batch_limits_and_bad_hashes(api: Api) -> None:
    key = api.key("match")
    too_many = {"hashes": [{"type": "md5", "value": "a" * 32}] * 1001}
    assert api.client.post("/v1/match", headers=key, json=too_many).status_code == 422
    bad = api.client.post("/v1/match", headers=key, json={"hashes": [{"type": "pdq", "value": "a" * 63}]})
    assert bad.status_code == 422 and bad.json()["type"].endswith("/invalid-hash")
    full = api.client.post(
        "/v1/match", headers=key, json={"hashes": [{"type": "pdq", "value": pdq()}] * 1000}
    )
    assert full.status_code == 200 and len(full.json()["results"]) == 1000


def test_security_headers_errors_and_limits(api: Api) -> None:
    for path in ("/healthz", "/v1/attestation", "/does-not-exist"):
        response = api.client.get(path)
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cross-origin-opener-policy"] == "same-origin"
        assert "permissions-policy" in response.headers
        assert response.headers["cache-control"] == "no-store"
        assert "server" not in response.headers
    # CORS is closed: no Access-Control-Allow-Origin for a foreign origin, preflight refused.
    preflight = api.client.options(
        "/v1/cases", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in preflight.headers
    big = api.client.post(
        "/v1/cases",
        content=b"{" + b" " * (api.settings.max_request_bytes + 10) + b"}",
        headers={"content-type": "application/json"},
    )
    assert big.status_code == 413 and big.json()["type"].endswith("/payload-too-large")

    def chunks() -> object:
        for _ in range(100):
            yield b" " * (api.settings.max_request_bytes // 50)

    streamed = api.client.post("/v1/cases", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413
    malformed = api.client.post(
        "/v1/cases", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert malformed.status_code == 422 and "Traceback" not in malformed.text
    assert api.client.get("/metrics").text.count("redline_http_requests_total") > 0
    assert api.client.get("/openapi.json").status_code == 200
    assert api.client.get("/docs").status_code == 404  # Swagger UI would need a CDN the CSP forbids


def test_case_submissions_are_rate_limited(database_url: str, tmp_path: Path) -> None:
    app = create_app(make_settings(database_url, tmp_path / "data", case_rate_per_hour=2))
    body = {"hashes": [{"type": "md5", "value": "e" * 32}], "attestation": ATTESTATION}
    with TestClient(app) as client:
        assert [client.post("/v1/cases", json=body).status_code for _ in range(3)] == [201, 201, 429]
        limited = client.post("/v1/cases", json=body)
        assert limited.headers["content-type"] == PROBLEM and int(limited.headers["retry-after"]) > 0


def test_contact_details_are_encrypted_at_rest(api: Api) -> None:
    case = api.submit([{"type": "md5", "value": "f" * 32}], contact="survivor@example.org")
    from redline.bank.models import Case

    with api.db.read() as session:
        stored = session.get(Case, case["case_id"])
        assert stored is not None and stored.contact_encrypted is not None
        assert b"survivor" not in stored.contact_encrypted
        assert stored.attestation["text_version"] and stored.attestation["adult"] is True
