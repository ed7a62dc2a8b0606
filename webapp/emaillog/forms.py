"""The email log's filter form (GET, no CSRF: it changes nothing)."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from webapp.models.outbox import STATUSES
from webapp.notification_kinds import KINDS

STATUS_TITLES = {
    "queued": _l("Queued"), "sending": _l("Sending"), "sent": _l("Sent"), "failed": _l("Failed"),
    "skipped": _l("Skipped"), "unknown": _l("Unknown (connection lost)"),
    "bounced": _l("Bounced"),
}


class LogFilterForm(FlaskForm):
    class Meta:
        csrf = False

    status = SelectField(_l("Status"), default="", validators=[Optional()], choices=[
        SelectChoice("", _l("Any"))] + [SelectChoice(s, STATUS_TITLES[s]) for s in STATUSES])
    kind = SelectField(_l("Kind"), default="", validators=[Optional()], choices=[
        SelectChoice("", _l("Any"))] + [SelectChoice(k, v["title"]) for k, v in KINDS.items()])
    recipient = StringField(_l("Recipient"), validators=[Optional(), Length(max=320)])
    date_from = DateField(_l("From date"), validators=[Optional()])
    date_to = DateField(_l("To date"), validators=[Optional()])
