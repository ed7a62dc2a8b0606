"""An agency's email templates: the defaults, saving after the check, enabling, restoring."""
from webapp import notification_kinds as kinds
from webapp.extensions import db
from webapp.mailtemplates.defaults import LANGUAGES, default_template
from webapp.mailtemplates.render import PARTS, Preview, preview
from webapp.models import Agency, EmailTemplate


class TemplateInvalid(ValueError):
    """Nothing was saved; `preview.problems` names each part that failed and why."""

    def __init__(self, refused: Preview):
        super().__init__("\n".join(refused.problems.values()))
        self.preview = refused


def create_default_templates(agency: Agency) -> None:
    """Every editable kind in every language, for a new agency; the caller commits."""
    db.session.add_all(
        _with_default_texts(EmailTemplate(agency=agency, kind=kind, language=language))
        for kind in kinds.EDITABLE_KINDS for language in LANGUAGES)


def find_template(agency_id: int, kind: str, language: str) -> EmailTemplate | None:
    return db.session.execute(db.select(EmailTemplate).filter_by(
        agency_id=agency_id, kind=kind, language=language)).scalar_one_or_none()


def save_template(agency_id: int, kind: str, language: str, sources: dict[str, str]) -> EmailTemplate:
    """Store the parts (subject, body_text, body_html) once they render with the sample data."""
    checked = preview(kind, sources)
    if checked.problems:
        raise TemplateInvalid(checked)
    template = _template(agency_id, kind, language)
    for part in PARTS:
        setattr(template, part, sources[part])
    db.session.commit()
    return template


def set_enabled(agency_id: int, kind: str, language: str, enabled: bool) -> EmailTemplate:
    template = _template(agency_id, kind, language)
    template.enabled = enabled
    db.session.commit()
    return template


def restore_default(agency_id: int, kind: str, language: str) -> EmailTemplate:
    """The default texts again; whether the template is enabled stays as it was."""
    template = _with_default_texts(_template(agency_id, kind, language))
    db.session.commit()
    return template


def _template(agency_id: int, kind: str, language: str) -> EmailTemplate:
    """The agency's template, created from the defaults if it has none (an agency older than S13)."""
    template = find_template(agency_id, kind, language)
    if template is None:
        template = _with_default_texts(
            EmailTemplate(agency_id=agency_id, kind=kind, language=language))
        db.session.add(template)
    return template


def _with_default_texts(template: EmailTemplate) -> EmailTemplate:
    default = default_template(template.kind, template.language)
    for part in PARTS:
        setattr(template, part, getattr(default, part))
    return template
