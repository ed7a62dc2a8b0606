"""The caught-mail inbox (development only, registered when DEV_TOOLS is on): the signed-in
user's agency's mail only, as any other page."""
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from webapp.auth.access import admin_required
from webapp.catcher.service import caught_ids_of, clear_caught, get_caught, list_caught
from webapp.demo import post_demo_booking
from webapp.tenancy import current_agency

bp = Blueprint("catcher", __name__, url_prefix="/dev/mail")


def _directory() -> str:
    return current_app.config["MAIL_CATCHER_DIR"]


@bp.route("/")
@login_required
def inbox():
    return render_template("catcher/inbox.html",
                           messages=list_caught(_directory(), caught_ids_of(current_user.agency_id)))


@bp.route("/<key>")
@login_required
def message(key: str):
    caught = get_caught(_directory(), key, caught_ids_of(current_user.agency_id))
    if caught is None:
        abort(404)
    return render_template("catcher/message.html", caught=caught)


@bp.route("/clear", methods=["POST"])
@login_required
def clear():
    clear_caught(_directory(), caught_ids_of(current_user.agency_id))
    flash(_("The caught mail was deleted."), "info")
    return redirect(url_for("catcher.inbox"))


@bp.route("/demo-booking", methods=["POST"])
@admin_required
def demo_booking():
    """The booking engine's events of one demo booking, for the signed-in agency (development
    only, like this whole page): its emails arrive here a moment later."""
    language = "en" if request.form.get("language") == "en" else "ru"
    number = post_demo_booking(current_agency(), language=language)
    flash(_("Order %(number)s was booked, issued with its itinerary receipt (PDF) and cancelled: "
            "its emails arrive here in a moment (reload the page).", number=number), "success")
    return redirect(url_for("catcher.inbox"))
