"""Mail settings as the domain sees them: read, save with a change history, hand to jobs, re-encrypt."""
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import bindparam
from sqlalchemy.orm import joinedload

from webapp import mail_secrets
from webapp.extensions import db
from webapp.models import Agency, MailSettings, MailSettingsChange, User
from webapp.notification_kinds import AGENCY_TOGGLES
from webapp.smtpcheck.connection import SmtpSettings
from webapp.smtpcheck.guard import ascii_host
from webapp.smtpcheck.message import NoSenderAddress, sender_identity

# What a save may change besides the password; agency_email lives on the agency itself.
SETTING_NAMES = (
    "host", "port", "security", "login", "sender_address", "sender_name", "agency_email",
    "copies_email", "payment_problems_email", "order_change_emails",
    "unconfirmed_expiry_minutes", "data_deadline_hours", "warn_from_minutes", "warn_to_minutes",
    "connection_cap", "rate_per_minute", "rate_per_day",
)
# Booking notifications (S14), saved by their own form: the client's default language and which
# events the agency address hears of.
BOOKING_NOTIFICATION_NAMES = ("client_language", *AGENCY_TOGGLES)


class MailNotConfigured(LookupError):
    """The agency has no SMTP server or port yet: nothing can be sent."""


class PasswordNeeded(ValueError):
    """The settings would send the stored password to another server: it must be typed again."""


@dataclass(frozen=True)
class SettingsView:
    """What pages and hints may show: every setting except the password, which is only "set" or not."""

    host: str
    port: int | None
    security: str
    login: str
    sender_address: str
    sender_name: str
    agency_email: str
    copies_email: str
    payment_problems_email: str
    order_change_emails: bool
    unconfirmed_expiry_minutes: int | None
    data_deadline_hours: int | None
    warn_from_minutes: int | None
    warn_to_minutes: int | None
    connection_cap: int | None
    rate_per_minute: int | None
    rate_per_day: int | None
    password_set: bool
    updated_at: datetime | None
    client_language: str = "ru"
    notify_agency_booking_created: bool = True
    notify_agency_booking_issued: bool = True
    notify_agency_booking_cancelled: bool = True
    notify_agency_booking_changed: bool = True
    notify_agency_payment_received: bool = True

    @property
    def agency_notifications_on(self) -> bool:
        return any(getattr(self, name) for name in AGENCY_TOGGLES)

    def values(self) -> dict:
        return {name: getattr(self, name) for name in SETTING_NAMES}


# Built once: SQLAlchemy caches a statement's SQL, not the statement, and building a select and
# its cache key cost as much as running it (~40 % of each query of the settings page).
_SETTINGS_OF_AGENCY = db.select(MailSettings).where(MailSettings.agency_id == bindparam("agency_id"))
_HISTORY_OF_AGENCY = (
    db.select(MailSettingsChange).where(MailSettingsChange.agency_id == bindparam("agency_id"))
    .options(joinedload(MailSettingsChange.user))  # the page names each change's author
    .order_by(MailSettingsChange.at.desc(), MailSettingsChange.id.desc()).limit(bindparam("limit")))


def _row(agency_id: int) -> MailSettings:
    row = db.session.execute(_SETTINGS_OF_AGENCY, {"agency_id": agency_id}).scalar_one_or_none()
    if row is None:  # agencies made before settings existed get theirs on first use
        # Client emails go in the agency's language until it chooses another (as the
        # migration that added the setting did for existing rows).
        row = MailSettings(agency_id=agency_id,
                           client_language=db.session.get(Agency, agency_id).locale or "ru")
        db.session.add(row)
        db.session.flush()
    return row


def settings_view(agency: Agency) -> SettingsView:
    row = _row(agency.id)
    values = {name: getattr(row, name) for name in SETTING_NAMES if name != "agency_email"}
    values |= {name: getattr(row, name) for name in BOOKING_NOTIFICATION_NAMES}
    return SettingsView(**values, agency_email=agency.email or "",
                        password_set=bool(row.password_encrypted), updated_at=row.updated_at)


def save_settings(agency: Agency, values: dict, *, new_password: str | None = None,
                  remove_password: bool = False, user: User | None = None) -> list[str]:
    """Apply validated values; returns the names of the fields that changed (history gets the same).

    Raises PasswordNeeded, saving nothing, if the stored password would be kept for another
    server (the form says so on the password field first; this guards every other caller)."""
    row = _row(agency.id)
    saved = settings_view(agency)
    if not (new_password or remove_password) and not stored_password_usable(
            saved, values["host"], values["port"], values["security"]):
        raise PasswordNeeded(f"the stored SMTP password of {agency.slug} is not sent to a new server")
    current = saved.values()
    changed = [name for name in SETTING_NAMES if values[name] != current[name]]
    for name in changed:
        if name == "agency_email":
            agency.email = values[name] or None
        else:
            setattr(row, name, values[name])
    if _password_changes(row, new_password, remove_password):
        row.password_encrypted = mail_secrets.encrypt(new_password) if new_password else None
        changed.append("password")
    if changed:
        db.session.add(MailSettingsChange(agency_id=agency.id, user_id=user.id if user else None,
                                          source="web" if user else "cli", fields=changed))
    db.session.commit()
    from webapp.outbox.probe import probe_after_save  # the sender imports this module
    probe_after_save(agency.id, changed)  # failing or paused: try the new settings at once
    return changed


