from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from redline.actions.signing import (
    InvalidSignature,
    new_secret,
    sign,
    signature_headers,
    validate_secret,
    verify,
)


def test_signature_matches_the_standard_webhooks_construction() -> None:
    # The specification's construction, computed independently: HMAC-SHA256 keyed with the base64-decoded
    # secret over "id.timestamp.body", base64-encoded, prefixed "v1,".
    secret = "whsec_" + base64.b64encode(b"k" * 32).decode()
    body = b'{"type":"match.created"}'
    expected = base64.b64encode(hmac.new(b"k" * 32, b"msg_1.1700000000." + body, hashlib.sha256).digest())
    assert sign(secret, "msg_1", 1700000000, body) == "v1," + expected.decode()


def test_roundtrip_and_tamper_detection() -> None:
    secret = new_secret()
    body = b'{"a": 1}'
    headers = signature_headers([secret], "msg_x", body)
    verify(secret, headers, body)
    with pytest.raises(InvalidSignature):
        verify(secret, headers, b'{"a": 2}')
    with pytest.raises(InvalidSignature):
        verify(new_secret(), headers, body)
    with pytest.raises(InvalidSignature):
        verify(secret, {**headers, "webhook-id": "msg_y"}, body)


def test_rotation_signs_with_every_active_secret() -> None:
    old, new = new_secret(), new_secret()
    body = b"{}"
    headers = signature_headers([new, old], "msg_r", body)
    assert len(headers["webhook-signature"].split()) == 2
    verify(old, headers, body)  # receivers not yet switched still verify
    verify(new, headers, body)


def test_stale_timestamps_are_refused() -> None:
    secret = new_secret()
    headers = signature_headers([secret], "msg_t", b"{}", timestamp=1_000_000)
    with pytest.raises(InvalidSignature, match="tolerance"):
        verify(secret, headers, b"{}", now=1_000_000 + 301)
    verify(secret, headers, b"{}", now=1_000_000 + 299)


def test_headers_are_case_insensitive_and_missing_ones_refused() -> None:
    secret = new_secret()
    headers = signature_headers([secret], "msg_c", b"{}")
    verify(secret, {k.upper(): v for k, v in headers.items()}, b"{}")
    with pytest.raises(InvalidSignature, match="missing"):
        verify(secret, {"webhook-id": "msg_c"}, b"{}")


@pytest.mark.parametrize("bad", ["whsec_!!!", "whsec_" + base64.b64encode(b"short").decode(), ""])
def test_bad_secrets_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        validate_secret(bad)
