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


@pytest.mark.parametrize(
    ("address", "allowed_by"),
    [
        ("2002:7f00:1::1", "loopback"),  # 6to4 of 127.0.0.1
        ("2002:a9fe:a9fe::1", "nothing"),  # 6to4 of 169.254.169.254 (cloud metadata, link-local)
        ("2002:a00:1::1", "private"),  # 6to4 of 10.0.0.1
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", "loopback"),  # Teredo, client 127.0.0.1
        ("2001:0:4136:e378:8000:63bf:3f57:fefe", "private"),  # Teredo, client 192.168.1.1
        ("::127.0.0.1", "loopback"),  # IPv4-compatible
        ("::ffff:169.254.169.254", "nothing"),  # IPv4-mapped link-local
        ("::ffff:10.0.0.1", "private"),
        ("64:ff9b::7f00:1", "loopback"),  # NAT64 of 127.0.0.1
        ("64:ff9b::a9fe:a9fe", "nothing"),
    ],
)
def test_ipv6_forms_that_carry_an_internal_ipv4_address_are_refused(address: str, allowed_by: str) -> None:
    url = f"http://[{address}]/hook"
    with pytest.raises(UrlRefused):
        STRICT.check(url)
    loopback, private = UrlPolicy(allow_loopback=True), UrlPolicy(allow_private=True)
    if allowed_by != "loopback":
        with pytest.raises(UrlRefused):
            loopback.check(url)
    if allowed_by == "nothing":
        with pytest.raises(UrlRefused):
            UrlPolicy(allow_loopback=True, allow_private=True).check(url)
    if allowed_by == "private":
        assert private.check(url)  # the operator said private targets are fine: this is one


def test_ipv6_forms_carrying_a_public_address_and_port_zero() -> None:
    assert STRICT.check("http://[2002:808:808::1]/hook")  # 6to4 of 8.8.8.8: public
    assert STRICT.check("https://93.184.215.14:8443/hook")
    for url in ("http://93.184.215.14:0/hook", "https://[2606:4700::1111]:0/hook"):
        with pytest.raises(UrlRefused, match="port 0"):
            STRICT.check(url)
