"""The email log page: filters, pages, resending failed rows, and the emails' documents."""
import io

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import format_decimal, gettext as _, ngettext
from flask_login import current_user, login_required

from webapp.auth.access import admin_required
from webapp.emaillog.forms import STATUS_TITLES, LogFilterForm
from webapp.emaillog.service import PAGE_SIZE, RESENDABLE, LogFilter, log_query, resend, row_hint
from webapp.extensions import db
from webapp.notification_kinds import KINDS
from webapp.outbox import reasons
from webapp.outbox.documents import document_for_download, listed_documents
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
    documents = listed_documents(current_user.agency_id, [row.id for row in page.items])
    return render_template("emaillog/page.html", form=form, page=page, filter_args=filter_args,
                           kinds=KINDS, statuses=STATUS_TITLES, reasons=reasons.TITLES,
                           resendable=RESENDABLE, row_hint=row_hint, documents=documents,
                           document_size=document_size)


def document_size(size: int) -> str:
    if size < 1024 * 1024:
        return _("%(size)s KB", size=format_decimal(max(size / 1024, 0.1), "#,##0.#"))
    return _("%(size)s MB", size=format_decimal(size / 1024 / 1024, "#,##0.#"))


@bp.get("/<int:email_id>/documents/<int:document_id>")
@admin_required
def download_document(email_id: int, document_id: int):
    """A document of one of the agency's emails (S15), for its admins; 404 for anyone else's."""
    document = document_for_download(current_user.agency_id, email_id, document_id)
    if document is None:
        abort(404)
    # Always a download, never shown inline: the bytes came from outside.
    response = send_file(io.BytesIO(document.content), mimetype=document.content_type,
                         as_attachment=True, download_name=document.filename)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.route("/resend", methods=["POST"])
@admin_required
def resend_rows():
    # ASCII digits only ("²".isdigit() is true) and at most 18 of them: a row id fits a bigint.
    ids = [int(value) for value in request.form.getlist("row")
           if value.isascii() and value.isdigit() and len(value) <= 18]
    count, refused = resend(current_user.agency_id, ids)
    if count or not refused:
        flash(ngettext("%(num)d email queued again.", "%(num)d emails queued again.", count),
              "success")
    if refused:
        flash(ngettext("%(num)d email was not resent: its documents were deleted 30 days after "
                       "it was sent, and it would go without them.",
                       "%(num)d emails were not resent: their documents were deleted 30 days "
                       "after they were sent, and they would go without them.", refused), "error")
    return redirect(local_url(request.form.get("back"), url_for("emaillog.index")))
