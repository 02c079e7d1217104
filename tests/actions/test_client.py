"""The delivery client against a real local HTTP receiver."""

from __future__ import annotations

import ipaddress
import json
import socket
from pathlib import Path

from redline.actions.client import WebhookClient
from redline.actions.signing import new_secret, signature_headers, verify
from redline.actions.urlpolicy import UrlPolicy
from tests.support.receiver import Receiver

LOOPBACK_OK = UrlPolicy(allow_loopback=True)


def test_signed_delivery_reaches_the_receiver(tmp_path: Path) -> None:
    secret = new_secret()
    body = json.dumps({"type": "match.created", "data": {"n": 1}}).encode()
    with Receiver(tmp_path / "log.jsonl") as rx, WebhookClient(LOOPBACK_OK) as client:
        result = client.post(rx.url, body, signature_headers([secret], "msg_1", body))
        assert result.ok and result.status_code == 200
        [record] = rx.records()
    headers = record["headers"]
    assert isinstance(headers, dict)
    assert headers["host"] == rx.url.split("/")[2]  # Host header keeps the registered name
    assert headers["content-type"] == "application/json"
    verify(secret, headers, str(record["body"]).encode())


def test_loopback_refused_by_default_policy(tmp_path: Path) -> None:
    with Receiver(tmp_path / "log.jsonl") as rx, WebhookClient(UrlPolicy()) as client:
        result = client.post(rx.url, b"{}", {})
        assert not result.ok and result.error and "URL policy" in result.error
        assert rx.records() == []  # nothing was sent


def test_redirects_are_not_followed(tmp_path: Path) -> None:
    with (
        Receiver(tmp_path / "target.jsonl") as target,
        Receiver(tmp_path / "redir.jsonl", status=307, extra_headers={"location": target.url}) as redirector,
        WebhookClient(LOOPBACK_OK) as client,
    ):
        result = client.post(redirector.url, b"{}", {})
        assert not result.ok and result.status_code == 307
        assert target.records() == []


def test_error_statuses_and_dead_ports_are_failures(tmp_path: Path) -> None:
    with Receiver(tmp_path / "log.jsonl", status=500) as rx, WebhookClient(LOOPBACK_OK) as client:
        assert client.post(rx.url, b"{}", {}).status_code == 500
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with WebhookClient(LOOPBACK_OK, timeout_s=1, connect_timeout_s=1) as client:
        result = client.post(f"http://127.0.0.1:{port}/hook", b"{}", {})
    assert not result.ok and result.status_code is None and result.error


class _PinnedResolver(UrlPolicy):
    """Resolves one made-up name to loopback, like a DNS answer would; counts the look-ups."""

    calls = 0

    def resolve(self, host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        type(self).calls += 1
        assert host == "hooks.invalid"
        addresses: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [ipaddress.ip_address("127.0.0.1")]
        for a in addresses:
            self.check_address(a)
        return addresses


def test_connection_goes_to_the_address_checked_at_connect_time(tmp_path: Path) -> None:
    # "hooks.invalid" cannot resolve in real DNS: the delivery only succeeds because the client connects to
    # the address the policy checked right before the request, instead of resolving the name again (which is
    # what a DNS-rebinding attacker would exploit).
    pinned = _PinnedResolver(allow_loopback=True)
    with Receiver(tmp_path / "log.jsonl") as rx, WebhookClient(pinned) as client:
        port = rx.url.split(":")[2].split("/")[0]
        result = client.post(f"http://hooks.invalid:{port}/hook", b"{}", {})
        assert result.ok, result.error
        [record] = rx.records()
    assert _PinnedResolver.calls == 1
    assert record["headers"]["host"] == f"hooks.invalid:{port}"  # type: ignore[index]
    with WebhookClient(_PinnedResolver()) as strict:  # the same answer, loopback not allowed: refused
        assert not strict.post(f"http://hooks.invalid:{port}/hook", b"{}", {}).ok
