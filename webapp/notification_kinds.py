"""The kinds of notification, the variables each template may use, and sample values for previews."""
from flask_babel import lazy_gettext as _l

REGISTRATION_CONFIRMATION = "registration_confirmation"
ORDER_CHANGE = "order_change"
TIME_LIMIT_WARNING = "time_limit_warning"
DATA_DEADLINE = "data_deadline"
PAYMENT_PROBLEM = "payment_problem"
TEST_EMAIL = "test_email"
# S14: booking events. The client's email, and the agency address's own notification.
BOOKING_CREATED = "booking_created"
BOOKING_ISSUED = "booking_issued"
BOOKING_CANCELLED = "booking_cancelled"
PAYMENT_RECEIVED = "payment_received"
AGENCY_BOOKING_CREATED = "agency_booking_created"
AGENCY_BOOKING_ISSUED = "agency_booking_issued"
AGENCY_BOOKING_CANCELLED = "agency_booking_cancelled"
AGENCY_BOOKING_CHANGED = "agency_booking_changed"
AGENCY_PAYMENT_RECEIVED = "agency_payment_received"

# Every template also gets agency_name and agency_email.
COMMON_SAMPLE = {"agency_name": "Демо-Тур", "agency_email": "office@demo.example"}

KINDS = {
    REGISTRATION_CONFIRMATION: {
        "title": _l("Registration confirmation"),
        "editable": True,
        "sample": {"client_name": "Анна Петрова", "login": "anna",
                   "confirm_url": "https://booking.example/confirm/SAMPLE", "expiry_minutes": 60},
    },
    ORDER_CHANGE: {
        "title": _l("Order change"),
        "editable": True,
        "sample": {"order_number": "291205", "client_name": "Анна Петрова", "status": "issued",
                   "change_summary": "Изменено время вылета", "payment_time_limit": "27.11.2026 18:00"},
    },
    TIME_LIMIT_WARNING: {
        "title": _l("Payment time-limit warning"),
        "editable": True,
        "sample": {"order_number": "291205", "client_name": "Анна Петрова",
                   "payment_time_limit": "27.11.2026 18:00", "minutes_left": 45},
    },
    DATA_DEADLINE: {
        "title": _l("Deadline for mandatory booking data"),
        "editable": True,
        "sample": {"order_number": "291205", "client_name": "Анна Петрова",
                   "data_deadline": "28.11.2026 12:00", "hours_left": 24},
    },
    # S8: the text of payment-problem notifications is fixed, not editable.
    PAYMENT_PROBLEM: {
        "title": _l("Payment problem"),
        "editable": False,
        "sample": {"order_number": "291205", "problem": "issued_unpaid"},
    },
    TEST_EMAIL: {
        "title": _l("Test email"),
        "editable": True,
        "sample": {},
    },
}

_ORDER_SAMPLE = {"order_number": "291205", "client_name": "Анна Петрова",
                 "client_email": "anna@example.org", "amount": "48 200,00 RUB",
                 "payment_time_limit": "27.11.2026, 18:00 (UTC+03:00)",
                 "itinerary": "SU 1402, 12.12.2026 07:40 Москва (SVO) — Сочи (AER)",
                 "documents": "itinerary-receipt.pdf"}
_CANCELLED_SAMPLE = {**_ORDER_SAMPLE, "reason": "Не оплачено до срока"}
_PAYMENT_SAMPLE = {**_ORDER_SAMPLE, "paid_amount": "48 200,00 RUB", "reference": "PAY-7731"}
_CHANGED_SAMPLE = {**_ORDER_SAMPLE, "status": "issued", "change_summary": "Изменено время вылета"}
# Who hears of each booking event (S14): the client's kind, then the agency address's kind and
# the mail setting that switches it on.
BOOKING_EVENTS = {
    "booking_created": (BOOKING_CREATED, AGENCY_BOOKING_CREATED, "notify_agency_booking_created"),
    "booking_issued": (BOOKING_ISSUED, AGENCY_BOOKING_ISSUED, "notify_agency_booking_issued"),
    "booking_cancelled": (BOOKING_CANCELLED, AGENCY_BOOKING_CANCELLED,
                          "notify_agency_booking_cancelled"),
    "booking_changed": (ORDER_CHANGE, AGENCY_BOOKING_CHANGED, "notify_agency_booking_changed"),
    "payment_received": (PAYMENT_RECEIVED, AGENCY_PAYMENT_RECEIVED,
                         "notify_agency_payment_received"),
}
# The agency's switches of its own notifications (mail settings' names), one an event.
AGENCY_TOGGLES = tuple(toggle for _client, _agency, toggle in BOOKING_EVENTS.values())
KINDS |= {
    BOOKING_CREATED: {"title": _l("Booking confirmation (client)"), "editable": True,
                      "sample": _ORDER_SAMPLE},
    BOOKING_ISSUED: {"title": _l("Your tickets (client)"), "editable": True,
                     "sample": _ORDER_SAMPLE},
    BOOKING_CANCELLED: {"title": _l("Cancellation notice (client)"), "editable": True,
                        "sample": _CANCELLED_SAMPLE},
    PAYMENT_RECEIVED: {"title": _l("Payment receipt (client)"), "editable": True,
                       "sample": _PAYMENT_SAMPLE},
    AGENCY_BOOKING_CREATED: {"title": _l("New booking (agency)"), "editable": True,
                             "sample": _ORDER_SAMPLE},
    AGENCY_BOOKING_ISSUED: {"title": _l("Booking issued (agency)"), "editable": True,
                            "sample": _ORDER_SAMPLE},
    AGENCY_BOOKING_CANCELLED: {"title": _l("Booking cancelled (agency)"), "editable": True,
                               "sample": _CANCELLED_SAMPLE},
    AGENCY_BOOKING_CHANGED: {"title": _l("Booking changed (agency)"), "editable": True,
                             "sample": _CHANGED_SAMPLE},
    AGENCY_PAYMENT_RECEIVED: {"title": _l("Payment received (agency)"), "editable": True,
                              "sample": _PAYMENT_SAMPLE},
}
# Kinds sent to the agency's own address: never copied (S9 copies are of client emails).
AGENCY_KINDS = frozenset(agency for _client, agency, _toggle in BOOKING_EVENTS.values())

EDITABLE_KINDS = tuple(kind for kind, spec in KINDS.items() if spec["editable"])


def sample_context(kind: str) -> dict:
    return {**COMMON_SAMPLE, **KINDS[kind]["sample"]}
