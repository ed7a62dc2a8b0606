"""The one catalogue of test-email hints, and the classifier that picks one for an SMTP failure."""

from __future__ import annotations

import re
import smtplib
import socket
import ssl
from dataclasses import dataclass, replace
from functools import cache

from flask import current_app, has_app_context
from flask_babel import LazyString, lazy_gettext as _l

from webapp.smtpcheck.guard import HostNotAllowed

# Names of the mail-settings form fields a hint may point at.
FIELDS = frozenset(
    {"host", "port", "security", "login", "password", "sender_address", "sender_name", "agency_email"}
)


@dataclass(frozen=True)
class Hint:
    """What went wrong, why, and which settings field to change."""

    code: str
    title: LazyString
    detail: LazyString
    fix: LazyString
    field: str | None
    reply: str = ""  # the server's raw reply; what `unknown` has to show
    variant: str | None = None  # which wording of the code: stored with a run to show it again

    def as_dict(self) -> dict:
        return {
            "code": self.code,
            "title": str(self.title),
            "detail": str(self.detail),
            "fix": str(self.fix),
            "field": self.field,
            "reply": self.reply,
        }


def _hint(code: str, title, detail, fix, field: str | None) -> Hint:
    return Hint(code=code, title=title, detail=detail, fix=fix, field=field)


