"""The mail-settings page and the inline check of one field, for the signed-in agency's admin."""
import functools

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from webapp.auth.access import admin_required
from webapp.mailsettings import service
from webapp.mailsettings.forms import (FIELD_NAMES, BookingNotificationsForm, MailSettingsForm,
                                       form_data, form_with_only, related_fields)
from webapp.mailsettings.presets import PRESETS, presets_for_browser
from webapp.outbox.limits import daily_outlook
from webapp.tenancy import current_agency

bp = Blueprint("mailsettings", __name__, url_prefix="/mail-settings")


@bp.route("", methods=["GET", "POST"])
@admin_required
def edit():
    agency = current_agency()
    view = service.settings_view(agency)
    form = MailSettingsForm(data=form_data(view.values()), saved=view)
    if form.validate_on_submit():
        changed = service.save_settings(agency, form.values(), new_password=form.password.data or None,
                                        remove_password=form.remove_password.data, user=current_user)
        flash(_saved_message(form, changed), "success")
        return redirect(url_for(".edit"))
    # One template set serves both: htmx asks for the form alone, a browser for the whole page.
    template = "mailsettings/_form.html" if request.headers.get("HX-Request") else "mailsettings/page.html"
    return render_template(template, form=form, view=view, presets=PRESETS,
                           browser_presets=presets_for_browser(), inline_check=_inline_check,
                           history=service.history(agency.id), labels=_labels(form),
                           booking_form=_booking_form(view), daily_limit=daily_outlook(agency.id))


def _booking_form(view, formdata=None) -> BookingNotificationsForm:
    return BookingNotificationsForm(formdata=formdata, data={
        name: getattr(view, name) for name in service.BOOKING_NOTIFICATION_NAMES})


@bp.post("/booking-notifications")
@admin_required
def save_booking_notifications():
    """The booking-notification part of the page (S14): its own form, saved on its own."""
    agency = current_agency()
    form = _booking_form(service.settings_view(agency), request.form)
    if not form.validate():
        messages = [f"{form[name].label.text}: {' '.join(errors)}" for name, errors in form.errors.items()]
        flash(_("Nothing was saved: %(errors)s", errors="; ".join(messages)), "error")
        return redirect(url_for(".edit", _anchor="booking-notifications"))
    changed = service.save_booking_notifications(agency, form.values(), user=current_user)
    flash(_("Saved. Changed: %(fields)s.", fields=", ".join(
        str(form[name].label.text) for name in changed)) if changed else _("Nothing changed."),
        "success")
    return redirect(url_for(".edit", _anchor="booking-notifications"))


@bp.route("/validate/<name>", methods=["POST"])
@admin_required
def validate_field(name: str):
    """htmx: the messages of one field (and of fields whose rules read it), nothing else."""
    if name not in FIELD_NAMES:
        abort(404)
    refresh, needed = related_fields(name)
    # CSRFProtect has checked this request already: no token field to sign for a form never shown.
    form = form_with_only(tuple(needed))(meta={"csrf": False})
    form.check_fields(refresh)
    return render_template("mailsettings/_messages.html", form=form, names=refresh)


def _inline_check(field, attributes: dict) -> dict:
    """A field's input attributes: on change it posts its value (and those its rules read) to the
    inline check, whose answer replaces the message container that also describes the field."""
    name = field.name
    wiring = {**_fixed_wiring(name), "hx-post": url_for("mailsettings.validate_field", name=name)}
    if field.errors:
        wiring["aria-invalid"] = "true"
    return wiring | attributes


@functools.cache
def _fixed_wiring(name: str) -> dict:
    # The same for every request: built once a field, not fifteen times a page. Copied by the caller.
    _refresh, needed = related_fields(name)
    return {
        "aria-describedby": f"{name}-message",
        "hx-trigger": "change",
        "hx-target": f"#{name}-message",
        "hx-swap": "outerHTML",
        "hx-params": ",".join(needed),
    }


def _labels(form: MailSettingsForm) -> dict:
    return {name: form[name].label.text for name in FIELD_NAMES}


def _saved_message(form: MailSettingsForm, changed: list[str]) -> str:
    if not changed:
        return _("Nothing changed.")
    labels = _labels(form)
    return _("Saved. Changed: %(fields)s.", fields=", ".join(str(labels[name]) for name in changed))
