"""The test email against real SMTP servers: steps, hints, secrets and the reusable session."""

from __future__ import annotations

import base64
import email
import json
import time
from email import policy

import pytest

from webapp.smtpcheck.connection import Envelope, SmtpError, SmtpSettings, open_session
from webapp.smtpcheck.engine import run_test
from webapp.smtpcheck.message import build_test_message, compose_message

from fixtures_smtp import free_port

AGENCY = "agency@example.com"
LOGIN, PASSWORD = "sender@example.com", "s3cret-Pässword"

SUCCESS_STEPS = ["mail_from", "rcpt_to", "data", "quit"]


def names(result) -> list[str]:
    return [step.step for step in result.steps]


@pytest.mark.parametrize(
    ("tls", "security", "opening"),
    [
        ("none", "none", ["resolve", "connect", "greeting", "ehlo"]),
        ("starttls", "starttls", ["resolve", "connect", "greeting", "ehlo", "starttls"]),
        ("implicit", "tls", ["resolve", "connect", "tls", "greeting", "ehlo"]),
    ],
)
def test_the_test_email_arrives_with_every_step_shown_in_order(smtp_server, tls, security, opening):
    server = smtp_server(tls=tls, login=LOGIN, password=PASSWORD)

    result = run_test(server.settings(security=security, login=LOGIN, password=PASSWORD), AGENCY)

    assert result.ok, result.as_dict()
    assert names(result) == opening + ["auth"] + SUCCESS_STEPS
    assert all(step.ok and step.ms >= 0 for step in result.steps)
    assert [received.rcpt_tos for received in server.handler.received] == [[AGENCY]]
    assert server.handler.received[0].mail_from == LOGIN


def test_without_a_login_there_is_no_auth_step(smtp_server):
    server = smtp_server()

    result = run_test(server.settings(), AGENCY)

    assert result.ok
    assert names(result) == ["resolve", "connect", "greeting", "ehlo"] + SUCCESS_STEPS
    assert result.as_dict()["hint"] is None and result.failed_step is None


def test_the_message_is_russian_by_default_and_comes_from_the_sender(smtp_server, smtpcheck_translations):
    server = smtp_server()
    settings = server.settings(sender_address="tours@example.com", sender_name="Турагентство «Восток»")

    assert run_test(settings, AGENCY).ok

    received = server.handler.received[0]
    message = email.message_from_bytes(received.content, policy=policy.default)
    assert received.mail_from == "tours@example.com"
    assert message["Subject"] == "Тестовое письмо"
    assert message["From"].addresses[0].display_name == "Турагентство «Восток»"
    assert message["From"].addresses[0].addr_spec == "tours@example.com"
    assert message["To"] == AGENCY
    assert message["Message-ID"].endswith("@example.com>")
    assert message["Date"]
    assert "настройки почтового сервера работают" in message.get_content()
    assert received.content.isascii()  # the display name travels RFC 2047-encoded


def test_the_message_can_be_english(smtpcheck_translations, smtp_server):
    message = build_test_message(smtp_server().settings(login=LOGIN), AGENCY, language="en")

    assert message["Subject"] == "Test email"
    assert "the mail server settings work" in message.get_content()


def test_each_step_is_reported_as_it_finishes(smtp_server):
    server = smtp_server(delay=0.15)
    seen: list[tuple[str, float]] = []

    result = run_test(server.settings(), AGENCY, on_step=lambda step: seen.append((step.step, time.monotonic())))

    assert [name for name, _ in seen] == names(result)
    moments = dict(seen)
    assert moments["mail_from"] - moments["ehlo"] >= 0.1
    assert moments["data"] - moments["rcpt_to"] >= 0.1


def test_the_result_serialises_for_the_page(smtp_server):
    server = smtp_server(replies={"RCPT": "550 5.1.1 <agency@example.com>: User unknown"})

    data = run_test(server.settings(), AGENCY).as_dict()

    json.dumps(data)  # strings only, lazy texts resolved
    assert data["ok"] is False and data["failed_step"] == "rcpt_to"
    assert data["hint"]["code"] == "recipient_rejected" and data["hint"]["field"] == "agency_email"
    assert data["steps"][-1] == {
        "step": "rcpt_to", "ok": False, "code": 550, "enhanced": "5.1.1",
        "reply": "5.1.1 <agency@example.com>: User unknown", "ms": data["steps"][-1]["ms"],
    }


# --- secrets ----------------------------------------------------------------------------------

def secret_forms() -> list[str]:
    b64 = lambda text: base64.b64encode(text.encode()).decode()  # noqa: E731
    return [PASSWORD, b64(PASSWORD), b64(f"\0{LOGIN}\0{PASSWORD}")]


def assert_no_secret(result) -> None:
    shown = repr(result) + json.dumps(result.as_dict(), ensure_ascii=False) + "".join(s.reply for s in result.steps)
    for secret in secret_forms():
        assert secret not in shown


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
@pytest.mark.parametrize("password", [PASSWORD, "wrong password"])
def test_the_password_never_appears_and_the_auth_step_shows_the_mechanism(smtp_server, mechanism, password):
    excluded = ["LOGIN"] if mechanism == "PLAIN" else ["PLAIN"]
    server = smtp_server(tls="starttls", login=LOGIN, password=PASSWORD, auth_exclude_mechanism=excluded)

    result = run_test(server.settings(security="starttls", login=LOGIN, password=password), AGENCY)

    auth = next(step for step in result.steps if step.step == "auth")
    assert auth.reply.startswith(f"AUTH {mechanism} •••• → ")
    assert result.ok is (password == PASSWORD)
    assert server.handler.auth_attempts == [(mechanism, LOGIN)]  # one mechanism tried once
    assert_no_secret(result)


