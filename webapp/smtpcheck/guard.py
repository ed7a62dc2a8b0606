"""SSRF guard: which SMTP hosts and ports an agency's settings may make this installation connect to."""

from __future__ import annotations

import ipaddress
import socket

import idna

ALLOWED_PORTS = frozenset({25, 465, 587, 2525})

# RFC 6052 well-known NAT64 prefix: the gateway would connect to the embedded IPv4 address.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class HostNotAllowed(Exception):
    """The settings point at a port or an address this installation refuses to connect to."""

    def __init__(self, reason: str, host: str, port: int, address: str | None = None):
        self.reason = reason  # "port" or "address"
        self.host, self.port, self.address = host, port, address
        target = f"{host} ({address})" if address else host
        super().__init__(f"refused {reason}: {target} port {port}")


def ascii_host(host: str) -> str:
    """The host name as DNS and TLS know it: IDNA (UTS #46) for non-ASCII names."""
    host = host.strip().strip("[]")  # brackets: an IPv6 literal typed as in a URL
    if host.isascii():
        return host.lower()
    return idna.encode(host, uts46=True).decode("ascii")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    # Python 3.11's is_global judges ::ffff:127.0.0.1 by the IPv6 rules: look inside ourselves.
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address.sixtofour:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: str) -> bool:
    """Whether an address is on the public internet (not loopback, private, CGNAT, link-local, ...)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return is_public(str(embedded))
    # is_global already excludes 100.64.0.0/10 and 169.254.0.0/16; multicast counts as global there.
    return ip.is_global and not ip.is_multicast


def resolve(host: str, port: int, *, allow_private: bool = False,
            allowed_ports: frozenset = ALLOWED_PORTS) -> list[str]:
    """The addresses to connect to; raises HostNotAllowed before any connection if one is not public.

    The caller must connect to these very addresses: resolving again would let DNS rebinding
    swap in a private address after the check.
    """
    if not allow_private and port not in allowed_ports:
        raise HostNotAllowed("port", host, port)
    name = ascii_host(host)
    if not name:
        raise socket.gaierror(socket.EAI_NONAME, "empty server name")
    infos = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not allow_private:
        for address in addresses:
            if not is_public(address):
                raise HostNotAllowed("address", host, port, address)
    return addresses
