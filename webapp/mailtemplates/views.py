"""The templates list and editor: live preview on sample data; admins save, enable, restore."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from webapp import notification_kinds as kinds
from webapp.auth.access import admin_required
from webapp.extensions import db
from webapp.mailsettings.service import settings_view
from webapp.mailtemplates import service
from webapp.mailtemplates.defaults import LANGUAGES, default_template
from webapp.mailtemplates.forms import TemplateForm
from webapp.mailtemplates.render import PAYMENT_PROBLEM_TEXTS, Preview, preview
from webapp.models import EmailTemplate
from webapp.tenancy import current_agency, scoped

bp = Blueprint("templates", __name__, url_prefix="/templates")

LANGUAGE_TITLES = {"ru": _l("Russian"), "en": _l("English")}


@bp.route("/")
@login_required
def index():
    templates = db.session.execute(scoped(EmailTemplate)).scalars()
    agency = current_agency()
    return render_template(
        "mailtemplates/page.html", kinds=kinds, languages=LANGUAGES,
        agency_language=LANGUAGE_TITLES.get(agency.locale, agency.locale),
        client_language=LANGUAGE_TITLES.get(settings_view(agency).client_language),
        language_titles=LANGUAGE_TITLES, payment_problem_texts=PAYMENT_PROBLEM_TEXTS,
        templates={(template.kind, template.language): template for template in templates})


@bp.get("/<kind>/<language>")
@login_required
def edit(kind: str, language: str):
    template = _scoped_template(kind, language)
    form = TemplateForm(obj=template or default_template(kind, language))
    return _editor(template, kind, language, form, preview(kind, form.sources()))


@bp.post("/<kind>/<language>/preview")
@login_required
def show_preview(kind: str, language: str):
    """The preview alone for htmx; the whole editor for a browser without JavaScript."""
    template = _scoped_template(kind, language)
    form = TemplateForm()
    result = preview(kind, form.sources())
    if request.headers.get("HX-Request"):
        return render_template("mailtemplates/_preview.html", preview=result)
    return _editor(template, kind, language, form, result)


@bp.post("/<kind>/<language>")
@admin_required
def save(kind: str, language: str):
    template = _scoped_template(kind, language)
    form = TemplateForm()  # its CSRF token is checked by CSRFProtect, for every POST
    try:
        service.save_template(current_user.agency_id, kind, language, form.sources())
    except service.TemplateInvalid as refused:
        flash(_("The template was not saved: correct the problems shown in the preview."), "error")
        return _editor(template, kind, language, form, refused.preview), 422
    flash(_("The template is saved."), "success")
    return redirect(url_for(".edit", kind=kind, language=language))


@bp.post("/<kind>/<language>/enabled")
@admin_required
def set_enabled(kind: str, language: str):
    _scoped_template(kind, language)
    enabled = request.form.get("enabled") == "1"
    service.set_enabled(current_user.agency_id, kind, language, enabled)
    flash(_("The template is enabled.") if enabled else
          _("The template is disabled: these notifications are not sent in this language."),
          "success" if enabled else "warning")
    return redirect(url_for(".edit", kind=kind, language=language))


@bp.post("/<kind>/<language>/default")
@admin_required
def restore_default(kind: str, language: str):
    _scoped_template(kind, language)
    service.restore_default(current_user.agency_id, kind, language)
    flash(_("The default text is restored."), "success")
    return redirect(url_for(".edit", kind=kind, language=language))


def _scoped_template(kind: str, language: str) -> EmailTemplate | None:
    """The signed-in agency's template; None if it has none yet; 404 for a kind nobody edits."""
    if kind not in kinds.EDITABLE_KINDS or language not in LANGUAGES:
        abort(404)
    return db.session.execute(
        scoped(EmailTemplate).filter_by(kind=kind, language=language)).scalar_one_or_none()


def _editor(template: EmailTemplate | None, kind: str, language: str, form: TemplateForm,
            result: Preview):
    return render_template(
        "mailtemplates/edit.html", kind=kind, language=language, form=form, preview=result,
        template=template, title=kinds.KINDS[kind]["title"],
        language_title=LANGUAGE_TITLES[language], variables=sorted(kinds.sample_context(kind)))
