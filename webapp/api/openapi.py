"""The OpenAPI 3.1 document of the API: request bodies come from the validating schemas themselves."""
from webapp.api import schemas
from webapp.bookings.service import PAYMENT_PROBLEMS
from webapp.models.booking import ORDER_STATUSES

_MOMENT_OUT = {"type": ["string", "null"], "format": "date-time"}
_ORDER = {
    "type": "object",
    "description": "An order; times are given in the UTC offset the engine last sent them in.",
    "properties": {
        "number": {"type": "string"},
        "client_email": {"type": "string", "format": "email"},
        "client_name": {"type": "string"},
        "status": {"type": "string", "enum": list(ORDER_STATUSES)},
        "paid": {"type": "boolean"},
        "payment_time_limit": _MOMENT_OUT,
        "data_deadline": _MOMENT_OUT,
        "data_complete": {"type": "boolean"},
        "language": {"type": ["string", "null"], "enum": ["ru", "en", None],
                     "description": "The client's language; null: the agency's default."},
        "amount": {"type": ["string", "null"]},
        "currency": {"type": ["string", "null"]},
        "revision": {"type": "integer", "description": "Counts the changes reported so far."},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
    },
}
_RESPONSES = {
    "RegistrationCreated": {"type": "object", "properties": {
        "id": {"type": "integer"}, "login": {"type": "string"},
        "status": {"type": "string", "const": "unconfirmed"}}},
    "RegistrationResults": {"type": "object", "properties": {"results": {
        "type": "array",
        "description": "One result per registration, in the order sent: `code` 201 with the "
                       "client, or 409 with the errors of a login that is live.",
        "items": {"type": "object", "properties": {
            "code": {"type": "integer", "enum": [201, 409]},
            "id": {"type": "integer"}, "login": {"type": "string"},
            "status": {"type": "string", "const": "unconfirmed"},
            "errors": {"type": "object", "additionalProperties": {"type": "string"}}}}}}},
    "Order": _ORDER,
    "PaymentProblemAccepted": {"type": "object", "properties": {
        "order_number": {"type": "string"},
        "kind": {"type": "string", "enum": list(PAYMENT_PROBLEMS)},
        "order_known": {"type": "boolean",
                        "description": "false: the console has not seen this order; the alert "
                                       "is sent all the same (its text needs only the number)."}}},
    "Errors": {
        "type": "object",
        "description": "What is wrong, by field: a body field, a header, or `body` for the whole body.",
        "properties": {"errors": {"type": "object", "additionalProperties": {"type": "string"}}},
        "examples": [{"errors": {"client_email": "required", "status": "must be one of: booked, "
                                 "issued, cancelled"}}],
    },
}
_BUSY = "Idempotency-Key held by a request still being processed."


def _operation(summary: str, description: str, body: schemas.Schema, answers: dict) -> dict:
    """`answers`: status -> (response schema name, description) of what this operation adds."""
    answers = {
        "400": ("Errors", "The body is not JSON."),
        "401": ("Errors", "No token, or not the agency's current token."),
        "409": ("Errors", _BUSY),
        "415": ("Errors", "The body is not sent as application/json."),
        "422": ("Errors", "A field is missing, unknown or invalid (each one is named, e.g. "
                          "`documents[1].content`), or the Idempotency-Key was used before "
                          "with a different request. Nothing of the event is stored."),
        **{status: (name, f"{text} Or: {_BUSY}" if status == "409" else text)
           for status, (name, text) in answers.items()},
    }
    return {
        "summary": summary,
        "description": description,
        "parameters": [{"$ref": "#/components/parameters/IdempotencyKey"}],
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": {"$ref": f"#/components/schemas/{body.name}"}}}},
        "responses": {status: {"description": text, "content": {"application/json": {
            "schema": {"$ref": f"#/components/schemas/{name}"}}}}
            for status, (name, text) in sorted(answers.items())},
    }


_NUMBER = {"name": "number", "in": "path", "required": True, "schema": {"type": "string"},
           "description": "The order's number."}


