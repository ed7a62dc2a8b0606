"""The SSRF guard refuses internal addresses and odd ports before any connection is made."""

from __future__ import annotations

import pytest

from webapp.smtpcheck.connection import SmtpSettings
from webapp.smtpcheck.engine import run_test
from webapp.smtpcheck.guard import ALLOWED_PORTS, HostNotAllowed, ascii_host, is_public, resolve


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "localhost",
        "2130706433",  # decimal spelling of 127.0.0.1, which getaddrinfo accepts
        "0x7f000001",
        "127.1",
        "0.0.0.0",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "100.64.0.1",  # carrier-grade NAT, RFC 6598
        "169.254.169.254",  # cloud metadata
        "224.0.0.1",  # multicast
        "::1",
        "[::1]",
        "::ffff:127.0.0.1",  # IPv4-mapped IPv6
        "::ffff:169.254.169.254",
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "fe80::1",
        "fc00::1",
    ],
)
def test_internal_addresses_are_refused(host):
    with pytest.raises(HostNotAllowed) as refusal:
        resolve(host, 587)

    assert refusal.value.reason == "address"


@pytest.mark.parametrize("port", [22, 80, 443, 6379, 8025, 0])
def test_ports_other_than_mail_ports_are_refused_before_resolving(port):
    with pytest.raises(HostNotAllowed) as refusal:
        resolve("smtp.no-such-provider.invalid", port)  # DNS would fail: the port check comes first

    assert refusal.value.reason == "port"


@pytest.mark.parametrize("port", sorted(ALLOWED_PORTS))
def test_public_addresses_on_mail_ports_pass(port):
    assert resolve("8.8.8.8", port) == ["8.8.8.8"]
    assert resolve("2a00:1450:4010:c0e::6c", port) == ["2a00:1450:4010:c0e::6c"]


def test_allow_private_lifts_both_limits():
    assert resolve("127.0.0.1", 8025, allow_private=True) == ["127.0.0.1"]


def test_is_public():
    assert is_public("77.88.21.158") and is_public("::ffff:77.88.21.158")
    assert not is_public("100.127.255.255") and not is_public("fe80::1%eth0")


def test_idn_host_names_are_encoded_for_dns():
    assert ascii_host("Почта.рф") == "xn--80a1acny.xn--p1ai"
    assert ascii_host(" SMTP.Yandex.RU ") == "smtp.yandex.ru"


@pytest.mark.parametrize("host", ["127.0.0.1", "2130706433", "::ffff:127.0.0.1", "localhost"])
def test_the_engine_refuses_loopback_in_any_spelling_without_connecting(silent_server_on_2525, host):
    settings = SmtpSettings(host, 2525, "none", timeout=1)

    result = run_test(settings, "agency@example.com")

    assert [step.step for step in result.steps] == ["resolve"]
    assert result.hint.code == "host_not_allowed" and result.hint.field == "host"
    assert not silent_server_on_2525.connection_attempted()


def test_the_silent_listener_does_notice_a_connection(silent_server_on_2525):
    settings = SmtpSettings("127.0.0.1", 2525, "none", timeout=0.3, allow_private=True)

    run_test(settings, "agency@example.com")

    assert silent_server_on_2525.connection_attempted()


@pytest.mark.parametrize(
    "host",
    [
        "::127.0.0.1",  # IPv4-compatible (deprecated) form of loopback
        "::10.0.0.1",
        "::8.8.8.8",  # deprecated form: nothing legitimate lives there, whatever it embeds
        "::ffff:0:127.0.0.1",  # SIIT IPv4-translated
        "::ffff:0:169.254.169.254",
        "64:ff9b::169.254.169.254",  # well-known NAT64 of the cloud metadata address
        "64:ff9b::127.0.0.1",
        "64:ff9b:1::a00:1",  # local-use NAT64 (RFC 8215), 10.0.0.1 in the /96 place
        "64:ff9b:1:a00:1::",  # ... and in the /48 place
        "2002:a00:1::1",  # 6to4 of 10.0.0.1
        "2002:808:808::1",  # 6to4, deprecated: refused even around a public address
        "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo (client 10.0.0.1 obfuscated)
        "2001:db8::1",  # documentation
        "3fff::1",
        "fec0::1",  # site-local
        "fec0::a00:1",
        "5f00::1",  # SRv6 segment ids
        "100::1",  # discard-only
        "ff02::1",
        "::",
        "192.0.0.8",
        "198.18.0.1",  # benchmarking
        "192.0.2.10",  # documentation
        "240.0.0.1",
        "255.255.255.255",
    ],
)
def test_every_embedded_or_reserved_form_is_refused(host):
    assert not is_public(host)
    with pytest.raises(HostNotAllowed) as refusal:
        resolve(host, 587)
    assert refusal.value.reason == "address"


@pytest.mark.parametrize("address", [
    "8.8.8.8", "77.88.21.158", "::ffff:8.8.8.8", "64:ff9b::8.8.8.8",
    "2a00:1450:4010:c0e::6c", "2001:4860:4860::8888",
])
def test_public_addresses_in_their_usual_forms_pass(address):
    assert is_public(address)