CATALOGUE: dict[str, Hint] = {
    hint.code: hint
    for hint in (
        _hint(
            "dns_failure",
            _l("Server name not found"),
            _l("No server with this name exists in DNS: the name is probably mistyped."),
            _l("Copy the server name from the provider's instructions, for example smtp.yandex.ru or smtp.mail.ru."),
            "host",
        ),
        _hint(
            "connection_refused",
            _l("The server refused the connection"),
            _l("The server exists, but nothing accepts connections on this port."),
            _l("Check the port: 465 for SSL/TLS, 587 for STARTTLS, 25 without encryption."),
            "port",
        ),
        _hint(
            "timeout",
            _l("The server did not answer in time"),
            _l("The server did not answer in time: a firewall may block this port, or the server is overloaded."),
            _l("Check the server name and the port (try 587 or 465 if 25 is blocked); if they are right, try again later."),
            "port",
        ),
        _hint(
            "tls_mismatch",
            _l("The security setting does not match the port"),
            _l("The server and this installation disagree on whether the connection starts encrypted."),
            _l("Use SSL/TLS with port 465, STARTTLS with port 587 or 25."),
            "security",
        ),
        _hint(
            "starttls_unsupported",
            _l("The server does not offer STARTTLS"),
            _l("STARTTLS is chosen, but the server does not offer it on this port."),
            _l("Choose SSL/TLS with port 465, or ask the provider which port supports encryption."),
            "security",
        ),
        _hint(
            "certificate_invalid",
            _l("The server's certificate cannot be trusted"),
            _l("The encrypted connection was stopped because the server's certificate is not valid for this server name."),
            _l("Enter the server name exactly as the provider writes it, not an IP address or an alias. If it is right, the provider has to fix its certificate."),
            "host",
        ),
        _hint(
            "tls_required",
            _l("The server requires encryption"),
            _l("The server does not accept mail over an unencrypted connection."),
            _l("Choose STARTTLS (port 587 or 25) or SSL/TLS (port 465)."),
            "security",
        ),
        _hint(
            "auth_requires_tls",
            _l("Login is only possible over an encrypted connection"),
            _l("The server offers login (AUTH) only after the connection is encrypted (Postfix with smtpd_tls_auth_only = yes), so an unencrypted connection cannot log in."),
            _l("Turn TLS on: choose STARTTLS."),
            "security",
        ),
        _hint(
            "auth_required",
            _l("The server requires a login"),
            _l("The server does not accept mail from this installation without a login."),
            _l("Fill in the login and the password of the mailbox that sends the mail."),
            "login",
        ),
        _hint(
            "auth_failed",
            _l("Login or password not accepted"),
            _l("The server refused the login or the password."),
            _l("Check the login (usually the full mailbox address) and type the password again."),
            "password",
        ),
        _hint(
            "app_password_required",
            _l("The provider requires an app password"),
            _l("This mailbox does not accept its ordinary password from mail programs: the provider requires a separate app password, or access for mail programs is turned off in the mailbox settings."),
            _l("Allow access for mail programs in the mailbox settings, create an app password there and enter it as the password."),
            "password",
        ),
        _hint(
            "auth_mechanism_unsupported",
            _l("The server does not allow password login"),
            _l("The server offers no password login (AUTH PLAIN or LOGIN) here, or password login (SMTP AUTH) is turned off for this mailbox."),
            _l("Turn SMTP login on for this mailbox in the provider's settings (Office 365: Authenticated SMTP) or use an app password; leave the login empty if the server accepts mail from this installation without one."),
            None,
        ),
        _hint(
            "sender_rejected",
            _l("The sender address was refused"),
            _l("The server refused to send mail from this sender address. Many providers, mail.ru among them, send only from the address of the mailbox that logs in."),
            _l("Leave the sender address empty, or enter the address of the login mailbox itself."),
            "sender_address",
        ),
        _hint(
            "relay_denied",
            _l("The server does not pass mail on for this installation"),
            _l("The server refuses to relay mail for this installation (\"e-mail not saved\"): the mail provider must allow sending from this installation's host %(ehlo_name)s, or the mailbox must log in."),
            _l("Ask the provider to allow sending from the host %(ehlo_name)s, or fill in the login and the password."),
            "login",
        ),
        _hint(
            "recipient_rejected",
            _l("The recipient address was refused"),
            _l("The server refused the agency's address: the mailbox does not exist or does not accept mail."),
            _l("Check the agency's email address."),
            "agency_email",
        ),
        _hint(
            "mailbox_full",
            _l("The recipient's mailbox is full"),
            _l("The agency's mailbox is over its quota and does not accept new mail."),
            _l("Free some space in the agency's mailbox, or enter another agency address."),
            "agency_email",
        ),
        _hint(
            "message_too_large",
            _l("The message is too large for the server"),
            _l("The server refused the message because of its size."),
            _l("Ask the provider about its message size limit."),
            None,
        ),
        _hint(
            "rejected_as_spam",
            _l("The server rejected the message as spam"),
            _l("The provider's spam filter refused the message."),
            _l("Send from the login mailbox's own address and check that the domain's SPF and DKIM records allow this server; then try again."),
            "sender_address",
        ),
        _hint(
            "rate_limited",
            _l("Too many messages or connections"),
            _l("The provider is limiting this mailbox or this installation for a while: too many messages or connections."),
            _l("Wait a few minutes and try again; if it persists, check the mailbox's sending limits."),
            None,
        ),
        _hint(
            "temporary_failure",
            _l("The server has a temporary problem"),
            _l("The server reported a temporary problem on its side."),
            _l("Try again in a few minutes."),
            None,
        ),
        _hint(
            "server_closed",
            _l("The server closed the connection"),
            _l("The server ended the connection unexpectedly, without saying why."),
            _l("Check the port and the security setting against the provider's instructions; if they match, try again later."),
            None,
        ),
        _hint(
            "host_not_allowed",
            _l("This server address is not allowed"),
            _l("The server name points to an internal or private network address; this installation does not connect there."),
            _l("Enter the public name of the provider's SMTP server."),
            "host",
        ),
        _hint(
            "unknown",
            _l("The server refused with an unexpected answer"),
            _l("The server answered: %(reply)s"),
            _l("Compare the settings with the provider's instructions; if they match, send this answer to support."),
            None,
        ),
    )
}

# Variants of a hint: same code, a more precise explanation.
_VARIANTS: dict[tuple[str, str], dict] = {
    ("tls_mismatch", "port_speaks_tls"): {
        "detail": _l("This port speaks implicit TLS (SSL) from the first byte, but the connection started unencrypted."),
        "fix": _l("Choose SSL/TLS for this port, or use port 587 with STARTTLS."),
    },
    ("tls_mismatch", "port_speaks_plain"): {
        "detail": _l("This port starts unencrypted, but the connection started with TLS (SSL)."),
        "fix": _l("Choose STARTTLS for this port (usual for 587 and 25), or use port 465 with SSL/TLS."),
    },
    ("host_not_allowed", "port"): {
        "title": _l("This port is not allowed"),
        "detail": _l("Only the mail ports 25, 465, 587 and 2525 are allowed."),
        "fix": _l("Use port 465 for SSL/TLS or 587 for STARTTLS."),
        "field": "port",
    },
}


