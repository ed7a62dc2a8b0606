"""The mail-settings form: the only place the rules of its fields live (web page, inline checks, CLI)."""
import functools
import ipaddress
import re
from types import SimpleNamespace

import idna
from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from markupsafe import Markup, escape
from werkzeug.datastructures import MultiDict
from wtforms import BooleanField, IntegerField, PasswordField, SelectField, StringField, widgets
from wtforms.fields.choices import SelectChoice
from wtforms.widgets.core import clean_key
from wtforms.validators import Length, NumberRange, Optional, StopValidation, ValidationError

from webapp.mailsettings.presets import preset_for_host
from webapp.mailsettings.service import stored_password_usable
from webapp.notification_kinds import AGENCY_TOGGLES
from webapp.outbox.limits import CONNECTION_CAP_BOUNDS
from webapp.text_rules import HEADER_BREAKING
from webapp.smtpcheck.message import NoSenderAddress, sender_identity

# Every field a user edits, in page order; other capabilities link to these names (#password).
FIELD_NAMES = (
    "host", "port", "security", "login", "password", "sender_address", "sender_name",
    "agency_email", "copies_email", "payment_problems_email", "order_change_emails",
    "unconfirmed_expiry_minutes", "data_deadline_hours", "warn_from_minutes", "warn_to_minutes",
    "connection_cap", "rate_per_minute", "rate_per_day",
)
# A field's message also depends on these fields' values (cross-field rules and warnings).
DEPENDS_ON = {
    "sender_address": ("host", "login", "agency_email"),
    "copies_email": ("agency_email",),
    "warn_from_minutes": ("warn_to_minutes",),
    "password": ("remove_password",),
}

MAX_MINUTES = 43200  # 30 days
MAX_HOURS = 720  # 30 days
# CR or LF would let a value start a new header line (header injection), and so would VT, FF,
# 0x1C-0x1E or U+2028 to a parser that splits lines as Python does; NUL breaks SMTP AUTH PLAIN.
UNSAFE_CHARACTERS = HEADER_BREAKING
HOST_LABEL = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$")


def _strip(value):
    # Spaces only: a trailing CR/LF must reach the validator and be refused, not silently dropped.
    return value.strip(" \t") if isinstance(value, str) else value


class Required:
    """Checks the value, not the request: a CLI update that leaves a field out keeps the stored value."""

    def __init__(self, message):
        self.message = message

    def __call__(self, form, field):
        if field.process_errors:
            raise StopValidation()  # "not a number" already says what is wrong
        if field.data is None or (isinstance(field.data, str) and not field.data.strip()):
            raise StopValidation(self.message)


class HeaderSafe:
    def __call__(self, form, field):
        if isinstance(field.data, str) and UNSAFE_CHARACTERS.search(field.data):
            raise StopValidation(_("must be one line without control characters: line breaks, "
                                   "tabs, NUL and the like are not allowed."))


class EmailAddress:
    """An address email-validator accepts (IDN domains and non-ASCII mailboxes too), stored normalized."""

    def __call__(self, form, field):
        if not field.data:
            return
        try:
            field.data = validate_email(field.data, check_deliverability=False).normalized
        except EmailNotValidError:
            raise ValidationError(_("enter one email address, like office@agency.ru."))


class HostName:
    """A DNS host name (IDN allowed) or an IP address; no scheme, port or path."""

    def __call__(self, form, field):
        host = field.data.rstrip(".").lower()
        if not host:
            return
        try:
            ipaddress.ip_address(host.strip("[]"))
            field.data = host.strip("[]")
            return
        except ValueError:
            pass
        if any(mark in host for mark in (":", "/", "@", " ")):
            raise ValidationError(_("enter only the server name, like smtp.yandex.ru: no \"smtp://\", "
                                    "port or address (the port has its own field)."))
        try:
            ascii_name = idna.encode(host, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError):
            raise ValidationError(_("this is not a valid server name; example: smtp.yandex.ru."))
        if len(ascii_name) > 253 or not all(HOST_LABEL.match(label) for label in ascii_name.split(".")):
            raise ValidationError(_("this is not a valid server name; example: smtp.yandex.ru."))
        field.data = host


