"""The `./run` demo: a button on /dev/mail (and `flask demo-booking`) posts a booking's events, so a
newcomer reads every booking email, the PDF attached, in the caught mail."""
import re

import pytest

from conftest import flask_cli, free_port, sign_in
from webapp import create_app
from webapp.catcher.service import caught_ids_of, list_caught, start_catcher
from webapp.demo import demo_pdf
from webapp.extensions import db


@pytest.fixture
def catcher(app_config, agency):
    app_config["DEV_TOOLS"] = True
    port = free_port()
    controller = start_catcher(app_config["MAIL_CATCHER_DIR"], port=port)
    settings = agency.mail_settings
    settings.host, settings.port, settings.security = "127.0.0.1", port, "none"
    settings.sender_address, settings.sender_name = "office@alpha.example", "Альфа-Тур"
    db.session.commit()
    yield app_config["MAIL_CATCHER_DIR"]
    controller.stop()


def caught_of(directory, agency_id: int) -> list:
    """The agency's own caught mail, as its dev inbox lists it."""
    return list_caught(directory, caught_ids_of(agency_id))


def caught_subjects(directory, agency_id: int) -> list[tuple[str, str]]:
    return sorted((message.envelope_to, message.subject) for message in caught_of(directory, agency_id))


def test_the_dev_page_button_posts_a_booking_its_issue_and_its_cancellation(
        app_config, catcher, admin, run_worker):
    client = create_app(app_config).test_client()
    sign_in(client, admin)
    assert "Отправить демо-бронирование" in client.get("/dev/mail/").text

    response = client.post("/dev/mail/demo-booking", data={"language": "en"}, follow_redirects=True)
    number = re.search(r"Заказ (DEMO-\d+) забронирован", response.text).group(1)
    run_worker()

    assert caught_subjects(catcher, admin.agency_id) == sorted([
        ("anna@client.example", f"Your booking {number}"),
        ("anna@client.example", f"Your tickets for order {number}"),
        ("anna@client.example", f"Order {number} has been cancelled"),
        ("office@alpha.example", f"Новое бронирование № {number}"),
        ("office@alpha.example", f"Заказ № {number} выписан"),
        ("office@alpha.example", f"Заказ № {number} аннулирован")])
    [tickets] = [m for m in caught_of(catcher, admin.agency_id) if m.subject.startswith("Your tickets")]
    [(name, content)] = [(part.get_filename(), part.get_content())
                         for part in tickets.message.iter_attachments()]
    assert name == f"Маршрутная квитанция {number}.pdf" and content == demo_pdf(number)
    assert content.startswith(b"%PDF-1.4") and content.rstrip().endswith(b"%%EOF")


def test_the_command_does_the_same_for_an_agency(catcher, flask_env, agency, run_worker):
    result = flask_cli(flask_env, "demo-booking", "--agency", agency.slug)
    assert result.returncode == 0, result.stderr
    assert "booked, issued with its itinerary receipt (PDF), cancelled" in result.stdout
    run_worker()
    assert len(caught_of(catcher, agency.id)) == 6

    missing = flask_cli(flask_env, "demo-booking", "--agency", "nobody")
    assert missing.returncode != 0 and "--agency: no agency 'nobody'" in missing.stderr


def test_staff_who_are_not_admins_have_no_button(app_config, catcher, agency, make_user):
    client = create_app(app_config).test_client()
    sign_in(client, make_user(agency, "clerk@alpha.example", admin=False))
    assert "demo-booking" not in client.get("/dev/mail/").text
    assert client.post("/dev/mail/demo-booking").status_code == 403
