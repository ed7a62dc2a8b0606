"""Creating agencies and the demo agency of the run command."""
import re

from email_validator import EmailNotValidError, validate_email

from webapp.extensions import db
from webapp.mailtemplates.service import create_default_templates
from webapp.models import Agency, MailSettings

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


class AgencyError(ValueError):
    """An agency cannot be created as asked; the message names the field."""


def find_agency(slug: str) -> Agency | None:
    return db.session.execute(db.select(Agency).filter_by(slug=slug)).scalar_one_or_none()


def create_agency(slug: str, name: str, email: str | None = None) -> Agency:
    if not SLUG.match(slug):
        raise AgencyError("slug: use lowercase latin letters, digits and dashes (up to 63)")
    if not name.strip():
        raise AgencyError("name: must not be empty")
    if find_agency(slug):
        raise AgencyError(f"slug: an agency '{slug}' already exists")
    if email:
        try:
            email = validate_email(email, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            raise AgencyError(f"email: {exc}") from exc
    agency = Agency(slug=slug, name=name.strip(), email=email or None)
    agency.mail_settings = MailSettings()
    create_default_templates(agency)
    db.session.add(agency)
    db.session.commit()
    return agency