# --- widgets: wtforms' own, with cheaper attribute rendering --------------------------------
# The page renders ~20 tags of ~12 attributes each (the htmx wiring). wtforms' html_params
# formats every attribute with Markup.format, i.e. string.Formatter in pure Python, ~20 µs an
# attribute: a third of the settings page's time in a profile. These widgets build the same
# HTML, byte for byte, with one escape a value.

def html_params(**kwargs) -> Markup:
    """wtforms.widgets.html_params: same keys (sorted, data_/aria_ dashed), same escaping."""
    params = []
    for key, value in sorted(kwargs.items()):
        if value is False:
            continue
        name = _attribute_name(key)
        params.append(name if value is True else f'{name}="{_attribute_value(value)}"')
    return Markup(" ".join(params))


@functools.cache
def _attribute_name(key: str) -> str:
    # Names come from code, a few dozen in all; cleaning and escaping each at every tag was
    # a third of html_params.
    return str(escape(clean_key(key)))


def _attribute_value(value) -> str:
    if hasattr(value, "__html__"):
        # escape() passes Markup through as it is: a quote in it would end the attribute.
        return str(value.__html__()).replace('"', "&quot;")
    return escape(value)  # quotes come out as &#34;


def _validation_flags(field, names, kwargs: dict) -> None:
    """The attributes wtforms takes from validators' flags (required, maxlength, min...).
    wtforms finds them with dir(field.flags), which lists and sorts the object's every name
    (~10 µs a tag); the flags validators set are the object's own attributes."""
    flags = vars(field.flags)
    for name in names:
        if name in flags and name not in kwargs:
            value = flags[name]
            kwargs[name] = value() if callable(value) else value


class Input(widgets.Input):
    """wtforms' Input.__call__, the same tag, with the cheaper flags and attributes above."""

    def __call__(self, field, **kwargs):
        kwargs.setdefault("id", field.id)
        kwargs.setdefault("type", self.input_type)
        if "value" not in kwargs:
            kwargs["value"] = field._value()
        datalist = getattr(field, "_datalist", None)
        if datalist is not None and "list" not in kwargs:
            kwargs["list"] = datalist if isinstance(datalist, str) else datalist.id
        _validation_flags(field, self.validation_attrs, kwargs)
        return Markup(f"<input {html_params(name=field.name, **kwargs)}>")


# wtforms' own widgets first (a password's hidden value, a checkbox's checked), then Input above.
class TextInput(widgets.TextInput, Input):
    pass


class PasswordInput(widgets.PasswordInput, Input):
    pass


class NumberInput(widgets.NumberInput, Input):
    pass


class CheckboxInput(widgets.CheckboxInput, Input):
    pass


class Select(widgets.Select):
    """A single-choice select without option groups, as this form's are."""

    def __call__(self, field, **kwargs):
        if self.multiple or field.has_groups():
            return super().__call__(field, **kwargs)
        kwargs.setdefault("id", field.id)
        _validation_flags(field, self.validation_attrs, kwargs)
        options = "".join(self.render_option(choice) for choice in field.iter_choices())
        return Markup(f"<select {html_params(name=field.name, **kwargs)}>{options}</select>")

    @classmethod
    def render_option(cls, choice, **kwargs):
        value = str(choice.value) if isinstance(choice.value, bool) else choice.value
        options = {"value": value, **(choice.render_kw or {}), **kwargs}
        if choice.selected:
            options["selected"] = True
        label = choice.label
        if hasattr(label, "__html__"):
            # A lazy label translates at each use: once here, not for `or` and again in escape().
            label = Markup(label.__html__())
        return Markup(f"<option {html_params(**options)}>{escape(label or choice.value)}</option>")


