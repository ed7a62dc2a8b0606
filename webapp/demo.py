"""The demo agency of the run command, its mail pointing at the local mail catcher, and a scripted
booking whose emails a newcomer then reads in /dev/mail."""
import secrets

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


def demo_pdf(number: str) -> bytes:
    """A one-page PDF "itinerary receipt" for the demo booking: real enough for a mail client
    to open, small enough to read in the test's assertions."""
    text = f"Itinerary receipt {number}: SU 1402, 12.12.2026 07:40 Moscow (SVO) - Sochi (AER)"
    stream = f"BT /F1 12 Tf 40 780 Td ({text}) Tj ET".encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    pdf, offsets = b"%PDF-1.4\n", []
    for number_of_object, body in enumerate(objects, start=1):
        offsets.append(len(pdf))
        pdf += b"%d 0 obj\n%s\nendobj\n" % (number_of_object, body)
    xref = len(pdf)
    pdf += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    pdf += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    pdf += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return pdf


def post_demo_booking(agency, *, language: str = "ru") -> str:
    """The booking engine's three events of one booking, as it would post them to /api/v1 (each
    body through the API's own validation, then the same service call): created, issued with an
    itinerary-receipt PDF, cancelled. Every email of them then shows in /dev/mail. Returns the
    order's number."""
    import base64
    from datetime import timedelta

    from webapp.api import schemas
    from webapp.bookings import service as bookings
    from webapp.models.types import utcnow

    number = f"DEMO-{utcnow():%H%M%S}{secrets.randbelow(100):02d}"
    time_limit = (utcnow() + timedelta(days=1)).replace(microsecond=0).isoformat()
    created = schemas.NEW_ORDER.validate({
        "number": number, "client_email": "anna@client.example", "client_name": "Анна Петрова",
        "status": "booked", "paid": False, "data_complete": True, "language": language,
        "payment_time_limit": time_limit, "amount": "48200.00", "currency": "RUB",
        "itinerary": "SU 1402, 12.12.2026 07:40 Москва (SVO) — Сочи (AER)\n"
                     "SU 1403, 19.12.2026 18:10 Сочи (AER) — Москва (SVO)"})
    bookings.create_order(agency, **created)
    issued = schemas.BOOKING_ISSUED.validate({"documents": [{
        "filename": f"Маршрутная квитанция {number}.pdf", "content_type": "application/pdf",
        "content": base64.b64encode(demo_pdf(number)).decode("ascii")}]})
    bookings.issue_order(agency, number, **issued)
    cancelled = schemas.BOOKING_CANCELLED.validate({"reason": "Демонстрация: аннуляция по просьбе клиента"})
    bookings.cancel_order(agency, number, **cancelled)
    return number
