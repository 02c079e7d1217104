"""Feed keys read only the banks they are granted: in /v1/feed, the signed mirror feed and StopNCII's
FetchHashes alike; a key granted none reads nothing; the grant is the operator's and is audited."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import text
from typer.testing import CliRunner

from redline.bank import grants, service
from redline.bank.db import Database
from redline.cli.main import app as cli
from tests.support.apps import Api


def _hub_with_two_banks(api: Api) -> dict[str, str]:
    """The survivors' bank with one case, and a hotline bank with one partner entry; each value once."""
    admin = api.key("admin")
    assert api.client.post("/v1/banks", headers=admin, json={"name": "hotline"}).status_code == 201
    survivors = secrets.token_hex(32)
    api.submit([{"type": "pdq", "value": survivors, "quality": 90}])
    submit = api.client.post(
        "/v1/keys", headers=admin, json={"name": "hotline", "scopes": ["submit"], "banks": ["hotline"]}
    ).json()["token"]
    hotline = secrets.token_hex(32)
    added = api.client.post(
        "/v1/banks/hotline/entries",
        headers={"Authorization": f"Bearer {submit}"},
        json={"hashes": [{"type": "pdq", "value": hotline, "quality": 90}]},
    )
    assert added.status_code == 201, added.text
    return {"survivors": survivors, "hotline": hotline}


def _feed_key(api: Api, *banks: str) -> tuple[str, dict[str, str]]:
    made = api.client.post(
        "/v1/keys",
        headers=api.key("admin"),
        json={"name": "platform", "scopes": ["feed"], "partner": "Platform", "feed_banks": list(banks)},
    )
    assert made.status_code == 201, made.text
    body: dict[str, Any] = made.json()
    assert body["feed_banks"] == sorted(banks)
    return body["id"], {"Authorization": f"Bearer {body['token']}"}


def _feed_values(api: Api, key: dict[str, str]) -> set[str]:
    page = api.client.get("/v1/feed", headers=key)
    assert page.status_code == 200, page.text
    return {i["value"] for i in page.json()["items"]}


def test_a_feed_key_reads_only_its_granted_banks_everywhere(api: Api) -> None:
    values = _hub_with_two_banks(api)
    _, hotline_only = _feed_key(api, "hotline")
    assert _feed_values(api, hotline_only) == {values["hotline"]}

    mirror = api.client.get("/v1/mirror/feed", headers=hotline_only, params={"nonce": "ab" * 8})
    assert mirror.status_code == 200, mirror.text
    assert {i["value"] for i in mirror.json()["items"]} == {values["hotline"]}
    asked = api.client.get(
        "/v1/mirror/feed", headers=hotline_only, params={"nonce": "ab" * 8, "banks": "survivors"}
    )
    assert asked.status_code == 403 and "'survivors'" in asked.json()["detail"]

    stopncii = api.client.get(
        "/stopncii/v1/FetchHashes", headers={"Ocp-Apim-Subscription-Key": "x", **hotline_only}
    )
    assert stopncii.status_code == 200, stopncii.text
    sent = {r["hashValue"] for r in stopncii.json()["hashRecords"]}
    assert values["survivors"] not in sent and values["hotline"] in sent


def test_a_feed_key_granted_nothing_reads_nothing_and_says_why(api: Api) -> None:
    _hub_with_two_banks(api)
    _, nothing = _feed_key(api)
    for path, params in (("/v1/feed", {}), ("/v1/mirror/feed", {"nonce": "cd" * 8})):
        refused = api.client.get(path, headers=nothing, params=params)
        assert refused.status_code == 403, (path, refused.text)
        assert "granted no bank" in refused.json()["detail"]


def test_feed_grants_are_the_operators_and_audited(api: Api) -> None:
    values = _hub_with_two_banks(api)
    key_id, key = _feed_key(api, "hotline")
    admin = api.key("admin")
    assert api.client.put(f"/v1/keys/{key_id}/feed-banks/survivors", headers=admin).status_code == 204
    assert _feed_values(api, key) == {values["hotline"], values["survivors"]}
    assert api.client.delete(f"/v1/keys/{key_id}/feed-banks/hotline", headers=admin).status_code == 204
    assert _feed_values(api, key) == {values["survivors"]}
    # A key without the feed scope is never granted reading; an unknown bank is a 404.
    match_key = api.client.post("/v1/keys", headers=admin, json={"name": "m", "scopes": ["match"]}).json()[
        "id"
    ]
    assert api.client.put(f"/v1/keys/{match_key}/feed-banks/hotline", headers=admin).status_code == 400
    assert api.client.put(f"/v1/keys/{key_id}/feed-banks/nowhere", headers=admin).status_code == 404
    with api.db.read() as session:
        rows = [e for e in service.audit_page(session, 0, 10_000) if e.subject == f"key:{key_id}"]
    assert [(e.action, e.details.get("bank"), e.details.get("purpose")) for e in rows] == [
        ("key.created", None, None),
        ("key.granted", "hotline", "feed"),
        ("key.granted", "survivors", "feed"),
        ("key.grant_revoked", "hotline", "feed"),
    ]


