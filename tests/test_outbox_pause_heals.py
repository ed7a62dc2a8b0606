"""Sending pauses only on a failure that repeats, and heals by itself: a probe on a backoff, or
corrected settings saved, resumes it (real aiosmtpd servers, a real RQ worker)."""
from datetime import timedelta

import pytest

from mailsettings_data import valid_form
from outbox_helpers import minutes_pass, point_agency_at, queue_confirmation, reload
from webapp.extensions import db
from webapp.models import SendingPause
from webapp.models.types import utcnow
from webapp.outbox.sender import CONFIRM_AFTER, current_failure, current_pause, send_due
from webapp.schedule.service import tick

WRONG_LOGIN = "535 5.7.8 Username and Password not accepted"


def login_server(smtp_server, *, refusals):
    """A server whose AUTH refuses the right password `refusals` times, then accepts it."""
    return smtp_server(login="office@alpha.example", password="right",
                       replies={"AUTH": [WRONG_LOGIN] * refusals})


def test_a_single_refused_login_holds_the_emails_without_pausing(agency, smtp_server):
    server = login_server(smtp_server, refusals=1)
    point_agency_at(agency, server, login="office@alpha.example", password="right")
    row = queue_confirmation(agency)

    report = send_due(agency.id)

    assert report.failing and not report.paused
    assert current_pause(agency.id) is None
    assert current_failure(agency.id).state == "failing"
    row = reload(row)
    assert (row.status, row.status_reason, row.attempts) == ("queued", "settings_failing", 0)
    assert row.next_attempt_at > utcnow() + CONFIRM_AFTER - timedelta(seconds=30)
    # Before the confirming attempt nothing tries the server again.
    send_due(agency.id)
    assert len(server.handler.auth_attempts) == 1

    minutes_pass(agency)
    send_due(agency.id)

    assert reload(row).status == "sent"
    assert current_failure(agency.id) is None


def test_a_second_refused_login_minutes_later_pauses(agency, smtp_server):
    server = login_server(smtp_server, refusals=5)
    point_agency_at(agency, server, login="office@alpha.example", password="right")
    row = queue_confirmation(agency)
    send_due(agency.id)
    minutes_pass(agency)

    report = send_due(agency.id)

    assert report.paused
    pause = current_pause(agency.id)
    assert (pause.state, pause.hint_code) == ("paused", "auth_failed")
    assert len(server.handler.auth_attempts) == 2
    row = reload(row)
    assert (row.status, row.status_reason) == ("queued", "sending_paused")


def test_a_success_between_two_failures_starts_the_count_again(agency, smtp_server):
    server = smtp_server(login="office@alpha.example", password="right",
                         replies={"AUTH": [WRONG_LOGIN, "", WRONG_LOGIN]})
    point_agency_at(agency, server, login="office@alpha.example", password="right")
    queue_confirmation(agency, key="registration:1")
    send_due(agency.id)
    minutes_pass(agency)
    send_due(agency.id)  # accepted: the failure did not repeat
    queue_confirmation(agency, key="registration:2")

    send_due(agency.id)

    assert current_failure(agency.id).state == "failing"


@pytest.mark.parametrize("command, reply", [
    ("AUTH", "454 4.7.0 Authentication failed"),  # read as a refused login, yet a 4xx
    ("MAIL", "450 4.7.1 Authentication required"),
])
def test_a_temporary_refusal_never_pauses(agency, smtp_server, command, reply):
    server = smtp_server(login="office@alpha.example", password="right", replies={command: reply})
    point_agency_at(agency, server, login="office@alpha.example", password="right")
    row = queue_confirmation(agency)

    for _ in range(4):
        send_due(agency.id)
        minutes_pass(agency, timedelta(minutes=30))

    assert server.handler.sessions == 4
    assert current_failure(agency.id) is None
    row = reload(row)
    assert (row.status, row.status_reason, row.attempts) == ("queued", "will_retry", 4)


def test_the_probe_resumes_sending_once_the_server_takes_the_login_again(agency, smtp_server,
                                                                          run_worker):
    # Refused twice (paused), refused at the first probe, accepted at the second.
    server = login_server(smtp_server, refusals=3)
    point_agency_at(agency, server, login="office@alpha.example", password="right")
    row = queue_confirmation(agency)
    send_due(agency.id)
    minutes_pass(agency)
    send_due(agency.id)
    assert current_pause(agency.id) is not None

    assert tick(utcnow())["probe_paused_sending"] == 0  # the first probe is two minutes away
    assert tick(utcnow() + timedelta(minutes=2))["probe_paused_sending"] == 1
    run_worker()
    assert current_pause(agency.id) is not None and reload(row).status == "queued"
    assert len(server.handler.received) == 0
    # Backing off: the next probe five minutes after the first.
    assert tick(utcnow() + timedelta(minutes=4))["probe_paused_sending"] == 0

    assert tick(utcnow() + timedelta(minutes=8))["probe_paused_sending"] == 1
    run_worker()

    assert current_failure(agency.id) is None
    assert reload(row).status == "sent"
    assert len(server.handler.received) == 1  # the probe itself sent nothing
    assert len(server.handler.auth_attempts) == 5  # two sends, two probes, the send that resumed


