"""Industry hash sharing: platforms push verified hashes with provenance; the bank's policy decides when
they go live (``redline.bank.sharing``, ``/v1/banks/{bank}/shared``)."""

from __future__ import annotations

from typing import Any

from redline.bank import grants, service
from redline.bank.models import Entry
from tests.support import wait_until
from tests.support.apps import Api, match

PDQ_X, PDQ_Y, PDQ_Z = "1" * 63 + "e", "2" * 63 + "d", "3" * 63 + "c"
PROVENANCE = {"kind": "removal_request", "reference": "T-1001"}


def _partner_key(api: Api, partner: str, bank: str) -> dict[str, str]:
    with api.db.write() as session:
        key, token = service.create_api_key(
            session, name=f"{partner}-submit", scopes=["submit"], actor="test", partner=partner
        )
        grants.grant(session, key.id, bank, actor="test", survivor_bank="survivors")
    return {"Authorization": f"Bearer {token}"}


def _push(api: Api, key: dict[str, str], value: str, **provenance: Any) -> dict[str, Any]:
    response = api.client.post(
        "/v1/banks/industry/shared",
        json={
            "hashes": [{"type": "pdq", "value": value, "quality": 90}],
            "provenance": provenance or PROVENANCE,
        },
        headers=key,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_policies_decide_when_pushed_hashes_go_live(api: Api) -> None:
    admin = api.key("admin")
    matcher = api.key("match")
    assert api.client.post("/v1/banks", json={"name": "industry"}, headers=admin).status_code == 201
    a, b, c = (_partner_key(api, p, "industry") for p in ("platform-a", "platform-b", "platform-c"))

    # No policy yet: the operator approves. Nothing matches until then.
    pushed = _push(api, a, PDQ_X)
    assert (pushed["mode"], pushed["pending"], pushed["live"]) == ("approval", 1, 0)
    assert match(api, matcher, ("pdq", PDQ_X)) == [[]]
    waiting = api.client.get("/v1/banks/industry/shared", headers=admin).json()
    assert [(w["value"], w["submitted_by"], w["provenance"]) for w in waiting] == [
        (PDQ_X, "platform-a", PROVENANCE)
    ]
    approved = api.client.post(f"/v1/shared/{waiting[0]['id']}/approve", headers=admin)
    assert approved.status_code == 200 and approved.json()["status"] == "live"
    wait_until(lambda: [m["bank"] for m in match(api, matcher, ("pdq", PDQ_X))[0]] == ["industry"])
    again = api.client.post(f"/v1/shared/{waiting[0]['id']}/approve", headers=admin)
    assert again.status_code == 409

    # Two distinct partners: one partner pushing twice is one voice.
    policy = api.client.put(
        "/v1/banks/industry/sharing", json={"mode": "confirmations", "confirmations": 2}, headers=admin
    )
    assert policy.status_code == 200, policy.text
    assert _push(api, a, PDQ_Y)["pending"] == 1
    assert _push(api, a, PDQ_Y, kind="moderator_report", reference="again")["pending"] == 1
    assert match(api, matcher, ("pdq", PDQ_Y)) == [[]]
    assert _push(api, b, PDQ_Y, kind="hotline_referral")["live"] == 1
    wait_until(lambda: bool(match(api, matcher, ("pdq", PDQ_Y))[0]))
    assert _push(api, c, PDQ_Y)["already"] == 1
    live = api.client.get("/v1/banks/industry/shared", params={"status": "live"}, headers=admin).json()
    vouched = next(r["vouched"] for r in live if r["value"] == PDQ_Y)
    assert [v["partner"] for v in vouched] == ["platform-a", "platform-b"]

    # Refused stays refused, whoever pushes it again.
    api.client.put("/v1/banks/industry/sharing", json={"mode": "approval"}, headers=admin)
    shared_id = _push(api, a, PDQ_Z)["shared_ids"][0]
    refused = api.client.post(f"/v1/shared/{shared_id}/refuse", json={"reason": "a logo"}, headers=admin)
    assert refused.status_code == 200 and refused.json()["status"] == "refused"
    assert _push(api, b, PDQ_Z)["refused"] == 1
    with api.db.read() as session:
        assert session.query(Entry).filter(Entry.value == PDQ_Z).count() == 0

    # Live at once.
    api.client.put("/v1/banks/industry/sharing", json={"mode": "live"}, headers=admin)
    assert _push(api, c, "4" * 63 + "b")["live"] == 1

    with api.db.read() as session:
        actions = [e.action for e in service.audit_page(session, 0, 1000)]
    assert {"sharing.pushed", "sharing.approved", "sharing.refused", "sharing.policy"} <= set(actions)


def test_pushing_is_refused_without_a_grant_a_known_provenance_or_a_valid_hash(api: Api) -> None:
    admin = api.key("admin")
    api.client.post("/v1/banks", json={"name": "industry"}, headers=admin)
    key = _partner_key(api, "platform-a", "industry")
    body = {"hashes": [{"type": "pdq", "value": PDQ_X}], "provenance": PROVENANCE}
    assert api.client.post("/v1/banks/survivors/shared", json=body, headers=key).status_code == 403
    assert (
        api.client.post("/v1/banks/industry/shared", json=body, headers=api.key("match")).status_code == 403
    )
    bad = {**body, "provenance": {"kind": "rumour"}}
    assert api.client.post("/v1/banks/industry/shared", json=bad, headers=key).status_code == 422
    wrong = {**body, "hashes": [{"type": "pdq", "value": "zz"}]}
    assert api.client.post("/v1/banks/industry/shared", json=wrong, headers=key).status_code == 422
    zero = api.client.put(
        "/v1/banks/industry/sharing", json={"mode": "confirmations", "confirmations": 1}, headers=admin
    )
    assert zero.status_code == 422
    assert api.client.get("/v1/banks/industry/shared", headers=admin).json() == []