def default_ehlo_name() -> str:
    """This installation's host name, as it introduces itself in EHLO: MAIL_EHLO_NAME, else the FQDN."""
    configured = current_app.config.get("MAIL_EHLO_NAME") if has_app_context() else None
    return configured or _fqdn()


@cache
def _fqdn() -> str:
    return socket.getfqdn()


def _fill(text: LazyString, params: dict) -> LazyString:
    # Placeholders are filled when the text is shown, in the reader's language.
    return LazyString(lambda: str(text) % params)


def hint_for(code: str, *, variant: str | None = None, ehlo_name: str | None = None, reply: str = "") -> Hint:
    """The catalogue's hint for a code, with its placeholders filled."""
    hint = replace(CATALOGUE[code], **_VARIANTS.get((code, variant), {}), reply=reply,
                   variant=variant if (code, variant) in _VARIANTS else None)
    params = {"ehlo_name": ehlo_name or default_ehlo_name(), "reply": reply}
    return replace(hint, detail=_fill(hint.detail, params), fix=_fill(hint.fix, params))


# Known provider phrases, most specific first: (pattern, steps it applies to or None, code).
_PHRASES: list[tuple[re.Pattern, frozenset | None, str]] = [
    (re.compile(p, re.I), frozenset(steps) if steps else None, code)
    for p, steps, code in (
        # Gmail 534 5.7.9, Mail.ru "Application password is REQUIRED".
        (r"application[- ]specific password|app(lication)? password", None, "app_password_required"),
        # Yandex, when mail programs or app passwords are not enabled for the mailbox.
        (r"does not have access rights to this service", None, "app_password_required"),
        # Office 365 5.7.139 and other tenants with basic authentication off.
        (r"5\.7\.139|smtpclientauthentication is disabled|basic authentication is disabled", None, "auth_mechanism_unsupported"),
        (r"must issue a starttls|starttls (command )?(is )?required|tls required", None, "tls_required"),
        (r"encryption required for requested authentication", None, "auth_requires_tls"),
        # Gmail 535 5.7.8, Yandex "Invalid user or password", Mail.ru, Postfix/Dovecot.
        (r"username and password not accepted|invalid user or password|authentication credentials invalid"
         r"|authentication failed|invalid credentials|authentication unsuccessful", ("auth",), "auth_failed"),
        (r"relay access denied|relaying denied|relay not permitted|unable to relay|not permitted to relay"
         r"|we do not relay|e-?mail (not saved|не сохран)", None, "relay_denied"),
        # Mail.ru and others refuse a From/envelope sender that is not the login mailbox (S2).
        (r"sender address rejected|not owned by|must match (the )?authenticated|not local sender"
         r"|send ?as ?denied|permissions? to send as|not allowed to send as|sender .*(mismatch|not authenticated)",
         None, "sender_rejected"),
        (r"message size exceeds|too big|too large|size limit", None, "message_too_large"),
        (r"sending (quota|limit)|rate limit|too many|throttl|limit exceeded|exceeded .*limit", None, "rate_limited"),
        (r"recipient address rejected|user unknown|no such user|unknown user|mailbox not found|does not exist",
         ("rcpt_to",), "recipient_rejected"),
        (r"mailbox (is )?full|over quota|quota exceeded|insufficient storage", None, "mailbox_full"),
        (r"\bspam|blacklist|blocklist|spamhaus|listed at|poor reputation", None, "rejected_as_spam"),
        # Exim "SMTP AUTH is required", Postfix/aiosmtpd "5.7.0 Authentication required".
        (r"auth(entication)? (is )?required|must authenticate|authentication needed",
         ("mail_from", "rcpt_to", "data"), "auth_required"),
    )
]

