"""Schemathesis against /openapi.json: generated requests (valid and invalid) never cause a 5xx, and every
error is problem+json. Bounded: a few examples per operation, with a key holding every scope so generated
requests get past authentication and exercise the handlers."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.support.apps import Api

EXAMPLES_PER_OPERATION = 4


def _exercise(operation: Any, headers: dict[str, str], failures: list[str]) -> None:
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(operation.as_strategy())
    def check(case: schemathesis.Case) -> None:
        response = case.call(headers={**(case.headers or {}), **headers})
        if response.status_code >= 500:
            failures.append(f"{operation.label}: {response.status_code} {response.text[:300]}")
        elif response.status_code >= 400:
            content_type = response.headers.get("content-type", [""])
            if not str(content_type[0] if isinstance(content_type, list) else content_type).startswith(
                "application/problem+json"
            ):
                failures.append(f"{operation.label}: {response.status_code} without problem+json")

    check()


def test_no_server_errors(api: Api) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.client.app)
    headers = api.key("admin", "match", "feed", "submit", "review", "audit")
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30
    for operation in operations:
        _exercise(operation, headers, failures)
    assert not failures, "\n".join(failures)
