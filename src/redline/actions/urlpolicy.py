"""Where Redline may send webhooks.

Why a policy: a webhook URL is an instruction to make the server open a connection. Left unchecked, anyone who
can register one could make Redline probe its own network (server-side request forgery): the database, cloud
metadata at 169.254.169.254, admin ports on localhost. So:

* only URLs an operator registered are ever contacted (the endpoint registry; nothing in a payload is a URL);
* ``http``/``https`` only, no credentials in the URL;
* the host is resolved and *every* address must be public — private, loopback, link-local, multicast,
  reserved and unspecified addresses are refused unless the operator explicitly allows private or loopback
  targets (``webhook_allow_private`` / ``webhook_allow_loopback``; the tests allow loopback);
* the check is repeated at connect time and the connection goes to the address that was checked, so a DNS
  answer that changes between registration and delivery (DNS rebinding) cannot redirect a delivery;
* redirects are never followed (the delivery client treats a 3xx as a failed attempt).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UrlRefused(ValueError):
    """The URL may not be contacted under the current policy."""


@dataclass(frozen=True)
class UrlPolicy:
    allow_loopback: bool = False
    allow_private: bool = False
    require_https: bool = False

    def check_url(self, url: str) -> tuple[str, str, int]:
        """Syntax checks; returns ``(scheme, host, port)``. Does not resolve."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise UrlRefused(f"malformed URL: {exc}") from None
        scheme = parts.scheme.lower()
        allowed_schemes = {"https"} if self.require_https else {"http", "https"}
        if scheme not in allowed_schemes:
            raise UrlRefused(f"scheme must be one of {sorted(allowed_schemes)}")
        if parts.username or parts.password:
            raise UrlRefused("credentials in the URL are not allowed; use the signing secret")
        host = parts.hostname
        if not host:
            raise UrlRefused("URL has no host")
        if parts.fragment:
            raise UrlRefused("URL must not have a fragment")
        if port == 0:
            raise UrlRefused("port 0 is not a port one can connect to")
        return scheme, host, port or (443 if scheme == "https" else 80)

    def check_address(self, address: IPAddress) -> None:
        """Raise :class:`UrlRefused` if ``address`` is not an allowed destination. An IPv6 address that
        carries an IPv4 one (mapped, compatible, 6to4, Teredo, NAT64) is judged by the IPv4 address too:
        a relay or the host's own stack may deliver to it."""
        if isinstance(address, ipaddress.IPv6Address):
            for embedded in _embedded_ipv4(address):
                self.check_address(embedded)
            if address.ipv4_mapped is not None:
                return
        if address.is_loopback:
            if self.allow_loopback:
                return
            raise UrlRefused(f"{address} is a loopback address")
        if address.is_unspecified or address.is_multicast or address.is_link_local or address.is_reserved:
            raise UrlRefused(f"{address} is not a routable unicast address")
        if address.is_private or not address.is_global:
            if self.allow_private:
                return
            raise UrlRefused(f"{address} is a private address")

    def resolve(self, host: str, port: int) -> list[IPAddress]:
        """Resolve ``host`` and check every address; returns the addresses (all allowed)."""
        try:
            literal: IPAddress | None = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            addresses = [literal]
        else:
            try:
                infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except OSError as exc:
                raise UrlRefused(f"cannot resolve {host}: {exc}") from None
            addresses = []
            for info in infos:
                addr = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
                if addr not in addresses:
                    addresses.append(addr)
        if not addresses:
            raise UrlRefused(f"{host} has no addresses")
        # Every address must pass: a host that also resolves to an internal address is refused outright,
        # rather than hoping the client picks the public one.
        for addr in addresses:
            self.check_address(addr)
        return addresses

    def check(self, url: str) -> list[IPAddress]:
        """Full check of ``url`` (syntax + resolution); returns the allowed addresses."""
        _, host, port = self.check_url(url)
        return self.resolve(host, port)


#: NAT64 prefixes (RFC 6052 well-known, RFC 8215 local use): the last 32 bits are an IPv4 address.
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries, if it is of a form that carries any."""
    found = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)  # the relay server and the (de-obfuscated) client
    low32 = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if int(address) >> 32 == 0 and int(address) > 1:  # IPv4-compatible ::a.b.c.d (deprecated, still routed)
        found.append(low32)
    if any(address in network for network in _NAT64):
        found.append(low32)
    return found
