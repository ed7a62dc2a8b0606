"""The schedule page: each periodic rule's last tick, duration, output and next run."""
from flask import Blueprint, render_template

from webapp.auth.access import admin_required
from webapp.schedule import service

bp = Blueprint("schedule", __name__, url_prefix="/schedule")


@bp.get("")
@admin_required
def index():
    return render_template("schedule/page.html", rules=service.status())
