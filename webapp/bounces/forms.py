"""The incoming-mailbox form: the only place the rules of its fields live."""
import re

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, NumberRange, Optional, ValidationError

from webapp.mailsettings.forms import HeaderSafe

SECURITY_CHOICES = [SelectChoice("tls", _l("SSL/TLS (port 993)")), SelectChoice("starttls", _l("STARTTLS (port 143)")),
                    SelectChoice("none", _l("None (not recommended)"))]
AFTER_READING_CHOICES = [SelectChoice("keep", _l("Leave the mailbox as it is")),
                         SelectChoice("seen", _l("Mark bounces as read")),
                         SelectChoice("move", _l("Move bounces to a folder"))]
_HOST_LABEL = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$", re.IGNORECASE)


def _strip(value):
    return value.strip(" \t") if isinstance(value, str) else value


class ServerName:
    def __call__(self, form, field):
        host = (field.data or "").rstrip(".")
        if not host:
            return
        if any(mark in host for mark in (":", "/", "@", " ")):
            raise ValidationError(_("enter only the server name, like imap.yandex.ru: no \"imap://\", port "
                                    "or address (the port has its own field)."))
        try:
            ascii_name = host.encode("idna").decode("ascii")
        except UnicodeError:
            ascii_name = ""
        if not ascii_name or not all(_HOST_LABEL.match(label) for label in ascii_name.split(".")):
            raise ValidationError(_("this is not a valid server name; example: imap.yandex.ru."))
        field.data = host.lower()


class IncomingMailForm(FlaskForm):
    incoming_enabled = BooleanField(_l("Read bounces from the sending mailbox"))
    incoming_host = StringField(_l("IMAP server"), filters=[_strip],
                                validators=[Length(max=253), HeaderSafe(), ServerName()])
    incoming_port = IntegerField(_l("IMAP port"), validators=[
        Optional(), NumberRange(1, 65535, message=_l("enter a port from 1 to 65535: 993 for SSL/TLS, 143 for STARTTLS."))])
    incoming_security = SelectField(_l("IMAP security"), choices=SECURITY_CHOICES, default="tls")
    incoming_login = StringField(_l("IMAP login"), filters=[_strip], validators=[Length(max=320), HeaderSafe()])
    incoming_password = PasswordField(_l("IMAP password"), validators=[Length(max=200), HeaderSafe()])
    incoming_remove_password = BooleanField(_l("Remove the stored IMAP password"))
    incoming_after_reading = SelectField(_l("After a bounce is read"), choices=AFTER_READING_CHOICES,
                                         default="keep")
    incoming_move_folder = StringField(_l("Folder for bounces"), filters=[_strip],
                                       validators=[Length(max=200), HeaderSafe()])

    def validate_with(self, *, password_available: bool) -> bool:
        """The fields' own rules, then those that need the others: a switched-on reading needs a
        server, port, login and some password; moving needs a folder."""
        valid = self.validate()
        if self.incoming_enabled.data:
            required = (
                (self.incoming_host, _("enter the IMAP server, like imap.yandex.ru.")),
                (self.incoming_port, _("enter the port: 993 for SSL/TLS, 143 for STARTTLS.")),
                (self.incoming_login, _("enter the mailbox login, usually its full address.")),
            )
            for field, message in required:
                if not field.errors and not field.data:
                    field.errors.append(message)
                    valid = False
            has_password = bool(self.incoming_password.data) or (
                password_available and not self.incoming_remove_password.data)
            if not self.incoming_password.errors and not has_password:
                self.incoming_password.errors.append(
                    _("enter the mailbox password (an app password for Yandex, Mail.ru, Gmail), or use "
                      "the sending login, whose password is then used."))
                valid = False
        if self.incoming_after_reading.data == "move" and not self.incoming_move_folder.data \
                and not self.incoming_move_folder.errors:
            self.incoming_move_folder.errors.append(_("enter the folder to move bounces to, like Bounces."))
            valid = False
        return valid

    def values(self) -> dict:
        return {
            "enabled": bool(self.incoming_enabled.data),
            "host": self.incoming_host.data or "",
            "port": self.incoming_port.data,
            "security": self.incoming_security.data,
            "login": self.incoming_login.data or "",
            "after_reading": self.incoming_after_reading.data,
            "move_folder": self.incoming_move_folder.data or "",
        }

    def all_errors(self):
        for name, field in self._fields.items():
            for message in field.errors:
                yield name, f"{field.label.text}: {message}"


def form_data(values: dict) -> dict:
    return {f"incoming_{name}": value for name, value in values.items()}
