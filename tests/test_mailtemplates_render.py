"""Notification emails render from the agency's templates: defaults, escaping, disabled, fixed S8 texts."""
import pytest

from webapp import notification_kinds as kinds
from webapp.extensions import db
from webapp.mailtemplates.render import TemplateBroken, TemplateMissing, render_email
from webapp.mailtemplates.service import save_template, set_enabled
from webapp.models import EmailTemplate


def test_every_new_agency_gets_every_editable_kind_in_russian_and_english(make_agency):
    alpha, beta = make_agency("alpha"), make_agency("beta")
    for agency in (alpha, beta):
        rows = db.session.execute(db.select(EmailTemplate).filter_by(agency_id=agency.id)).scalars()
        assert {(row.kind, row.language) for row in rows if row.enabled} == {
            (kind, language) for kind in kinds.EDITABLE_KINDS for language in ("ru", "en")}


def test_each_default_renders_with_the_sample_data(agency):
    for kind in kinds.EDITABLE_KINDS:
        for language in ("ru", "en"):
            email = render_email(agency.id, kind, language, kinds.KINDS[kind]["sample"])
            assert email.subject and "{{" not in email.subject, (kind, language)
            assert agency.name in email.text and "{" not in email.text, (kind, language)
            assert email.html.startswith("<!doctype html>") and agency.email in email.html


def test_registration_confirmation_gives_the_link_and_how_long_it_is_valid(agency):
    context = {"client_name": "Анна", "login": "anna", "confirm_url": "https://b.example/c/T1?a=1&b=2"}
    limited = render_email(agency.id, kinds.REGISTRATION_CONFIRMATION, "ru",
                           {**context, "expiry_minutes": 90})
    assert "https://b.example/c/T1?a=1&b=2" in limited.text
    assert "Ссылка действительна 90 мин." in limited.text
    assert '<a href="https://b.example/c/T1?a=1&amp;b=2">' in limited.html

    unlimited = render_email(agency.id, kinds.REGISTRATION_CONFIRMATION, "en",
                             {**context, "expiry_minutes": None})
    assert "The link does not expire." in unlimited.text


def test_a_client_name_with_markup_is_escaped_in_html_and_plain_in_text(agency):
    email = render_email(agency.id, kinds.ORDER_CHANGE, "en",
                         {**kinds.KINDS[kinds.ORDER_CHANGE]["sample"], "client_name": "<script>x</script>"})
    assert "Dear <script>x</script>," in email.text
    assert "&lt;script&gt;x&lt;/script&gt;" in email.html and "<script>" not in email.html


def test_a_line_break_in_the_data_cannot_end_the_subject_header(agency):
    save_template(agency.id, kinds.ORDER_CHANGE, "en",
                  {"subject": "Order {{ change_summary }}", "body_text": "t", "body_html": "h"})
    email = render_email(agency.id, kinds.ORDER_CHANGE, "en",
                         {**kinds.KINDS[kinds.ORDER_CHANGE]["sample"], "change_summary": "a\r\nBcc: x@y"})
    assert email.subject == "Order a Bcc: x@y"


def test_a_disabled_template_is_missing_and_the_other_language_is_not_used(agency):
    set_enabled(agency.id, kinds.TIME_LIMIT_WARNING, "ru", False)
    with pytest.raises(TemplateMissing):
        render_email(agency.id, kinds.TIME_LIMIT_WARNING, "ru", kinds.KINDS[kinds.TIME_LIMIT_WARNING]["sample"])
    assert render_email(agency.id, kinds.TIME_LIMIT_WARNING, "en",
                        kinds.KINDS[kinds.TIME_LIMIT_WARNING]["sample"]).subject


def test_another_agencys_template_is_never_used(make_agency):
    alpha, beta = make_agency("alpha"), make_agency("beta")
    save_template(beta.id, kinds.TEST_EMAIL, "ru", {"subject": "beta only", "body_text": "b", "body_html": "b"})
    set_enabled(alpha.id, kinds.TEST_EMAIL, "ru", False)
    with pytest.raises(TemplateMissing):
        render_email(alpha.id, kinds.TEST_EMAIL, "ru", {})
    assert render_email(beta.id, kinds.TEST_EMAIL, "ru", {}).subject == "beta only"


def test_data_missing_a_variable_the_template_uses_is_a_broken_template_not_a_crash(agency):
    with pytest.raises(TemplateBroken, match="'client_name' is undefined"):
        render_email(agency.id, kinds.TIME_LIMIT_WARNING, "en", {"order_number": "1"})


def test_payment_problem_texts_are_fixed(agency):
    expected = [
        ("ru", "issued_unpaid", "Проблема при оплате",
         "291205. Заказ выписан, но оплата не подтверждена."),
        ("ru", "cancelled_paid", "Проблема при оплате", "291205. Оплачен аннулированный заказ."),
        ("en", "issued_unpaid", "Payment problem",
         "291205. The order is issued but the payment is not confirmed."),
        ("en", "cancelled_paid", "Payment problem", "291205. A cancelled order has been paid."),
    ]
    for language, problem, subject, text in expected:
        email = render_email(agency.id, kinds.PAYMENT_PROBLEM, language,
                             {"order_number": "291205", "problem": problem})
        assert (email.subject, email.text, email.html) == (subject, text, f"<p>{text}</p>")
