"""Authorization matrix: every route in /openapi.json x every kind of credential, against a declared policy.

A route missing from POLICY fails the test: nobody adds an endpoint without deciding who may call it.
"""

from __future__ import annotations

import re

import pytest

from tests.support.apps import Api

PUBLIC, CASE, REQUEST = "public", "case", "request"
SCOPES = ("submit", "match", "feed", "review", "admin", "audit", "flag")

#: (method, path template) -> who may call it: "public", "case" (X-Case-Secret of that case), "request"
#: (X-Request-Secret of that removal request) or a key scope.
POLICY: dict[tuple[str, str], str] = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,
    ("GET", "/v1/attestation"): PUBLIC,
    ("GET", "/v1/help-services"): PUBLIC,
    ("POST", "/v1/cases"): PUBLIC,
    ("GET", "/v1/cases/{case_id}"): CASE,
    ("POST", "/v1/cases/{case_id}/withdraw"): CASE,
    # Third-party cases (docs/INTAKE.md): a flag key files and may withdraw its own before the claim.
    ("POST", "/v1/cases/{case_id}/claim"): CASE,
    ("POST", "/v1/intake/cases"): "flag",
    ("POST", "/v1/intake/collections"): "flag",
    ("POST", "/v1/intake/cases/{case_id}/withdraw"): "flag",
    ("POST", "/v1/match"): "match",
    ("POST", "/v1/match/file"): "match",
    ("POST", "/v1/scans/{scan_id}/files"): "match",
    ("GET", "/v1/feed"): "feed",
    ("POST", "/v1/banks/{bank}/entries"): "submit",
    ("GET", "/v1/banks"): "admin",
    ("POST", "/v1/banks"): "admin",
    ("GET", "/v1/banks/{bank}"): "admin",
    ("PATCH", "/v1/banks/{bank}"): "admin",
    ("POST", "/v1/banks/{bank}/import"): "admin",
    ("GET", "/v1/entries/{entry_id}"): "admin",
    ("PATCH", "/v1/entries/{entry_id}"): "admin",
    ("GET", "/v1/keys"): "admin",
    ("POST", "/v1/keys"): "admin",
    ("DELETE", "/v1/keys/{key_id}"): "admin",
    ("PUT", "/v1/keys/{key_id}/banks/{bank}"): "admin",
    ("DELETE", "/v1/keys/{key_id}/banks/{bank}"): "admin",
    ("PUT", "/v1/keys/{key_id}/feed-banks/{bank}"): "admin",
    ("DELETE", "/v1/keys/{key_id}/feed-banks/{bank}"): "admin",
    ("GET", "/v1/audit"): "admin",
    # Moderation (actions/review): platforms attach previews with their match key, reviewers decide.
    ("PUT", "/v1/review/items/{item_id}/preview"): "match",
    ("PUT", "/v1/review/items/{item_id}/preview-url"): "match",
    ("GET", "/v1/review/items"): "review",
    ("POST", "/v1/review/items/{item_id}/decision"): "review",
    ("GET", "/v1/webhooks"): "admin",
    ("POST", "/v1/webhooks"): "admin",
    ("POST", "/v1/webhooks/{endpoint_id}/rotate"): "admin",
    ("POST", "/v1/webhooks/{endpoint_id}/replay"): "admin",
    ("GET", "/v1/webhooks/{endpoint_id}/deliveries"): "admin",
    ("GET", "/v1/rules"): "admin",
    ("POST", "/v1/rules"): "admin",
    # Tamper-evident log: checkpoints and the key are public, proofs and rows read-only "audit".
    ("GET", "/v1/log/checkpoint"): PUBLIC,
    ("POST", "/v1/log/checkpoint"): "admin",
    ("GET", "/v1/log/key"): PUBLIC,
    ("GET", "/v1/log/proof/inclusion"): "audit",
    ("GET", "/v1/log/proof/consistency"): "audit",
    ("GET", "/v1/log/entries"): "audit",
    ("GET", "/v1/evidence/cases/{case_id}"): "admin",
    ("POST", "/v1/witness/add-checkpoint"): PUBLIC,
    # HMA's REST API for Coop (docs/INTEROP.md): curating one's own HMA banks is a submission right.
    ("GET", "/hma/c/banks"): "submit",
    ("POST", "/hma/c/banks"): "submit",
    ("GET", "/hma/c/bank/{name}"): "submit",
    ("PUT", "/hma/c/bank/{name}"): "submit",
    ("DELETE", "/hma/c/bank/{name}"): "submit",
    ("POST", "/hma/c/bank/{name}/signal"): "submit",
    ("POST", "/hma/c/bank/{name}/content"): "submit",
    ("GET", "/hma/c/bank/{name}/content/{content_id}"): "submit",
    ("DELETE", "/hma/c/bank/{name}/content/{content_id}"): "submit",
    ("GET", "/hma/c/exchanges/apis"): "submit",
    ("GET", "/hma/c/exchanges"): "submit",
    ("GET", "/hma/c/exchanges/api/{api}"): "submit",
    ("GET", "/hma/c/exchange/{name}"): "submit",
    ("GET", "/hma/c/exchange/{name}/status"): "submit",
    ("GET", "/hma/h/hash"): "match",
    ("POST", "/hma/h/hash"): "match",
    ("GET", "/hma/m/lookup"): "match",
    ("GET", "/hma/m/index/status"): "match",
    # StopNCII's partner API shape: partners pull and give feedback with a feed key, submit with a submit key.
    ("GET", "/stopncii/v1/FetchHashes"): "feed",
    ("POST", "/stopncii/v1/SubmitHashes"): "submit",
    ("POST", "/stopncii/v1/SubmitFeedback"): "feed",
    # Mirrors (docs/MIRRORS.md): a hub serves signed pages and takes verdicts with feed keys; its verifier
    # keys are public (they are what a mirror pins); operators manage this instance's mirrors.
    ("GET", "/v1/mirror/keys"): PUBLIC,
    ("GET", "/v1/mirror/feed"): "feed",
    ("POST", "/v1/mirror/verdicts"): "feed",
    ("GET", "/v1/mirrors"): "admin",
    ("POST", "/v1/mirrors"): "admin",
    ("PATCH", "/v1/mirrors/{name}"): "admin",
    ("DELETE", "/v1/mirrors/{name}"): "admin",
    # Industry sharing: partners push with a submit key (granted the bank); operators set policy, decide.
    ("POST", "/v1/banks/{bank}/shared"): "submit",
    ("GET", "/v1/banks/{bank}/shared"): "admin",
    ("PUT", "/v1/banks/{bank}/sharing"): "admin",
    ("POST", "/v1/shared/{shared_id}/approve"): "admin",
    ("POST", "/v1/shared/{shared_id}/refuse"): "admin",
    # Removal requests (docs/REMOVAL.md): anyone files without an account and follows with number + secret;
    # the platform's staff (review keys) work them; the requester's contact details and reports are admin's.
    ("GET", "/v1/removal/jurisdictions"): PUBLIC,
    ("POST", "/v1/removal-requests"): PUBLIC,
    ("GET", "/v1/removal-requests/{number}"): REQUEST,
    ("GET", "/v1/removals"): "review",
    ("GET", "/v1/removals/{number}"): "review",
    ("GET", "/v1/removals/{number}/record.csv"): "review",
    ("GET", "/v1/removals/{number}/dsa-statements"): "review",
    ("GET", "/v1/removals/{number}/requester"): "admin",
    ("POST", "/v1/removals/{number}/items/{item_id}/resolve"): "review",
    ("POST", "/v1/removals/{number}/items/{item_id}/remove"): "review",
    ("POST", "/v1/removals/{number}/items/{item_id}/refuse"): "review",
    ("POST", "/v1/removals/{number}/sweep"): "review",
    ("POST", "/v1/removals/{number}/copies/{copy_id}/decision"): "review",
    ("POST", "/v1/removals/{number}/flags"): "review",
    ("POST", "/v1/removals/{number}/complaints"): "review",
    ("POST", "/v1/removals/{number}/complaints/{complaint_id}/decision"): "review",
    ("GET", "/v1/removal-reports"): "admin",
}


