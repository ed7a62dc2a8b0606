"""SSRF guard: which SMTP hosts and ports an agency's settings may make this installation connect to."""

from __future__ import annotations

import ipaddress
import socket

import idna

ALLOWED_PORTS = frozenset({25, 465, 587, 2525})

# Deny by default: an address passes only if it is global unicast, Python's is_global agrees and
# no list below holds it. The lists repeat what is_global should know, because its tables differ
# between Python releases (3.11 judges ::7f00:1, fec0::1 and 64:ff9b:1::a00:1 global).
_V4_DENIED = tuple(ipaddress.ip_network(net) for net in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15",
    "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4"))
_V6_GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")
# Inside 2000::/3 but not a host on the internet: IETF protocol assignments with Teredo
# (2001::/32, whose client address is an obfuscated IPv4), documentation, 6to4 (2002::/16: a
# relay reaches the embedded IPv4, deprecated by RFC 7526) and SRv6 segment ids.
_V6_DENIED = tuple(ipaddress.ip_network(net) for net in (
    "2001::/23", "2001:db8::/32", "2002::/16", "3fff::/20", "5f00::/16"))
# RFC 6052 well-known NAT64 prefix: the gateway connects to the IPv4 address in the last 32 bits.
# The local-use prefix 64:ff9b:1::/48 (RFC 8215) may embed it at any of six places: it is outside
# 2000::/3, so refused with everything else there (IPv4-compatible ::a.b.c.d, SIIT
# ::ffff:0:a.b.c.d, site-local fec0::/10, unique-local, link-local, multicast).
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
    """The IPv4 address a connection to `address` really reaches, for the forms that reach one
    this side of the internet: IPv4-mapped (a dual-stack socket) and the well-known NAT64 prefix."""
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _is_public_v4(ip: ipaddress.IPv4Address) -> bool:
    # Multicast counts as global for is_global.
    return ip.is_global and not ip.is_multicast and not any(ip in net for net in _V4_DENIED)


def _is_public_v6(ip: ipaddress.IPv6Address) -> bool:
    return (ip in _V6_GLOBAL_UNICAST and ip.is_global
            and not any(ip in net for net in _V6_DENIED))


def is_public(address: str) -> bool:
    """Whether an address is a host on the public internet; anything not known to be is refused
    (loopback, private, CGNAT, link-local, documentation, IPv4 hidden in an IPv6 form, ...)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv4Address):
        return _is_public_v4(ip)
    embedded = _embedded_ipv4(ip)
    if embedded is not None:
        return _is_public_v4(embedded)
    return _is_public_v6(ip)


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
