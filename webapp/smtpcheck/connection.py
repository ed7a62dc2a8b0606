"""SMTP sessions opened from mail settings: guarded, certificate-checked, recorded step by step."""

from __future__ import annotations

import base64
import collections
import smtplib
import socket
import ssl
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.message import EmailMessage

from webapp.smtpcheck import guard
from webapp.smtpcheck.hints import Hint, classify, default_ehlo_name, enhanced_code, hint_for
from webapp.smtpcheck.wire import crlf, dot_stuffed, flatten

SECURITY_CHOICES = ("none", "starttls", "tls")
MASK = "••••"

# Failures of the network, TLS or the SMTP dialogue that a step reports instead of raising.
_STEP_ERRORS = (OSError, smtplib.SMTPException, UnicodeError, guard.HostNotAllowed)


@dataclass(frozen=True)
class SmtpSettings:
    """How to reach and log in to an agency's SMTP server."""

    host: str
    port: int
    security: str  # 'none' | 'starttls' | 'tls'
    login: str = ""
    password: str = field(default="", repr=False)
    sender_address: str = ""
    sender_name: str = ""
    # The agency's own address: the From of last resort (message.sender_identity), never a recipient's.
    agency_email: str = ""
    timeout: float = 15.0
    ca_file: str | None = None
    ehlo_name: str | None = None
    allow_private: bool = False

    def __post_init__(self):
        if self.security not in SECURITY_CHOICES:
            raise ValueError(f"security must be one of {SECURITY_CHOICES}, not {self.security!r}")


@dataclass
class Step:
    """One recorded step of an SMTP dialogue, as the test page shows it."""

    step: str  # resolve, connect, tls, greeting, ehlo, starttls, auth, mail_from, rcpt_to, data, quit
    ok: bool
    code: int | None
    enhanced: str | None
    reply: str  # the server's reply or our own description; never a secret
    ms: int

    def as_dict(self) -> dict:
        return {
            "step": self.step,
            "ok": self.ok,
            "code": self.code,
            "enhanced": self.enhanced,
            "reply": self.reply,
            "ms": self.ms,
        }


class SmtpError(Exception):
    """A step failed: where, what the server said, and the hint for the user. `message_sent`:
    the whole message had reached the server before the failure, so it may have been delivered
    (a reply lost after the end of DATA, RFC 1047)."""

    def __init__(self, step: str, code: int | None, enhanced: str | None, reply: str, hint: Hint):
        super().__init__(f"{step}: {code} {reply}" if code else f"{step}: {reply}")
        self.step, self.code, self.enhanced, self.reply, self.hint = step, code, enhanced, reply, hint
        self.message_sent = False

    @property
    def temporary(self) -> bool:
        """Worth retrying later (RFC 5321 4yz, or the network), as opposed to a permanent refusal."""
        if self.code is not None:
            return 400 <= self.code < 500
        return self.hint.code in {"timeout", "server_closed", "connection_refused", "dns_failure"}


@dataclass(frozen=True)
class SendReply:
    """The server's acceptance of one message, and the copies' recipients it refused."""

    code: int
    enhanced: str | None
    reply: str
    refused: dict[str, tuple[int, str]]


class _Diagnosed(Exception):
    """A step failure we recognised ourselves, with its hint already chosen."""

    def __init__(self, description: str, hint: Hint, code: int | None = None):
        super().__init__(description)
        self.description, self.hint, self.code = description, hint, code


_enhanced_code = enhanced_code  # one reading of the RFC 3463 code, the classifier's


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


