"""Who may open what: signed-in staff see their agency, admins may change its settings."""
import functools

from flask import abort
from flask_login import current_user, login_required


def admin_required(view):
    @functools.wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapped
