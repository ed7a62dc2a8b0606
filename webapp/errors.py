"""Error pages people can read, in their language; the API keeps answering JSON."""
from urllib.parse import urlsplit

from flask import Flask, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from flask_login import current_user, login_url
from werkzeug.exceptions import HTTPException

from webapp.extensions import login_manager
from webapp.urls import local_url

MESSAGES = {
    400: _l("The request could not be understood. Go back and try again."),
    403: _l("You may not do this. Only the agency's administrators can change its settings."),
    404: _l("There is no such page, or it belongs to another agency."),
    405: _l("This address does not accept this kind of request."),
    413: _l("What was sent is too large."),
    429: _l("Too many requests. Wait a little and try again."),
    500: _l("Something went wrong on our side. Nothing you entered was lost; try again."),
}
CSRF_MESSAGE = _l("The form has expired. Reload the page and submit it again.")
SESSION_EXPIRED_MESSAGE = _l("Your session has expired: nothing was done.")


def init_error_pages(app: Flask) -> None:
    @login_manager.unauthorized_handler
    def unauthorized():
        """Flask-Login's own redirect to the sign-in page, but for htmx a 401 with a message: a
        redirect would swap the whole sign-in page into a field's message."""
        if request.headers.get("HX-Request"):
            return session_expired()
        return redirect(login_url(login_manager.login_view, next_url=request.url))

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if request.path.startswith("/api/"):
            from webapp.api.views import api_error
            return api_error(error)
        message = CSRF_MESSAGE if isinstance(error, CSRFError) else MESSAGES.get(error.code, error.name)
        if request.headers.get("HX-Request"):
            if isinstance(error, CSRFError) and not current_user.is_authenticated:
                return session_expired()  # the session, and its CSRF token with it, is gone
            return htmx_error(error.code, message)
        return render_template("errors/error.html", code=error.code, message=message), error.code


def htmx_error(code: int, message, *, sign_in_url: str | None = None):
    """An error answer to an htmx request: a message for the place the answer was meant for
    (static/htmx-errors.js shows it there), not a whole page."""
    return render_template("errors/_htmx_error.html", code=code, message=message,
                           sign_in_url=sign_in_url), code


def session_expired():
    """401 for an htmx request whose session has expired: a sign-in link back to the page."""
    page = urlsplit(request.headers.get("HX-Current-URL", ""))
    back = local_url(page.path + (f"?{page.query}" if page.query else ""), url_for("main.home"))
    return htmx_error(401, SESSION_EXPIRED_MESSAGE, sign_in_url=url_for("auth.sign_in", next=back))
