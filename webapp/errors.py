"""Error pages people can read, in their language; the API keeps answering JSON."""
from flask import Flask, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

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


def init_error_pages(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if request.path.startswith("/api/"):
            from webapp.api.views import api_error
            return api_error(error)
        message = CSRF_MESSAGE if isinstance(error, CSRFError) else MESSAGES.get(error.code, error.name)
        return render_template("errors/error.html", code=error.code, message=message), error.code