def test_a_server_echoing_the_password_is_masked(smtp_server):
    server = smtp_server(login=LOGIN, password="other", replies={"AUTH": "535 5.7.8 Bad password {password}"})

    result = run_test(server.settings(login=LOGIN, password=PASSWORD), AGENCY)

    assert result.hint.code == "auth_failed"
    assert result.steps[-1].reply == "AUTH PLAIN •••• → 5.7.8 Bad password ••••"
    assert_no_secret(result)


def test_settings_repr_hides_the_password(smtp_server):
    assert PASSWORD not in repr(smtp_server().settings(password=PASSWORD))


# --- the batch sender's session -------------------------------------------------------------

@pytest.mark.parametrize("pipelining", [True, False])
def test_one_session_sends_many_messages_and_survives_a_refused_recipient(smtp_server, pipelining):
    server = smtp_server(replies={"RCPT": {"gone@example.com": "550 5.1.1 User unknown"}},
                         pipelining=pipelining)
    settings = server.settings()
    message = build_test_message(settings, AGENCY)

    with open_session(settings) as session:
        first = session.send(Envelope(message, "tours@example.com", [AGENCY]))
        with pytest.raises(SmtpError) as refused:
            session.send(Envelope(message, "tours@example.com", ["gone@example.com"]))
        partial = session.send(Envelope(message, "tours@example.com", [AGENCY, "gone@example.com"]))

    assert first.code == 250 and first.refused == {}
    assert refused.value.step == "rcpt_to" and refused.value.code == 550 and not refused.value.temporary
    assert refused.value.hint.code == "recipient_rejected"
    assert partial.refused == {"gone@example.com": (550, "5.1.1 User unknown")}
    assert [r.rcpt_tos for r in server.handler.received] == [[AGENCY], [AGENCY]]
    assert server.handler.sessions == 1


@pytest.mark.parametrize("pipelining", [True, False])
def test_a_refused_sender_leaves_the_session_in_step_for_the_next_message(smtp_server, pipelining):
    # Under PIPELINING the RCPT and DATA replies are already on their way when MAIL is refused.
    server = smtp_server(replies={"MAIL": ["553 5.7.1 Sender not allowed"]}, pipelining=pipelining)
    settings = server.settings()
    message = build_test_message(settings, AGENCY)

    with open_session(settings) as session:
        with pytest.raises(SmtpError) as refused:
            session.send(Envelope(message, "tours@example.com", [AGENCY, "copies@example.com"]))
        after = session.send(Envelope(message, "tours@example.com", [AGENCY]))

    assert (refused.value.step, refused.value.code) == ("mail_from", 553)
    assert after.code == 250
    assert [r.rcpt_tos for r in server.handler.received] == [[AGENCY]]


def test_a_session_that_cannot_open_raises_with_step_and_hint():
    settings = SmtpSettings("127.0.0.1", free_port(), "none", timeout=1, allow_private=True)

    with pytest.raises(SmtpError) as failure:
        open_session(settings)

    assert failure.value.step == "connect" and failure.value.hint.code == "connection_refused"
    assert failure.value.temporary


def test_blind_copies_are_delivered_but_never_written_into_the_message(smtp_server):
    server = smtp_server()
    settings = server.settings()
    message = build_test_message(settings, AGENCY)
    message["Bcc"] = "copies@example.com"

    with open_session(settings) as session:
        session.send(Envelope(message, "tours@example.com", [AGENCY, "copies@example.com"]))

    received = server.handler.received[0]
    assert received.rcpt_tos == [AGENCY, "copies@example.com"]
    assert b"copies@example.com" not in received.content


def test_a_temporary_refusal_is_marked_for_retry(smtp_server):
    server = smtp_server(replies={"MAIL": "451 4.3.0 Temporary local problem"})
    settings = server.settings()

    with open_session(settings) as session:
        with pytest.raises(SmtpError) as refusal:
            session.send(Envelope(build_test_message(settings, AGENCY), "tours@example.com", [AGENCY]))
        assert session.is_open

    assert refusal.value.temporary and refusal.value.hint.code == "temporary_failure"


def test_non_ascii_password_and_idn_recipient(smtp_server):
    server = smtp_server(tls="implicit", login=LOGIN, password="пароль-Ёж")

    result = run_test(server.settings(security="tls", login=LOGIN, password="пароль-Ёж"), "agency@почта.рф")

    assert result.ok, result.as_dict()
    assert server.handler.received[0].rcpt_tos == ["agency@xn--80a1acny.xn--p1ai"]


def test_an_unknown_security_choice_is_a_bug_not_a_hint():
    with pytest.raises(ValueError):
        SmtpSettings("smtp.example.com", 587, "ssl")


def test_a_notification_goes_as_text_and_html_alternatives(smtp_server):
    server = smtp_server()
    settings = server.settings(sender_name="Восток", sender_address="tours@example.com")
    message = compose_message(settings, AGENCY, "Заказ 291205 изменён", "Текст", "<p>Текст</p>")

    with open_session(settings) as session:
        session.send(Envelope(message, "tours@example.com", [AGENCY]))

    received = email.message_from_bytes(server.handler.received[0].content, policy=policy.default)
    assert received["Subject"] == "Заказ 291205 изменён"
    assert received.get_body(("html",)).get_content().strip() == "<p>Текст</p>"
    assert received.get_body(("plain",)).get_content().strip() == "Текст"
