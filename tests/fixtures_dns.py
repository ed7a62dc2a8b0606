"""Real DNS servers on 127.0.0.1 for the troubleshooting checks: one answering TXT records, one silent."""
import socket
import threading

import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest

# The sender domain of the tests, with the records a well-configured agency publishes.
DOMAIN = "example-agency.test"
RECORDS = {
    DOMAIN: ["v=spf1 include:_spf.yandex.net ~all", "google-site-verification=abc"],
    f"_dmarc.{DOMAIN}": ["v=DMARC1; p=none; rua=mailto:dmarc@example-agency.test"],
    f"mail._domainkey.{DOMAIN}": ["v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC"],
}


class _UdpServer:
    def __init__(self, handle):
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.settimeout(0.1)
        self.address = "127.0.0.1:%d" % self.socket.getsockname()[1]
        self.queries: list[str] = []
        self._handle, self._stop = handle, threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stop.is_set():
            try:
                wire, peer = self.socket.recvfrom(4096)
            except TimeoutError:
                continue
            answer = self._handle(self, wire)
            if answer is not None:
                self.socket.sendto(answer, peer)

    def stop(self):
        self._stop.set()
        self._thread.join(5)
        self.socket.close()


def _answer(records: dict[str, list[str]]):
    def handle(server: _UdpServer, wire: bytes) -> bytes:
        query = dns.message.from_wire(wire)
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        server.queries.append(name)
        response = dns.message.make_response(query)
        if name not in records:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif question.rdtype == dns.rdatatype.TXT:
            texts = ['"%s"' % text.replace('"', '\\"') for text in records[name]]
            response.answer.append(dns.rrset.from_text(question.name, 300, dns.rdataclass.IN,
                                                       dns.rdatatype.TXT, *texts))
        return response.to_wire()
    return handle


@pytest.fixture
def dns_server():
    """Start a DNS server answering `records` (name -> TXT strings; other names: NXDOMAIN)."""
    started = []

    def start(records=None):
        server = _UdpServer(_answer(RECORDS if records is None else records))
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def silent_dns_server():
    """A UDP socket that reads every query and answers none, as a firewalled resolver does."""
    server = _UdpServer(lambda server, wire: server.queries.append("?"))
    yield server
    server.stop()