def document() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Mail console: events from the booking engine",
            "version": "1",
            "description": "The booking engine reports registrations and booking events "
                           "(created, issued, cancelled, changed, paid, payment problems); the "
                           "console sends every email that follows: the client's, in the "
                           "client's language with the documents attached, and the agency "
                           "address's, for the events the agency chose. Documents come in the "
                           "body (base64), never as URLs. Each "
                           "agency has one token (the API access page, or `flask "
                           "agencies token SLUG`). Every event is safe to replay: the same event "
                           "never sends its email twice.",
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": {
            "/registrations": {"post": _operation(
                "Register a client",
                "Emails the client a confirmation link, valid for the agency's expiry setting.",
                schemas.REGISTRATION,
                {"201": ("RegistrationCreated", "Registered; the confirmation email is queued."),
                 "409": ("Errors", "The login belongs to a client whose registration has not "
                                   "expired.")})},
            "/registrations/batch": {"post": _operation(
                "Register many clients at once",
                "Up to 500 registrations in one request and one transaction, each applied as "
                "POST /registrations would apply it. A bad field anywhere refuses the whole "
                "list (422, naming `registrations[i].field`) and saves nothing.",
                schemas.REGISTRATIONS,
                {"200": ("RegistrationResults", "Applied; a confirmation email is queued for "
                                                "each registered client."),
                 "409": ("Errors", "Other requests kept registering logins of this list "
                                   "while it was applied; nothing was saved: send it again "
                                   "with a new Idempotency-Key."),
                 "413": ("Errors", "The body is over 1 MiB.")})},
            "/orders": {"post": _operation(
                "Record a new booking",
                "Stores the order; the client gets the booking confirmation (itinerary, amount, "
                "payment time limit, the documents attached) and the agency address a \"new "
                "booking\" notification, if the agency wants those.", schemas.NEW_ORDER,
                {"201": ("Order", "Stored; the emails are queued."),
                 "409": ("Errors", "An order with this number exists."),
                 "413": ("Errors", "The body is over 16 MiB.")})},
            "/orders/{number}": {"parameters": [_NUMBER], "patch": _operation(
                "Report an order change",
                "Applies the fields given. When something changed (or a new change_summary "
                "came) and the agency emails clients about changes, the client is emailed; "
                "the agency address gets \"booking changed\" if the agency wants it.",
                schemas.ORDER_CHANGE,
                {"200": ("Order", "The order after the change."),
                 "404": ("Errors", "No such order.")})},
            "/orders/{number}/issue": {"parameters": [_NUMBER], "post": _operation(
                "Report the booking issued",
                "The tickets or vouchers are issued: the order becomes `issued`, the client gets "
                "\"your tickets\" with the documents attached, the agency address \"booking "
                "issued\". The same event again sends nothing; other documents (an exchange) "
                "are sent again. A cancelled order is not issued (409, e.g. a late retry).",
                schemas.BOOKING_ISSUED,
                {"200": ("Order", "The order; the emails are queued."),
                 "404": ("Errors", "No such order."),
                 "409": ("Errors", "The order is cancelled."),
                 "413": ("Errors", "The body is over 16 MiB.")})},
            "/orders/{number}/cancellation": {"parameters": [_NUMBER], "post": _operation(
                "Report the booking cancelled",
                "The order becomes `cancelled`, its reminders waiting in the outbox are "
                "withdrawn, the client gets the cancellation notice and the agency address "
                "\"booking cancelled\", once per order.", schemas.BOOKING_CANCELLED,
                {"200": ("Order", "The order; the emails are queued."),
                 "404": ("Errors", "No such order."),
                 "413": ("Errors", "The body is over 16 MiB.")})},
            "/orders/{number}/payments": {"parameters": [_NUMBER], "post": _operation(
                "Report a payment received",
                "The order becomes paid (no time-limit warning follows), the client gets a "
                "receipt and the agency address \"payment received\", once per reference "
                "(or, without one, per amount).", schemas.PAYMENT_RECEIVED,
                {"200": ("Order", "The order; the emails are queued."),
                 "404": ("Errors", "No such order."),
                 "413": ("Errors", "The body is over 16 MiB.")})},
            "/orders/{number}/payment-problems": {"parameters": [_NUMBER], "post": _operation(
                "Report a payment problem",
                "Emails the agency's payment-problem address, once per order and kind, also "
                "for an order the console has not seen (its fixed text needs only the number).",
                schemas.PAYMENT_PROBLEM,
                {"202": ("PaymentProblemAccepted", "The alert is queued.")})},
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "parameters": {"IdempotencyKey": {
                "name": "Idempotency-Key", "in": "header", "required": False,
                "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                "description": "A unique key per event: a retry with the same key and body gets "
                               "the first response again and changes nothing.",
            }},
            "schemas": {
                **{body.name: body.json_schema() for body in (
                    schemas.REGISTRATION, schemas.REGISTRATIONS, schemas.NEW_ORDER,
                    schemas.ORDER_CHANGE, schemas.PAYMENT_PROBLEM, schemas.BOOKING_ISSUED,
                    schemas.BOOKING_CANCELLED, schemas.PAYMENT_RECEIVED)},
                **_RESPONSES,
            },
        },
    }
