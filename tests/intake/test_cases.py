"""Third-party cases through the API: who may flag, claim, who may withdraw before and after the claim,
signed manifests in the log, duplicates with existing entries, and the flagged bank's default action."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from sqlalchemy import select

from redline.bank.errors import BankError, Conflict
from redline.bank.models import AuditEvent, Case, CaseManifest, Entry
from redline.evidence.note import SignerKey
from redline.intake.cases import withdraw_on_request
from redline.intake.manifest import PERSON_HEADER, sign_manifest
from tests.support.apps import Api, match
from tests.support.media import distinct_picture, picture_hashes


def _flag(api: Api, key: dict[str, str], picture: bytes, manifest: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"hashes": picture_hashes(picture, 0)}
    if manifest is not None:
        body["manifest"] = manifest
    response = api.client.post("/v1/intake/cases", headers=key, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _manifest(picture: bytes, signer: SignerKey | None = None) -> str:
    files = [{"item": 0, "sha256": hashlib.sha256(picture).hexdigest(), "size": len(picture)}]
    return sign_manifest(PERSON_HEADER, {"files": files}, signer or SignerKey.generate("redline-flagger"))


def _case(api: Api, case_id: str, secret: str) -> Any:
    return api.client.get(f"/v1/cases/{case_id}", headers={"X-Case-Secret": secret})


def test_only_a_flag_key_files_third_party_cases(api: Api) -> None:
    body = {"hashes": picture_hashes(distinct_picture(1), 0)}
    assert api.client.post("/v1/intake/cases", json=body).status_code == 401
    for scope in ("submit", "match", "admin"):
        refused = api.client.post("/v1/intake/cases", headers=api.key(scope), json=body)
        assert refused.status_code == 403, scope
    created = _flag(api, api.key("flag"), distinct_picture(1))
    case = _case(api, created["case_id"], created["secret"]).json()
    assert case["third_party"] is True and case["claimed"] is False
    with api.db.read() as session:
        row = session.get(Case, created["case_id"])
        assert row is not None and row.flagged_by is not None
        origins = set(session.scalars(select(Entry.origin).where(Entry.case_id == created["case_id"])))
        bank = session.scalars(select(Entry.bank_id).where(Entry.case_id == created["case_id"])).first()
    assert origins == {f"flag:{row.flagged_by}"}  # each entry says a flagger filed it
    survivors = api.submit(picture_hashes(distinct_picture(2), 0))
    with api.db.read() as session:
        own = session.get(Case, survivors["case_id"])
        assert own is not None and own.flagged_by is None and own.bank_id != bank


def test_claim_gives_her_a_secret_the_flagger_never_saw(api: Api) -> None:
    flagger = api.key("flag")
    created = _flag(api, flagger, distinct_picture(3))
    case_id, sheet_secret = created["case_id"], created["secret"]
    claimed = api.client.post(f"/v1/cases/{case_id}/claim", headers={"X-Case-Secret": sheet_secret})
    assert claimed.status_code == 200, claimed.text
    own_secret = claimed.json()["secret"]
    assert own_secret != sheet_secret
    assert _case(api, case_id, sheet_secret).status_code == 401  # the sheet's secret stopped working
    assert _case(api, case_id, own_secret).json()["claimed"] is True
    again = api.client.post(f"/v1/cases/{case_id}/claim", headers={"X-Case-Secret": own_secret})
    assert again.status_code == 409
    # Once claimed, neither the flagger's key nor the operator can withdraw it for her.
    refused = api.client.post(f"/v1/intake/cases/{case_id}/withdraw", headers=flagger)
    assert refused.status_code == 409
    with api.db.write() as session, pytest.raises(Conflict):
        withdraw_on_request(session, case_id, actor="cli", reason="she phoned")
    assert (
        api.client.post(f"/v1/cases/{case_id}/withdraw", headers={"X-Case-Secret": sheet_secret}).status_code
        == 401
    )
    done = api.client.post(f"/v1/cases/{case_id}/withdraw", headers={"X-Case-Secret": own_secret})
    assert done.status_code == 200 and done.json()["withdrawn"] > 0
    with api.db.read() as session:
        actions = [a for (a,) in session.execute(
            select(AuditEvent.action).where(AuditEvent.subject == f"case:{case_id}").order_by(AuditEvent.id)
        )]  # fmt: skip
    assert actions == ["case.flagged", "case.claimed", "case.withdrawn"]


def test_a_case_she_submitted_herself_has_nothing_to_claim(api: Api) -> None:
    own = api.submit(picture_hashes(distinct_picture(4), 0))
    refused = api.client.post(f"/v1/cases/{own['case_id']}/claim", headers={"X-Case-Secret": own["secret"]})
    assert refused.status_code == 409
    assert _case(api, own["case_id"], own["secret"]).status_code == 200  # her secret still works


def test_before_the_claim_the_flagger_the_sheet_or_the_operator_may_withdraw(api: Api) -> None:
    flagger, other = api.key("flag"), api.key("flag")
    first = _flag(api, flagger, distinct_picture(5))
    # Another flagger's key does not even learn the case exists.
    assert api.client.post(f"/v1/intake/cases/{first['case_id']}/withdraw", headers=other).status_code == 404
    withdrawn = api.client.post(f"/v1/intake/cases/{first['case_id']}/withdraw", headers=flagger)
    assert withdrawn.status_code == 200 and withdrawn.json()["withdrawn"] > 0
    assert _case(api, first["case_id"], first["secret"]).json()["status"] == "withdrawn"
    # The sheet's secret withdraws too (whoever holds it: the person, or the flagger before handing it over).
    second = _flag(api, flagger, distinct_picture(6))
    by_sheet = api.client.post(
        f"/v1/cases/{second['case_id']}/withdraw", headers={"X-Case-Secret": second["secret"]}
    )
    assert by_sheet.status_code == 200
    # The operator, on the person's request, says why; it is recorded.
    third = _flag(api, flagger, distinct_picture(7))
    with api.db.write() as session, pytest.raises(BankError):
        withdraw_on_request(session, third["case_id"], actor="cli", reason="  ")
    with api.db.write() as session:
        assert withdraw_on_request(session, third["case_id"], actor="cli", reason="her lawyer's letter") > 0
    with api.db.read() as session:
        row = session.scalars(
            select(AuditEvent).where(
                AuditEvent.subject == f"case:{third['case_id']}", AuditEvent.action == "case.withdrawn"
            )
        ).one()
    assert row.actor == "cli" and "her lawyer's letter" in row.details["reason"]
    # A case she submitted herself is no third-party case: the operator cannot withdraw it.
    own = api.submit(picture_hashes(distinct_picture(8), 0))
    with api.db.write() as session, pytest.raises(BankError):
        withdraw_on_request(session, own["case_id"], actor="cli", reason="someone asked")


def test_the_signed_manifest_is_kept_and_its_hash_logged(api: Api) -> None:
    flagger = api.key("flag")
    picture = distinct_picture(9)
    note = _manifest(picture)
    created = _flag(api, flagger, picture, note)
    with api.db.read() as session:
        kept = session.get(CaseManifest, created["case_id"])
        row = session.scalars(
            select(AuditEvent).where(
                AuditEvent.subject == f"case:{created['case_id']}", AuditEvent.action == "case.flagged"
            )
        ).one()
    assert kept is not None and kept.note == note
    assert row.details["manifest_sha256"] == kept.sha256 == hashlib.sha256(note.encode()).hexdigest()
    # A changed byte breaks the signature; a manifest of other files does not fit the hashes.
    tampered = note.replace('"size":', '"size":1', 1)
    body = {"hashes": picture_hashes(picture, 0), "manifest": tampered}
    refused = api.client.post("/v1/intake/cases", headers=flagger, json=body)
    assert refused.status_code == 400 and "signature" in refused.json()["detail"]
    body["manifest"] = _manifest(distinct_picture(10))
    refused = api.client.post("/v1/intake/cases", headers=flagger, json=body)
    assert refused.status_code == 400 and "does not list" in refused.json()["detail"]


def test_pictures_already_in_the_bank_are_counted_without_saying_whose(api: Api) -> None:
    flagger = api.key("flag")
    picture = distinct_picture(11)
    api.submit(picture_hashes(picture, 0))  # she came forward herself
    created = _flag(api, flagger, picture)
    assert created["known_items"] == 1
    assert set(created) == {"case_id", "secret", "hashes", "known_items"}
    assert _flag(api, flagger, distinct_picture(12))["known_items"] == 0


def test_matches_of_third_party_entries_go_to_a_human_never_blocked(api: Api) -> None:
    picture = distinct_picture(13)
    _flag(api, api.key("flag"), picture)
    platform = api.key("match")
    exact = match(api, platform, ("sha256", hashlib.sha256(picture).hexdigest()))
    assert exact[0] and {m["action"] for m in exact[0]} == {"review"}
    # The same picture from the person herself is blocked at once (the built-in bands).
    own = distinct_picture(14)
    api.submit(picture_hashes(own, 0))
    assert {m["action"] for m in match(api, platform, ("sha256", hashlib.sha256(own).hexdigest()))[0]} == {
        "block_and_review"
    }


def test_a_collection_manifest_is_logged_for_the_flaggers_own_cases_only(api: Api) -> None:
    from redline.intake.manifest import COLLECTION_HEADER

    mine, other = api.key("flag"), api.key("flag")
    first, second = _flag(api, mine, distinct_picture(15)), _flag(api, other, distinct_picture(16))
    signer = SignerKey.generate("redline-flagger")

    def collection(*cases: dict[str, Any]) -> str:
        persons = [{"case_id": c["case_id"], "manifest_sha256": "0" * 64, "files": 1} for c in cases]
        return sign_manifest(COLLECTION_HEADER, {"persons": persons}, signer)

    refused = api.client.post(
        "/v1/intake/collections", headers=mine, json={"manifest": collection(first, second)}
    )
    assert refused.status_code == 403
    note = collection(first)
    logged = api.client.post("/v1/intake/collections", headers=mine, json={"manifest": note})
    assert logged.status_code == 201 and logged.json()["cases"] == 1
    assert logged.json()["manifest_sha256"] == hashlib.sha256(note.encode()).hexdigest()
    person_note = _manifest(distinct_picture(15))  # a person manifest is not a collection manifest
    assert (
        api.client.post("/v1/intake/collections", headers=mine, json={"manifest": person_note}).status_code
        == 400
    )
    with api.db.read() as session:
        row = session.scalars(select(AuditEvent).where(AuditEvent.action == "intake.collection")).one()
    assert (
        row.details["cases"] == [first["case_id"]]
        and row.details["manifest_sha256"] == logged.json()["manifest_sha256"]
    )