#: A valid removal request (US rules), filed without an account, whose number and secret the matrix uses.
REMOVAL_REQUEST = {
    "jurisdiction": "us",
    "subject": "self",
    "name": "Test Requester",
    "email": "requester@example.org",
    "signature": "Test Requester",
    "locations": [],
    "pictures": [{"hashes": [{"type": "md5", "value": "b" * 32}]}],
    "statements": ["good_faith_non_consent"],
}


def allowed(policy: str, credential: str) -> bool:
    if policy == PUBLIC:
        return True
    if policy == CASE:
        return credential == "case-secret"
    if policy == REQUEST:
        return credential == "request-secret"
    return credential == f"key:{policy}"


def test_every_route_has_a_policy_and_it_is_enforced(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    routes = [(method.upper(), path) for path, ops in spec["paths"].items() for method in ops]
    missing = sorted(set(routes) - POLICY.keys())
    assert not missing, f"routes without an authorization policy: {missing}"

    case = api.submit([{"type": "md5", "value": "0" * 32}])
    credentials: dict[str, dict[str, str]] = {"none": {}}
    for scope in SCOPES:
        credentials[f"key:{scope}"] = api.key(scope)
    credentials["case-secret"] = {"X-Case-Secret": case["secret"]}
    credentials["wrong-case-secret"] = {"X-Case-Secret": case["secret"][::-1]}
    filed = api.client.post("/v1/removal-requests", json=REMOVAL_REQUEST)
    assert filed.status_code == 201, filed.text
    removal = filed.json()
    credentials["request-secret"] = {"X-Request-Secret": removal["secret"]}
    credentials["wrong-request-secret"] = {"X-Request-Secret": removal["secret"][::-1]}
    values = {
        "case_id": case["case_id"],
        "bank": "survivors",
        "entry_id": "1",
        "key_id": "0000000000000000",
        "item_id": "1",
        "endpoint_id": "1",
        "name": "COOP_ORG_BANK",
        "content_id": "1",
        "api": "ncmec",
        "scan_id": "scan-00000000",
        "shared_id": "1",
        "number": removal["number"],
        "copy_id": "1",
        "complaint_id": "1",
    }

    wrong: list[str] = []
    for method, template in routes:
        path = re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], template)
        for name, headers in credentials.items():
            response = api.client.request(
                method,
                path,
                headers={**headers, "content-type": "application/json"},
                content=b"{}" if method in ("POST", "PUT", "PATCH") else None,
            )
            denied = response.status_code in (401, 403)
            if denied == allowed(POLICY[(method, template)], name):
                wrong.append(f"{method} {template} with {name}: {response.status_code}")
            if denied:
                assert response.headers["content-type"] == "application/problem+json"
    assert not wrong, "authorization differs from the policy:\n" + "\n".join(wrong)


@pytest.mark.parametrize(
    "header", ["Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer rk_x_y", "Bearer rk__"]
)
def test_malformed_keys_are_refused(api: Api, header: str) -> None:
    response = api.client.post(
        "/v1/match", headers={"Authorization": header}, json={"hashes": [{"type": "md5", "value": "0" * 32}]}
    )
    assert response.status_code == 401
