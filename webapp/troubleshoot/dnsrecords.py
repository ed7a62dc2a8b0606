"""TXT lookups of a sender domain (SPF, DKIM, DMARC) through the configured DNS servers."""
import dns.exception
import dns.nameserver
import dns.resolver
from flask import current_app
from flask_babel import gettext as _

DEFAULT_TIMEOUT = 3.0


class DnsUnavailable(Exception):
    """No DNS server answered: nothing can be said about the records."""


def make_resolver() -> dns.resolver.Resolver:
    """DNS_NAMESERVERS ("ip" or "ip:port", comma-separated) or, unset, the system's resolver."""
    configured = (current_app.config.get("DNS_NAMESERVERS") or "").strip()
    timeout = float(current_app.config.get("DNS_TIMEOUT") or DEFAULT_TIMEOUT)
    try:
        resolver = dns.resolver.Resolver(configure=not configured)
    except dns.resolver.NoResolverConfiguration as exc:
        raise DnsUnavailable(_("no DNS server is configured on this machine (%(error)s)", error=exc)) from exc
    if configured:
        resolver.nameservers = [_nameserver(entry.strip()) for entry in configured.split(",") if entry.strip()]
    resolver.timeout = resolver.lifetime = timeout
    return resolver


def _nameserver(entry: str) -> dns.nameserver.Nameserver:
    host, _sep, port = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
    return dns.nameserver.Do53Nameserver(host, int(port) if port else 53)


class TxtLookup:
    """TXT records by name, each looked up once per run.

    After one lookup found no server answering, the rest fail at once with the same reason:
    a dead DNS server would otherwise cost a full timeout per DKIM selector.
    """

    def __init__(self, resolver_factory=make_resolver):
        self._resolver_factory = resolver_factory
        self._resolver = None
        self._answers: dict[str, list[str]] = {}
        self._unavailable: str | None = None

    def txt(self, name: str) -> list[str]:
        """The TXT strings of `name` ([] if it has none or does not exist); raises DnsUnavailable."""
        if self._unavailable:
            raise DnsUnavailable(self._unavailable)
        if name not in self._answers:
            try:
                self._answers[name] = self._lookup(name)
            except DnsUnavailable as exc:
                self._unavailable = str(exc)
                raise
        return self._answers[name]

    def _lookup(self, name: str) -> list[str]:
        if self._resolver is None:
            self._resolver = self._resolver_factory()
        try:
            answer = self._resolver.resolve(name, "TXT", search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except dns.resolver.LifetimeTimeout as exc:
            raise DnsUnavailable(_("the DNS server did not answer within %(seconds)s s",
                                   seconds=f"{self._resolver.lifetime:g}")) from exc
        except dns.resolver.NoNameservers as exc:
            raise DnsUnavailable(_("the DNS servers refused or failed the query (%(error)s)", error=exc)) from exc
        except dns.exception.DNSException as exc:
            raise DnsUnavailable(str(exc)) from exc
        # A TXT record may be split into several strings (RFC 7208 section 3.3): join them.
        return [b"".join(record.strings).decode("utf-8", "replace") for record in answer]
