"""An IMAP session with the agency's incoming mailbox, on guard-checked addresses, recording its
steps: resolve, connect, TLS, greeting, STARTTLS, login, select INBOX."""

from __future__ import annotations

import imaplib
import re
import socket
import ssl
import time
from dataclasses import dataclass, field
from datetime import date
from typing import Callable

from flask_babel import lazy_gettext as _l

from webapp.bounces.hints import code_for
from webapp.smtpcheck.guard import ascii_host, resolve

IMAP_PORTS = frozenset({143, 993})
STEP_TITLES = {
    "resolve": _l("Finding the server (DNS)"),
    "connect": _l("Connecting"),
    "tls": _l("Connecting with TLS"),
    "starttls": _l("Switching to TLS (STARTTLS)"),
    "login": _l("Logging in"),
    "select": _l("Opening INBOX"),
}
# A bounce's first 256 KiB hold the report; the returned message's attachments are not needed.
FETCH_LIMIT = 256 * 1024


@dataclass(frozen=True)
class ImapSettings:
    host: str
    port: int
    security: str  # none | starttls | tls
    login: str
    password: str = field(default="", repr=False)
    timeout: float = 15.0
    ca_file: str | None = None
    allow_private: bool = False


@dataclass
class ImapStep:
    step: str  # resolve, connect, tls, greeting, starttls, login, select
    ok: bool
    detail: str  # the server's words or our own; never the password
    ms: int

    def as_dict(self) -> dict:
        return {"step": self.step, "ok": self.ok, "detail": self.detail, "ms": self.ms}


class MailboxError(Exception):
    """A step failed; `hint_code` says why in the catalogue of webapp.bounces.hints."""

    def __init__(self, step: str, hint_code: str, reply: str):
        super().__init__(f"{step}: {hint_code}: {reply}")
        self.step, self.hint_code, self.reply = step, hint_code, reply


class _PinnedIMAP4(imaplib.IMAP4):
    """imaplib on an address the guard checked; STARTTLS verifies the certificate by host name."""

    def __init__(self, host: str, address: str, port: int, timeout: float):
        self._address = address
        super().__init__(host, port, timeout)

    def _create_socket(self, timeout):
        return socket.create_connection((self._address, self.port), timeout)


class _PinnedIMAP4_SSL(imaplib.IMAP4_SSL):
    def __init__(self, host: str, address: str, port: int, context: ssl.SSLContext, timeout: float):
        self._address = address
        super().__init__(host, port, ssl_context=context, timeout=timeout)

    def _create_socket(self, timeout):
        sock = socket.create_connection((self._address, self.port), timeout)
        return self.ssl_context.wrap_socket(sock, server_hostname=self.host)


def _reply(data) -> str:
    parts = [item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item)
             for item in (data or []) if item is not None]
    return " ".join(parts)[:500]


