"""Sign-in, sign-out and the language switch."""
from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from sqlalchemy import bindparam

from webapp.auth import throttle
from webapp.auth.forms import SignInForm
from webapp.auth.service import authenticate, end_sessions
from webapp.extensions import db, login_manager
from webapp.models import User
from webapp.urls import local_url

bp = Blueprint("auth", __name__)

login_manager.login_view = "auth.sign_in"
login_manager.login_message = None


# Every signed-in request loads its user: a select built once skips building it and its cache
# key each time (~30 % of the load; Session.get builds both anew).
_USER_BY_ID = db.select(User).where(User.id == bindparam("user_id"),
                                    User.session_version == bindparam("version"))


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """The user of a session or remember cookie, while its session version is the current one
    (User.get_id); a cookie from before a sign-out or a password change finds nobody."""
    user, _, version = user_id.partition(":")
    if not (user.isdigit() and version.isdigit()):
        return None  # an id from before session versions: sign in again
    return db.session.execute(
        _USER_BY_ID, {"user_id": int(user), "version": int(version)}).scalar_one_or_none()


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    form = SignInForm()
    if form.validate_on_submit():
        blocked = throttle.count_attempt(form.email.data, request.remote_addr)
        if blocked:
            form.password.errors.append(_("Too many failed sign-ins. Try again in %(minutes)d min.",
                                          minutes=max(1, round(blocked / 60))))
            return render_template("auth/sign_in.html", form=form), 429
        user = authenticate(form.email.data, form.password.data)
        if user is not None:
            throttle.clear_failures(form.email.data, request.remote_addr)
            login_user(user, remember=form.remember.data)
            return redirect(local_url(request.args.get("next"), url_for("main.home")))
        form.password.errors.append(_("Wrong email or password."))
    return render_template("auth/sign_in.html", form=form)


@bp.route("/sign-out", methods=["POST"])
def sign_out():
    if current_user.is_authenticated:
        end_sessions(current_user)
    logout_user()
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.sign_in"))


@bp.route("/language", methods=["POST"])
def choose_language():
    locale = request.form.get("locale")
    if locale in current_app.config["LANGUAGES"]:
        session["locale"] = locale
        if current_user.is_authenticated:
            current_user.locale = locale
            db.session.commit()
    return redirect(local_url(request.form.get("next"), url_for("main.home")))
