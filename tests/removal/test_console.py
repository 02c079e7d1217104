"""The console's removal pages over HTTP: sign-in and CSRF like every console form, decisions, complaints,
the figures page for admins only."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.apps import App, csrf, login


def _file(web: App) -> dict[str, Any]:
    body = {
        "jurisdiction": "uk",
        "subject": "self",
        "name": "Maria Example",
        "email": "maria@example.org",
        "locations": ["https://platform.example/p/1"],
        "statements": ["declaration_true"],
    }
    response = web.client.post("/v1/removal-requests", json=body)
    assert response.status_code == 201, response.text
    filed: dict[str, Any] = response.json()
    return filed


def _post(web: App, path: str, token: str, **form: str) -> httpx.Response:
    return web.client.post(path, data={"csrf_token": token, **form})


def test_console_decisions_complaints_and_figures(web: App) -> None:
    filed = _file(web)
    number = filed["number"]
    assert web.client.get("/console/removals").status_code == 303  # signed out: to the sign-in page
    web.user("rita")
    token = login(web.client, "rita")
    page = web.client.get("/console/removals")
    assert number in page.text and "Figures" not in page.text
    assert web.client.get("/console/removals/report").headers["location"] == "/console/?error=admin"
    detail = web.client.get(f"/console/removals/{number}")
    assert "maria" not in detail.text.lower()
    item_id = detail.text.split(f"/console/removals/{number}/items/")[1].split("/")[0]
    base = f"/console/removals/{number}/items/{item_id}"
    assert _post(web, f"{base}/resolve", "forged", content_id="post-1").status_code == 403
    assert _post(web, f"{base}/resolve", token, content_id="post-1").headers["location"].endswith("saved")
    refused = _post(web, f"{base}/refuse", token, reason="made_up")
    assert refused.headers["location"].endswith("message=invalid")
    removed = _post(web, f"{base}/remove", token, method="removed")
    assert removed.headers["location"].endswith("message=swept")
    assert _post(web, f"{base}/remove", token, method="removed").headers["location"].endswith("decided")
    review = web.key("review")
    complaint = web.client.post(
        f"/v1/removals/{number}/complaints",
        headers=review,
        json={"content_id": "post-1", "text": "it is mine"},
    ).json()
    page = web.client.get(f"/console/removals/{number}")
    assert "Complaints (DSA Art. 20)" in page.text
    decided = _post(
        web,
        f"/console/removals/{number}/complaints/{complaint['id']}/decision",
        token,
        decision="rejected",
        reason="the person shown did not consent",
    )
    assert decided.headers["location"].endswith("saved")
    page = web.client.get(f"/console/removals/{number}")
    assert "rejected: the person shown did not consent" in page.text
    assert web.client.get(f"/console/removals/{number}/record.json").json()["outcome"] == "removed"
    assert "copy.removed" not in web.client.get(f"/console/removals/{number}/record.csv").text
    web.user("ada", role="admin")
    web.client.cookies.clear()
    login(web.client, "ada")
    figures = web.client.get("/console/removals/report?days=7")
    assert figures.status_code == 200 and "Removed within the deadline</dt><dd>100.0%" in figures.text
    assert web.client.get("/console/removals/TD-NONE").status_code == 404
    assert csrf(page.text)