# RFC 3463 enhanced status codes: (regex on "class.subject.detail", steps or None, code).
_ENHANCED: list[tuple[re.Pattern, frozenset | None, str]] = [
    (re.compile(p), frozenset(steps) if steps else None, code)
    for p, steps, code in (
        (r"^5\.7\.8$", None, "auth_failed"),  # RFC 4954: credentials invalid
        (r"^5\.7\.9$", None, "auth_mechanism_unsupported"),  # RFC 4954: mechanism too weak
        (r"^5\.7\.11$", None, "auth_requires_tls"),  # RFC 4954: encryption required for mechanism
        (r"^5\.7\.10$", None, "tls_required"),  # RFC 5248: encryption needed
        (r"^5\.7\.\d+$", ("auth",), "auth_failed"),
        (r"^5\.7\.0$", ("mail_from", "rcpt_to"), "auth_required"),
        (r"^5\.7\.1$", ("mail_from",), "sender_rejected"),
        (r"^5\.7\.1$", ("rcpt_to",), "relay_denied"),
        (r"^5\.7\.1$", ("data",), "rejected_as_spam"),
        (r"^[45]\.2\.2$", None, "mailbox_full"),
        (r"^[45]\.(2\.3|3\.4)$", None, "message_too_large"),
        (r"^5\.1\.[0-9]$", ("mail_from",), "sender_rejected"),
        (r"^5\.1\.[0-9]$|^5\.2\.1$", ("rcpt_to",), "recipient_rejected"),
        (r"^4\.7\.\d+$", None, "rate_limited"),  # 4.7.x: policy deferrals, mostly throttling
        (r"^4\.\d+\.\d+$", None, "temporary_failure"),
    )
]

# Plain reply codes (RFC 5321, RFC 4954) when nothing more specific matched.
_REPLY_CODES: list[tuple[frozenset, frozenset | None, str]] = [
    (frozenset(codes), frozenset(steps) if steps else None, code)
    for codes, steps, code in (
        ({535}, None, "auth_failed"),
        ({534}, None, "auth_mechanism_unsupported"),
        ({504}, ("auth",), "auth_mechanism_unsupported"),
        ({538}, None, "auth_requires_tls"),
        ({530}, ("mail_from", "rcpt_to", "data"), "auth_required"),
        ({552}, ("mail_from", "data"), "message_too_large"),
        ({552}, ("rcpt_to",), "mailbox_full"),
        ({550, 553, 555}, ("mail_from",), "sender_rejected"),
        ({550, 551, 553}, ("rcpt_to",), "recipient_rejected"),
        ({421, 450, 451, 452, 454}, None, "temporary_failure"),
    )
]


def _applies(steps: frozenset | None, step: str) -> bool:
    return steps is None or step in steps


def _code_from_exception(exc: BaseException) -> tuple[str, str | None] | None:
    """Hint code (and variant) for a network, TLS or guard failure, or None."""
    if isinstance(exc, HostNotAllowed):
        return "host_not_allowed", exc.reason
    if isinstance(exc, (socket.gaierror, UnicodeError)):  # UnicodeError: a name IDNA cannot encode
        return "dns_failure", None
    if isinstance(exc, ssl.SSLCertVerificationError):
        return "certificate_invalid", None
    if isinstance(exc, ssl.SSLError) and exc.reason == "WRONG_VERSION_NUMBER":
        return "tls_mismatch", "port_speaks_plain"  # a plain greeting where a TLS record was expected
    if isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError):
        return "timeout", None  # smtplib wraps read timeouts in SMTPServerDisconnected
    if isinstance(exc, ConnectionRefusedError):
        return "connection_refused", None
    if isinstance(exc, (smtplib.SMTPServerDisconnected, ConnectionResetError, BrokenPipeError, ssl.SSLEOFError)):
        return "server_closed", None
    if isinstance(exc, OSError) and not isinstance(exc, ssl.SSLError):
        return "connection_refused", None  # unreachable network or host
    return None


def _code_from_reply(step: str, code: int | None, enhanced: str | None, text: str) -> str:
    for pattern, steps, hint_code in _PHRASES:
        if _applies(steps, step) and pattern.search(text):
            return hint_code
    for pattern, steps, hint_code in _ENHANCED:
        if enhanced and _applies(steps, step) and pattern.match(enhanced):
            return hint_code
    for codes, steps, hint_code in _REPLY_CODES:
        if code in codes and _applies(steps, step):
            return hint_code
    if code is not None and 400 <= code < 500:
        return "temporary_failure"
    return "unknown"


def classify(
    step: str,
    code: int | None,
    enhanced: str | None,
    text: str,
    exc: BaseException | None = None,
    *,
    ehlo_name: str | None = None,
) -> Hint:
    """The most specific hint for a failed step: provider phrase, enhanced code, then reply code."""
    from_exception = _code_from_exception(exc) if exc is not None else None
    if from_exception:
        hint_code, variant = from_exception
        return hint_for(hint_code, variant=variant, ehlo_name=ehlo_name, reply=text)
    raw = f"{code} {text}".strip() if code else text
    return hint_for(_code_from_reply(step, code, enhanced, text), ehlo_name=ehlo_name, reply=raw)
