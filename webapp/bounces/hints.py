"""Hints for the incoming mailbox check, in the style of the test email's catalogue: what went
wrong, why, and which incoming-settings field to change."""

from __future__ import annotations

import imaplib
import re
import socket
import ssl

from flask_babel import lazy_gettext as _l

from webapp.smtpcheck.guard import HostNotAllowed
from webapp.smtpcheck.hints import Hint


CATALOGUE: dict[str, Hint] = {hint.code: hint for hint in (
    Hint("imap_dns_failure", _l("IMAP server name not found"),
          _l("No server with this name exists in DNS: the name is probably mistyped."),
          _l("Copy the IMAP server name from the provider's instructions, for example imap.yandex.ru or imap.mail.ru."),
          "incoming_host"),
    Hint("imap_connection_refused", _l("The IMAP server refused the connection"),
          _l("The server exists, but nothing accepts connections on this port."),
          _l("Check the port: 993 for SSL/TLS, 143 for STARTTLS."), "incoming_port"),
    Hint("imap_timeout", _l("The IMAP server did not answer in time"),
          _l("The server did not answer in time: the security setting may not match the port, or a firewall blocks it."),
          _l("Use SSL/TLS with port 993 or STARTTLS with port 143; if they are right, try again later."),
          "incoming_security"),
    Hint("imap_tls_mismatch", _l("The security setting does not match the port"),
          _l("The server and this installation disagree on whether the connection starts encrypted."),
          _l("Use SSL/TLS with port 993, STARTTLS with port 143."), "incoming_security"),
    Hint("imap_starttls_unsupported", _l("The server does not offer STARTTLS"),
          _l("The server does not offer to switch this connection to encryption."),
          _l("Choose SSL/TLS and port 993."), "incoming_security"),
    Hint("imap_certificate_invalid", _l("The server's certificate is not valid for this name"),
          _l("The certificate is expired, self-signed or issued for another name."),
          _l("Use the server name exactly as the provider gives it."), "incoming_host"),
    Hint("imap_login_failed", _l("The mailbox refused the login or password"),
          _l("The IMAP server did not accept this login and password."),
          _l("Enter the full mailbox address as the login and its password again; Yandex, Mail.ru and "
             "Gmail need an app password, the same one that works for sending."), "incoming_password"),
    Hint("imap_access_disabled", _l("IMAP access is turned off for this mailbox"),
          _l("The provider refuses mail programs for this mailbox."),
          _l("Allow access from mail programs (IMAP) in the mailbox settings at the provider, then check again."),
          "incoming_login"),
    Hint("imap_no_inbox", _l("The mailbox has no INBOX"),
          _l("The server logged in but could not open the INBOX folder."),
          _l("Check that the login is the mailbox the bounces come back to."), "incoming_login"),
    Hint("imap_not_allowed", _l("This server address is not allowed"),
          _l("The server name points to an internal or private network address, or the port is not an IMAP "
             "port; this installation does not connect there."),
          _l("Enter the public name of the provider's IMAP server and port 993 or 143."), "incoming_host"),
    Hint("imap_no_password", _l("No password for the incoming mailbox"),
          _l("Neither an incoming password nor an SMTP password for the same login is saved."),
          _l("Enter the mailbox password (an app password for Yandex, Mail.ru, Gmail)."), "incoming_password"),
    Hint("imap_not_configured", _l("The incoming mailbox is not set up"),
          _l("No IMAP server and port are saved."),
          _l("Enter the IMAP server, port and login, save, then check again."), "incoming_host"),
    Hint("imap_unknown", _l("The IMAP server refused with an unexpected answer"),
          _l("The server answered: %(reply)s"),
          _l("Compare the settings with the provider's instructions; if they match, send this answer to support."),
          None),
)}

# Providers' IMAP login refusals that mean "mail programs are not allowed" (Yandex, Mail.ru, Gmail).
_ACCESS_DISABLED = re.compile(r"does not have access rights|imap (access )?(is )?disabled|not enabled for imap"
                              r"|web login required|log in via your web browser", re.IGNORECASE)


def hint_for(code: str, reply: str = "") -> Hint:
    hint = CATALOGUE.get(code, CATALOGUE["imap_unknown"])
    detail = hint.detail
    if "%(reply)s" in str(hint.detail):
        detail = str(hint.detail) % {"reply": reply or "—"}
    return Hint(hint.code, hint.title, detail, hint.fix, hint.field, reply=reply)


def code_for(step: str, exc: BaseException) -> str:
    if isinstance(exc, HostNotAllowed):
        return "imap_not_allowed"
    if isinstance(exc, (socket.gaierror, UnicodeError)):
        return "imap_dns_failure"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return "imap_certificate_invalid"
    if isinstance(exc, ssl.SSLError):
        return "imap_tls_mismatch"
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return "imap_timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "imap_connection_refused"
    if isinstance(exc, imaplib.IMAP4.abort):
        return "imap_tls_mismatch" if step in ("greeting", "tls") else "imap_unknown"
    if isinstance(exc, imaplib.IMAP4.error):
        text = str(exc)
        if step == "starttls":
            return "imap_starttls_unsupported"
        if step == "login":
            return "imap_access_disabled" if _ACCESS_DISABLED.search(text) else "imap_login_failed"
        if step == "select":
            return "imap_no_inbox"
        return "imap_unknown"
    if isinstance(exc, OSError):
        return "imap_connection_refused"
    return "imap_unknown"
