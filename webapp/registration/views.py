"""Client-facing pages, no staff sign-in, in the agency's language: the demo registration form and
the confirmation link."""
from flask import Blueprint, abort, current_app, render_template
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _

from webapp.agencies.service import find_agency
from webapp.bookings.service import Conflict, register_client
from webapp.models.types import utcnow
from webapp.registration.forms import ConfirmForm, RegistrationForm
from webapp.registration.service import agency_of, confirm, pending_client
from webapp.urls import public_url

bp = Blueprint("registration", __name__)


@bp.route("/register/<slug>", methods=["GET", "POST"])
def register(slug: str):
    """A stand-in for the agency's booking site, for the demo only: registrations arrive through
    the API, and an open form would let anyone make the agency's mailbox write to any address."""
    agency = find_agency(slug)
    if agency is None or not current_app.config["DEV_TOOLS"]:
        abort(404)
    with force_locale(agency.locale):
        form = RegistrationForm()
        if form.validate_on_submit():
            try:
                client = register_client(agency, form.login.data, form.email.data, form.name.data,
                                         site_url=public_url())
            except Conflict:
                form.login.errors.append(_("this login is already registered; choose another."))
            else:
                return render_template("registration/registered.html", agency=agency, client=client)
        return render_template("registration/register.html", agency=agency, form=form)


@bp.get("/confirm/<token>")
def confirm_page(token: str):
    client, usable = pending_client(token, utcnow())
    with force_locale(_locale(client)):
        if not usable:
            return _failed(client)
        return render_template("registration/confirm.html", agency=agency_of(client),
                               form=ConfirmForm())


@bp.post("/confirm/<token>")
def confirm_registration(token: str):
    now = utcnow()
    client, usable = pending_client(token, now)
    with force_locale(_locale(client)):
        form = ConfirmForm()
        if not form.validate_on_submit():
            # Only the CSRF token can be wrong: an old page; show it again with a fresh one.
            return render_template("registration/confirm.html", agency=agency_of(client),
                                   form=form), 400
        if not usable or not confirm(client, now):
            return _failed(client)
        return render_template("registration/confirmed.html", agency=agency_of(client),
                               client=client)


def _failed(client):
    """S4's wording for every link that cannot confirm: expired, used, forged. Nobody is signed in.
    410 for a link that worked once (it is gone for good), 400 for a forged one."""
    return render_template("registration/failed.html"), 410 if client else 400


def _locale(client) -> str:
    """The agency's language; a forged link has no agency: the visitor's own choice."""
    agency = agency_of(client)
    return agency.locale if agency else str(get_locale())
