"""The template editor's form; what a part may contain is checked by render.preview."""
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField

from webapp.mailtemplates.render import PART_TITLES, PARTS


class TemplateForm(FlaskForm):
    subject = StringField(PART_TITLES["subject"])
    body_text = TextAreaField(PART_TITLES["body_text"], render_kw={"rows": 14})
    body_html = TextAreaField(PART_TITLES["body_html"], render_kw={"rows": 14})

    def sources(self) -> dict[str, str]:
        # Browsers send a textarea's line breaks as CRLF (HTML spec); the templates keep LF.
        return {part: (self[part].data or "").replace("\r\n", "\n") for part in PARTS}