class MailboxSession:
    """One session: `open()` runs the steps; then search, fetch and (if allowed) flag or move."""

    def __init__(self, settings: ImapSettings, on_step: Callable[[ImapStep], None] | None = None):
        self.settings = settings
        self.steps: list[ImapStep] = []
        self._on_step = on_step
        self.client: imaplib.IMAP4 | None = None
        self.uidvalidity: int | None = None
        self.exists = 0

    def _record(self, step: str, ok: bool, detail: str, started: float) -> None:
        recorded = ImapStep(step, ok, detail, int((time.monotonic() - started) * 1000))
        self.steps.append(recorded)
        if self._on_step:
            self._on_step(recorded)

    def _run(self, step: str, action: Callable[[], str]):
        started = time.monotonic()
        try:
            detail = action()
        except Exception as exc:  # noqa: BLE001 - every failure becomes a step with a hint
            reply = str(exc) or type(exc).__name__
            self._record(step, False, reply, started)
            raise MailboxError(step, code_for(step, exc), reply) from exc
        self._record(step, True, detail, started)

    def open(self) -> "MailboxSession":
        settings = self.settings
        name = ascii_host(settings.host)
        addresses: list[str] = []

        def do_resolve():
            addresses.extend(resolve(settings.host, settings.port, allow_private=settings.allow_private,
                                     allowed_ports=IMAP_PORTS))
            return ", ".join(addresses)

        self._run("resolve", do_resolve)
        context = ssl.create_default_context(cafile=settings.ca_file)

        def do_connect():
            error: Exception | None = None
            for address in addresses:
                try:
                    if settings.security == "tls":
                        self.client = _PinnedIMAP4_SSL(name, address, settings.port, context, settings.timeout)
                    else:
                        self.client = _PinnedIMAP4(name, address, settings.port, settings.timeout)
                    return f"{address}:{settings.port} {self.client.welcome.decode('utf-8', 'replace')}"
                except (OSError, imaplib.IMAP4.error) as exc:
                    error = exc
            raise error or OSError("no address")

        # imaplib reads the greeting while connecting (and, for SSL/TLS, after the handshake).
        self._run("tls" if settings.security == "tls" else "connect", do_connect)
        if settings.security == "starttls":
            self._run("starttls", lambda: _reply(self.client.starttls(context)[1]))
        self._run("login", lambda: _reply(self.client.login(settings.login, settings.password)[1]))

        def do_select():
            status, data = self.client.select("INBOX", readonly=True)
            if status != "OK":
                raise imaplib.IMAP4.error(_reply(data))
            self.exists = int(data[0] or 0)
            self.uidvalidity = int(self.client.response("UIDVALIDITY")[1][0])
            return f"{self.exists} messages, UIDVALIDITY {self.uidvalidity}"

        self._run("select", do_select)
        return self

    def new_uids(self, after_uid: int, since: date) -> list[int]:
        """UIDs above `after_uid` that arrived since `since`: one UID SEARCH, whatever the mailbox's size.

        "n:*" always includes the highest UID even when it is below n (RFC 3501 6.4.8): filter."""
        since_text = f"{since.day}-{since.strftime('%b')}-{since.year}"  # RFC 3501 date, English month
        status, data = self.client.uid("SEARCH", f"UID {after_uid + 1}:*", "SINCE", since_text)
        if status != "OK":
            raise MailboxError("search", "imap_unknown", _reply(data))
        found = [int(uid) for uid in b" ".join(d for d in data if d).split()]
        return sorted(uid for uid in found if uid > after_uid)

    def fetch(self, uid: int) -> bytes:
        """The message's first FETCH_LIMIT bytes; BODY.PEEK leaves it unread (RFC 3501 6.4.5)."""
        status, data = self.client.uid("FETCH", str(uid), f"(BODY.PEEK[]<0.{FETCH_LIMIT}>)")
        if status != "OK":
            raise MailboxError("fetch", "imap_unknown", _reply(data))
        for item in data:
            if isinstance(item, tuple):
                return item[1]
        return b""

    def reopen_writable(self) -> None:
        """Only when the admin opted in to mark or move bounces: the INBOX was opened read-only."""
        status, data = self.client.select("INBOX")
        if status != "OK":
            raise MailboxError("select", "imap_no_inbox", _reply(data))

    def mark_seen(self, uid: int) -> None:
        self.client.uid("STORE", str(uid), "+FLAGS.SILENT", r"(\Seen)")

    def move(self, uid: int, folder: str) -> None:
        quoted = '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if b"MOVE" in _capabilities(self.client):  # RFC 6851
            status, data = self.client.uid("MOVE", str(uid), quoted)
        else:
            status, data = self.client.uid("COPY", str(uid), quoted)
            if status == "OK":
                self.client.uid("STORE", str(uid), "+FLAGS.SILENT", r"(\Deleted)")
                self.client.uid("EXPUNGE", str(uid))
        if status != "OK":
            raise MailboxError("move", "imap_unknown", _reply(data))

    def close(self) -> None:
        if self.client is None:
            return
        try:
            self.client.logout()
        except (OSError, imaplib.IMAP4.error):
            pass
        self.client = None


def _capabilities(client: imaplib.IMAP4) -> set[bytes]:
    return {re.sub(rb"[^A-Z0-9=+-]", b"", c.encode().upper()) for c in client.capabilities}
