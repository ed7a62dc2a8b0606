"""The home page and the "coming" page of sections not built yet."""
from flask import Blueprint, abort, render_template
from flask_babel import get_locale
from flask_login import login_required

from webapp.main.navigation import navigation, section_title

bp = Blueprint("main", __name__)


@bp.app_context_processor
def inject_layout():
    return {"navigation": navigation, "get_locale": get_locale}


@bp.route("/")
@login_required
def home():
    return render_template("main/home.html")


@bp.route("/coming/<section>")
@login_required
def coming(section: str):
    title = section_title(section)
    if title is None:
        abort(404)
    return render_template("main/coming.html", title=title)
