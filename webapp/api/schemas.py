"""The payloads the booking engine sends (each field's rules once, for validation and for the
OpenAPI document alike) and the order as we answer it. English: the engine's developers read it."""
import dataclasses
import re
from datetime import datetime, timedelta, timezone

from email_validator import EmailNotValidError, validate_email

from webapp.bookings.service import ORDER_NUMBER_MAX, ORDER_NUMBER_PATTERN, PAYMENT_PROBLEMS
from webapp.models import Order
from webapp.models.booking import ORDER_STATUSES
from webapp.outbox.documents import MAGIC, MAX_DOCUMENTS, DocumentRefused, clean_documents
from webapp.text_rules import unstorable_reason


class PayloadError(ValueError):
    """A request the API refuses before doing anything; `errors` maps each field to what is wrong."""

    def __init__(self, errors: dict[str, str], status: int = 422):
        super().__init__(errors)
        self.errors = errors
        self.status = status


class _Invalid(ValueError):
    pass


@dataclasses.dataclass(frozen=True)
class Field:
    description: str
    example: object
    required: bool = True
    # null is accepted (and means "none") only where a field may be absent in the stored object.
    nullable: bool = False

    def clean(self, value):
        raise NotImplementedError

    def json_schema(self) -> dict:
        schema = {"description": self.description, "examples": [self.example], **self._schema()}
        if self.nullable:
            schema["type"] = [schema["type"], "null"]
        return schema

    def _schema(self) -> dict:
        raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class Text(Field):
    max_length: int = 200
    pattern: str | None = None
    multiline: bool = False
    allow_empty: bool = False

    def clean(self, value):
        if not isinstance(value, str):
            raise _Invalid("must be a string")
        value = value.strip()
        if not value and not self.allow_empty:
            raise _Invalid("must not be empty")
        if len(value) > self.max_length:
            raise _Invalid(f"must be at most {self.max_length} characters")
        _refuse_unstorable(value, self.multiline)
        if self.pattern and not re.fullmatch(self.pattern, value):
            raise _Invalid(f"must match {self.pattern}")
        return value

    def _schema(self) -> dict:
        schema = {"type": "string", "minLength": 0 if self.allow_empty else 1,
                  "maxLength": self.max_length}
        if self.pattern:
            schema["pattern"] = f"^{self.pattern}$"
        return schema


@dataclasses.dataclass(frozen=True)
class Email(Field):
    def clean(self, value):
        if not isinstance(value, str):
            raise _Invalid("must be a string")
        try:
            return validate_email(value.strip(), check_deliverability=False).normalized
        except EmailNotValidError as error:
            raise _Invalid(f"not a valid email address: {error}") from None

    def _schema(self) -> dict:
        return {"type": "string", "format": "email", "maxLength": 320}


@dataclasses.dataclass(frozen=True)
class Choice(Field):
    values: tuple = ()

    def clean(self, value):
        if not isinstance(value, str) or value not in self.values:
            raise _Invalid("must be one of: " + ", ".join(self.values))
        return value

    def _schema(self) -> dict:
        return {"type": "string", "enum": list(self.values)}


@dataclasses.dataclass(frozen=True)
class Flag(Field):
    def clean(self, value):
        if not isinstance(value, bool):  # 0 and 1 are refused: a typed client sends true/false
            raise _Invalid("must be true or false")
        return value

    def _schema(self) -> dict:
        return {"type": "boolean"}


@dataclasses.dataclass(frozen=True)
class Moment(Field):
    """An ISO 8601 date and time with its UTC offset; without one the instant is unknown."""

    def clean(self, value):
        message = "must be an ISO 8601 date and time with a UTC offset, e.g. 2026-11-27T18:00:00+03:00"
        if not isinstance(value, str) or "T" not in value.upper():
            raise _Invalid(message)
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise _Invalid(message) from None
        if moment.tzinfo is None:
            raise _Invalid(message)
        offset = moment.utcoffset()
        if offset.seconds % 60 or offset.microseconds:
            raise _Invalid("the UTC offset must be whole minutes, e.g. +03:00")
        try:
            moment.astimezone(timezone.utc)  # stored in UTC: the years 1 and 9999 overflow
        except OverflowError:
            raise _Invalid("must be a date between the years 2 and 9998") from None
        return moment

    def _schema(self) -> dict:
        return {"type": "string", "format": "date-time"}