class TextField(StringField):
    widget = TextInput()


class SecretField(PasswordField):
    widget = PasswordInput()


class CheckboxField(BooleanField):
    widget = CheckboxInput()


class WholeNumberField(IntegerField):
    """An integer field whose "not a number" message is ours; empty is None."""

    widget = NumberInput()

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        text = valuelist[0].strip() if isinstance(valuelist[0], str) else str(valuelist[0])
        self.data = None
        if text == "":
            return
        try:
            if not re.fullmatch(r"-?[0-9]+", text):
                raise ValueError(text)
            self.data = int(text)
        except ValueError:
            raise ValueError(_("enter a whole number, digits only."))


class Range(NumberRange):
    """NumberRange that stays silent when the text was not a number (that message is enough)."""

    def __call__(self, form, field):
        if field.data is not None:
            super().__call__(form, field)


class ChoiceField(SelectField):
    widget = Select()

    def pre_validate(self, form):
        if self.data not in {choice.value for choice in self.choices}:
            allowed = ", ".join(str(choice.label) for choice in self.choices)
            raise ValidationError(_("choose one of: %(allowed)s.", allowed=allowed))


def _minutes(label, maximum):
    return WholeNumberField(label, validators=[
        Optional(),
        Range(0, maximum, message=_l("enter a whole number from %(min)s to %(max)s.")),
    ])


def _limit(label, low, high):
    return WholeNumberField(label, validators=[
        Optional(), Range(low, high, message=_l("enter a whole number from %(min)s to %(max)s."))])


def _email(label, *extra):
    return TextField(label, filters=[_strip], validators=[
        HeaderSafe(), Optional(), Length(max=320, message=_l("at most %(max)d characters.")),
        EmailAddress(), *extra])


