"""Real SMTP servers for tests: aiosmtpd on 127.0.0.1 (plain, STARTTLS, implicit TLS, AUTH, scripted replies)."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import socket
import ssl
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from webapp.smtpcheck.connection import SmtpSettings

TRANSLATIONS_DIR = Path(__file__).resolve().parent.parent / "webapp" / "smtpcheck" / "translations"


def free_port() -> int:
    """A port nothing listens on right now (the kernel picks it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class TlsFiles:
    ca_file: str
    cert_file: str
    key_file: str

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject, issuer, public_key, signing_key, *, ca: bool, san=None) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        ).add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    else:
        builder = builder.add_extension(san, critical=False).add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
    return builder.sign(signing_key, hashes.SHA256())


@pytest.fixture(scope="session")
def smtp_tls_files(tmp_path_factory) -> TlsFiles:
    """A throwaway CA and a server certificate for localhost and 127.0.0.1."""
    folder = tmp_path_factory.mktemp("smtp-tls")
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("Test SMTP CA")
    ca_cert = _certificate(ca_name, ca_name, ca_key.public_key(), ca_key, ca=True)
    san = x509.SubjectAlternativeName(
        [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    )
    server_cert = _certificate(_name("localhost"), ca_name, server_key.public_key(), ca_key, ca=False, san=san)
    files = TlsFiles(str(folder / "ca.pem"), str(folder / "server.pem"), str(folder / "server.key"))
    Path(files.ca_file).write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    Path(files.cert_file).write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    Path(files.key_file).write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return files


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes


@dataclass
class RecordingHandler:
    """Accepts mail and records it; `replies` scripts answers per command (MAIL, RCPT, DATA, AUTH).

    A reply is a string for every call, a list consumed one per call, or a dict keyed by address
    for MAIL/RCPT; DATA "DROP" records the message and hangs up before replying.
    """

    replies: dict = field(default_factory=dict)
    delay: float = 0.0
    hang_up_on_ehlo: bool = False
    pipelining: bool = True
    received: list[Received] = field(default_factory=list)
    auth_attempts: list[tuple[str, str]] = field(default_factory=list)
    sessions: int = 0

    def _scripted(self, command: str, address: str | None = None) -> str | None:
        reply = self.replies.get(command)
        if isinstance(reply, list):  # one scripted reply per call, then normal answers
            return reply.pop(0) if reply else None
        return reply.get(address) if isinstance(reply, dict) else reply

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        await asyncio.sleep(self.delay)
        if self.hang_up_on_ehlo:
            server.transport.close()
            return []
        if not session.host_name:
            self.sessions += 1  # the first EHLO of a connection (a second one follows STARTTLS)
        session.host_name = hostname
        if self.pipelining:  # as Postfix, Gmail and Exchange do; aiosmtpd reads pipelined commands in order
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        await asyncio.sleep(self.delay)
        scripted = self._scripted("MAIL", address)
        if scripted:
            return scripted
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        await asyncio.sleep(self.delay)
        scripted = self._scripted("RCPT", address)
        if scripted:
            return scripted
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(self.delay)
        scripted = self._scripted("DATA")
        if scripted == "DROP":
            # Delivered, but the connection dies before our reply: the client cannot know (RFC 1047).
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
            server.transport.close()
            return "250 2.0.0 never heard"
        if scripted:
            return scripted
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 2.0.0 OK queued"

    def authenticator(self, login: str | None, password: str | None):
        def authenticate(server, session, envelope, mechanism, auth_data):
            self.auth_attempts.append((mechanism, auth_data.login.decode()))
            scripted = self._scripted("AUTH")
            if scripted:
                return AuthResult(success=False, handled=False, message=scripted.format(password=auth_data.password.decode()))
            if (auth_data.login.decode(), auth_data.password.decode()) == (login, password):
                return AuthResult(success=True)
            # handled=False: with the default handled=True aiosmtpd answers nothing and the client hangs.
            return AuthResult(success=False, handled=False)

        return authenticate


@dataclass
class RunningServer:
    port: int
    handler: RecordingHandler
    ca_file: str
    host: str = "localhost"

    def settings(self, **overrides) -> SmtpSettings:
        """Client settings for this server: private addresses allowed, the test CA trusted, short timeout."""
        values = {
            "host": self.host,
            "port": self.port,
            "security": "none",
            "ca_file": self.ca_file,
            "timeout": 2.0,
            "ehlo_name": "booking.example.net",
            "allow_private": True,
        }
        return SmtpSettings(**(values | overrides))


@pytest.fixture
def smtp_server(smtp_tls_files):
    """Start real aiosmtpd servers: smtp_server(tls="none"|"starttls"|"implicit", login=..., replies=...)."""
    controllers: list[Controller] = []

    def start(
        *,
        tls: str = "none",
        require_starttls: bool = False,
        login: str | None = None,
        password: str | None = None,
        auth_required: bool = False,
        replies: dict | None = None,
        delay: float = 0.0,
        hang_up_on_ehlo: bool = False,
        pipelining: bool = True,
        data_size_limit: int = 10 * 1024 * 1024,
        auth_exclude_mechanism: list[str] | None = None,
    ) -> RunningServer:
        handler = RecordingHandler(replies=replies or {}, delay=delay, hang_up_on_ehlo=hang_up_on_ehlo,
                                   pipelining=pipelining)
        port = free_port()
        kwargs = {
            "hostname": "127.0.0.1",
            "port": port,
            "server_hostname": "mx.test.local",
            "require_starttls": require_starttls,
            "auth_required": auth_required,
            "data_size_limit": data_size_limit,
            "auth_exclude_mechanism": auth_exclude_mechanism,
            "authenticator": handler.authenticator(login, password),
        }
        if tls == "starttls":
            kwargs["tls_context"] = smtp_tls_files.server_context()
        elif tls == "implicit":
            # AUTH stays hidden on a listener without STARTTLS unless auth_require_tls=False.
            kwargs |= {"ssl_context": smtp_tls_files.server_context(), "auth_require_tls": False}
        elif login:
            kwargs["auth_require_tls"] = False  # a plain server that offers AUTH
        controller = Controller(handler, **kwargs)
        controller.start()
        controllers.append(controller)
        return RunningServer(port=port, handler=handler, ca_file=smtp_tls_files.ca_file)

    yield start
    for controller in controllers:
        controller.stop()


@dataclass
class SilentServer:
    """A listening socket that never accepts: the kernel completes TCP handshakes, nobody greets."""

    sock: socket.socket

    @property
    def port(self) -> int:
        return self.sock.getsockname()[1]

    def connection_attempted(self) -> bool:
        """Whether anyone connected (a completed handshake waits in the backlog)."""
        self.sock.setblocking(False)
        try:
            conn, _ = self.sock.accept()
        except BlockingIOError:
            return False
        conn.close()
        return True


def listen_silently(port: int = 0) -> SilentServer:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(8)
    return SilentServer(sock)


@pytest.fixture
def silent_server():
    server = listen_silently()
    yield server
    server.sock.close()


@pytest.fixture
def silent_server_on_2525():
    """A silent listener on an allowed mail port, to prove the guard stops before connecting.
    If 2525 is taken the test errors out loudly: a check that silently did not run proves nothing."""
    server = listen_silently(2525)
    yield server
    server.sock.close()


@pytest.fixture(scope="session")
def smtpcheck_translations() -> Path:
    """The smtpcheck catalogue compiled to .mo, as a deployment does with pybabel compile."""
    folder = TRANSLATIONS_DIR / "ru" / "LC_MESSAGES"
    with open(folder / "messages.po", "rb") as po, open(folder / "messages.mo", "wb") as mo:
        write_mo(mo, read_po(po))
    return TRANSLATIONS_DIR