class _Recorder:
    """Times each step, hands it to on_step, and turns failures into SmtpError with a hint."""

    def __init__(self, on_step: Callable[[Step], None] | None, settings: SmtpSettings, ehlo_name: str):
        self.on_step = on_step
        self.ehlo_name = ehlo_name
        self._secrets = self._secret_forms(settings.login, settings.password)

    @staticmethod
    def _secret_forms(login: str, password: str) -> list[str]:
        if not password:
            return []
        # The forms a password travels in: raw, AUTH LOGIN (base64 alone), AUTH PLAIN (base64 with the login).
        forms = [password, _b64(password), _b64(f"\0{login}\0{password}")]
        return sorted(forms, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text

    def _emit(self, name: str, ok: bool, code: int | None, text: str, shown: str, started: float) -> Step:
        ms = int((time.monotonic() - started) * 1000)
        step = Step(name, ok, code, _enhanced_code(text), self.redact(shown), ms)
        if self.on_step is not None:
            self.on_step(step)
        return step

    def run(
        self,
        name: str,
        action: Callable[[], tuple[int | None, str | bytes]],
        expect: Iterable[int] | None = None,
        shown: Callable[[str], str] = lambda text: text,
    ) -> tuple[int | None, str]:
        """Run one step; `expect` lists the reply codes that count as success, `shown` dresses the reply."""
        started = time.monotonic()
        try:
            code, reply = action()
            text = self.redact(_decode(reply))
        except _Diagnosed as failure:
            self._fail(name, failure.code, failure.description, failure.description, failure.hint, started)
        except smtplib.SMTPResponseException as exc:
            code, text = exc.smtp_code, self.redact(_decode(exc.smtp_error))
        except _STEP_ERRORS as exc:
            text = self.redact(_describe(exc))
            hint = classify(name, None, None, text, exc, ehlo_name=self.ehlo_name)
            self._fail(name, None, text, text, hint, started)
        if expect is not None and code not in expect:
            hint = classify(name, code, _enhanced_code(text), text, ehlo_name=self.ehlo_name)
            self._fail(name, code, text, shown(text), hint, started)
        if self.on_step is not None:  # a batch's session has no listener: ~3 steps a message
            self._emit(name, True, code, text, shown(text), started)
        return code, text

    def _fail(self, name: str, code: int | None, text: str, shown: str, hint: Hint, started: float):
        step = self._emit(name, False, code, text, shown, started)
        raise SmtpError(name, code, step.enhanced, step.reply, hint)


def _decode(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"certificate not trusted: {exc.verify_message}"
    return str(exc) or type(exc).__name__


class _Client(smtplib.SMTP):
    """smtplib.SMTP on a socket we connected to a guard-checked address, verifying TLS by host name."""

    def __init__(self, sock: socket.socket, host_name: str, ehlo_name: str, timeout: float):
        super().__init__(local_hostname=ehlo_name, timeout=timeout)  # no host: smtplib does not connect
        self._host = host_name  # starttls() passes it as server_hostname
        self.sock, self.file = sock, None


def _tls_context(settings: SmtpSettings) -> ssl.SSLContext:
    # The system store plus the optional CA file; without a context smtplib verifies nothing.
    return ssl.create_default_context(cafile=settings.ca_file)


def _connect(addresses: list[str], port: int, timeout: float) -> tuple[socket.socket, str]:
    """The first address that accepts, like socket.create_connection but on checked addresses."""
    error: OSError | None = None
    for address in addresses:
        try:
            return socket.create_connection((address, port), timeout=timeout), address
        except OSError as exc:
            error = exc
    raise error


def _speaks_implicit_tls(address: str, port: int, timeout: float) -> bool:
    """Whether the port completes a TLS handshake: a silent port may be waiting for our ClientHello."""
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    probe.check_hostname, probe.verify_mode = False, ssl.CERT_NONE  # we only ask "is it TLS?", send nothing
    try:
        with socket.create_connection((address, port), timeout=timeout) as sock:
            with probe.wrap_socket(sock):
                return True
    except OSError:
        return False


def _pick_mechanism(client: smtplib.SMTP) -> str | None:
    # One mechanism, one attempt: smtplib.login() would retry each, counting twice against the mailbox.
    offered = client.esmtp_features.get("auth", "").upper().split()
    return next((mechanism for mechanism in ("PLAIN", "LOGIN") if mechanism in offered), None)


def _authenticate(client: smtplib.SMTP, mechanism: str, login: str, password: str) -> tuple[int, bytes]:
    # RFC 4616 / draft-murchison-sasl-login, UTF-8 credentials (smtplib.auth only takes ASCII).
    if mechanism == "PLAIN":
        return client.docmd("AUTH", "PLAIN " + _b64(f"\0{login}\0{password}"))
    code, reply = client.docmd("AUTH", "LOGIN " + _b64(login))
    if code != 334:
        return code, reply
    return client.docmd(_b64(password))


def _envelope_address(address: str) -> str:
    """An ASCII local part with an IDN domain goes as punycode, so it needs no SMTPUTF8."""
    local, at, domain = address.strip().rpartition("@")
    if at and local.isascii() and not domain.isascii():
        return f"{local}@{guard.ascii_host(domain)}"
    return address.strip()


class _Commands:
    """One message's MAIL, RCPT and DATA commands: those written up front (PIPELINING) have their
    replies read in order, the others are written one at a time as their reply is asked for."""

    def __init__(self, client: _Client, encoding: str, commands: list[str], upfront: int):
        if any("\r" in command or "\n" in command for command in commands):
            raise ValueError("an SMTP command must not contain a line break")  # as smtplib.putcmd
        self._client, self._encoding, self._upfront = client, encoding, upfront
        self._waiting = list(commands)  # not written yet
        self._unanswered: collections.deque[str] = collections.deque()
        self.content_sent = False

    def opening(self) -> bytes:
        """The commands written before any reply is read, marked as written."""
        return self._take(self._upfront)

    def reply(self) -> tuple[int, bytes]:
        """The reply to the next command, written first unless it already was."""
        if not self._unanswered:
            self._client.send(self._take(1))
        self._unanswered.popleft()
        return self._client.getreply()

    def content(self, content: bytes, following: _Commands | None) -> tuple[int, bytes]:
        """After 354: the message with CRLF line ends (a bare CR or LF could smuggle an end of
        data past a server), dot-stuffed and ended (RFC 5321 4.5.2), in the same write as the
        next message's opening commands if there is one (RFC 2920 3.1 allows the content to
        start a group), and the final reply."""
        stuffed = dot_stuffed(crlf(content))
        if not stuffed.endswith(b"\r\n"):
            stuffed += b"\r\n"
        # Set before the write: a write that fails part way may have got the final dot out
        # (more follows it when a message is announced), so the message may have arrived.
        self.content_sent = True
        self._client.send(stuffed + b".\r\n" + (following.opening() if following else b""))
        return self._client.getreply()

    def drain(self) -> None:
        """After a refusal, read the replies still owed to written commands (a DATA answered
        354 gets an empty message, refused for want of recipients), so the connection stays
        in step for RSET and the next message."""
        try:
            while self._unanswered:
                command = self._unanswered.popleft()
                code, _ = self._client.getreply()
                if command == "DATA" and code == 354:
                    self._client.send(b".\r\n")
                    self._unanswered.append(".")
        except _STEP_ERRORS:
            self._client.close()

    def _take(self, count: int) -> bytes:
        commands, self._waiting = self._waiting[:count], self._waiting[count:]
        self._unanswered.extend(command.partition(" ")[0] for command in commands)
        return "".join(f"{command}\r\n" for command in commands).encode(self._encoding)


@dataclass(frozen=True)
class Envelope:
    """A message and who it goes from and to: what a session sends, and can announce."""

    message: EmailMessage
    envelope_from: str
    recipients: tuple[str, ...]  # the first is the one the message is for; then copies

    def __post_init__(self):
        object.__setattr__(self, "recipients", tuple(self.recipients))


@dataclass(frozen=True)
class _Written:
    """An envelope as it goes on the wire: its addresses as commands write them (IDN domains as
    punycode), whether they need SMTPUTF8, and the message's bytes."""

    envelope: Envelope
    envelope_from: str
    recipients: list[str]
    international: bool
    content: bytes


def _written(envelope: Envelope) -> _Written:
    """Raises UnicodeError for an address or message no encoding can carry."""
    envelope_from = _envelope_address(envelope.envelope_from)
    recipients = [_envelope_address(recipient) for recipient in envelope.recipients]
    international = not "".join([envelope_from, *recipients]).isascii()
    return _Written(envelope, envelope_from, recipients, international,
                    flatten(envelope.message, international))


@dataclass(frozen=True)
class _Prepared:
    """A written envelope and its commands, some perhaps already on the wire."""

    written: _Written
    commands: _Commands


class SmtpSession:
    """An open, greeted, logged-in SMTP connection that sends any number of messages."""

    def __init__(self, client: _Client, recorder: _Recorder):
        self._client, self._recorder = client, recorder
        # The next message, its opening commands already written behind the last text.
        self._announced: _Prepared | None = None
        # Between a 354 and the end of the text the server takes every byte as the message's.
        self._in_text = False

    def __enter__(self) -> SmtpSession:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    @property
    def is_open(self) -> bool:
        """Whether the connection is still up, so a batch can go on with its next message."""
        return self._client.sock is not None

    def try_sender(self, envelope_from: str) -> None:
        """MAIL FROM then RSET, no message: a probe's last step. Some refusals that pause
        sending show only here (authentication or encryption required, the sender not the
        login's), so a probe that stopped at AUTH would resume sending that fails again."""
        address = _envelope_address(envelope_from)
        self._recorder.run("mail_from", lambda: self._client.mail(address), expect=(250,))
        self._reset_quietly()

    @property
    def _owes_text(self) -> bool:
        """Whether the server may be reading message text: an RSET or QUIT now would become
        part of a message, so the only way out is to drop the connection."""
        return self._in_text or self._announced is not None

    def send(self, envelope: Envelope, *, then: Envelope | None = None) -> SendReply:
        """Send one message; raises SmtpError, after which the session is still usable if it is open.

        If the first recipient (the one the message is for) is refused nothing is sent; later
        ones (copies) refused while it is accepted are listed in the reply's `refused`.
        `then`, the message the caller sends next: its opening commands go in the same write
        as this one's text (one round trip a message instead of two), and the next call must
        then send exactly it."""
        try:
            return self._transaction(envelope, then)
        except (SmtpError, ValueError, UnicodeError):
            # ValueError, UnicodeError: an address that cannot be written in a command. A
            # refused final dot ends its transaction by itself; with a message announced an
            # RSET would be read as that message's text.
            if not self._owes_text:
                self._reset_quietly()
            raise

    def _prepare(self, written: _Written) -> _Prepared:
        """Raises _Diagnosed when the server cannot take the message, ValueError when an address
        cannot be written in a command."""
        options = self._mail_options(written.envelope_from, written.international, written.content)
        commands = [f"MAIL FROM:<{written.envelope_from}>{options}",
                    *(f"RCPT TO:<{recipient}>" for recipient in written.recipients), "DATA"]
        return _Prepared(written, _Commands(
            self._client, "utf-8" if written.international else "ascii", commands,
            upfront=self._upfront(len(written.recipients))))

    def _announcement(self, then: Envelope | None) -> _Prepared | None:
        """The next message ready to announce, or None: without PIPELINING, or when it cannot
        be written (its own send then fails with the reason)."""
        if then is None or not self._client.has_extn("pipelining"):
            return None
        try:
            return self._prepare(_written(then))
        except (_Diagnosed, ValueError, UnicodeError):
            return None

    def _transaction(self, envelope: Envelope, then: Envelope | None) -> SendReply:
        run = self._recorder.run
        current, self._announced = self._announced, None
        if current is not None and current.written.envelope != envelope:
            self._client.close()  # the server is waiting for another message's text
            raise RuntimeError("a different message was announced to the server")
        # Outside the steps, as before any command: a message that cannot be written is the
        # message's fault, not the server's.
        written = current.written if current is not None else _written(envelope)

        def mail_from() -> tuple[int, bytes]:
            nonlocal current
            if current is None:
                current = self._prepare(written)
                opening = current.commands.opening()
                if opening:
                    self._client.send(opening)
            return current.commands.reply()

        def data() -> tuple[int, bytes]:
            # Prepared before the 354: from then on nothing may fail before the text goes.
            following = self._announcement(then)
            code, reply = current.commands.reply()
            if code != 354:
                return code, reply
            self._in_text, self._announced = True, following
            reply = current.commands.content(written.content,
                                             following.commands if following else None)
            self._in_text = False
            return reply

        try:
            run("mail_from", mail_from, expect=(250,))
            refused: dict[str, tuple[int, str]] = {}
            for position, recipient in enumerate(written.recipients):
                try:
                    run("rcpt_to", current.commands.reply, expect=(250, 251))
                except SmtpError as refusal:
                    # The connection failed, or the first recipient (the one the message is for)
                    # was refused: sending only to the others (copies, S9) would repeat them on
                    # every retry, so the whole transaction stops here.
                    if refusal.code is None or position == 0:
                        raise
                    refused[recipient] = (refusal.code, refusal.reply)
            code, text = run("data", data, expect=(250,))
        except SmtpError as failure:
            failure.message_sent = current is not None and current.commands.content_sent
            if failure.code is not None and current is not None:
                current.commands.drain()  # replies to commands already written, so the next one is ours
            raise
        return SendReply(code, _enhanced_code(text), self._recorder.redact(text), refused)

    def _upfront(self, recipients: int) -> int:
        """How many of a message's commands to write before reading a reply: under PIPELINING
        (RFC 2920) MAIL, the RCPTs and DATA, one round trip instead of three; with copies DATA
        waits for the RCPT replies, since after a 354 a message whose own address was refused
        could only be ended, and would then reach the copies alone."""
        if not self._client.has_extn("pipelining"):
            return 0
        return 1 + recipients + (1 if recipients == 1 else 0)

    def _mail_options(self, envelope_from: str, international: bool, content: bytes) -> str:
        client = self._client
        # RFC 1870: refused early if too big.
        options = [f"SIZE={len(content)}"] if client.has_extn("size") else []
        if international:
            if not client.has_extn("smtputf8"):
                hint = hint_for("sender_rejected" if not envelope_from.isascii() else "recipient_rejected")
                raise _Diagnosed("The server does not accept non-ASCII addresses (no SMTPUTF8).", hint)
            options += ["SMTPUTF8", "BODY=8BITMIME"]
        elif not content.isascii() and client.has_extn("8bitmime"):
            options.append("BODY=8BITMIME")  # RFC 6152: 8bit text bodies (Cyrillic) announced
        return "".join(f" {option}" for option in options)

    def _reset_quietly(self) -> None:
        # RSET so the next message of a batch starts a clean transaction (RFC 5321 4.1.1.5).
        try:
            self._client.rset()
        except _STEP_ERRORS:
            self._client.close()

    def close(self) -> None:
        """QUIT, recorded as the last step; never raises. With a message announced the
        connection is dropped instead (see abort)."""
        if self._owes_text:
            self.abort()
            return

        def quit_politely() -> tuple[int | None, str]:
            try:
                return self._client.quit()
            except _STEP_ERRORS:
                self._client.close()
                return None, "connection closed"  # the message is already accepted: not a failure

        self._recorder.run("quit", quit_politely)

    def abort(self) -> None:
        """Leave after a failure: QUIT without recording it, then drop the connection."""
        if self._owes_text:
            # A QUIT would be read as message text; a dropped connection cancels the
            # transaction (RFC 5321 3.8).
            self._announced, self._in_text = None, False
            self._client.close()
            return
        try:
            self._client.quit()
        except _STEP_ERRORS:
            self._client.close()


def open_session(settings: SmtpSettings, on_step: Callable[[Step], None] | None = None) -> SmtpSession:
    """Resolve, check, connect, greet, encrypt and log in; raises SmtpError at the failed step."""
    ehlo_name = settings.ehlo_name or default_ehlo_name()
    recorder = _Recorder(on_step, settings, ehlo_name)
    addresses: list[str] = []
    connected: list[tuple[socket.socket, str]] = []

    def resolve() -> tuple[None, str]:
        addresses.extend(guard.resolve(settings.host, settings.port, allow_private=settings.allow_private))
        return None, f"{settings.host} → {', '.join(addresses)}"

    def connect() -> tuple[None, str]:
        connected.append(_connect(addresses, settings.port, settings.timeout))
        return None, f"{connected[0][1]}:{settings.port}"

    recorder.run("resolve", resolve)
    recorder.run("connect", connect)
    sock, address = connected[0]
    try:
        return _greet_and_login(settings, recorder, sock, address, ehlo_name)
    except SmtpError:
        sock.close()
        raise


def _greet_and_login(
    settings: SmtpSettings, recorder: _Recorder, sock: socket.socket, address: str, ehlo_name: str
) -> SmtpSession:
    run = recorder.run
    host_name = guard.ascii_host(settings.host)
    if settings.security == "tls":
        sock = _implicit_tls(settings, recorder, sock, host_name)
    client = _Client(sock, host_name, ehlo_name, settings.timeout)
    try:
        run("greeting", lambda: _greeting(client, settings, address), expect=(220,))
        run("ehlo", client.ehlo, expect=(250,))
        if settings.security == "starttls":
            run("starttls", lambda: _starttls(client, settings), expect=(250,))
        if settings.login:
            _login(client, settings, recorder)
    except SmtpError:
        client.close()
        raise
    return SmtpSession(client, recorder)


def _implicit_tls(settings: SmtpSettings, recorder: _Recorder, sock: socket.socket, host_name: str) -> ssl.SSLSocket:
    wrapped: list[ssl.SSLSocket] = []

    def handshake() -> tuple[None, str]:
        wrapped.append(_tls_context(settings).wrap_socket(sock, server_hostname=host_name))
        return None, f"{wrapped[0].version()}, certificate valid for {host_name}"

    recorder.run("tls", handshake)
    return wrapped[0]


def _greeting(client: _Client, settings: SmtpSettings, address: str) -> tuple[int, bytes]:
    try:
        return client.getreply()
    except smtplib.SMTPServerDisconnected as exc:
        # A port that stays silent may be an implicit-TLS port waiting for our ClientHello (RFC 8314).
        timed_out = isinstance(exc.__context__, TimeoutError)
        if timed_out and settings.security != "tls" and _speaks_implicit_tls(address, settings.port, settings.timeout):
            hint = hint_for("tls_mismatch", variant="port_speaks_tls")
            raise _Diagnosed("No greeting: this port waits for a TLS handshake (implicit TLS).", hint) from exc
        raise


def _starttls(client: _Client, settings: SmtpSettings) -> tuple[int, str]:
    """STARTTLS, the handshake and the EHLO again that RFC 3207 requires, as one step."""
    if not client.has_extn("starttls"):
        raise _Diagnosed("The server does not offer STARTTLS.", hint_for("starttls_unsupported"))
    code, reply = client.starttls(context=_tls_context(settings))
    ehlo_code, _ = client.ehlo()
    return ehlo_code, f"{code} {_decode(reply)} ({client.sock.version()})"


def _login(client: _Client, settings: SmtpSettings, recorder: _Recorder) -> None:
    mechanism = _pick_mechanism(client)

    def authenticate() -> tuple[int, bytes]:
        if not client.has_extn("auth"):
            # Postfix smtpd_tls_auth_only: AUTH appears only after STARTTLS (S10).
            code = "auth_requires_tls" if client.has_extn("starttls") else "auth_mechanism_unsupported"
            raise _Diagnosed("The server does not offer login (AUTH) on this connection.", hint_for(code))
        if mechanism is None:
            offered = client.esmtp_features["auth"]
            raise _Diagnosed(f"The server offers no password login: AUTH {offered}", hint_for("auth_mechanism_unsupported"))
        return _authenticate(client, mechanism, settings.login, settings.password)

    # 503: already authenticated, RFC 4954 section 4.
    recorder.run("auth", authenticate, expect=(235, 503), shown=lambda reply: f"AUTH {mechanism} {MASK} → {reply}")
