"""The templates list and editor: preview fragment for htmx, enable/disable, restore, tenancy."""
import pytest

from conftest import sign_in
from webapp import notification_kinds as kinds
from webapp.extensions import db
from webapp.mailtemplates.defaults import default_template
from webapp.mailtemplates.render import TemplateMissing, render_email
from webapp.mailtemplates.service import find_template, save_template

URL = "/templates/order_change/ru"


def _form(**parts):
    default = default_template(kinds.ORDER_CHANGE, "ru")
    return {"subject": default.subject, "body_text": default.body_text,
            "body_html": default.body_html, **parts}


def test_the_list_shows_each_kind_and_language_and_the_fixed_payment_problem_texts(admin_client):
    page = admin_client.get("/templates/").get_data(as_text=True)
    assert "Шаблоны писем" in page
    for title in ("Подтверждение регистрации", "Изменение заказа", "Тестовое письмо"):
        assert title in page
    assert 'href="/templates/time_limit_warning/en"' in page
    assert "Проблема при оплате" in page
    assert "{order_number}. Заказ выписан, но оплата не подтверждена." in page
    assert "{order_number}. A cancelled order has been paid." in page
    assert "/templates/payment_problem/ru" not in page


def test_the_editor_shows_the_template_and_its_preview_on_sample_data(admin_client):
    page = admin_client.get(URL).get_data(as_text=True)
    assert "Изменения в заказе № {{ order_number }}" in page  # the source, in the form
    assert "Изменения в заказе № 291205" in page  # the preview
    assert '<iframe class="preview-html" sandbox=""' in page
    assert admin_client.get("/templates/payment_problem/ru").status_code == 404
    assert admin_client.get("/templates/order_change/de").status_code == 404


def test_the_preview_answers_htmx_with_the_fragment_only(admin_client):
    data = _form(subject="Новое: {{ client_name }}",
                 body_html="<b>{{ client_name }}</b> <script>alert(1)</script>")
    fragment = admin_client.post(URL + "/preview", data=data, headers={"HX-Request": "true"})

    html = fragment.get_data(as_text=True)
    assert fragment.status_code == 200
    assert html.lstrip().startswith('<section id="preview"') and "<nav>" not in html
    assert "Новое: Анна Петрова" in html
    # The HTML body goes into srcdoc escaped once more, inside an iframe that runs no script.
    assert 'srcdoc="&lt;b&gt;Анна Петрова&lt;/b&gt; &lt;script&gt;alert(1)&lt;/script&gt;"' in html

    full = admin_client.post(URL + "/preview", data=data).get_data(as_text=True)  # no JavaScript
    assert "<nav>" in full and "Новое: Анна Петрова" in full


def test_the_preview_shows_problems_and_saves_nothing(admin_client, agency):
    html = admin_client.post(URL + "/preview", data=_form(subject="{{ config }}"),
                             headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Тема, строка 1: неизвестная переменная «config»" in html
    assert find_template(agency.id, kinds.ORDER_CHANGE, "ru").subject == \
        default_template(kinds.ORDER_CHANGE, "ru").subject


def test_disable_then_enable_from_the_editor(admin_client, agency):
    response = admin_client.post(URL + "/enabled", data={"enabled": "0"}, follow_redirects=True)
    assert "Шаблон отключён" in response.get_data(as_text=True)
    with pytest.raises(TemplateMissing):
        render_email(agency.id, kinds.ORDER_CHANGE, "ru", kinds.KINDS[kinds.ORDER_CHANGE]["sample"])

    admin_client.post(URL + "/enabled", data={"enabled": "1"})
    assert render_email(agency.id, kinds.ORDER_CHANGE, "ru",
                        kinds.KINDS[kinds.ORDER_CHANGE]["sample"]).subject == "Изменения в заказе № 291205"


def test_restore_default_puts_back_the_default_text(admin_client, agency):
    save_template(agency.id, kinds.ORDER_CHANGE, "ru", _form(subject="Своя тема"))
    response = admin_client.post(URL + "/default", follow_redirects=True)
    assert "Текст по умолчанию восстановлен." in response.get_data(as_text=True)
    db.session.expire_all()
    assert find_template(agency.id, kinds.ORDER_CHANGE, "ru").subject == \
        default_template(kinds.ORDER_CHANGE, "ru").subject


def test_another_agencys_template_cannot_be_reached(client, make_agency, make_user):
    alpha, beta = make_agency("alpha"), make_agency("beta")
    save_template(beta.id, kinds.ORDER_CHANGE, "ru", _form(subject="Секрет Беты"))
    sign_in(client, make_user(alpha))

    assert "Секрет Беты" not in client.get(URL).get_data(as_text=True)
    assert client.get(f"/templates/{beta.id}/order_change/ru").status_code == 404
    client.post(URL, data=_form(subject="Тема Альфы"))
    db.session.expire_all()
    assert find_template(beta.id, kinds.ORDER_CHANGE, "ru").subject == "Секрет Беты"
    assert find_template(alpha.id, kinds.ORDER_CHANGE, "ru").subject == "Тема Альфы"