@dataclasses.dataclass(frozen=True)
class Documents(Field):
    """Files sent with the event (S15), base64 in the body: never a URL to fetch."""

    def clean(self, value):
        return clean_documents(value)  # DocumentRefused names documents[i].field itself

    def _schema(self) -> dict:
        return {"type": "array", "maxItems": MAX_DOCUMENTS, "items": {
            "type": "object", "additionalProperties": False,
            "required": ["filename", "content_type", "content"],
            "properties": {
                "filename": {"type": "string", "maxLength": 200,
                             "description": "Shown to the client; no path, no line breaks; "
                                            "ends in the content's extension (.pdf, .png, "
                                            ".jpg or .jpeg). Cyrillic names are fine (sent "
                                            "RFC 2231- and RFC 2047-encoded)."},
                "content_type": {"type": "string", "enum": list(MAGIC),
                                 "description": "Must match the content's own signature."},
                "content": {"type": "string", "contentEncoding": "base64",
                            "description": "The file's bytes in base64; all documents of an "
                                           "event together at most 10 MB decoded."}}}}


def _refuse_unstorable(value: str, multiline: bool) -> None:
    reason = unstorable_reason(value, multiline=multiline)
    if reason:
        raise _Invalid(reason)


@dataclasses.dataclass(frozen=True)
class Schema:
    name: str
    description: str
    fields: dict[str, Field]
    # An event whose every field is optional may come as {}.
    may_be_empty: bool = False

    def validate(self, payload) -> dict:
        """The cleaned values of a decoded JSON body, or PayloadError naming every bad field."""
        if not isinstance(payload, dict):
            raise PayloadError({"body": "must be a JSON object"})
        errors, values = {}, {}
        for name in payload.keys() - self.fields.keys():
            errors[name] = "unknown field; allowed: " + ", ".join(self.fields)
        for name, field in self.fields.items():
            if name not in payload:
                if field.required:
                    errors[name] = "required"
                continue
            value = payload[name]
            if value is None and field.nullable:
                values[name] = None
                continue
            try:
                values[name] = field.clean(value)
            except _Invalid as error:
                errors[name] = str(error)
            except DocumentRefused as error:
                errors[error.field] = error.message
        if not errors and not values and not self.may_be_empty:
            errors["body"] = "send at least one of: " + ", ".join(self.fields)
        if errors:
            raise PayloadError(dict(sorted(errors.items())))
        return values

    def json_schema(self) -> dict:
        return {
            "type": "object",
            "description": self.description,
            "properties": {name: field.json_schema() for name, field in self.fields.items()},
            "required": [name for name, field in self.fields.items() if field.required],
            "additionalProperties": False,
            "minProperties": 0 if self.may_be_empty else 1,
            "examples": [{name: field.example for name, field in self.fields.items()}],
        }


def _optional(field: Field) -> Field:
    return dataclasses.replace(field, required=False)


REGISTRATION = Schema("Registration", "A client registered on the booking site.", {
    "login": Text("The client's login on the booking site; unique among the agency's clients "
                  "whose registration has not expired.", "anna", max_length=100),
    "email": Email("Where the confirmation link goes.", "anna@example.com"),
    "name": Text("The client's name, as emails address them.", "Anna Petrova"),
})


@dataclasses.dataclass(frozen=True)
class Batch:
    """Many bodies of one schema in one request, `{key: [body, ...]}`: one transaction and one
    round trip instead of hundreds (a bulk import, a busy engine)."""
    name: str
    description: str
    key: str
    item: Schema
    limit: int

    def validate(self, payload) -> list[dict]:
        """Every item's cleaned values, or PayloadError naming each bad field as key[index].field."""
        if not isinstance(payload, dict) or set(payload) != {self.key}:
            raise PayloadError({"body": f'must be a JSON object with one field, "{self.key}"'})
        items = payload[self.key]
        if not isinstance(items, list) or not 1 <= len(items) <= self.limit:
            raise PayloadError({self.key: f"must be a list of 1 to {self.limit} objects"})
        errors, values = {}, []
        for index, item in enumerate(items):
            try:
                values.append(self.item.validate(item))
            except PayloadError as error:
                errors |= {f"{self.key}[{index}].{name}": text for name, text in error.errors.items()}
        if errors:
            raise PayloadError(errors)
        return values

    def json_schema(self) -> dict:
        return {
            "type": "object",
            "description": self.description,
            "properties": {self.key: {
                "type": "array", "minItems": 1, "maxItems": self.limit,
                "items": {"$ref": f"#/components/schemas/{self.item.name}"}}},
            "required": [self.key],
            "additionalProperties": False,
            "examples": [{self.key: self.item.json_schema()["examples"]}],
        }


REGISTRATIONS = Batch(
    "RegistrationBatch", "Up to 500 registrations at once; each is applied as POST /registrations "
    "would apply it.", "registrations", REGISTRATION, limit=500)


