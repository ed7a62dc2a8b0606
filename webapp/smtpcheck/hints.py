"""The one catalogue of SMTP failure hints, and the one classifier that picks a hint for a failure.

The test email, the sender's retry/fail/pause decision, the email log and troubleshooting all
read the same hint: its code says what went wrong, its `kind` what happens next (retried by
itself, failed for good, or sending paused until the settings are fixed), and `at_fault` which
address or setting is to blame.
"""

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
    {"host", "port", "security", "login", "password", "sender_address", "sender_name", "agency_email",
     "copies_email", "payment_problems_email"}
)

# What happens next. TEMPORARY: the email is retried by itself; PERMANENT: this email failed
# for good; PAUSING: every email would fail the same way, so sending waits for the settings.
TEMPORARY, PERMANENT, PAUSING = "temporary", "permanent", "pausing"

# Who or what is at fault. RECIPIENT is resolved to the refused address's role (AGENCY, CLIENT,
# COPIES, PAYMENT_PROBLEMS) by whoever knows who the email was for.
CONNECTION, LOGIN, SENDER, RECIPIENT, MESSAGE, INSTALLATION, PROVIDER = (
    "connection", "login", "sender", "recipient", "message", "installation", "provider")
AGENCY, CLIENT, COPIES, PAYMENT_PROBLEMS = "agency", "client", "copies", "payment_problems"
RECIPIENT_ROLES = (AGENCY, CLIENT, COPIES, PAYMENT_PROBLEMS)

# The steps of opening a session: a permanent refusal there is not about one email.
SESSION_STEPS = frozenset({"resolve", "connect", "tls", "greeting", "ehlo", "starttls", "auth"})


@dataclass(frozen=True)
class Hint:
    """What went wrong, why, which settings field to change, and what happens next."""

    code: str
    title: LazyString
    detail: LazyString
    fix: LazyString
    field: str | None
    reply: str = ""  # the server's raw reply; what `unknown` has to show
    variant: str | None = None  # which wording of the code: stored with a run to show it again
    kind: str = PERMANENT
    at_fault: str | None = None

    @property
    def troubleshooting_check(self) -> str | None:
        """The troubleshooting check that shows the cause (its id on that page), if one does."""
        return _CHECKS.get(self.code)

    @property
    def temporary(self) -> bool:
        return self.kind == TEMPORARY

    @property
    def pausing(self) -> bool:
        return self.kind == PAUSING

    @property
    def permanent(self) -> bool:
        return self.kind == PERMANENT

    @property
    def consequence(self) -> LazyString:
        return _CONSEQUENCES[self.kind]

    def as_dict(self) -> dict:
        return {
            "code": self.code,
            "title": str(self.title),
            "detail": str(self.detail),
            "fix": str(self.fix),
            "field": self.field,
            "reply": self.reply,
            "kind": self.kind,
            "at_fault": self.at_fault,
            "consequence": str(self.consequence),
            "troubleshooting_check": self.troubleshooting_check,
        }


# SPF, DKIM and DMARC are checked for the sender domain on the troubleshooting page.
_CHECKS = {"message_auth_failed": "check-spf", "host_blocked": "check-outgoing_host"}

_CONSEQUENCES = {
    TEMPORARY: _l("This is temporary: notifications refused like this are retried by themselves."),
    PERMANENT: _l("Notifications refused like this are not retried."),
    PAUSING: _l("Every notification would fail the same way: sending pauses until this is fixed, "
                "and waiting notifications go out after that."),
}


def _hint(code: str, title, detail, fix, field: str | None, kind: str, at_fault: str | None) -> Hint:
    return Hint(code=code, title=title, detail=detail, fix=fix, field=field, kind=kind, at_fault=at_fault)


