"""The demo agency of the run command, its mail pointing at the local mail catcher."""
from webapp.agencies.service import create_agency, find_agency
from webapp.auth.service import create_user
from webapp.extensions import db

DEMO_SLUG = "demo"
DEMO_ADMIN = "admin@demo.example"
DEMO_EMAIL = "office@demo.example"


def ensure_demo(catcher_port: int, password: str) -> str:
    """Create the demo agency and its admin once; returns the admin's email.

    The catcher offers no AUTH, so the demo has no login: with one, the first test email fails
    ("the server does not allow password login") and sending pauses. Mail comes from the agency
    address (message.sender_identity)."""
    agency = find_agency(DEMO_SLUG)
    if agency is not None:
        _unbreak_old_demo(agency)
        return DEMO_ADMIN
    agency = create_agency(DEMO_SLUG, "Демо-Тур", DEMO_EMAIL)
    settings = agency.mail_settings
    settings.host, settings.port, settings.security = "127.0.0.1", catcher_port, "none"
    settings.login = ""
    settings.sender_name = "Демо-Тур"
    db.session.commit()
    create_user(agency, DEMO_ADMIN, password, is_admin=True, name="Администратор")
    return DEMO_ADMIN


def _unbreak_old_demo(agency) -> None:
    """A demo made by an earlier version had the login office@demo.example and no password, which
    the catcher refuses; left as it is only while the admin has not changed it."""
    settings = agency.mail_settings
    if (settings.host == "127.0.0.1" and settings.login == DEMO_EMAIL
            and not settings.password_encrypted):
        settings.login = ""
        db.session.commit()
