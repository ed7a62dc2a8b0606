"""Known mail providers: host, port, security and what an administrator must know about each."""
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l


@dataclass(frozen=True)
class Preset:
    key: str
    name: str
    host: str
    port: int
    security: str  # none | starttls | tls
    note: str
    # Mail.ru rejects a From that differs from the login (seed, S2): the sender address must stay empty.
    sender_address_allowed: bool = True
    # The envelope sender (MAIL FROM) must be the mailbox logged in as: "553 5.7.1 Sender address
    # rejected: not owned by auth user" otherwise.
    envelope_is_login: bool = False
    # Sending limits the provider publishes (outbox.limits), with where it says so; None where it
    # publishes none (then unlimited). No provider here publishes a connection limit for a
    # mailbox: outbox.limits.DEFAULT_CONNECTION_CAP applies.
    per_minute: int | None = None
    per_day: int | None = None
    limits_source: str = ""
    connection_cap: int | None = None


PRESETS = (
    Preset("yandex", _l("Yandex"), "smtp.yandex.ru", 465, "tls",
           _l("Yandex accepts only an app password here: create one in Yandex ID → Security → "
              "App passwords (type \"Mail\"), and allow mail programs in the mailbox settings."),
           envelope_is_login=True, per_day=500,
           limits_source="https://yandex.com/support/mail/web/letter/create/send-many-letters.html"),
    Preset("mailru", "Mail.ru", "smtp.mail.ru", 465, "tls",
           _l("Mail.ru accepts only an app password (mailbox settings → Security → Passwords for "
              "external applications). Mail.ru does not accept a different sender address: leave "
              "\"Sender address\" empty."),
           sender_address_allowed=False, envelope_is_login=True),  # no published sending limits
    Preset("rambler", _l("Rambler"), "smtp.rambler.ru", 465, "tls",
           _l("Rambler: allow access to the mailbox from mail programs in the mailbox settings; "
              "the login is the full address.")),  # no published sending limits
    Preset("gmail", "Gmail", "smtp.gmail.com", 587, "starttls",
           _l("Gmail needs 2-Step Verification and an app password (Google account → Security → "
              "App passwords); the normal password is refused."),
           # 2,000 a rolling 24 hours (500 for trial accounts) for Google Workspace.
           per_day=2000, limits_source="https://support.google.com/a/answer/166852"),
    Preset("outlook", "Outlook / Microsoft 365", "smtp.office365.com", 587, "starttls",
           _l("Microsoft 365: the organisation's administrator must enable \"Authenticated SMTP\" "
              "for this mailbox; with multi-factor sign-in use an app password."),
           # 30 messages a minute, 10,000 recipients a day.
           per_minute=30, per_day=10000,
           limits_source="https://learn.microsoft.com/office365/servicedescriptions/"
                         "exchange-online-service-description/exchange-online-limits#sending-limits-1"),
)

# The usual pairing of port and security (RFC 8314: 465 implicit TLS, RFC 6409: 587 STARTTLS).
SECURITY_FOR_PORT = {465: "tls", 587: "starttls"}
PORT_FOR_SECURITY = {"tls": 465, "starttls": 587, "none": 25}


def preset_for_host(host: str | None) -> Preset | None:
    wanted = (host or "").strip().rstrip(".").lower()
    return next((p for p in PRESETS if p.host == wanted), None)


def presets_for_browser() -> dict:
    """The same table for static/mailsettings.js, embedded in the page (no second copy in JS)."""
    return {
        "presets": {p.host: {"port": p.port, "security": p.security} for p in PRESETS},
        "securityForPort": {str(k): v for k, v in SECURITY_FOR_PORT.items()},
        "portForSecurity": PORT_FOR_SECURITY,
    }
