"""The incoming-mailbox section of the mail settings: save, and check the mailbox."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from webapp.auth.access import admin_required
from webapp.bounces import service
from webapp.bounces.forms import IncomingMailForm, form_data
from webapp.bounces.hints import hint_for
from webapp.bounces.imap import STEP_TITLES
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
    """The "check the mailbox" button: the saved settings, step by step, and a hint on failure."""
    result = service.check_mailbox(current_user.agency_id)
    hint = hint_for(result.hint_code, result.reply) if result.hint_code else None
    return render_template("bounces/_check.html", result=result, hint=hint, step_titles=STEP_TITLES)


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