class MailSettingsForm(FlaskForm):
    class Meta:
        def render_field(self, field, render_kw):
            # wtforms cleans attribute names here and again in html_params: once is enough.
            attributes = {**field.render_kw, **render_kw} if field.render_kw else render_kw
            return field.widget(field, **attributes)

    host = TextField(_l("SMTP server"), filters=[_strip], validators=[
        Required(_l("enter the server name, like smtp.yandex.ru.")), HeaderSafe(),
        Length(max=253, message=_l("at most %(max)d characters.")), HostName()])
    port = WholeNumberField(_l("Port"), validators=[
        Required(_l("enter the port: usually 465 (SSL/TLS) or 587 (STARTTLS).")),
        Range(1, 65535, message=_l("enter a whole number from %(min)s to %(max)s."))])
    security = ChoiceField(_l("Use TLS"), choices=[
        SelectChoice("tls", _l("SSL/TLS (port 465)")), SelectChoice("starttls", _l("STARTTLS (port 587)")),
        SelectChoice("none", _l("No encryption"))])
    login = TextField(_l("SMTP login"), filters=[_strip], validators=[
        HeaderSafe(), Optional(), Length(max=320, message=_l("at most %(max)d characters."))])
    password = SecretField(_l("SMTP password"), validators=[
        HeaderSafe(), Optional(), Length(max=512, message=_l("at most %(max)d characters."))])
    remove_password = CheckboxField(_l("Remove the stored password"))
    sender_address = _email(_l("Sender address"))
    sender_name = TextField(_l("Sender name"), filters=[_strip], validators=[
        HeaderSafe(), Optional(), Length(max=200, message=_l("at most %(max)d characters."))])
    agency_email = _email(_l("Agency email address"))
    copies_email = _email(_l("Email address for copies of notifications"))
    payment_problems_email = _email(_l("Email address for payment-problem notifications"))
    order_change_emails = ChoiceField(_l("Email the client when the order changes"),
                                      choices=[SelectChoice("yes", _l("Yes")), SelectChoice("no", _l("No"))])
    unconfirmed_expiry_minutes = _minutes(
        _l("Time limit for unconfirmed registrations, minutes"), MAX_MINUTES)
    data_deadline_hours = _minutes(
        _l("Deadline for mandatory additional booking data, hours"), MAX_HOURS)
    warn_from_minutes = _minutes(_l("Time-limit warning: from, minutes before"), MAX_MINUTES)
    warn_to_minutes = _minutes(_l("Time-limit warning: to, minutes before"), MAX_MINUTES)
    # Sending limits (outbox.limits): empty means the provider's published limit, or none.
    connection_cap = _limit(_l("Connections at once"), *CONNECTION_CAP_BOUNDS)
    rate_per_minute = _limit(_l("Emails per minute at most"), 1, 100_000)
    rate_per_day = _limit(_l("Emails per 24 hours at most"), 1, 10_000_000)

    def validate_password(self, field):
        if field.data and self.remove_password.data:
            raise ValidationError(_("either type a new password or remove the stored one, not both."))

    def __init__(self, *args, saved=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.saved = saved  # the stored settings (SettingsView): where the stored password may go

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        return self._stored_password_stays_with_its_server() and ok

    def _stored_password_stays_with_its_server(self) -> bool:
        """A new server, port or weaker security needs the password again (an empty password
        field otherwise keeps the stored one, which would then go to the new server)."""
        if self.saved is None or self.password.data or self.remove_password.data:
            return True
        if any(self[name].errors for name in ("host", "port", "security")):
            return True  # their own messages first
        if stored_password_usable(self.saved, self.host.data, self.port.data, self.security.data):
            return True
        self.password.errors.append(_(
            "the server, port or encryption is new: type the password again, or remove the "
            "stored one. The stored password is only sent to the server it was entered for."))
        return False

    def validate_warn_from_minutes(self, field):
        to = self.warn_to_minutes
        if field.data is None or to.process_errors:
            return
        if to.data is None:
            raise ValidationError(_("fill in \"to\" as well: \"from\" alone is not a window "
                                    "(only \"to\" means \"up to\")."))
        if field.data > to.data:
            raise ValidationError(_("must not be greater than \"to\" (%(to)s).", to=to.data))

    # --- validating: the whole form, or one field for the inline check -----------------------

    def check_fields(self, names) -> bool:
        """Validate just these fields with the same rules a full submit applies."""
        ok = True
        for name in names:
            inline = getattr(type(self), f"validate_{name}", None)
            ok &= self[name].validate(self, [inline] if inline else [])
        return ok

    def errors_for(self, name) -> list[str]:
        """Messages that name their field, the same on the page, in flashes and in the CLI."""
        return [f"{self[name].label.text}: {message}" for message in self[name].errors]

    def all_errors(self) -> list[tuple[str, str]]:
        return [(name, message) for name in (*FIELD_NAMES, "remove_password")
                for message in self.errors_for(name)]

    def warnings_for(self, name) -> list[str]:
        """Allowed but probably not meant (never blocks saving)."""
        field = self[name]
        if field.errors:
            return []
        found = []
        if name == "copies_email":
            agency = self.agency_email.data or ""
            if field.data and agency and field.data.casefold() == agency.casefold():
                found.append(_("it is the agency address itself: for every booking event that mailbox "
                               "would get two emails, the agency's own notification and the copy of "
                               "the client's email. Leave it empty unless copies should go elsewhere."))
        elif name == "sender_address":
            preset = preset_for_host(self.host.data)
            if field.data and preset and not preset.sender_address_allowed:
                found.append(_("%(provider)s does not accept a different sender address: leave it "
                               "empty.", provider=preset.name))
            if self._sender() is None:
                found.append(_("there is no address to send from: fill in the sender address, a "
                               "login that is an email address, or the agency email. Until then "
                               "nothing is sent."))
        elif name == "agency_email" and not field.data:
            found.append(_("without it the test email and the agency's notifications have nowhere "
                           "to go."))
        return [f"{field.label.text}: {message}" for message in found]

    def notes_for(self, name) -> list[str]:
        if name == "host" and not self.host.errors:
            preset = preset_for_host(self.host.data)
            if preset:
                return [str(preset.note)]
        if name == "sender_address" and not self.sender_address.errors and (sender := self._sender()):
            return [_("Emails go out from %(address)s.", address=sender.address)]
        return []

    def _sender(self):
        """Who mail would come from with these values (message.sender_identity, the one rule);
        None when no value gives an address. Fields with errors count as empty."""
        def value(name):
            field = self[name]
            return "" if field.errors or not isinstance(field.data, str) else field.data
        values = SimpleNamespace(host=value("host"), login=value("login"), sender_name="",
                                 sender_address=value("sender_address"),
                                 agency_email=value("agency_email"))
        try:
            return sender_identity(values)
        except NoSenderAddress:
            return None

    # --- between form data and domain values ----------------------------------------------

    def values(self) -> dict:
        """The validated settings as the domain stores them (the password is handled apart)."""
        values = {name: self[name].data for name in FIELD_NAMES if name != "password"}
        for name in ("login", "sender_name", "sender_address", "agency_email", "copies_email",
                     "payment_problems_email"):
            values[name] = values[name] or ""
        values["order_change_emails"] = values["order_change_emails"] == "yes"
        # S4: empty and 0 both mean "off"; store one of them so a save does not report a change.
        values["unconfirmed_expiry_minutes"] = values["unconfirmed_expiry_minutes"] or None
        return values


def form_data(values: dict) -> dict:
    """Domain values as the form's initial data."""
    data = dict(values)
    data["order_change_emails"] = "yes" if values["order_change_emails"] else "no"
    return data


def related_fields(name: str) -> tuple[list[str], list[str]]:
    """For an inline check of `name`: the messages to refresh and the values the check needs."""
    refresh = [name] + [other for other, deps in DEPENDS_ON.items() if name in deps]
    needed = list(dict.fromkeys(
        field for shown in refresh for field in (shown, *DEPENDS_ON.get(shown, ()))))
    return refresh, needed


@functools.cache
def form_with_only(names: tuple[str, ...]) -> type[MailSettingsForm]:
    """MailSettingsForm keeping only these fields (wtforms drops a field set to None): the same
    fields and rules, for an inline check that should not bind and process all sixteen."""
    left_out = {name: None for name in (*FIELD_NAMES, "remove_password") if name not in names}
    return type("MailSettingsFormPart", (MailSettingsForm,), left_out)


def cli_form(options: dict, current: dict, saved=None) -> MailSettingsForm:
    """The same form built from command-line options; options left out keep the stored values."""
    formdata = MultiDict({name: str(value) for name, value in options.items() if value is not None})
    return MailSettingsForm(formdata=formdata, data=form_data(current), meta={"csrf": False},
                            saved=saved)


class BookingNotificationsForm(FlaskForm):
    """Booking notifications (S14): the language of client emails when the engine gives none,
    and which events the agency address hears of. Its own form and save: the SMTP form's
    inline checks and history stay as they are."""

    client_language = SelectField(
        _l("Language of client emails when the booking engine does not give one"),
        choices=[SelectChoice("ru", _l("Russian")), SelectChoice("en", _l("English"))])
    notify_agency_booking_created = BooleanField(_l("New booking"))
    notify_agency_booking_issued = BooleanField(_l("Booking issued (tickets, vouchers)"))
    notify_agency_booking_cancelled = BooleanField(_l("Booking cancelled"))
    notify_agency_booking_changed = BooleanField(_l("Booking changed"))
    notify_agency_payment_received = BooleanField(_l("Payment received"))

    TOGGLES = AGENCY_TOGGLES

    def values(self) -> dict:
        return {"client_language": self.client_language.data,
                **{name: bool(self[name].data) for name in self.TOGGLES}}
