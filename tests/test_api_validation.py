"""A bad request is refused naming each field at fault and changes nothing; never a 500. The
OpenAPI document says what the validation does."""
import pytest

from api_fixtures import ORDER, outbox
from webapp.api import schemas
from webapp.api.openapi import document
from webapp.extensions import db
from webapp.models import Client, Order

BAD_ORDERS = [
    ({k: v for k, v in ORDER.items() if k != "client_email"}, "client_email", "required"),
    (ORDER | {"client_email": "anna@"}, "client_email", "not a valid email"),
    (ORDER | {"client_email": 42}, "client_email", "string"),
    (ORDER | {"status": "paid"}, "status", "booked, issued, cancelled"),
    (ORDER | {"status": ["booked"]}, "status", "one of"),
    (ORDER | {"paid": "yes"}, "paid", "true or false"),
    (ORDER | {"paid": 1}, "paid", "true or false"),
    (ORDER | {"payment_time_limit": "2026-11-27T18:00:00"}, "payment_time_limit", "UTC offset"),
    (ORDER | {"payment_time_limit": "2026-11-27"}, "payment_time_limit", "UTC offset"),
    (ORDER | {"data_deadline": "tomorrow"}, "data_deadline", "ISO 8601"),
    (ORDER | {"number": "29/12"}, "number", "must match"),
    (ORDER | {"number": "1" * 41}, "number", "at most 40"),
    (ORDER | {"client_name": "   "}, "client_name", "empty"),
    (ORDER | {"client_name": "Anna\x00"}, "client_name", "control"),
    (ORDER | {"client_name": "\ud800"}, "client_name", "Unicode"),
    (ORDER | {"discount": 5}, "discount", "unknown field"),
]


@pytest.mark.parametrize("body, field, message", BAD_ORDERS)
def test_a_bad_order_is_refused_naming_the_field(engine, body, field, message):
    response = engine.post("/orders", body)
    assert response.status_code == 422
    assert message in response.json["errors"][field]
    assert db.session.execute(db.select(Order)).first() is None


def test_every_bad_field_is_named_at_once(engine):
    response = engine.post("/registrations", {"login": "", "email": "x", "age": 3})
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"login", "email", "name", "age"}
    assert db.session.execute(db.select(Client)).first() is None and outbox() == []


def test_a_change_must_change_something_and_cannot_renumber(engine):
    engine.post("/orders", ORDER)
    booked = outbox()  # the booking's own emails
    assert "body" in engine.patch("/orders/291205", {}).json["errors"]
    assert "unknown field" in engine.patch("/orders/291205", {"number": "1"}).json["errors"]["number"]
    assert engine.patch("/orders/291205", {"kind": "x"}).status_code == 422
    assert outbox() == booked


@pytest.mark.parametrize("data, content_type, status, field", [
    ("{not json", "application/json", 400, "body"),
    ("", "application/json", 400, "body"),
    ("[" * 30_000 + "]" * 30_000, "application/json", 400, "body"),
    ('"a string"', "application/json", 422, "body"),
    ("[1, 2]", "application/json", 422, "body"),
    ("null", "application/json", 422, "body"),
    ('{"kind": "issued_unpaid"}', "text/plain", 415, "Content-Type"),
    ('{"kind": "issued_unpaid"}', None, 415, "Content-Type"),
])
def test_a_body_that_is_not_a_json_object_gets_a_clear_error(engine, data, content_type, status,
                                                                field):
    engine.post("/orders", ORDER)
    booked = outbox()
    response = engine.post("/orders/291205/payment-problems", data=data,
                           content_type=content_type)
    assert response.status_code == status
    assert field in response.json["errors"]
    assert outbox() == booked


