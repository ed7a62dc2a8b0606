"""The caught-mail inbox (development only, registered when DEV_TOOLS is on): the signed-in
user's agency's mail only, as any other page."""
from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from webapp.catcher.service import caught_ids_of, clear_caught, get_caught, list_caught

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
