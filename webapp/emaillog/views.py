"""The email log page: filters, pages, and resending failed rows."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import ngettext
from flask_login import current_user, login_required

from webapp.auth.access import admin_required
from webapp.emaillog.forms import STATUS_TITLES, LogFilterForm
from webapp.emaillog.service import PAGE_SIZE, RESENDABLE, LogFilter, log_query, resend, row_hint
from webapp.extensions import db
from webapp.notification_kinds import KINDS
from webapp.outbox import reasons
from webapp.urls import local_url

bp = Blueprint("emaillog", __name__, url_prefix="/email-log")


@bp.route("/")
@login_required
def index():
    form = LogFilterForm(request.args)
    log_filter = LogFilter()
    if form.validate():
        log_filter = LogFilter(status=form.status.data or "", kind=form.kind.data or "",
                               recipient=form.recipient.data or "", date_from=form.date_from.data,
                               date_to=form.date_to.data)
    page = db.paginate(log_query(current_user.agency_id, log_filter), per_page=PAGE_SIZE,
                       error_out=False)
    filter_args = {key: value for key, value in request.args.items() if key != "page"}
    return render_template("emaillog/page.html", form=form, page=page, filter_args=filter_args,
                           kinds=KINDS, statuses=STATUS_TITLES, reasons=reasons.TITLES,
                           resendable=RESENDABLE, row_hint=row_hint)


@bp.route("/resend", methods=["POST"])
@admin_required
def resend_rows():
    # ASCII digits only ("²".isdigit() is true) and at most 18 of them: a row id fits a bigint.
    ids = [int(value) for value in request.form.getlist("row")
           if value.isascii() and value.isdigit() and len(value) <= 18]
    count = resend(current_user.agency_id, ids)
    flash(ngettext("%(num)d email queued again.", "%(num)d emails queued again.", count), "success")
    return redirect(local_url(request.form.get("back"), url_for("emaillog.index")))