def test_a_too_large_body_and_unknown_paths_answer_json(engine):
    big = engine.patch("/orders/291205", {"client_name": "x" * 100_000})
    assert big.status_code == 413 and big.json["errors"]
    # An event that may carry documents takes 16 MiB: 10 MB of them in base64, and more.
    huge = engine.post("/orders", ORDER | {"itinerary": "x" * (17 * 1024 * 1024)})
    assert huge.status_code == 413 and huge.json["errors"]
    missing = engine.post("/bookings", ORDER)
    assert missing.status_code == 404 and missing.json["errors"]
    wrong_method = engine.send("GET", "/orders")
    assert wrong_method.status_code == 405 and wrong_method.json["errors"]


BODIES = {"/registrations": "post", "/orders": "post", "/orders/{number}": "patch",
          "/orders/{number}/payment-problems": "post", "/orders/{number}/issue": "post",
          "/orders/{number}/cancellation": "post", "/orders/{number}/payments": "post"}


VALIDATORS = {schema.name: schema for schema in (
    schemas.REGISTRATION, schemas.NEW_ORDER, schemas.ORDER_CHANGE, schemas.PAYMENT_PROBLEM,
    schemas.BOOKING_ISSUED, schemas.BOOKING_CANCELLED, schemas.PAYMENT_RECEIVED)}


def _documented_bodies():
    spec = document()
    for path, method in BODIES.items():
        ref = spec["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
        name = ref["$ref"].rsplit("/", 1)[1]
        yield pytest.param(name, spec["components"]["schemas"][name], id=f"{method} {path}")


@pytest.mark.parametrize("name, documented", list(_documented_bodies()))
def test_the_openapi_document_agrees_with_the_validation(name, documented):
    validator = VALIDATORS[name]
    example = documented["examples"][0]
    validator.validate(example)  # the documented example is valid
    assert set(documented["properties"]) == set(validator.fields)
    for name in documented["required"]:
        with pytest.raises(schemas.PayloadError) as refused:
            validator.validate({k: v for k, v in example.items() if k != name})
        assert refused.value.errors[name] == "required"
    for name in set(documented["properties"]) - set(documented["required"]):
        validator.validate({k: v for k, v in example.items() if k != name})
    for name, field in documented["properties"].items():
        for value in field.get("enum", ()):
            validator.validate(example | {name: value})
        if "enum" in field:
            with pytest.raises(schemas.PayloadError):
                validator.validate(example | {name: "not-" + field["enum"][0]})
        if "maxLength" in field and field.get("format") != "email":
            with pytest.raises(schemas.PayloadError):
                validator.validate(example | {name: "a" * (field["maxLength"] + 1)})


def test_the_document_and_its_page_are_served(client):
    spec = client.get("/api/v1/openapi.json")
    assert spec.status_code == 200 and spec.json["openapi"].startswith("3.1")
    page = client.get("/api/v1/docs").get_data(as_text=True)
    for path in BODIES:
        assert path in page
    assert "payment_time_limit" in page and "issued_unpaid" in page


def test_far_out_dates_and_offsets_with_seconds_are_refused(engine):
    for value in ("0001-01-01T00:00:00+05:00", "9999-12-31T23:00:00-05:00",
                  "2026-11-27T18:00:00+03:00:30"):
        response = engine.post("/orders", ORDER | {"payment_time_limit": value})
        assert response.status_code == 422, value
        assert "payment_time_limit" in response.json["errors"]
    assert outbox() == []


def test_the_documented_batch_is_a_list_of_documented_registrations(client):
    spec = document()
    operation = spec["paths"]["/registrations/batch"]["post"]
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    documented = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
    items = documented["properties"]["registrations"]
    assert items["items"]["$ref"] == "#/components/schemas/Registration"
    assert items["maxItems"] == schemas.REGISTRATIONS.limit
    assert schemas.REGISTRATIONS.validate(documented["examples"][0]) == [
        schemas.REGISTRATION.validate(spec["components"]["schemas"]["Registration"]["examples"][0])]
    assert "/registrations/batch" in client.get("/api/v1/docs").get_data(as_text=True)
