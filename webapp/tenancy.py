"""Queries scoped to the signed-in user's agency: the only way views reach tenant data."""
from flask import abort
from flask_login import current_user

from webapp.extensions import db
from webapp.models import Agency


def current_agency() -> Agency:
    return current_user.agency


def scoped(model):
    """A select of `model` limited to the current agency's rows."""
    return db.select(model).filter_by(agency_id=current_user.agency_id)


def get_scoped_or_404(model, object_id):
    """Another agency's object answers exactly like a missing one: 404, nothing revealed."""
    obj = db.session.execute(scoped(model).filter_by(id=object_id)).scalar_one_or_none()
    if obj is None:
        abort(404)
    return obj