def test_saving_corrected_settings_probes_at_once_and_resumes(agency, admin_client, smtp_server,
                                                             run_worker):
    server = smtp_server(login="office@alpha.example", password="right")
    point_agency_at(agency, server, login="office@alpha.example", password="wrong")
    row = queue_confirmation(agency)
    send_due(agency.id)
    minutes_pass(agency)
    send_due(agency.id)
    assert current_pause(agency.id) is not None

    response = admin_client.post("/mail-settings", data=valid_form(
        host="localhost", port=str(server.port), security="none", password="right"))
    assert response.status_code == 302
    run_worker()

    assert current_failure(agency.id) is None
    assert reload(row).status == "sent"


def test_saving_settings_that_still_fail_keeps_the_pause(agency, admin_client, smtp_server,
                                                        run_worker):
    server = smtp_server(login="office@alpha.example", password="right")
    point_agency_at(agency, server, login="office@alpha.example", password="wrong")
    row = queue_confirmation(agency)
    send_due(agency.id)
    minutes_pass(agency)
    send_due(agency.id)

    admin_client.post("/mail-settings", data=valid_form(
        host="localhost", port=str(server.port), security="none", password="still-wrong"))
    run_worker()

    assert current_pause(agency.id).hint_code == "auth_failed"
    assert reload(row).status == "queued"
    assert len(server.handler.auth_attempts) == 3


def test_a_failing_agency_with_nothing_left_to_send_is_probed_instead(agency, smtp_server,
                                                                       run_worker):
    server = login_server(smtp_server, refusals=1)
    point_agency_at(agency, server, login="office@alpha.example", password="right")
    row = queue_confirmation(agency)
    send_due(agency.id)
    row.status = "skipped"  # withdrawn: the order changed
    db.session.commit()
    minutes_pass(agency)
    assert tick(utcnow())["probe_paused_sending"] == 0  # its confirming attempt may still come

    minutes_pass(agency)
    assert tick(utcnow())["probe_paused_sending"] == 1
    run_worker()

    assert current_failure(agency.id) is None


def test_a_failing_agencys_probe_refused_again_pauses(agency, smtp_server, run_worker):
    server = login_server(smtp_server, refusals=5)
    point_agency_at(agency, server, login="office@alpha.example", password="right")
    row = queue_confirmation(agency)
    send_due(agency.id)
    row.status = "skipped"
    db.session.commit()
    minutes_pass(agency, 2 * CONFIRM_AFTER)

    assert tick(utcnow())["probe_paused_sending"] == 1
    run_worker()

    assert current_pause(agency.id).hint_code == "auth_failed"


def test_a_pause_at_mail_from_lasts_until_the_server_takes_the_sender(agency, smtp_server,
                                                                      run_worker):
    # No login, and a server that wants one: it refuses only at MAIL FROM, which a probe that
    # stopped at AUTH would never see, resuming sending into the same refusal.
    server = smtp_server(replies={"MAIL": ["530 5.7.0 Authentication required"] * 3})
    point_agency_at(agency, server)
    row = queue_confirmation(agency)
    send_due(agency.id)
    minutes_pass(agency)
    send_due(agency.id)
    assert current_pause(agency.id) is not None

    assert tick(utcnow() + timedelta(minutes=2))["probe_paused_sending"] == 1
    run_worker()
    assert current_pause(agency.id) is not None and reload(row).status == "queued"

    assert tick(utcnow() + timedelta(minutes=8))["probe_paused_sending"] == 1
    run_worker()
    assert current_failure(agency.id) is None
    assert reload(row).status == "sent"
    assert len(server.handler.received) == 1  # the probes named the sender, sent nothing


def test_a_pause_from_before_the_upgrade_is_probed_at_the_next_tick(agency, smtp_server,
                                                                    run_worker):
    server = smtp_server(login="office@alpha.example", password="right")
    point_agency_at(agency, server, login="office@alpha.example", password="right")
    row = queue_confirmation(agency)
    db.session.add(SendingPause(agency_id=agency.id, state="paused", hint_code="auth_failed",
                                reply=WRONG_LOGIN, paused_at=utcnow(), retry_at=None, probes=0))
    db.session.commit()

    assert tick(utcnow())["probe_paused_sending"] == 1
    run_worker()

    assert current_failure(agency.id) is None
    assert reload(row).status == "sent"


def test_a_failing_agency_whose_probes_meet_a_4xx_is_probed_every_few_minutes_not_every_tick(
        agency, smtp_server, run_worker):
    server = smtp_server(login="office@alpha.example", password="right",
                         replies={"AUTH": [WRONG_LOGIN] + ["454 4.7.0 Try again later"] * 3})
    point_agency_at(agency, server, login="office@alpha.example", password="right")
    row = queue_confirmation(agency)
    send_due(agency.id)
    row.status = "skipped"
    db.session.commit()
    later = utcnow() + 2 * CONFIRM_AFTER

    assert tick(later)["probe_paused_sending"] == 1
    run_worker()
    assert current_failure(agency.id).state == "failing"  # a 4xx confirms nothing

    assert tick(later + timedelta(minutes=1))["probe_paused_sending"] == 0
    assert tick(later + CONFIRM_AFTER)["probe_paused_sending"] == 1
