from __future__ import annotations

import ipaddress

import pytest

from redline.actions.urlpolicy import UrlPolicy, UrlRefused

STRICT = UrlPolicy()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://localhost/hook",
        "http://[::1]/hook",
        "http://10.0.0.5/hook",
        "http://192.168.1.1/hook",
        "http://172.16.0.1/hook",
        "http://169.254.169.254/latest/meta-data",  # cloud metadata
        "http://224.0.0.1/hook",
        "http://0.0.0.0/hook",
        "http://240.0.0.1/hook",
        "http://[::ffff:127.0.0.1]/hook",  # IPv4-mapped loopback
        "http://100.64.0.1/hook",  # carrier-grade NAT
        "ftp://93.184.215.14/hook",
        "file:///etc/passwd",
        "http://user:pw@93.184.215.14/hook",
        "http:///nohost",
        "http://93.184.215.14:99999/hook",
    ],
)
def test_internal_and_malformed_urls_are_refused(url: str) -> None:
    with pytest.raises(UrlRefused):
        STRICT.check(url)


def test_public_literal_is_allowed() -> None:
    assert STRICT.check("https://93.184.215.14/hook") == [ipaddress.ip_address("93.184.215.14")]


def test_loopback_only_when_explicitly_allowed() -> None:
    policy = UrlPolicy(allow_loopback=True)
    assert policy.check("http://127.0.0.1:8080/hook")
    with pytest.raises(UrlRefused):
        policy.check("http://10.1.2.3/hook")  # loopback allowed does not mean private allowed
    assert UrlPolicy(allow_private=True).check("http://10.1.2.3/hook")


def test_https_can_be_required() -> None:
    with pytest.raises(UrlRefused, match="scheme"):
        UrlPolicy(require_https=True).check("http://93.184.215.14/hook")


def test_names_resolving_to_loopback_are_refused() -> None:
    # "localhost" resolves through the system resolver (/etc/hosts) to loopback: the name does not hide it.
    with pytest.raises(UrlRefused, match="loopback"):
        STRICT.check("http://localhost:9/hook")
