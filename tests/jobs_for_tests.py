"""A job used only by the worker tests: it writes through the app's database session."""
from webapp.extensions import db
from webapp.jobs import in_app_context
from webapp.models import Agency


@in_app_context
def rename_agency(agency_id: int, name: str) -> str:
    agency = db.session.get(Agency, agency_id)
    agency.name = name
    db.session.commit()
    return name
