"""The test email on the mail-settings page: start a run, watch its steps stream, see the hint."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from webapp.auth.access import admin_required
from webapp.event_streams import read_events, sse_response
from webapp.extensions import db
from webapp.mailsettings.forms import form_with_only
from webapp.mailsettings.service import settings_view
from webapp.models import Agency, TestRun
from webapp.smtpcheck.message import NoSenderAddress, sender_identity
from webapp.smtpcheck.service import (TESTED_FIELDS, TestRunRefused, TypedSettings,
                                      differs_from_saved, events_key, run_hint, start_test_run,
                                      test_email_status)
from webapp.smtpcheck.steps import STEP_TITLES

bp = Blueprint("smtpcheck", __name__, url_prefix="/mail-settings/test")


@bp.app_template_global("test_email_status")
def current_test_email_status():
    """For the panel included in the mail-settings page."""
    return test_email_status(current_user.agency_id)


@bp.app_template_global("mail_sender")
def current_mail_sender():
    """Who the agency's mail comes from, for the template preview; None when nobody can be."""
    try:
        return sender_identity(settings_view(current_user.agency))
    except NoSenderAddress:
        return None


def _own_run(run_id: str) -> TestRun:
    run = db.session.get(TestRun, run_id)
    if run is None or run.agency_id != current_user.agency_id:
        abort(404)
    return run


@bp.route("", methods=["POST"])
@admin_required
def start():
    """Test the values posted from the settings form as they are typed (nothing is saved), or,
    when the request carries none (the result page's button), the saved settings."""
    try:
        run = start_test_run(current_user.agency, current_user, _typed_settings())
    except TestRunRefused as refused:
        if request.headers.get("HX-Request"):
            return render_template("smtpcheck/_refused.html", refused=refused), refused.status
        flash(refused.message, "error")
        return redirect(url_for("mailsettings.edit")), 303
    if request.headers.get("HX-Request"):
        return render_template("smtpcheck/_run.html", run=run, steps=[], titles=STEP_TITLES)
    return redirect(url_for("smtpcheck.show", run_id=run.id), 303)


def _typed_settings() -> TypedSettings | None:
    """The settings form's values, checked by the form's own rules; TestRunRefused names each
    field at fault."""
    if "host" not in request.form:
        return None
    names = (*TESTED_FIELDS, "password", "remove_password")
    # CSRFProtect has checked this request already.
    form = form_with_only(names)(meta={"csrf": False})
    if not form.check_fields(names):
        raise TestRunRefused(_("Nothing was tested: correct the fields: %(errors)s",
                               errors="; ".join(message for name in names
                                                for message in form.errors_for(name))),
                             field=next(name for name in names if form[name].errors), status=422,
                             form=form)
    values = {name: form[name].data for name in TESTED_FIELDS}
    for name in ("login", "sender_address", "sender_name", "agency_email"):
        values[name] = values[name] or ""
    return TypedSettings(values, password=form.password.data or "",
                         remove_password=bool(form.remove_password.data))


@bp.route("/<run_id>")
@login_required
def show(run_id: str):
    """The run without JavaScript: the steps so far, refreshing itself until the run ends."""
    run = _own_run(run_id)
    steps = run.steps if run.finished_at else [
        data for _id, event, data in read_events(events_key(run.id)) if event == "step"]
    return render_template("smtpcheck/run_page.html", run=run, steps=steps, titles=STEP_TITLES,
                           hint=run_hint(run) if run.finished_at else None,
                           unsaved=run.finished_at and differs_from_saved(run, current_user.agency))


@bp.route("/<run_id>/stream")
@login_required
def stream(run_id: str):
    run = _own_run(run_id)
    run_id, finished = run.id, run.finished_at is not None
    agency_id = current_user.agency_id  # the generator runs after the request's session is gone

    def render(event: str, data: dict) -> str:
        if event == "step":
            return render_template("smtpcheck/_step.html", step=data, titles=STEP_TITLES)
        if event == "result":
            run = db.session.get(TestRun, run_id)
            return render_template("smtpcheck/_result.html", run=run, hint=run_hint(run),
                                   unsaved=differs_from_saved(run, db.session.get(Agency, agency_id)),
                                   status=test_email_status(agency_id))
        return ""

    return sse_response(events_key(run_id), render, after=request.headers.get("Last-Event-ID", "0"),
                        finished=finished)
