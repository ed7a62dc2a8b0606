"""The tables: one module per part of the domain, all importable from here."""
from webapp.models.agency import Agency, User
from webapp.models.bounce import Bounce, IncomingMailSettings
from webapp.models.booking import ApiToken, Client, IdempotencyRecord, Order
from webapp.models.document import OutboxDocument, RefusedDocument
from webapp.models.email_template import EmailTemplate
from webapp.models.mail_settings import MailSettings, MailSettingsChange
from webapp.models.outbox import OutboxEmail, SendingPause
from webapp.models.test_run import TestRun

__all__ = ["Agency", "User", "Bounce", "IncomingMailSettings", "ApiToken", "Client", "IdempotencyRecord", "Order", "EmailTemplate",
           "MailSettings", "MailSettingsChange", "OutboxEmail", "OutboxDocument", "RefusedDocument", "SendingPause",
           "TestRun"]
