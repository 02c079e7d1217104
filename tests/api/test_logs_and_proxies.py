"""What a real ``redline serve`` writes to its logs (issue #11 item 4) and whose forwarded addresses it
believes (item 5)."""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path

import httpx
import pytest

from redline.bank import service
from redline.bank.db import Database
from tests.support import ATTESTATION
from tests.support.server import Server

pytestmark = pytest.mark.slow


def _match_key(url: str) -> str:
    db = Database(url)
    db.upgrade()
    with db.write() as session:
        _, token = service.create_api_key(session, name="platform", scopes=["match"], actor="test")
    db.dispose()
    return token


def test_no_log_line_ties_a_case_to_anything(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'redline.db'}"
    token = _match_key(url)
    contact = f"survivor-{secrets.token_hex(4)}@example.org"
    phone = "+44 7700 900" + str(secrets.randbelow(900) + 100)
    image = secrets.token_hex(32)
    server = Server(url, tmp_path)
    try:
        base = server.url
        created = httpx.post(
            base + "/v1/cases",
            json={
                "hashes": [{"type": "pdq", "value": image, "quality": 90}],
                "attestation": ATTESTATION,
                "contact": f"{contact} {phone}",
            },
        )
        assert created.status_code == 201
        case, secret = created.json()["case_id"], created.json()["secret"]
        for typed in (secret, "WRONG-WRONG", secret.lower().replace("-", " ")):
            httpx.get(f"{base}/v1/cases/{case}", headers={"X-Case-Secret": typed})
        httpx.get(f"{base}/v1/cases/{case}/nothing-here", headers={"X-Case-Secret": secret})
        httpx.get(f"{base}/v1/cases/{case}?secret={secret}")
        match = httpx.post(
            base + "/v1/match",
            headers={"Authorization": f"Bearer {token}"},
            json={"hashes": [{"type": "pdq", "value": image}]},
        )
        assert match.status_code == 200
        httpx.post(base + "/v1/match", headers={"Authorization": f"Bearer {token}x"}, json={"hashes": []})
        withdrawn = httpx.post(f"{base}/v1/cases/{case}/withdraw", headers={"X-Case-Secret": secret})
        assert withdrawn.status_code == 200
        httpx.get(base + "/")  # the portal
    finally:
        server.stop()
    text = server.log.read_text()
    secret_part = token.split("_", 2)[2]
    for needle in (case, case.lower(), secret, secret.replace("-", ""), token, secret_part, contact, phone):
        assert needle not in text, needle
    lines = text.splitlines()
    requests = [json.loads(line.split("request ", 1)[1]) for line in lines if "redline.access" in line]
    routes = {(r["method"], r["route"]) for r in requests}
    # The access log is there (the test cannot pass on an empty log), by route template:
    assert ("GET", "/v1/cases/{case_id}") in routes and ("POST", "/v1/cases/{case_id}/withdraw") in routes
    assert ("POST", "/v1/match") in routes and ("GET", "unmatched") in routes
    assert not any("uvicorn.access" in line for line in lines)
    for line in lines:
        if "/v1/cases" in line or "/v1/attestation" in line or '"route": "/"' in line:
            assert not re.search(r"\b127\.0\.0\.1\b", line), line
    platform = [r for r in requests if r["route"] == "/v1/match"]
    assert platform and all(r.get("client") == "127.0.0.1" for r in platform)


def _submit(base: str, forwarded_for: str) -> int:
    response = httpx.post(
        base + "/v1/cases",
        headers={"X-Forwarded-For": forwarded_for},
        json={"hashes": [{"type": "md5", "value": secrets.token_hex(16)}], "attestation": ATTESTATION},
    )
    return response.status_code


@pytest.mark.parametrize(
    ("env", "args", "believed"),
    [
        ({}, (), True),  # default: a proxy on this machine (127.0.0.1)
        ({"REDLINE_FORWARDED_ALLOW_IPS": "10.1.2.3"}, (), False),
        ({"REDLINE_FORWARDED_ALLOW_IPS": "10.1.2.3"}, ("--forwarded-allow-ips", "127.0.0.0/8"), True),
        ({}, ("--forwarded-allow-ips", "192.0.2.1,10.0.0.0/8"), False),
    ],
)
def test_forwarded_addresses_are_believed_only_from_the_named_proxies(
    tmp_path: Path, env: dict[str, str], args: tuple[str, ...], believed: bool
) -> None:
    url = f"sqlite:///{tmp_path / 'redline.db'}"
    server = Server(url, tmp_path, env={"REDLINE_CASE_RATE_PER_HOUR": "1", **env}, args=args)
    try:
        first = _submit(server.url, "203.0.113.5")
        again = _submit(server.url, "203.0.113.5")
        neighbour = _submit(server.url, "198.51.100.7")
    finally:
        server.stop()
    # Believed: each forwarded client has its own limit. Not believed: everyone is the proxy's address.
    assert (first, again, neighbour) == ((201, 429, 201) if believed else (201, 429, 429))
