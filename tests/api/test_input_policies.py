"""Smaller holes (issue #11 item 6), each refused the same way on SQLite and PostgreSQL: bank actions,
content ids and metadata a database cannot store, submit keys outside their banks, names with markup or
direction overrides (API and CLI alike)."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from redline.bank import grants
from redline.bank.db import Database
from redline.cli.main import app
from tests.support.apps import Api, match

PROBLEM = "application/problem+json"
RTL_OVERRIDE = "\u202e"


def test_bank_default_action_must_be_a_known_action(api: Api) -> None:
    admin = api.key("admin")
    refused = api.client.post(
        "/v1/banks", headers=admin, json={"name": "x", "default_action": "nuke_everything"}
    )
    assert refused.status_code == 422 and refused.headers["content-type"] == PROBLEM
    for action in ("block_and_review", "block", "review", "log"):
        made = api.client.post(
            "/v1/banks", headers=admin, json={"name": f"b-{action}", "default_action": action}
        )
        assert made.status_code == 201 and made.json()["default_action"] == action
    patched = api.client.patch("/v1/banks/b-log", headers=admin, json={"default_action": "delete"})
    assert patched.status_code == 422
    assert api.client.get("/v1/banks/b-log", headers=admin).json()["default_action"] == "log"


@pytest.mark.parametrize(
    ("content_id", "metadata"),
    [
        ("post\u0000123", None),
        ("post-\ud800", None),
        (None, {"note": "a\u0000b"}),
        (None, {"k\u0000": 1}),
        (None, {"score": float("nan")}),
        (None, {"score": float("inf")}),
        (None, {"deep": [[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]}),
    ],
)
def test_unstorable_caller_fields_are_refused_before_matching(
    api: Api, content_id: str | None, metadata: dict[str, object] | None
) -> None:
    key = api.key("match")
    value = secrets.token_hex(32)
    api.submit([{"type": "sha256", "value": value}])
    body: dict[str, object] = {"hashes": [{"type": "sha256", "value": value}]}
    if content_id is not None:
        body["content_id"] = content_id
    if metadata is not None:
        body["metadata"] = metadata
    # NaN and surrogates are not JSON the client library writes: send the text ourselves (Python's json
    # writes NaN/Infinity and \\ud800 escapes, as a careless platform's encoder would).
    raw = json.dumps(body)
    refused = api.client.post("/v1/match", headers={**key, "content-type": "application/json"}, content=raw)
    assert refused.status_code == 422 and refused.headers["content-type"] == PROBLEM, refused.text
    assert "content_id" in refused.text or "metadata" in refused.text, refused.text  # says which field
    # The same through an upload's form fields (a form field cannot carry a lone surrogate: UTF-8 has none).
    fields = {"content_id": content_id} if content_id is not None and "\ud800" not in content_id else {}
    if metadata is not None:
        fields["metadata"] = json.dumps(metadata)
    upload = api.client.post(
        "/v1/match/file",
        headers=key,
        files={"file": ("x.png", b"\x89PNG\r\n\x1a\n" + b"0" * 64)},
        data=fields,
    )
    if fields:
        assert upload.status_code == 422 and upload.json()["type"].endswith("/validation-error"), upload.text
    # Nothing was logged for the refused requests; the same lookup with clean fields matches and logs.
    ok = api.client.post(
        "/v1/match", headers=key, json={**body, "content_id": "post-1", "metadata": {"note": "fine ✓ 😀"}}
    )
    assert ok.status_code == 200 and ok.json()["results"][0]["matches"][0]["match_id"] == 1


def test_submit_keys_write_only_into_their_granted_banks(api: Api) -> None:
    admin = api.key("admin")
    for name in ("hotline", "other"):
        assert api.client.post("/v1/banks", headers=admin, json={"name": name}).status_code == 201
    to_survivors = api.client.post(
        "/v1/keys", headers=admin, json={"name": "NGO", "scopes": ["submit"], "banks": ["survivors"]}
    )
    assert to_survivors.status_code == 400 and "survivors' bank" in to_survivors.json()["detail"]
    created = api.client.post(
        "/v1/keys", headers=admin, json={"name": "NGO", "scopes": ["submit"], "banks": ["hotline"]}
    )
    assert created.status_code == 201
    key_id, token = created.json()["id"], created.json()["token"]
    submit = {"Authorization": f"Bearer {token}"}
    hashes = {"hashes": [{"type": "sha256", "value": secrets.token_hex(32)}]}
    assert api.client.post("/v1/banks/hotline/entries", headers=submit, json=hashes).status_code == 201
    for bank in ("survivors", "other"):
        refused = api.client.post(f"/v1/banks/{bank}/entries", headers=submit, json=hashes)
        assert refused.status_code == 403 and refused.json()["type"].endswith("/forbidden"), bank
    # An ungranted submit key writes nowhere; a grant through the API opens one bank, never the survivors'.
    bare = api.key("submit")
    assert api.client.post("/v1/banks/hotline/entries", headers=bare, json=hashes).status_code == 403
    assert api.client.put(f"/v1/keys/{key_id}/banks/survivors", headers=admin).status_code == 400
    assert api.client.put(f"/v1/keys/{key_id}/banks/other", headers=admin).status_code == 204
    assert api.client.post("/v1/banks/other/entries", headers=submit, json=hashes).status_code == 201
    assert api.client.delete(f"/v1/keys/{key_id}/banks/other", headers=admin).status_code == 204
    assert api.client.post("/v1/banks/other/entries", headers=submit, json=hashes).status_code == 403
    with api.db.read() as session:
        assert grants.granted_banks(session, key_id) == ["hotline"]
    audit = api.client.get("/v1/audit", headers=admin).json()["items"]
    assert [e["action"] for e in audit if e["action"].startswith("key.grant")] == [
        "key.granted",
        "key.granted",
        "key.grant_revoked",
    ]
    # The survivors' bank still gets survivors' cases, and the partner's hash matches like any other.
    assert match(api, api.key("match"), ("sha256", hashes["hashes"][0]["value"]))[0]


@pytest.mark.parametrize(
    "name", ["<b>bold</b>", f"abc{RTL_OVERRIDE}gpj.exe", "zero\u200bwidth", " padded", ""]
)
def test_key_and_partner_names_with_markup_or_invisible_characters_are_refused(api: Api, name: str) -> None:
    admin = api.key("admin")
    for body in ({"name": name, "scopes": ["match"]}, {"name": "ok", "scopes": ["match"], "partner": name}):
        refused = api.client.post("/v1/keys", headers=admin, json=body)
        assert refused.status_code == 422, body
    ok = api.client.post("/v1/keys", headers=admin, json={"name": "Plateforme Été 東京", "scopes": ["match"]})
    assert ok.status_code == 201


def _cli(database_url: str, tmp_path: Path, *args: str) -> Result:
    """``redline ARGS``, run in this process: the ``redline`` command is this Typer app, and starting a
    process for each of the test's 13 commands was most of its time."""
    env = {"REDLINE_DATABASE_URL": database_url, "REDLINE_DATA_DIR": str(tmp_path)}
    return CliRunner().invoke(app, list(args), env=env)


