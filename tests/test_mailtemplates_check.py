"""A template is saved only if it is safe and renders with sample data; otherwise nothing changes."""
import time

import pytest

from conftest import sign_in
from webapp import notification_kinds as kinds
from webapp.extensions import db
from webapp.mailtemplates.defaults import default_template
from webapp.mailtemplates.service import find_template

URL = "/templates/order_change/ru"
SSTI_PAYLOADS = [
    "{{ ''.__class__.__mro__ }}",
    "{{ config }}",
    "{{ self.__init__ }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ request }}",
    "{{ client_name['__class__'] }}",
    "{{ client_name|attr('__class__') }}",
    "{% if false %}{{ ''.__class__ }}{% endif %}",  # every branch is checked, not only the sampled
]


def _form(**parts):
    default = default_template(kinds.ORDER_CHANGE, "ru")
    return {"subject": default.subject, "body_text": default.body_text,
            "body_html": default.body_html, **parts}


def _saved_subject(agency):
    db.session.expire_all()
    return find_template(agency.id, kinds.ORDER_CHANGE, "ru").subject


@pytest.mark.parametrize("part, title", [("subject", "Subject"), ("body_text", "Text body"),
                                         ("body_html", "HTML body")])
def test_template_injection_is_refused_naming_the_part(admin_client, agency, part, title):
    admin_client.post("/language", data={"locale": "en"})
    for payload in SSTI_PAYLOADS:
        response = admin_client.post(URL, data={**_form(body_text="changed"), part: payload})

        assert response.status_code == 422, payload
        assert f"{title}, line 1:" in response.get_data(as_text=True), payload
    db.session.expire_all()
    assert find_template(agency.id, kinds.ORDER_CHANGE, "ru").body_text != "changed"


def test_an_unknown_variable_is_refused_with_the_allowed_ones(admin_client):
    admin_client.post("/language", data={"locale": "en"})
    page = admin_client.post(URL, data=_form(body_text="{{ passport }}")).get_data(as_text=True)
    assert ("Text body, line 1: unknown variable “passport”. Allowed variables: agency_email, "
            "agency_name, change_summary, client_name, order_number, payment_time_limit, status.") in page


def test_messages_are_russian_by_default(admin_client):
    page = admin_client.post(URL, data=_form(body_html="{{ config }}")).get_data(as_text=True)
    assert "Текст письма в HTML, строка 1: неизвестная переменная «config»." in page


def test_a_huge_template_is_refused(admin_client, agency):
    admin_client.post("/language", data={"locale": "en"})
    response = admin_client.post(URL, data=_form(subject="changed", body_html="x" * 20_001))
    assert response.status_code == 422
    assert "HTML body: longer than 20000 characters." in response.get_data(as_text=True)
    assert _saved_subject(agency) != "changed"


def test_a_subject_on_two_lines_is_refused(admin_client, agency):
    admin_client.post("/language", data={"locale": "en"})
    response = admin_client.post(URL, data=_form(subject="a\r\nBcc: x@y"))
    assert "Subject: must be a single line." in response.get_data(as_text=True)
    assert _saved_subject(agency) != "a\r\nBcc: x@y"


EXPLOSIVE = [
    "{% for i in range(10**9) %}x{% endfor %}",
    "{% for a in client_name %}{% for b in client_name %}{% for c in client_name %}{% endfor %}"
    "{% endfor %}{% endfor %}",
    "{% macro f() %}{{ f() }}{{ f() }}{% endmacro %}{{ f() }}",
    "{% set s = client_name ~ client_name %}{% set s = s ~ s %}",
    "{{ 'x' * 1000000000 }}",
    "{{ 9 ** 9 ** 9 }}",
    "{{ '%0999999999d' % 1 }}",
    "{% if client_name == 'Bob' %}{{ 'x'|center(999999999) }}{% endif %}",
]


def test_an_endless_or_explosive_template_is_refused_at_once(admin_client, agency):
    for explosive in EXPLOSIVE:
        started = time.monotonic()
        response = admin_client.post(URL, data=_form(subject="changed", body_text=explosive))
        assert time.monotonic() - started < 1, explosive
        assert response.status_code == 422, explosive
    assert _saved_subject(agency) != "changed"


def test_a_valid_template_is_saved_with_its_line_breaks(admin_client, agency):
    response = admin_client.post(URL, data=_form(
        subject="Заказ {{ order_number }}", body_text="Строка 1\r\n{{ client_name|upper }}"))
    assert response.status_code == 302
    db.session.expire_all()
    saved = find_template(agency.id, kinds.ORDER_CHANGE, "ru")
    assert (saved.subject, saved.body_text) == ("Заказ {{ order_number }}",
                                                "Строка 1\n{{ client_name|upper }}")


def test_the_cli_uses_the_same_check(app, agency, tmp_path):
    bad, good = tmp_path / "bad.txt", tmp_path / "good.txt"
    bad.write_text("{{ config }}", encoding="utf-8")
    good.write_text("Здравствуйте, {{ client_name }}", encoding="utf-8")
    runner = app.test_cli_runner()

    refused = runner.invoke(args=["templates", "set", "order_change", "ru", "--agency", "alpha",
                                  "--text-file", str(bad)])
    assert refused.exit_code == 1 and "«config»" in refused.output
    saved = runner.invoke(args=["templates", "set", "order_change", "ru", "--agency", "alpha",
                                "--text-file", str(good)])
    assert saved.exit_code == 0, saved.output
    assert find_template(agency.id, "order_change", "ru").body_text == "Здравствуйте, {{ client_name }}"

    restored = runner.invoke(args=["templates", "reset-defaults", "--agency", "alpha",
                                   "--kind", "order_change"])
    assert restored.exit_code == 0, restored.output
    db.session.expire_all()
    assert find_template(agency.id, "order_change", "ru").body_text == \
        default_template("order_change", "ru").body_text


def test_staff_who_are_not_admins_cannot_save(client, agency, make_user):
    sign_in(client, make_user(agency, email="clerk@alpha.example", admin=False))
    assert client.get(URL).status_code == 200
    assert client.post(URL, data=_form(subject="changed")).status_code == 403
    assert client.post(URL + "/enabled", data={"enabled": "0"}).status_code == 403
    assert client.post(URL + "/default").status_code == 403
    assert _saved_subject(agency) != "changed"
