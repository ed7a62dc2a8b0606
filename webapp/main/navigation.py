"""The sections in the navigation, in one place; a section not built yet shows as "coming"."""
from flask import current_app, url_for
from flask_babel import lazy_gettext as _l

SECTIONS = (
    ("mail-settings", "mailsettings.edit", _l("Mail settings")),
    ("templates", "templates.index", _l("Templates")),
    ("email-log", "emaillog.index", _l("Email log")),
    ("troubleshooting", "troubleshoot.index", _l("Troubleshooting")),
    ("staff", "staff.staff_list", _l("Staff")),
    ("schedule", "schedule.index", _l("Schedule")),
    ("api-access", "api_access.access", _l("API access")),
)


def section_title(key: str):
    return next((title for k, _e, title in SECTIONS if k == key), None)


def navigation() -> list[tuple[str, str, str]]:
    """(key, url, title) of each section; unbuilt ones point at their "coming" page."""
    items = []
    for key, endpoint, title in SECTIONS:
        if endpoint in current_app.view_functions:
            url = url_for(endpoint)
        else:
            url = url_for("main.coming", section=key)
        items.append((key, url, title))
    return items