def test_verdicts_on_banks_a_partner_cannot_read_count_as_unknown(api: Api) -> None:
    _hub_with_two_banks(api)
    _, key = _feed_key(api, "hotline")
    with api.db.read() as session:
        ids = {
            bank: entry_id
            for entry_id, bank in session.execute(
                text("SELECT e.id, b.name FROM entries e JOIN banks b ON b.id = e.bank_id")
            )
        }
    verdicts = [
        {"entry_id": ids["survivors"], "verdict": "reject"},
        {"entry_id": ids["hotline"], "verdict": "confirm"},
    ]
    counted = api.client.post("/v1/mirror/verdicts", headers=key, json={"verdicts": verdicts})
    assert counted.status_code == 200, counted.text
    assert counted.json()["applied"] == 1 and counted.json()["unknown"] == 1


def test_the_cli_grants_and_lists_feed_banks(api: Api, monkeypatch: Any) -> None:
    _hub_with_two_banks(api)
    monkeypatch.setenv("REDLINE_DATABASE_URL", api.settings.database_url)
    monkeypatch.setenv("REDLINE_DATA_DIR", str(api.settings.data_dir))
    runner = CliRunner()
    made = runner.invoke(
        cli,
        ["keys", "create", "--name", "p", "--scope", "feed", "--feed-bank", "hotline"],
        catch_exceptions=False,
    )
    assert made.exit_code == 0, made.output
    key_id = made.stdout.strip().splitlines()[-1].split("_")[1]
    granted = runner.invoke(
        cli, ["keys", "grant", key_id, "--feed-bank", "survivors"], catch_exceptions=False
    )
    assert granted.exit_code == 0 and "read survivors in feeds" in granted.stdout
    listed = runner.invoke(cli, ["keys", "list"], catch_exceptions=False)
    line = next(li for li in listed.stdout.splitlines() if li.startswith(key_id))
    assert line.endswith("submit:-\tfeed:hotline,survivors")
    refused = runner.invoke(cli, ["keys", "grant", key_id])
    assert refused.exit_code == 1 and "--feed-bank" in refused.output


def test_the_migration_keeps_existing_feed_keys_reading(unmigrated_database_url: str) -> None:
    """m014 on a hub whose feed keys read every bank: each active feed key is granted every bank there is."""
    db = Database(unmigrated_database_url)
    try:
        db.upgrade("m013_seen_hashes")
        with db.engine.begin() as conn:
            for number, name in enumerate(("survivors", "hotline"), start=1):
                conn.execute(
                    text(
                        "INSERT INTO banks (id, name, description, thresholds, default_action, enabled, "
                        "created_at) VALUES (:i, :n, '', '{}', 'review', true, CURRENT_TIMESTAMP)"
                    ),
                    {"i": number, "n": name},
                )
            keys = (
                ("feedkey", '["feed"]', None),
                ("matchkey", '["match"]', None),
                ("gone", '["feed"]', "2026-01-01"),
            )
            for key_id, scopes, revoked in keys:
                conn.execute(
                    text(
                        "INSERT INTO api_keys (id, name, secret_hash, scopes, created_at, revoked_at) "
                        "VALUES (:i, :i, :h, :s, CURRENT_TIMESTAMP, :r)"
                    ),
                    {"i": key_id, "h": "0" * 64, "s": scopes, "r": revoked},
                )
        db.upgrade()
        with db.read() as session:
            assert grants.granted_banks(session, "feedkey", "feed") == ["hotline", "survivors"]
            assert grants.granted_banks(session, "matchkey", "feed") == []
            assert grants.granted_banks(session, "feedkey", "submit") == []
            assert grants.granted_banks(session, "gone", "feed") == []  # a revoked key gets nothing
    finally:
        db.dispose()
