"""The demo registration form and the confirmation button: the only place their fields' rules live."""
from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, StringField
from wtforms.validators import DataRequired, Length, ValidationError

from webapp.text_rules import unstorable_reason


def _storable(form, field):
    if field.data and unstorable_reason(field.data):
        raise ValidationError(_l("must not contain control characters."))


class RegistrationForm(FlaskForm):
    # The same limits as the API's registration schema and the client table.
    login = StringField(_l("Login"), filters=[lambda value: value.strip() if value else value],
                        validators=[DataRequired(_l("enter a login.")), _storable,
                                    Length(max=100, message=_l("at most %(max)d characters."))])
    email = EmailField(_l("Email"), filters=[lambda value: value.strip() if value else value],
                       validators=[DataRequired(_l("enter your email address."))])
    name = StringField(_l("Name"), filters=[lambda value: value.strip() if value else value],
                       validators=[DataRequired(_l("enter your name.")), _storable,
                                   Length(max=200, message=_l("at most %(max)d characters."))])

    def validate_email(self, field):
        try:
            field.data = validate_email(field.data, check_deliverability=False).normalized
        except EmailNotValidError:
            raise ValidationError(_l("not an email address, e.g. anna@example.com.")) from None


class ConfirmForm(FlaskForm):
    """Only the CSRF token: confirming is a POST, so that mail scanners that open links (GET)
    cannot use up the single-use link before the client does."""
