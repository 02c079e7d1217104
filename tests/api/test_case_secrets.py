"""Case secrets (issue #11 item 3): readable on paper, forgiving to type, never locked out by neighbours,
old secrets still valid, slow checks bounded. On SQLite and PostgreSQL."""

from __future__ import annotations

import math
import re
import secrets
import threading
import time
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from redline.api.app import create_app
from redline.bank import secrets as case_secrets
from redline.bank.models import Case
from tests.support import ATTESTATION
from tests.support.apps import Api, make_settings

GROUPED = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){5}$")


def _case(client: TestClient) -> dict[str, str]:
    body = {"hashes": [{"type": "sha256", "value": secrets.token_hex(32)}], "attestation": ATTESTATION}
    response = client.post("/v1/cases", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, str] = response.json()
    return created


def test_secret_is_grouped_crockford_with_at_least_100_bits() -> None:
    drawn = {case_secrets.new_case_secret() for _ in range(200)}
    assert len(drawn) == 200 and all(GROUPED.match(s) for s in drawn)
    assert not set("ILOU") & set("".join(drawn))  # no letter that reads as 1 or 0 (or a rude word's U)
    bits = case_secrets.SECRET_CHARS * math.log2(len(case_secrets.CROCKFORD))
    assert bits >= 100 and len(set(case_secrets.CROCKFORD)) == 32


def test_secret_as_typed_by_a_person_opens_the_case(api: Api) -> None:
    case = _case(api.client)
    secret = case["secret"]
    assert GROUPED.match(secret)
    as_read = secret.replace("0", "O").replace("1", "l")
    typed = [
        secret.lower(),
        secret.replace("-", ""),
        " ".join(secret.split("-")),
        f"  {as_read}  ",
        secret.replace("1", "I").lower(),
    ]
    number = case["case_id"]
    for form in typed:
        response = api.client.get(f"/v1/cases/{number}", headers={"X-Case-Secret": form})
        assert response.status_code == 200, form
    lower_number = api.client.get(f"/v1/cases/{number.lower()}", headers={"X-Case-Secret": secret})
    assert lower_number.status_code == 200
    one_off = secret[:-1] + ("2" if secret[-1] != "2" else "3")
    assert api.client.get(f"/v1/cases/{number}", headers={"X-Case-Secret": one_off}).status_code == 401


def test_wrong_guesses_from_her_address_do_not_lock_her_out(database_url: str, tmp_path: Path) -> None:
    # case_rate_per_hour=2: 8 wrong secrets per address per hour, then wrong ones get 429.
    app = create_app(make_settings(database_url, tmp_path / "data", case_rate_per_hour=2))
    with TestClient(app) as client:
        case = _case(client)
        url = f"/v1/cases/{case['case_id']}"
        wrong = [client.get(url, headers={"X-Case-Secret": "AAAA-AAAA"}).status_code for _ in range(30)]
        assert wrong[:8] == [401] * 8 and set(wrong[8:]) == {429}
        # Same address (the test client's), right secret: opened and withdrawn all the same.
        assert client.get(url, headers={"X-Case-Secret": case["secret"]}).status_code == 200
        withdrawn = client.post(url + "/withdraw", headers={"X-Case-Secret": case["secret"]})
        assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
        limited = client.get(url, headers={"X-Case-Secret": "AAAA-AAAA"})
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0


def test_secrets_of_the_old_format_stay_valid(api: Api) -> None:
    case = _case(api.client)
    old_secret = secrets.token_urlsafe(32)  # what was issued before: case-sensitive, stored with argon2id
    with api.db.write() as session:
        row = session.get(Case, case["case_id"])
        assert row is not None and row.secret_hash.startswith("sha256$")
        assert case["secret"] not in row.secret_hash
        row.secret_hash = PasswordHasher().hash(old_secret)
    url = f"/v1/cases/{case['case_id']}"
    assert api.client.get(url, headers={"X-Case-Secret": old_secret}).status_code == 200
    assert api.client.get(url, headers={"X-Case-Secret": old_secret.swapcase()}).status_code == 401
    assert api.client.get(url, headers={"X-Case-Secret": case["secret"]}).status_code == 401


@pytest.mark.timing
def test_slow_checks_are_bounded_and_do_not_hold_up_new_secrets(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(case_secrets, "ARGON2_WAIT_S", 0.2)
    old_case, new_case = _case(api.client), _case(api.client)
    old_secret = secrets.token_urlsafe(32)
    with api.db.write() as session:
        row = session.get(Case, old_case["case_id"])
        assert row is not None
        row.secret_hash = PasswordHasher().hash(old_secret)
    # Every argon2 slot taken (as by a flood of checks against old cases): the next old check waits
    # briefly and is answered 503 with Retry-After, while a current-format secret is checked at once.
    held = [case_secrets._argon2_slots.acquire(timeout=1) for _ in range(case_secrets.ARGON2_CONCURRENCY)]
    try:
        assert all(held)
        busy = api.client.get(f"/v1/cases/{old_case['case_id']}", headers={"X-Case-Secret": old_secret})
        assert busy.status_code == 503 and busy.headers["retry-after"] == "2"
        assert busy.json()["type"] == "https://redline.dev/problems/busy"
        started = time.perf_counter()
        ok = api.client.get(f"/v1/cases/{new_case['case_id']}", headers={"X-Case-Secret": new_case["secret"]})
        assert ok.status_code == 200 and time.perf_counter() - started < 0.5
    finally:
        for _ in held:
            case_secrets._argon2_slots.release()
    assert (
        api.client.get(f"/v1/cases/{old_case['case_id']}", headers={"X-Case-Secret": old_secret}).status_code
        == 200
    )


def test_concurrent_old_checks_run_at_most_the_bound_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    stored = PasswordHasher().hash("old-secret")
    real = PasswordHasher()
    running, most = 0, 0
    lock = threading.Lock()

    class CountingHasher:
        """The real argon2 verification, counting how many run at the same moment."""

        def verify(self, hash_: str, secret: str) -> bool:
            nonlocal running, most
            with lock:
                running += 1
                most = max(most, running)
            try:
                return real.verify(hash_, secret)
            finally:
                with lock:
                    running -= 1

    monkeypatch.setattr(case_secrets, "_HASHER", CountingHasher())
    monkeypatch.setattr(case_secrets, "ARGON2_WAIT_S", 60.0)  # all six wait their turn here
    results: list[bool] = []
    threads = [
        threading.Thread(target=lambda: results.append(case_secrets.verify_case_secret(stored, "old-secret")))
        for _ in range(6)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [True] * 6 and most == case_secrets.ARGON2_CONCURRENCY
