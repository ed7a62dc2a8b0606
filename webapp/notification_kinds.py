"""The kinds of notification, the variables each template may use, and sample values for previews."""
from flask_babel import lazy_gettext as _l

REGISTRATION_CONFIRMATION = "registration_confirmation"
ORDER_CHANGE = "order_change"
TIME_LIMIT_WARNING = "time_limit_warning"
DATA_DEADLINE = "data_deadline"
PAYMENT_PROBLEM = "payment_problem"
TEST_EMAIL = "test_email"

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

EDITABLE_KINDS = tuple(kind for kind, spec in KINDS.items() if spec["editable"])


def sample_context(kind: str) -> dict:
    return {**COMMON_SAMPLE, **KINDS[kind]["sample"]}