# Weaker to stronger: a move down the list would send the password less protected than when it
# was entered (none sends it in clear; STARTTLS starts in clear text, where whoever sits on the
# path can tamper with the exchange before encryption, as the NO STARTTLS findings of 2021 showed).
SECURITY_STRENGTH = {"none": 0, "starttls": 1, "tls": 2}


def stored_password_usable(saved: SettingsView, host: str | None, port: int | None,
                           security: str | None) -> bool:
    """Whether the stored password may be sent to this server: only to the one it was entered
    for, on the same port, with no weaker security. Otherwise whoever may edit the settings
    (or a test email with unsaved values) could send it to a server of their choosing, so a
    new host, a new port or a security downgrade needs the password typed again. True when no
    password is stored (nothing to give away)."""
    if not saved.password_set:
        return True
    return (_same_host(saved.host, host) and saved.port == port
            and SECURITY_STRENGTH.get(security, -1) >= SECURITY_STRENGTH.get(saved.security, 0))


def _same_host(saved: str, new: str | None) -> bool:
    try:
        return bool(saved) and ascii_host(saved).rstrip(".") == ascii_host(new or "").rstrip(".")
    except UnicodeError:  # idna's errors are UnicodeErrors: not a name, so not the same one
        return False


def save_booking_notifications(agency: Agency, values: dict, *, user: User | None = None) -> list[str]:
    """Apply the booking-notification settings; returns the names that changed (history too)."""
    row = _row(agency.id)
    changed = [name for name in BOOKING_NOTIFICATION_NAMES if values[name] != getattr(row, name)]
    for name in changed:
        setattr(row, name, values[name])
    if changed:
        db.session.add(MailSettingsChange(agency_id=agency.id, user_id=user.id if user else None,
                                          source="web" if user else "cli", fields=changed))
    db.session.commit()
    return changed


def _password_changes(row: MailSettings, new_password: str | None, remove: bool) -> bool:
    if remove and not new_password:
        return row.password_encrypted is not None
    if not new_password:
        return False  # an empty field keeps the stored password
    if row.password_encrypted is None:
        return True
    try:
        return mail_secrets.decrypt(row.password_encrypted) != new_password
    except mail_secrets.MailSecretError:
        return True


def history(agency_id: int, limit: int = 20) -> list[MailSettingsChange]:
    return db.session.execute(
        _HISTORY_OF_AGENCY, {"agency_id": agency_id, "limit": limit}).scalars().all()


def smtp_settings_for(agency_id: int) -> SmtpSettings:
    """How jobs reach the agency's SMTP server: the only place the password is decrypted.

    Raises MailNotConfigured without a server or port or without an address to send from
    (message.sender_identity), MailSecretError if no key decrypts the password."""
    row = _row(agency_id)
    if not row.host or not row.port:
        raise MailNotConfigured(f"agency {agency_id} has no SMTP server configured")
    password = mail_secrets.decrypt(row.password_encrypted) if row.password_encrypted else ""
    config = current_app.config
    settings = SmtpSettings(
        host=row.host, port=row.port, security=row.security, login=row.login, password=password,
        sender_address=row.sender_address, sender_name=row.sender_name,
        agency_email=db.session.get(Agency, agency_id).email or "",
        ehlo_name=config.get("MAIL_EHLO_NAME"),
        allow_private=bool(config.get("MAIL_ALLOW_PRIVATE_HOSTS")))
    try:
        sender_identity(settings)
    except NoSenderAddress as problem:
        # Sending now would need a recipient's address in From: wait for the settings instead.
        raise MailNotConfigured(f"agency {agency_id}: {problem}") from None
    return settings


def rotate_passwords() -> tuple[int, list[str]]:
    """Re-encrypt every stored password under the first MAIL_SECRET_KEYS key.

    Returns how many were re-encrypted and the slugs of agencies whose password no key decrypts
    (left as they are: retiring a key now would lose them)."""
    rotated, unreadable = 0, []
    rows = db.session.execute(
        db.select(MailSettings).where(MailSettings.password_encrypted.is_not(None))).scalars()
    for row in rows:
        try:
            row.password_encrypted = mail_secrets.rotate(row.password_encrypted)
            rotated += 1
        except mail_secrets.MailSecretError:
            unreadable.append(row.agency.slug)
    db.session.commit()
    return rotated, unreadable
