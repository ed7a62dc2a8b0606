"""The SMTP steps of a test run, in order, with the names people read."""
from flask_babel import lazy_gettext as _l

STEP_TITLES = {
    "resolve": _l("Finding the server (DNS)"),
    "connect": _l("Connecting"),
    "tls": _l("TLS handshake"),
    "greeting": _l("Server greeting"),
    "ehlo": _l("Introducing ourselves (EHLO)"),
    "starttls": _l("Switching to TLS (STARTTLS)"),
    "auth": _l("Logging in"),
    "mail_from": _l("Sender (MAIL FROM)"),
    "rcpt_to": _l("Recipient (RCPT TO)"),
    "data": _l("Sending the message (DATA)"),
    "quit": _l("Closing (QUIT)"),
}