CATALOGUE: dict[str, Hint] = {
    hint.code: hint
    for hint in (
        _hint(
            "dns_failure",
            _l("Server name not found"),
            _l("No server with this name exists in DNS: the name is probably mistyped."),
            _l("Copy the server name from the provider's instructions, for example smtp.yandex.ru or smtp.mail.ru."),
            "host", TEMPORARY, CONNECTION,
        ),
        _hint(
            "connection_refused",
            _l("The server refused the connection"),
            _l("The server exists, but nothing accepts connections on this port."),
            _l("Check the port: 465 for SSL/TLS, 587 for STARTTLS, 25 without encryption."),
            "port", TEMPORARY, CONNECTION,
        ),
        _hint(
            "timeout",
            _l("The server did not answer in time"),
            _l("The server did not answer in time: a firewall may block this port, or the server is overloaded."),
            _l("Check the server name and the port (try 587 or 465 if 25 is blocked); if they are right, try again later."),
            "port", TEMPORARY, CONNECTION,
        ),
        _hint(
            "tls_mismatch",
            _l("The security setting does not match the port"),
            _l("The server and this installation disagree on whether the connection starts encrypted."),
            _l("Use SSL/TLS with port 465, STARTTLS with port 587 or 25."),
            "security", PAUSING, CONNECTION,
        ),
        _hint(
            "starttls_unsupported",
            _l("The server does not offer STARTTLS"),
            _l("STARTTLS is chosen, but the server does not offer it on this port."),
            _l("Choose SSL/TLS with port 465, or ask the provider which port supports encryption."),
            "security", PAUSING, CONNECTION,
        ),
        _hint(
            "certificate_invalid",
            _l("The server's certificate cannot be trusted"),
            _l("The encrypted connection was stopped because the server's certificate is not valid for this server name."),
            _l("Enter the server name exactly as the provider writes it, not an IP address or an alias. If it is right, the provider has to fix its certificate."),
            "host", PAUSING, CONNECTION,
        ),
        _hint(
            "tls_required",
            _l("The server requires encryption"),
            _l("The server does not accept mail over an unencrypted connection."),
            _l("Choose STARTTLS (port 587 or 25) or SSL/TLS (port 465)."),
            "security", PAUSING, CONNECTION,
        ),
        _hint(
            "auth_requires_tls",
            _l("Login is only possible over an encrypted connection"),
            _l("The server offers login (AUTH) only after the connection is encrypted (Postfix with smtpd_tls_auth_only = yes), so an unencrypted connection cannot log in."),
            _l("Turn TLS on: choose STARTTLS."),
            "security", PAUSING, LOGIN,
        ),
        _hint(
            "auth_required",
            _l("The server requires a login"),
            _l("The server does not accept mail from this installation without a login."),
            _l("Fill in the login and the password of the mailbox that sends the mail."),
            "login", PAUSING, LOGIN,
        ),
        _hint(
            "auth_failed",
            _l("Login or password not accepted"),
            _l("The server refused the login or the password. When both are certainly right, the problem is on the mail server's side: the mailbox may be blocked or not allowed to send over SMTP."),
            _l("Check the login (usually the full mailbox address) and type the password again. If they are right, write to the provider: send them the server's reply and the time of the test, and ask why this mailbox cannot log in over SMTP."),
            "password", PAUSING, LOGIN,
        ),
        _hint(
            "app_password_required",
            _l("The provider requires an app password"),
            _l("This mailbox does not accept its ordinary password from mail programs: the provider requires a separate app password, or access for mail programs is turned off in the mailbox settings."),
            _l("Allow access for mail programs in the mailbox settings, create an app password there and enter it as the password."),
            "password", PAUSING, LOGIN,
        ),
        _hint(
            "web_login_required",
            _l("The provider wants a sign-in on its website first"),
            _l("The provider blocked this login until the mailbox's owner signs in on the provider's website and confirms it, or it lets mail programs in only with an app password. Typing the same password again will not help."),
            _l("Sign in to the mailbox in a web browser, confirm the blocked sign-in attempt if the provider asks, and create an app password if the provider offers one; enter it as the password and send the test email again."),
            "password", PAUSING, LOGIN,
        ),
        _hint(
            "auth_mechanism_unsupported",
            _l("The server does not allow password login"),
            _l("The server offers no password login (AUTH PLAIN or LOGIN) here, or password login (SMTP AUTH) is turned off for this mailbox."),
            _l("Turn SMTP login on for this mailbox in the provider's settings (Office 365: Authenticated SMTP) or use an app password; leave the login empty if the server accepts mail from this installation without one."),
            None, PAUSING, LOGIN,
        ),
        _hint(
            "host_blocked",
            _l("The server refuses this installation"),
            _l("The server refused this installation itself, not one email: its IP address or its host name %(ehlo_name)s is blocked by the provider or listed in a spam blocklist (Spamhaus and others), or its host name does not resolve back to its address."),
            _l("Write to the provider: give them the server's reply, this installation's host name %(ehlo_name)s and its IP address, and ask them to unblock it or to say which blocklist lists it. Whoever runs this installation can check the address on the blocklist's website and request removal there."),
            None, PAUSING, INSTALLATION,
        ),
        _hint(
            "sender_rejected",
            _l("The sender address was refused"),
            _l("The server refused to send mail from this sender address. Many providers, mail.ru among them, send only from the address of the mailbox that logs in; some check that the sender address exists."),
            _l("Leave the sender address empty, or enter the address of the login mailbox itself."),
            "sender_address", PERMANENT, SENDER,
        ),
        _hint(
            "message_auth_failed",
            _l("The message failed the sender domain's SPF, DKIM or DMARC check"),
            _l("The server refused the message because the sender address's domain does not authorise this mail server (SPF), the message is not signed for it (DKIM), or the domain's DMARC policy rejects it. This is about the domain's DNS records, not about the login or the password."),
            _l("Open the troubleshooting page and see the SPF, DKIM and DMARC checks for the sender domain; ask whoever manages the domain's DNS to fix the records it shows, or leave the sender address empty so mail goes out from the login mailbox's own domain."),
            "sender_address", PERMANENT, SENDER,
        ),
        _hint(
            "relay_denied",
            _l("The server does not pass mail on for this installation"),
            _l("The server refuses to relay mail for this installation (\"e-mail not saved\"): the mail provider must allow sending from this installation's host %(ehlo_name)s, or the mailbox must log in."),
            _l("Ask the provider to allow sending from the host %(ehlo_name)s, or fill in the login and the password."),
            "login", PERMANENT, INSTALLATION,
        ),
        _hint(
            "recipient_rejected",
            _l("The recipient address was refused"),
            _l("The server refused the agency's address: the mailbox does not exist or does not accept mail."),
            _l("Check the agency's email address."),
            "agency_email", PERMANENT, RECIPIENT,
        ),
        _hint(
            "mailbox_full",
            _l("The recipient's mailbox is full"),
            _l("The agency's mailbox is over its quota and does not accept new mail."),
            _l("Free some space in the agency's mailbox, or enter another agency address."),
            "agency_email", PERMANENT, RECIPIENT,
        ),
        _hint(
            "message_too_large",
            _l("The message is too large for the server"),
            _l("The server refused the message because of its size."),
            _l("Ask the provider about its message size limit."),
            None, PERMANENT, MESSAGE,
        ),
        _hint(
            "rejected_as_spam",
            _l("The server rejected the message as spam"),
            _l("The provider's spam filter refused the message."),
            _l("Send from the login mailbox's own address and check that the domain's SPF and DKIM records allow this server; then try again."),
            "sender_address", PERMANENT, MESSAGE,
        ),
        _hint(
            "rate_limited",
            _l("Too many messages or connections"),
            _l("The provider is limiting this mailbox or this installation for a while: too many messages or connections."),
            _l("Wait a few minutes and try again; if it persists, check the mailbox's sending limits."),
            None, TEMPORARY, PROVIDER,
        ),
        _hint(
            "greylisted",
            _l("The server asked to try again later (greylisting)"),
            _l("The receiving server defers mail from senders it has not seen before and accepts it when it comes again a few minutes later (greylisting). This is normal anti-spam behaviour, not an error in the settings."),
            _l("Nothing to do: the email is sent again by itself and goes through on a later attempt."),
            None, TEMPORARY, PROVIDER,
        ),
        _hint(
            "temporary_failure",
            _l("The server has a temporary problem"),
            _l("The server reported a temporary problem on its side."),
            _l("Try again in a few minutes."),
            None, TEMPORARY, PROVIDER,
        ),
        _hint(
            "server_closed",
            _l("The server closed the connection"),
            _l("The server ended the connection unexpectedly, without saying why."),
            _l("Check the port and the security setting against the provider's instructions; if they match, try again later."),
            None, TEMPORARY, CONNECTION,
        ),
        _hint(
            "host_not_allowed",
            _l("This server address is not allowed"),
            _l("The server name points to an internal or private network address; this installation does not connect there."),
            _l("Enter the public name of the provider's SMTP server."),
            "host", PAUSING, CONNECTION,
        ),
        _hint(
            "unknown",
            _l("The server refused with an unexpected answer"),
            _l("The server answered: %(reply)s"),
            _l("Compare the settings with the provider's instructions; if they match, send this answer to support."),
            None, PERMANENT, None,
        ),
    )
}

