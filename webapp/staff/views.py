"""The staff list and a staff member's profile, always within the signed-in agency."""
from flask import Blueprint, render_template
from flask_login import login_required

from webapp.extensions import db
from webapp.models import User
from webapp.tenancy import get_scoped_or_404, scoped

bp = Blueprint("staff", __name__, url_prefix="/staff")


@bp.route("/")
@login_required
def staff_list():
    users = db.session.execute(scoped(User).order_by(User.email)).scalars().all()
    return render_template("staff/list.html", users=users)


@bp.route("/<int:user_id>")
@login_required
def profile(user_id: int):
    return render_template("staff/profile.html", user=get_scoped_or_404(User, user_id))
