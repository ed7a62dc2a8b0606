"""The tables: one module per part of the domain, all importable from here."""
from webapp.models.agency import Agency, User
from webapp.models.mail_settings import MailSettings

__all__ = ["Agency", "User", "MailSettings"]