# Codes whose failure repeats for every email until the settings change: the sender pauses on them.
PAUSING_CODES = frozenset(code for code, hint in CATALOGUE.items() if hint.kind == PAUSING)
# Reaching the server, encrypting and logging in: what troubleshooting counts as connection failures.
CONNECTION_CODES = frozenset(code for code, hint in CATALOGUE.items()
                             if hint.kind == PAUSING or hint.at_fault == CONNECTION)
# Codes a 4xx reply may carry besides the temporary ones: the cause is known, the outcome is a retry.
_ALSO_TEMPORARY = frozenset({"mailbox_full", "message_too_large", "message_auth_failed", "tls_required",
                             "host_blocked", "rejected_as_spam"})

# What to do about a cause a 4xx reply names: nothing yet, the email is retried by itself; only
# if the deferrals go on is there something to look at. Any other deferral gets the last one.
_DEFERRED_FIXES: dict[str, LazyString] = {
    "mailbox_full": _l("Nothing to change in the settings: the email is sent again by itself and goes "
                       "through once the mailbox has room."),
    "message_too_large": _l("Nothing to change now: the email is sent again by itself. If the server keeps "
                            "deferring it, ask the provider about its message size limit."),
    "message_auth_failed": _l("Nothing to change now: the email is sent again by itself. If the server keeps "
                              "deferring it, open the troubleshooting page and see the SPF, DKIM and DMARC "
                              "checks for the sender domain."),
    "tls_required": _l("Nothing to change now: the email is sent again by itself. If the server keeps "
                       "deferring it, choose STARTTLS (port 587) or SSL/TLS (port 465) in the security setting."),
    "host_blocked": _l("Nothing to change now: the email is sent again by itself. If the server keeps "
                       "deferring it, write to the provider: give them the server's reply and this "
                       "installation's host name %(ehlo_name)s, and ask why they refuse it."),
    "rejected_as_spam": _l("Nothing to change now: the email is sent again by itself. If the server keeps "
                           "deferring it as spam, send from the login mailbox's own address and check the "
                           "sender domain's SPF and DKIM records."),
    None: _l("Nothing to change now: the server refused only for the moment, and the email is sent again "
             "by itself."),
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

# Which address was refused: the wording, and whether the admin can change it in the settings.
_RECIPIENTS: dict[tuple[str, str], dict] = {
    ("recipient_rejected", AGENCY): {},
    ("recipient_rejected", CLIENT): {
        "title": _l("The client's address was refused"),
        "detail": _l("The client's mail server refused the client's address: the mailbox does not exist or does not accept mail. The mail settings are not at fault."),
        "fix": _l("Nothing to change in the mail settings. Check the address the client gave in the booking or the registration, and reach the client another way (by phone) for a correct one."),
        "field": None,
    },
    ("recipient_rejected", COPIES): {
        "title": _l("The address for copies was refused"),
        "detail": _l("The server refused the address for copies of notifications: the mailbox does not exist or does not accept mail."),
        "fix": _l("Correct the address for copies in the mail settings, or clear it."),
        "field": "copies_email",
    },
    ("recipient_rejected", PAYMENT_PROBLEMS): {
        "title": _l("The address for payment problems was refused"),
        "detail": _l("The server refused the address for payment-problem notifications: the mailbox does not exist or does not accept mail, so nobody is told about payment problems."),
        "fix": _l("Correct the address for payment-problem notifications in the mail settings."),
        "field": "payment_problems_email",
    },
    ("mailbox_full", AGENCY): {},
    ("mailbox_full", CLIENT): {
        "title": _l("The client's mailbox is full"),
        "detail": _l("The client's mailbox is over its quota and does not accept new mail. The mail settings are not at fault."),
        "fix": _l("Nothing to change in the mail settings: the client has to free space in the mailbox. Tell the client another way (by phone) and resend the email from the email log later."),
        "field": None,
    },
    ("mailbox_full", COPIES): {
        "title": _l("The mailbox for copies is full"),
        "detail": _l("The mailbox that receives copies of notifications is over its quota and does not accept new mail."),
        "fix": _l("Free some space in that mailbox, or enter another address for copies."),
        "field": "copies_email",
    },
    ("mailbox_full", PAYMENT_PROBLEMS): {
        "title": _l("The mailbox for payment problems is full"),
        "detail": _l("The mailbox for payment-problem notifications is over its quota and does not accept new mail."),
        "fix": _l("Free some space in that mailbox, or enter another address for payment-problem notifications."),
        "field": "payment_problems_email",
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


_REPLY_CODE = re.compile(r"^\s*([2-5])\d\d[ -]")


def reply_class(code: int | None, reply: str = "") -> int | None:
    """The RFC 5321 reply class (2, 4 or 5) of a code, else of the reply text that starts with one."""
    if code is not None:
        return code // 100
    match = _REPLY_CODE.match(reply or "")
    return int(match.group(1)) if match else None


def kind_of(code: str, reply_code_class: int | None, step: str | None = None) -> str:
    """What happens next for a hint code, given the reply class and the step: a 4xx is always
    retried; a 5xx never is, and before MAIL FROM (or a sending quota at MAIL FROM) it is about
    every email, so sending pauses."""
    base = CATALOGUE[code].kind
    if reply_code_class == 4:
        return TEMPORARY
    if reply_code_class == 5:
        if step in SESSION_STEPS:
            return PAUSING
        if code == "rate_limited" and step == "mail_from":
            return PAUSING  # the mailbox's sending quota (Gmail 550 5.4.5): every email meets it
        return PERMANENT if base == TEMPORARY else base
    return base


def hint_for(code: str, *, variant: str | None = None, ehlo_name: str | None = None, reply: str = "",
             recipient: str | None = None, step: str | None = None, reply_code: int | None = None) -> Hint:
    """The catalogue's hint for a code, with its placeholders filled, worded for the refused
    recipient's role, and its kind set by the reply's class (read from `reply` when no code)."""
    base = CATALOGUE[code]
    changes = dict(_VARIANTS.get((code, variant), {}))
    at_fault = base.at_fault
    if base.at_fault == RECIPIENT:
        role = recipient if recipient in RECIPIENT_ROLES else AGENCY
        changes.update(_RECIPIENTS.get((code, role), {}))
        at_fault = role
    kind = kind_of(code, reply_class(reply_code, reply), step)
    if kind == TEMPORARY and reply_class(reply_code, reply) == 4:
        changes["field"] = None  # a deferral is retried, never a reason to change a field
        if base.kind != TEMPORARY:  # its own advice asks for a change: say it is retried instead
            changes["fix"] = _DEFERRED_FIXES.get(code, _DEFERRED_FIXES[None])
    hint = replace(base, **changes, reply=reply, kind=kind, at_fault=at_fault,
                   variant=variant if (code, variant) in _VARIANTS else None)
    params = {"ehlo_name": ehlo_name or default_ehlo_name(), "reply": reply}
    return replace(hint, detail=_fill(hint.detail, params), fix=_fill(hint.fix, params))


# --- the classifier ---------------------------------------------------------------------------

# RFC 3463 enhanced status codes, checked with the step: (pattern on "class.subject.detail",
# steps or None, hint code, decisive). A decisive code names its cause; a generic one (5.7.1
# "delivery not authorized" means a different thing at every step) lets a provider phrase
# say more before it is used.
_ENHANCED: list[tuple[re.Pattern, frozenset | None, str, bool]] = [
    (re.compile(p), frozenset(steps) if steps else None, code, decisive)
    for p, steps, code, decisive in (
        (r"^5\.7\.14$", ("auth",), "web_login_required", True),  # Gmail 534 5.7.14: sign in via the web
        (r"^5\.7\.139$", None, "auth_mechanism_unsupported", True),  # Office 365: SMTP AUTH disabled
        (r"^[45]\.7\.57$", None, "auth_required", True),  # Office 365: not authenticated at MAIL FROM
        (r"^5\.7\.60$", None, "sender_rejected", True),  # Office 365: no permission to send as
        # RFC 7372, Gmail, EOP; generic, since Gmail also says 4.7.23 about this host's PTR record.
        (r"^[45]\.7\.(2[0-46]|30|32|40|509|515)$", None, "message_auth_failed", False),
        (r"^5\.7\.25$", None, "host_blocked", True),  # RFC 7372: this host's reverse DNS failed
        (r"^5\.7\.(50[67]|51[013]|60\d|6[1-4]\d|708|750)$", None, "host_blocked", True),  # EOP blocks
        (r"^5\.7\.705$", None, "rejected_as_spam", True),  # EOP: the tenant's traffic judged as spam
        (r"^5\.7\.11$", None, "auth_requires_tls", True),  # RFC 4954
        (r"^5\.7\.(10|29)$", None, "tls_required", True),  # RFC 5248 "encryption needed"; Gmail 5.7.29
        (r"^4\.7\.\d+$", ("auth",), "temporary_failure", False),  # RFC 4954 454 4.7.0, 432 4.7.12
        (r"^5\.7\.9$", ("auth",), "auth_mechanism_unsupported", False),  # RFC 4954: mechanism too weak
        (r"^5\.7\.[0-9]+$", ("auth",), "auth_failed", False),  # RFC 4954 5.7.8, Office 365 5.7.3, ...
        (r"^5\.7\.9$", None, "rejected_as_spam", False),  # Yahoo: policy; Gmail, Yahoo: see phrases
        (r"^5\.7\.0$", ("mail_from", "rcpt_to"), "auth_required", False),
        (r"^5\.7\.1$", ("greeting", "ehlo"), "host_blocked", False),
        (r"^5\.7\.1$", ("mail_from",), "sender_rejected", False),
        (r"^5\.7\.1$", ("rcpt_to",), "relay_denied", False),
        (r"^5\.7\.(1|7|27|28|350)$", ("data",), "rejected_as_spam", False),
        (r"^[45]\.2\.2$", None, "mailbox_full", False),  # also greylisting (Stalwart 422 4.2.2)
        (r"^[45]\.(2\.3|3\.4)$", None, "message_too_large", True),
        (r"^5\.1\.[78]$", None, "sender_rejected", True),  # RFC 3463: bad sender's address
        (r"^5\.1\.\d+$", ("mail_from",), "sender_rejected", False),
        # Bad destination mailbox (5.1.1), bad destination system (5.1.10, RFC 7505 null MX),
        # mailbox disabled (5.2.1): at RCPT TO they name the recipient, whatever words follow.
        (r"^5\.(1\.1|1\.10|2\.1)$", ("rcpt_to",), "recipient_rejected", True),
        (r"^5\.(1\.\d+|2\.1|4\.1)$", ("rcpt_to",), "recipient_rejected", False),
        (r"^5\.4\.5$", None, "rate_limited", True),  # Gmail: daily sending quota
        (r"^4\.7\.\d+$", None, "temporary_failure", False),  # 4.7.x: a policy deferral; phrases say which
        (r"^4\.\d+\.\d+$", None, "temporary_failure", False),
    )
]

# A reply that says the recipient's address was refused: at RCPT TO or DATA it is about one
# recipient even when it also says "not listed in our directory" or names a block list.
_RECIPIENT_REFUSED = (r"recipient address rejected|user unknown|no such (user|recipient)|unknown (user|recipient)"
                      r"|mailbox (not found|unavailable)|does not exist|no mailbox|user not found|is inactive"
                      r"|is disabled|doesn't have a .* account|has been replaced by|host unknown|invalid recipient"
                      r"|no longer valid")
_SAYS_RECIPIENT_REFUSED = re.compile(_RECIPIENT_REFUSED, re.I)
# The steps where a refusal names a recipient: there "blocked" may be about the recipient.
_RECIPIENT_STEPS = frozenset({"rcpt_to", "data"})

# Provider and MTA phrases, most specific first: (pattern, steps or None, reply classes or None,
# hint code). Each one was met in a real reply (tests/data/smtp_replies.csv).
_PHRASES: list[tuple[re.Pattern, frozenset | None, frozenset | None, str]] = [
    (re.compile(p, re.I), frozenset(steps) if steps else None, frozenset(classes) if classes else None, code)
    for p, steps, classes, code in (
        (r"gr[ae]y-?list", None, (4,), "greylisted"),  # postgrey, milter-greylist, sqlgrey
        # Gmail 534 5.7.14 / 535 5.7.1, Mail.ru: the account wants a web sign-in first.
        (r"log ?in (via|with|through) your web browser|web ?login ?required|signin/continue"
         r"|sending for this account is disabled", None, (5,), "web_login_required"),
        # Gmail 534 5.7.9, Mail.ru "Application password is REQUIRED", Yandex without app passwords.
        (r"application[- ]specific password|app(lication)? password|parol prilozheniya"
         r"|does not have access rights to this service", None, (5,), "app_password_required"),
        # Office 365 5.7.139 and other tenants with basic authentication off.
        (r"smtpclientauthentication is disabled|basic authentication is disabled", None, (5,),
         "auth_mechanism_unsupported"),
        (r"encryption required for requested authentication", None, (5,), "auth_requires_tls"),
        (r"must issue a starttls|starttls (command )?(is )?required|tls required|use tls/ssl", None, (4, 5),
         "tls_required"),
        # SPF, DKIM, DMARC: the message's authentication, not the login's ("the sender must
        # authenticate" is about the domain, so it is checked before the login phrases).
        (r"\b(spf|dkim|dmarc)\b|sender policy framework|unauthenticated (e-?mail|mail)|sender is unauthenticated"
         r"|authentication (information|checks|level)|authenticate with either", None, None, "message_auth_failed"),
        (r"try again slower", None, None, "rate_limited"),  # Postfix-style "Client host rejected: ... slower"
        # The client itself is refused: Postfix client/helo restrictions, DNS blocklists, EOP.
        (r"client host (\[[^\]]*\] )?(rejected|blocked)|blocked using|black ?list|block ?list|spamhaus"
         r"|listed (in|on|at)\b|banned send|traffic not accepted from this ip|access from ip address"
         r"|access forbidden by your ip|poor (email )?reputation|reputation of the sending ip"
         r"|mail sent from your ip address has been blocked|connections (will )?not (be )?accepted from"
         r"|helo command rejected|bad helo|helo/ehlo argument|ptr record|reverse dns"
         r"|not authorized to send email directly|no smtp service here|messages from \S+ will be permanently deferred"
         r"|not in whitelist|mail sent from your ip address has been temporarily blocked|cannot find your reverse hostname",
         None, (4, 5), "host_blocked"),
        (r"relay access denied|relaying denied|relay not permitted|relay prohibited|unable to relay"
         r"|not permitted to relay|we do not relay|mail relay denied|invalid credentials for relay"
         r"|not in my list of allowed (rcpt)?hosts|e-?mail (not saved|не сохран)", None, (5,), "relay_denied"),
        # Postfix reject_sender_login_mismatch to a client that has not logged in: the login is missing.
        (r"sender address rejected: not logged in", ("mail_from", "rcpt_to"), (5,), "auth_required"),
        # Mail.ru and others refuse a sender that is not the login mailbox (S2); servers that
        # verify the sender say so at RCPT TO as well, where it is still about the sender.
        (r"sender address rejected|not owned by|must match (the )?authenticated|not local sender"
         r"|send ?as ?denied|permissions? to send as|not allowed to send (as|mail on behalf)"
         r"|sender .*(mismatch|not authenticated)|sender verif\w* failed|verification failed for"
         r"|badmailfrom|domain of sender address|mail sending denied|invalid sender"
         # Relay services (Amazon SES, SendGrid, Emailit) send only from verified identities.
         r"|address is not verified|domain is not verified|does not match a verified sender"
         r"|not authorized to send from that|must use this domain", None, (5,), "sender_rejected"),
        (r"message size exceeds|too big|too large|size limit|exceeded .*size", None, None, "message_too_large"),
        (r"sending (quota|limit)|daily .*(quota|limit)", None, None, "rate_limited"),
        (r"mailbox (is )?full|over quota|quota (limit )?exceeded|insufficient storage|out of storage",
         ("rcpt_to", "data"), None, "mailbox_full"),
        (r"temporar\w* (system|server) (problem|error)|server busy", None, (4,), "temporary_failure"),
        (r"rate limit|too many (?!hops)|throttl|limit exceeded|exceeded .*limit|receiving mail (too quickly|at a rate)"
         r"|unexpected volume|try again slower|login attempts|too frequent", None, None, "rate_limited"),
        (_RECIPIENT_REFUSED, ("rcpt_to",), (5,), "recipient_rejected"),
        # The message's own format (RFC 5322): nothing in the settings explains it; show the reply.
        (r"rfc ?5322|missing a valid|malformed", None, (5,), "unknown"),
        (r"\bspam|unsolicited|content rejected|policy reasons|security policy|suspicious|virus|prohibited",
         None, (4, 5), "rejected_as_spam"),
        # Exim "SMTP AUTH is required", Postfix/aiosmtpd "5.7.0 Authentication required",
        # Office 365 "Client was not authenticated": the login, asked for before the message.
        (r"auth(entication|ori[sz]ation)? (is )?required|must authenticate|authentication needed|not authenticated"
         r"|unauthenticated senders",
         ("mail_from", "rcpt_to"), (5,), "auth_required"),
        # Gmail 535 5.7.8, Yandex, Mail.ru, Exim, Postfix/Dovecot, Office 365 5.7.3.
        (r"username and password not accepted|invalid user or password|authentication credentials invalid"
         r"|authentication failed|invalid credentials|authentication unsuccessful|incorrect authentication data"
         r"|authentication failure", ("auth",), (5,), "auth_failed"),
    )
]

# Plain reply codes (RFC 5321, RFC 4954) when nothing more specific matched: the step's fallback.
_REPLY_CODES: list[tuple[frozenset, frozenset | None, str]] = [
    (frozenset(codes), frozenset(steps) if steps else None, code)
    for codes, steps, code in (
        ({554, 550, 521}, ("greeting",), "host_blocked"),  # RFC 5321 3.1: no service for this client
        ({535}, ("auth",), "auth_failed"),
        ({534, 504}, ("auth",), "auth_mechanism_unsupported"),
        ({538}, None, "auth_requires_tls"),
        ({530}, ("mail_from", "rcpt_to", "data"), "auth_required"),
        ({552}, ("mail_from", "data"), "message_too_large"),
        ({552}, ("rcpt_to",), "mailbox_full"),
        ({550, 553, 555, 501}, ("mail_from",), "sender_rejected"),
        ({550, 551, 553}, ("rcpt_to",), "recipient_rejected"),
    )
]

# RFC 3463 2.: the enhanced code leads the text of the reply (after its code, if the text still
# carries it); qmail puts it in "(#5.7.1)" at the end. Elsewhere "5.1.1.1" is an IP address and
# "Exim 4.96.2" a version, not a status. The code ends where no digit or ".digit" follows.
_ENHANCED_AT_START = re.compile(r"^\s*(?:[2-5]\d\d[ -]\s*)?([245])\.(\d{1,3})\.(\d{1,3})(?!\.?\d)")
_ENHANCED_QMAIL = re.compile(r"\(#([245])\.(\d{1,3})\.(\d{1,3})\)")


def enhanced_code(text: str) -> str | None:
    """The RFC 3463 code of a reply text: at its start, or as qmail's "(#5.7.1)"."""
    match = _ENHANCED_AT_START.match(text or "") or _ENHANCED_QMAIL.search(text or "")
    return ".".join(match.groups()) if match else None


def _applies(scope: frozenset | None, value) -> bool:
    return scope is None or value in scope


def _fits_class(code: str, reply_code_class: int | None) -> bool:
    """A 4xx is retried, so it never gets a diagnosis that pauses sending or asks for a change."""
    if reply_code_class != 4:
        return True
    return CATALOGUE[code].kind == TEMPORARY or code in _ALSO_TEMPORARY


def _code_from_reply(step: str, code: int | None, enhanced: str | None, text: str) -> str:
    """Reply class first, then the enhanced code with the step, then phrases scoped to steps and
    classes, then the step's fallback by reply code, then the class's fallback."""
    klass = reply_class(code, text)
    if enhanced and klass is not None and int(enhanced[0]) != klass:
        enhanced = None  # a "5.x.x" text under a 4xx code (or the reverse): the reply code wins
    generic: str | None = None
    for pattern, steps, hint_code, decisive in _ENHANCED:
        if enhanced and _applies(steps, step) and pattern.match(enhanced) and _fits_class(hint_code, klass):
            if decisive:
                return hint_code
            generic = hint_code
            break
    about_recipient = step in _RECIPIENT_STEPS and _SAYS_RECIPIENT_REFUSED.search(text)
    for pattern, steps, classes, hint_code in _PHRASES:
        if hint_code == "host_blocked" and about_recipient:
            continue  # "not listed in our directory", "blocked": the recipient's, not this installation's
        if (_applies(steps, step) and (klass is None or _applies(classes, klass)) and _fits_class(hint_code, klass)
                and pattern.search(text)):
            return hint_code
    if generic:
        return generic
    for codes, steps, hint_code in _REPLY_CODES:
        if code in codes and _applies(steps, step) and _fits_class(hint_code, klass):
            return hint_code
    return "temporary_failure" if klass == 4 else "unknown"


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


def classify(
    step: str,
    code: int | None,
    enhanced: str | None,
    text: str,
    exc: BaseException | None = None,
    *,
    ehlo_name: str | None = None,
    recipient: str | None = None,
) -> Hint:
    """The hint for a failed step: a network failure by its exception, a reply by its class,
    enhanced code, phrases and reply code. `recipient`: whose address a RCPT TO carried."""
    from_exception = _code_from_exception(exc) if exc is not None else None
    if from_exception:
        hint_code, variant = from_exception
        return hint_for(hint_code, variant=variant, ehlo_name=ehlo_name, reply=text, step=step)
    raw = f"{code} {text}".strip() if code else text
    hint_code = _code_from_reply(step, code, enhanced or enhanced_code(text), text)
    return hint_for(hint_code, ehlo_name=ehlo_name, reply=raw, recipient=recipient, step=step,
                    reply_code=code)
