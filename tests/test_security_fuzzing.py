"""Hypothesis throws arbitrary input at every form and API payload: never a 500, never a partial save."""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api_fixtures import ORDER, Engine
from mailsettings_data import valid_form
from webapp.api.service import issue_token
from webapp.extensions import db
from webapp.models import Agency, MailSettings, Order

FUZZ = settings(max_examples=60, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# Text that reaches headers and parsers: control characters, NUL, CR/LF, IDN, huge, markup.
nasty_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", "0", "-1", "65536", "1e9", " ", "a\r\nBcc: x@evil.example", "a\x00b",
                     "\r\n", "\n", "²", "0001-01-01T00:00:00+05:00", "9999-12-31T23:00:00-05:00",
                     "2026-11-27T18:00:00+03:00:30",
                     "пример.рф", "xn--e1afmkfd.xn--p1ai", "<script>alert(1)</script>",
                     "{{ config }}", "x" * 5000, "office@пример.рф", "@", "a@b", "465", "tls"]),
)
json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | nasty_text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=6,
)
SETTINGS_FIELDS = list(valid_form())


def _snapshot(agency_id):
    db.session.expire_all()
    settings_row = db.session.execute(db.select(MailSettings).filter_by(agency_id=agency_id)).scalar_one()
    columns = {c.name: getattr(settings_row, c.name) for c in MailSettings.__table__.columns
               if c.name != "updated_at"}
    return columns, db.session.get(Agency, agency_id).email


@FUZZ
@given(changes=st.dictionaries(st.sampled_from(SETTINGS_FIELDS), nasty_text, min_size=1, max_size=5))
def test_mail_settings_form_never_fails_or_saves_half(admin_client, agency, changes):
    before = _snapshot(agency.id)
    response = admin_client.post("/mail-settings", data=valid_form(**changes))
    assert response.status_code in (200, 302, 303)
    if response.status_code == 200:  # re-rendered with errors: nothing of it was saved
        assert _snapshot(agency.id) == before


@FUZZ
@given(name=st.sampled_from(SETTINGS_FIELDS + ["nonexistent"]), value=nasty_text)
def test_inline_validation_never_fails(admin_client, agency, name, value):
    response = admin_client.post(f"/mail-settings/validate/{name}", data={name: value},
                                 headers={"HX-Request": "true"})
    assert response.status_code in (200, 404)


@pytest.fixture
def fuzz_engine(client, agency):
    return Engine(client, issue_token(agency.id))


@FUZZ
@given(payload=json_value)
def test_api_order_creation_never_fails_on_any_json(fuzz_engine, agency, payload):
    count = db.session.execute(db.select(db.func.count(Order.id))).scalar_one()
    response = fuzz_engine.post("/orders", payload)
    assert response.status_code in (201, 400, 409, 415, 422)
    assert response.is_json
    if response.status_code != 201:
        assert db.session.execute(db.select(db.func.count(Order.id))).scalar_one() == count


@FUZZ
@given(changes=st.dictionaries(st.sampled_from(list(ORDER) + ["change_summary", "bogus"]), json_value,
                               max_size=4))
def test_api_order_changes_never_fail(fuzz_engine, agency, changes):
    if fuzz_engine.post("/orders", ORDER).status_code not in (201, 409):
        pytest.fail("could not create the order to change")
    response = fuzz_engine.patch("/orders/291205", changes)
    assert response.status_code in (200, 400, 422)
    assert response.is_json


@FUZZ
@given(payload=json_value, path=st.sampled_from(["/registrations", "/registrations/batch",
                                                 "/orders/291205/payment-problems"]))
def test_api_events_never_fail(fuzz_engine, agency, payload, path):
    fuzz_engine.post("/orders", ORDER)
    response = fuzz_engine.post(path, payload)
    assert response.status_code in (201, 202, 400, 404, 409, 415, 422)
    assert response.is_json


@FUZZ
@given(registrations=st.lists(st.one_of(
    st.fixed_dictionaries({"login": st.text(min_size=1, max_size=30),
                           "email": st.emails(), "name": st.text(min_size=1, max_size=30)}),
    st.dictionaries(st.sampled_from(["login", "email", "name", "bogus"]), json_value, max_size=4)),
    max_size=5))
def test_api_registration_batches_never_fail(fuzz_engine, agency, registrations):
    response = fuzz_engine.post("/registrations/batch", {"registrations": registrations})
    assert response.status_code in (200, 422)
    assert response.is_json
