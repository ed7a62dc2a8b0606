"""The demo agency of the run command, its mail pointing at the local mail catcher."""
from webapp.agencies.service import create_agency, find_agency
from webapp.auth.service import create_user
from webapp.extensions import db

DEMO_SLUG = "demo"
DEMO_ADMIN = "admin@demo.example"


def ensure_demo(catcher_port: int, password: str) -> str:
    """Create the demo agency and its admin once; returns the admin's email."""
    if find_agency(DEMO_SLUG) is not None:
        return DEMO_ADMIN
    agency = create_agency(DEMO_SLUG, "Демо-Тур", "office@demo.example")
    settings = agency.mail_settings
    settings.host, settings.port, settings.security = "127.0.0.1", catcher_port, "none"
    settings.login = "office@demo.example"
    settings.sender_name = "Демо-Тур"
    db.session.commit()
    create_user(agency, DEMO_ADMIN, password, is_admin=True, name="Администратор")
    return DEMO_ADMIN
