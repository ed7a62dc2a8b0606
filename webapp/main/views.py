"""The home page (the agency's sending at a glance), the banner every page shows while sending
is failing or paused, and the "coming" page of sections not built yet."""
from flask import Blueprint, abort, render_template
from flask_babel import get_locale
from flask_login import current_user, login_required
from sqlalchemy.exc import SQLAlchemyError

from webapp.extensions import db

from webapp.main.navigation import navigation, section_title
from webapp.outbox.status import banner, last_day, sending_state, waiting
from webapp.smtpcheck.service import last_run, run_hint
from webapp.tenancy import current_agency

bp = Blueprint("main", __name__)


@bp.app_context_processor
def inject_layout():
    return {"navigation": navigation, "get_locale": get_locale, "sending_banner": sending_banner}


def sending_banner():
    """Called by the layout: the failing or paused state of the signed-in user's agency."""
    if not current_user.is_authenticated:
        return None
    try:
        return banner(current_user.agency_id)
    except SQLAlchemyError:
        # The error page of a broken database must still render.
        db.session.rollback()
        return None


@bp.route("/")
@login_required
def home():
    agency_id = current_agency().id
    run = last_run(agency_id)
    return render_template("main/home.html", sending=sending_state(agency_id),
                           waiting=waiting(agency_id), last_day=last_day(agency_id),
                           last_run=run, last_hint=run_hint(run) if run else None)


@bp.route("/coming/<section>")
@login_required
def coming(section: str):
    title = section_title(section)
    if title is None:
        abort(404)
    return render_template("main/coming.html", title=title)