_ORDER_FIELDS = {
    "client_email": Email("The client's address: order-change emails go there.", "anna@example.com"),
    "client_name": Text("The client's name, as emails address them.", "Anna Petrova"),
    "status": Choice("The order's status.", "booked", values=ORDER_STATUSES),
    "paid": Flag("Whether the payment is confirmed.", False),
    "payment_time_limit": Moment("When an unpaid booking is cancelled.",
                                 "2026-11-27T18:00:00+03:00", required=False, nullable=True),
    "data_deadline": Moment("By when the mandatory additional data must be given.",
                            "2026-11-28T12:00:00+03:00", required=False, nullable=True),
    "data_complete": Flag("Whether the mandatory additional data is complete.", False),
    "language": Choice("The client's language for this order's emails; left out: the one given "
                       "before, else the agency's default client language.", "ru",
                       values=("ru", "en"), required=False),
    "amount": Text("The amount to pay, e.g. 48200.00.", "48200.00", max_length=16,
                   pattern=r"\d{1,12}(\.\d{1,2})?", required=False),
    "currency": Text("The amount's ISO 4217 currency.", "RUB", max_length=3, pattern="[A-Z]{3}",
                     required=False),
    "itinerary": Text("The itinerary in words for the client (flights, hotel), shown in the "
                      "booking confirmation.", "SU 1402, 12.12.2026 07:40 SVO - AER",
                      max_length=4000, multiline=True, allow_empty=True, required=False),
}
_LANGUAGE = _ORDER_FIELDS["language"]
_DOCUMENTS = Documents(
    "Documents for the client's email of this event: at most 5 PDF, PNG or JPEG files, 10 MB "
    "decoded in all.", [{"filename": "itinerary-receipt.pdf", "content_type": "application/pdf",
                         "content": "JVBERi0xLjQK"}], required=False)

ORDER_NUMBER = Text("The order's number, unique within the agency.", "291205",
                    max_length=ORDER_NUMBER_MAX, pattern=ORDER_NUMBER_PATTERN)

NEW_ORDER = Schema("NewOrder", "A booking made on the booking site: stored, and the client and "
                   "the agency address are told of it.", {
    "number": ORDER_NUMBER,
    **_ORDER_FIELDS,
    "documents": _DOCUMENTS,
})

BOOKING_ISSUED = Schema("BookingIssued", "The order's tickets or vouchers are issued: the "
                        "client gets them attached.", {
    "language": _LANGUAGE, "documents": _DOCUMENTS}, may_be_empty=True)

BOOKING_CANCELLED = Schema("BookingCancelled", "The order is cancelled (annulled).", {
    "reason": Text("Why, in words for the client.", "Not paid by the time limit",
                   max_length=500, required=False, allow_empty=True),
    "language": _LANGUAGE, "documents": _DOCUMENTS}, may_be_empty=True)

PAYMENT_RECEIVED = Schema("PaymentReceived", "A payment of the order is received.", {
    "amount": dataclasses.replace(_ORDER_FIELDS["amount"], required=True,
                                  description="The amount paid, e.g. 48200.00."),
    "currency": _ORDER_FIELDS["currency"],
    "reference": Text("The payment's reference; another payment of the same amount needs "
                      "another reference to be emailed.", "PAY-7731", max_length=100,
                      pattern=r"[A-Za-z0-9._:-]+", required=False),
    "language": _LANGUAGE, "documents": _DOCUMENTS})

ORDER_CHANGE = Schema("OrderChange", "What changed in an order; at least one field.", {
    **{name: _optional(field) for name, field in _ORDER_FIELDS.items()},
    "change_summary": Text("What changed, in words for the client (e.g. a new departure time); "
                           "a summary alone is a change too.", "New departure time: 07:40",
                           required=False, max_length=2000, multiline=True, allow_empty=True),
})

PAYMENT_PROBLEM = Schema("PaymentProblem", "A payment problem of an order (S8).", {
    "kind": Choice("issued_unpaid: the order is issued but its payment is not confirmed; "
                   "cancelled_paid: a cancelled order was paid.", "issued_unpaid",
                   values=PAYMENT_PROBLEMS),
})


def order_json(order: Order) -> dict:
    """The order as the API answers it; times in the offset the engine wrote them in."""
    zone = timezone(timedelta(minutes=order.utc_offset_minutes or 0))

    def moment(value: datetime | None) -> str | None:
        try:
            return value.astimezone(zone).isoformat() if value else None
        except OverflowError:  # 9999-12-31T23:00Z in the +14:00 of another moment: shown in UTC
            return value.isoformat()

    return {"number": order.number, "client_email": order.client_email,
            "client_name": order.client_name, "status": order.status, "paid": order.paid,
            "payment_time_limit": moment(order.payment_time_limit),
            "data_deadline": moment(order.data_deadline), "data_complete": order.data_complete,
            "language": order.language, "amount": order.amount, "currency": order.currency,
            "revision": order.revision, "created_at": moment(order.created_at),
            "updated_at": moment(order.updated_at)}
