"""The incoming-mailbox section of the mail settings: save, and check the mailbox."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from webapp.auth.access import admin_required
from webapp.bounces import service
from webapp.bounces.forms import IncomingMailForm, form_data
from webapp.bounces.hints import hint_for
from webapp.bounces.imap import STEP_TITLES
from webapp.event_streams import sse_response
from webapp.tenancy import current_agency

bp = Blueprint("bounces", __name__, url_prefix="/mail-settings/incoming")


@bp.app_template_global("bounce_log_notes")
def bounce_log_notes(rows):
    return service.log_notes(current_user.agency_id, rows)


@bp.app_template_global("bounce_counts")
def bounce_counts():
    return service.bounces_by_reason(current_user.agency_id)


@bp.route("", methods=["GET", "POST"])
@admin_required
def edit():
    agency = current_agency()
    view = service.incoming_view(agency)
    form = IncomingMailForm(data=form_data(view.values()))
    status = 200
    if request.method == "POST":
        if form.validate_with(password_available=view.password_set or view.smtp_password_usable):
            changed = service.save_incoming(agency, form.values(),
                                            new_password=form.incoming_password.data or None,
                                            remove_password=form.incoming_remove_password.data)
            saved = _("Incoming mailbox saved.") if changed else _("Nothing changed.")
            if not request.headers.get("HX-Request"):
                flash(saved, "success")
                return redirect(url_for("mailsettings.edit") + "#incoming-mail")
            view = service.incoming_view(agency)
            form = IncomingMailForm(formdata=None, data=form_data(view.values()))
            return render_template("bounces/_incoming.html", section={"form": form, "view": view, "saved": saved})
        status = 422
    section = {"form": form, "view": view}
    if request.headers.get("HX-Request"):
        return render_template("bounces/_incoming.html", section=section), status
    return render_template("bounces/page.html", section=section), status


@bp.route("/check", methods=["POST"])
@admin_required
def check():
    """The "check the mailbox" button: the saved settings, step by step, and a hint on failure.
    With htmx the steps stream in as the job takes them; without JavaScript the page waits."""
    if not request.headers.get("HX-Request"):
        result = service.check_mailbox(current_user.agency_id)
        return render_template("bounces/check_page.html", result=result.__dict__ | {
            "steps": [step.as_dict() for step in result.steps]}, hint=_hint(result.hint_code, result.reply),
            step_titles=STEP_TITLES)
    try:
        check_id = service.start_check(current_user.agency_id)
    except service.CheckRefused:
        return render_template("bounces/_check_refused.html", limit=service.CHECKS_PER_HOUR), 429
    return render_template("bounces/_check_run.html", check_id=check_id)


@bp.route("/check/<run_id>/stream")
@admin_required
def check_stream(run_id: str):
    if not service.check_belongs_to(run_id, current_user.agency_id):
        abort(404)

    def render(event: str, data: dict) -> str:
        if event == "step":
            return render_template("bounces/_check_step.html", step=data, step_titles=STEP_TITLES)
        if event == "result":
            return render_template("bounces/_check_result.html", result=data,
                                   hint=_hint(data["hint_code"], data["reply"]))
        return ""

    return sse_response(service.check_events_key(run_id), render,
                        after=request.headers.get("Last-Event-ID", "0"))


def _hint(code: str | None, reply: str):
    return hint_for(code, reply) if code else None


@bp.app_template_global("bounce_reason")
def bounce_reason(code: str):
    from webapp.bounces.reasons import reason_for
    return reason_for(code)


@bp.app_template_global("bounce_who")
def bounce_who(who: str):
    from webapp.bounces.reasons import WHO_TITLES
    return WHO_TITLES.get(who, who)


@bp.app_template_global("incoming_hint")
def incoming_hint(code: str):
    return hint_for(code)
