"""The review console and the moderation API through HTTP (in-process app, SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
import io
import json
import re
from pathlib import Path

from PIL import Image
from sqlalchemy import func, select

from redline.actions.signing import verify
from redline.bank import service
from redline.bank.models import AuditEvent
from tests.support import ATTESTATION, PASSWORD, wait_until
from tests.support.apps import App, csrf, login, make_app
from tests.support.receiver import Receiver

PDQ = "f" * 64
NEAR = "0" * 5 + "f" * 59  # 20 bits away: a "review" match


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (40, 120, 200)).save(out, "PNG")
    return out.getvalue()


def queued_item(web: App, content_id: str = "post-1", value: str = NEAR) -> tuple[int, dict[str, str]]:
    assert (
        web.client.post(
            "/v1/cases",
            json={"hashes": [{"type": "pdq", "value": PDQ, "quality": 90}], "attestation": ATTESTATION},
        ).status_code
        == 201
    )
    platform = web.key("match", "review", partner="platform-a")
    response = {}

    def matched() -> bool:
        nonlocal response
        response = web.client.post(
            "/v1/match",
            headers=platform,
            json={
                "hashes": [{"type": "pdq", "value": value}],
                "content_id": content_id,
                "metadata": {"uploader": "u1"},
            },
        ).json()
        return bool(response["results"][0]["matches"])

    wait_until(matched)
    [match] = response["results"][0]["matches"]
    assert match["action"] == "review" and match["match_id"] and match["review_item_id"]
    return match["review_item_id"], platform


def test_sign_in_cookies_csrf_and_throttle(web: App) -> None:
    web.user("rita")
    assert web.client.get("/console/").headers["location"] == "/console/login"
    form = web.client.get("/console/login")
    assert "script" not in form.headers["content-security-policy"].replace("default-src 'none'", "")
    # A sign-in without the form's CSRF token is refused.
    refused = web.client.post("/console/login", data={"username": "rita", "password": PASSWORD})
    assert refused.status_code == 303 and "error" in refused.headers["location"]
    wrong = web.client.post(
        "/console/login", data={"username": "rita", "password": "nope" * 4, "csrf_token": csrf(form.text)}
    )
    assert "error" in wrong.headers["location"]
    form = web.client.get("/console/login")
    ok = web.client.post(
        "/console/login", data={"username": "rita", "password": PASSWORD, "csrf_token": csrf(form.text)}
    )
    cookie = next(v for k, v in ok.headers.multi_items() if k == "set-cookie" and "redline_console=" in v)
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # plain http here; see the https test below
    token = csrf(web.client.get("/console/").text)
    assert web.client.post("/console/logout", data={"csrf_token": "forged"}).status_code == 403
    assert web.client.post("/console/logout", data={"csrf_token": token}).status_code == 303
    assert web.client.get("/console/").status_code == 303  # signed out: back to the sign-in page

    for _ in range(web.settings.console_login_attempts):
        form = web.client.get("/console/login")
        web.client.post(
            "/console/login", data={"username": "rita", "password": "x" * 12, "csrf_token": csrf(form.text)}
        )
    form = web.client.get("/console/login")
    blocked = web.client.post(
        "/console/login", data={"username": "rita", "password": PASSWORD, "csrf_token": csrf(form.text)}
    )
    assert blocked.status_code == 429  # even the right password, until the window passes


def test_secure_cookie_over_https(database_url: str, tmp_path: Path) -> None:
    for web in make_app(database_url, tmp_path / "data", base_url="https://testserver"):
        web.user("sam")
        form = web.client.get("/console/login")
        ok = web.client.post(
            "/console/login", data={"username": "sam", "password": PASSWORD, "csrf_token": csrf(form.text)}
        )
        cookie = next(v for k, v in ok.headers.multi_items() if k == "set-cookie" and "redline_console=" in v)
        assert "Secure" in cookie


def test_review_flow_preview_decision_webhook_feed(web: App, tmp_path: Path) -> None:
    admin = web.key("admin")
    with Receiver(tmp_path / "rx.jsonl") as rx:
        created = web.client.post(
            "/v1/webhooks",
            headers=admin,
            json={"url": rx.url, "event_types": ["review.decided", "entry.verified"]},
        )
        assert created.status_code == 201, created.text
        secret = created.json()["secret"]
        assert (
            web.client.post("/v1/webhooks", headers=admin, json={"url": "http://10.0.0.1/x"}).status_code
            == 400
        )

        item_id, platform = queued_item(web, content_id="<script>alert(1)</script>")
        upload = web.client.put(
            f"/v1/review/items/{item_id}/preview",
            headers={**platform, "content-type": "image/png"},
            content=png(),
        )
        assert upload.status_code == 200, upload.text
        other_platform = web.key("match", partner="platform-b")
        assert (
            web.client.put(
                f"/v1/review/items/{item_id}/preview",
                headers={**other_platform, "content-type": "image/png"},
                content=png(),
            ).status_code
            == 404
        )  # not theirs

        web.user("rita")
        token = login(web.client, "rita")
        queue_page = web.client.get("/console/")
        assert f'data-item="{item_id}"' in queue_page.text
        assert "<script>alert(1)</script>" not in queue_page.text and "&lt;script&gt;" in queue_page.text
        page = web.client.get(f"/console/items/{item_id}")
        assert f"/console/items/{item_id}/preview" in page.text and 'class="reveal"' in page.text
        assert "script-src" not in page.headers["content-security-policy"]
        assert PDQ not in page.text  # the survivor's hash is not shown
        preview = web.client.get(f"/console/items/{item_id}/preview")
        assert preview.status_code == 200 and preview.content == png()
        assert preview.headers["cache-control"] == "no-store"

        forged = web.client.post(f"/console/items/{item_id}/decision", data={"decision": "confirm"})
        assert forged.status_code == 403
        decided = web.client.post(
            f"/console/items/{item_id}/decision",
            data={"decision": "confirm", "note": "same photo", "csrf_token": token},
        )
        assert decided.status_code == 303 and decided.headers["location"] == f"/console/?decided={item_id}"
        assert web.client.get(f"/console/items/{item_id}/preview").status_code == 404  # deleted once decided
        assert "same photo" in web.client.get("/console/history").text
        assert (
            web.client.get("/console/audit").headers["location"].startswith("/console/?error")
        )  # admins only
        assert web.client.get("/console/mirrors").headers["location"].startswith("/console/?error")

        wait_until(lambda: len(rx.records()) >= 2)
        for record in rx.records():
            verify(secret, record["headers"], str(record["body"]).encode())  # type: ignore[arg-type]
        bodies = [str(r["body"]) for r in rx.records()]
        assert any('"state":"Blocked"' in b for b in bodies)

    feed = web.client.get("/v1/feed", headers=web.key("feed")).json()
    assert feed["items"][-1]["review_state"] == "Blocked"


def test_platform_decisions_count_per_organisation_and_quarantine(web: App) -> None:
    item_id, platform = queued_item(web, content_id="c1")
    decided = web.client.post(
        f"/v1/review/items/{item_id}/decision",
        headers=platform,
        json={"decision": "reject", "note": "a logo"},
    )
    assert decided.status_code == 200 and decided.json()["entry_rejected"] == 1
    # The console reviewer is a second, independent reviewer: K = 2 quarantines the entry.
    second = web.client.post(
        "/v1/match", headers=platform, json={"hashes": [{"type": "pdq", "value": NEAR}], "content_id": "c2"}
    ).json()["results"][0]["matches"][0]["review_item_id"]
    web.user("ada", role="admin")
    token = login(web.client, "ada")
    web.client.post(f"/console/items/{second}/decision", data={"decision": "reject", "csrf_token": token})
    page = web.client.get(f"/console/items/{second}")
    assert "2 rejected" in page.text and "flagged for operator audit" in page.text
    assert (
        web.client.post(
            "/v1/match", headers=platform, json={"hashes": [{"type": "pdq", "value": NEAR}]}
        ).json()["results"][0]["matches"]
        == []
    )
    audit = web.client.get("/console/audit").text
    assert "entry.quarantined" in audit and "review.decided" in audit
    assert "mirrors no hub" in web.client.get("/console/mirrors").text
    flagged = web.client.get("/console/flagged").text
    assert "Flagged for audit" in flagged and "quarantined" in flagged and "<td>2</td>" in flagged


def test_withdrawal_and_operator_quarantine_are_announced(web: App, tmp_path: Path) -> None:
    admin = web.key("admin")
    with Receiver(tmp_path / "rx.jsonl") as rx:
        hook = web.client.post(
            "/v1/webhooks",
            headers=admin,
            json={"url": rx.url, "event_types": ["entry.withdrawn", "entry.quarantined"]},
        )
        assert hook.status_code == 201
        case = web.client.post(
            "/v1/cases",
            json={
                "hashes": [{"type": "md5", "value": "b" * 32}, {"type": "md5", "value": "c" * 32}],
                "attestation": ATTESTATION,
            },
        ).json()
        other = web.client.post(
            "/v1/cases", json={"hashes": [{"type": "md5", "value": "d" * 32}], "attestation": ATTESTATION}
        ).json()
        withdrawn = web.client.post(
            f"/v1/cases/{case['case_id']}/withdraw", headers={"X-Case-Secret": case["secret"]}
        )
        assert withdrawn.status_code == 200
        feed = web.client.get("/v1/feed", headers=web.key("feed")).json()["items"]
        other_entry = next(i["entry_id"] for i in feed if i["status"] == "active")
        patched = web.client.patch(
            f"/v1/entries/{other_entry}", headers=admin, json={"status": "quarantined", "reason": "audit"}
        )
        assert patched.status_code == 200
        wait_until(lambda: len(rx.records()) == 2)
        payloads = sorted((json.loads(str(r["body"])) for r in rx.records()), key=lambda p: p["type"])
    assert [p["type"] for p in payloads] == ["entry.quarantined", "entry.withdrawn"]
    assert payloads[0]["data"]["entry_ids"] == [other_entry]
    assert len(payloads[1]["data"]["entry_ids"]) == 2
    assert case["case_id"] not in json.dumps(payloads) and other["case_id"] not in json.dumps(payloads)


def test_match_file_takes_content_id_and_metadata(web: App) -> None:
    image = png()
    digest = hashlib.md5(image).hexdigest()
    assert (
        web.client.post(
            "/v1/cases", json={"hashes": [{"type": "md5", "value": digest}], "attestation": ATTESTATION}
        ).status_code
        == 201
    )
    platform = web.key("match", partner="platform-a")
    body: dict[str, object] = {}

    def matched() -> bool:
        nonlocal body
        response = web.client.post(
            "/v1/match/file",
            headers=platform,
            files={"file": ("upload.png", image, "image/png")},
            data={"content_id": "vid-9", "metadata": json.dumps({"channel": "c"})},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        return any(r["matches"] for r in body["results"])  # type: ignore[attr-defined]

    wait_until(matched)
    [hit] = [m for r in body["results"] for m in r["matches"]]  # type: ignore[attr-defined]
    assert hit["action"] == "block_and_review" and hit["review_item_id"]
    bad = web.client.post(
        "/v1/match/file",
        headers=platform,
        files={"file": ("u.png", image, "image/png")},
        data={"metadata": "[1]"},
    )
    assert bad.status_code == 400
    web.user("rita")
    login(web.client, "rita")
    page = web.client.get(f"/console/items/{hit['review_item_id']}").text
    assert "vid-9" in page and "channel" in page


def test_console_without_the_slash_redirects(web: App) -> None:
    moved = web.client.get("/console")
    assert moved.status_code == 308 and moved.headers["location"] == "/console/"
    assert web.client.get("/console", follow_redirects=True).url.path == "/console/login"


def test_sign_in_throttle_holds_across_processes(database_url: str, tmp_path: Path) -> None:
    """Two apps on one database stand for two worker processes: failures on either count for both."""
    for first in make_app(database_url, tmp_path / "a"):
        for second in make_app(database_url, tmp_path / "b"):
            first.user("rita")
            limit = first.settings.console_login_attempts
            for attempt in range(limit):
                client = (first if attempt % 2 else second).client
                form = client.get("/console/login")
                wrong = client.post(
                    "/console/login",
                    data={"username": "rita", "password": "x" * 12, "csrf_token": csrf(form.text)},
                )
                assert wrong.headers["location"] == "/console/login?error=wrong"
            for web in (first, second):
                form = web.client.get("/console/login")
                blocked = web.client.post(
                    "/console/login",
                    data={"username": "RITA", "password": PASSWORD, "csrf_token": csrf(form.text)},
                )
                assert blocked.status_code == 429, blocked.text


def test_escalated_items_are_decided_by_an_admin(web: App) -> None:
    item_id, _ = queued_item(web)
    for name, role in (("rita", "reviewer"), ("sam", "reviewer"), ("ada", "admin")):
        web.user(name, role=role)
    token = login(web.client, "rita")
    invalid = web.client.post(
        f"/console/items/{item_id}/decision", data={"decision": "nuke", "csrf_token": token}
    )
    assert invalid.headers["location"] == f"/console/items/{item_id}?error=invalid"
    escalated = web.client.post(
        f"/console/items/{item_id}/decision", data={"decision": "escalate", "csrf_token": token}
    )
    assert escalated.headers["location"] == f"/console/?decided={item_id}"
    token = login(web.client, "sam")
    refused = web.client.post(
        f"/console/items/{item_id}/decision", data={"decision": "reject", "csrf_token": token}
    )
    assert refused.headers["location"] == f"/console/items/{item_id}?error=escalated"
    page = web.client.get(refused.headers["location"]).text
    assert "Escalated items are decided by an admin." in page and 'name="decision"' not in page
    token = login(web.client, "ada")
    decided = web.client.post(
        f"/console/items/{item_id}/decision", data={"decision": "reject", "csrf_token": token}
    )
    assert decided.headers["location"] == f"/console/?decided={item_id}"
    again = web.client.post(
        f"/console/items/{item_id}/decision", data={"decision": "confirm", "csrf_token": token}
    )
    assert again.headers["location"] == f"/console/items/{item_id}?error=decided"


def test_audit_log_pages_newest_first(web: App) -> None:
    with web.db.write() as s:
        for n in range(130):
            service.audit(s, "test", "test.row", f"row:{n}")
    web.user("ada", role="admin")
    login(web.client, "ada")
    with web.db.read() as s:
        newest = s.scalar(select(func.max(AuditEvent.id)))
        total = s.scalar(select(func.count()).select_from(AuditEvent))
    assert newest is not None and total is not None and total > 100

    def ids(page: str) -> list[int]:
        return [int(n) for n in re.findall(r"<tr><td>(\d+)</td>", page)]

    first = web.client.get("/console/audit").text
    assert ids(first) == list(range(newest, newest - 100, -1))
    older = re.search(r'href="(/console/audit\?before=\d+)">Older', first)
    assert older and older.group(1) == f"/console/audit?before={newest - 99}"
    rest = web.client.get(older.group(1)).text
    assert ids(rest) == list(range(newest - 100, newest - total, -1)) and "Older" not in rest