def test_the_cli_refuses_what_the_api_refuses(database_url: str, tmp_path: Path) -> None:
    Database(database_url).upgrade()
    refused = [
        ("bank", "create", "<script>"),
        ("bank", "create", f"abc{RTL_OVERRIDE}"),
        ("bank", "create", "Hotline"),
        ("bank", "create", "hotline", "--action", "nuke_everything"),
        ("keys", "create", "--name", f"abc{RTL_OVERRIDE}gpj.exe", "--scope", "match"),
        ("keys", "create", "--name", "<i>x</i>", "--scope", "match"),
        ("keys", "create", "--name", "ok", "--scope", "match", "--partner", "<b>"),
    ]
    for args in refused:
        done = _cli(database_url, tmp_path, *args)
        assert done.exit_code == 1 and done.stderr.startswith("error: "), (args, done.stderr)
    assert _cli(database_url, tmp_path, "bank", "create", "hotline", "--action", "block").exit_code == 0
    assert _cli(database_url, tmp_path, "bank", "set", "hotline", "--action", "drop").exit_code == 1
    made = _cli(
        database_url, tmp_path, "keys", "create", "--name", "NGO", "--scope", "submit", "--bank", "hotline"
    )
    assert made.exit_code == 0, made.stderr
    survivors = _cli(
        database_url, tmp_path, "keys", "create", "--name", "NGO", "--scope", "submit", "--bank", "survivors"
    )
    assert survivors.exit_code == 1 and "survivors' bank" in survivors.stderr
    listed = _cli(database_url, tmp_path, "keys", "list").stdout
    assert "hotline" in listed and "survivors" not in listed
    assert "\tblock\t" in _cli(database_url, tmp_path, "bank", "list").stdout
