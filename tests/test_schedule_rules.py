"""The periodic rules on a controllable clock: each email once inside its window, never outside it,
nothing for paid or cancelled orders, once more for a moved time limit, settings from the next tick."""
import threading
from datetime import datetime, timedelta, timezone

import pytest

from api_fixtures import ORDER, outbox
from webapp.bookings.service import create_order, update_order
from webapp.extensions import db
from webapp.models import Order, OutboxEmail
from webapp.notification_kinds import DATA_DEADLINE, TIME_LIMIT_WARNING
from webapp.outbox.service import queue_email
from webapp.schedule.service import notify_data_deadlines, tick, warn_time_limits

LIMIT = datetime(2030, 3, 1, 12, 0, tzinfo=timezone.utc)
MSK = timezone(timedelta(hours=3))


def minutes(n):
    return timedelta(minutes=n)


def configure(agency, **values):
    for name, value in values.items():
        setattr(agency.mail_settings, name, value)
    db.session.commit()


def order(agency, number="291205", **fields):
    values = dict(client_email="anna@example.org", client_name="Анна Петрова", status="booked",
                  paid=False, data_complete=False, payment_time_limit=LIMIT.astimezone(MSK))
    return create_order(agency, number, **(values | fields))


def warnings():
    return outbox(TIME_LIMIT_WARNING)


def test_a_window_warning_goes_once_inside_the_window(agency):
    configure(agency, warn_from_minutes=30, warn_to_minutes=60)
    booking = order(agency)

    assert warn_time_limits(LIMIT - minutes(61)) == 0
    assert warn_time_limits(LIMIT - minutes(45)) == 1
    assert warn_time_limits(LIMIT - minutes(44)) == 0
    assert warn_time_limits(LIMIT - minutes(31)) == 0

    [email] = warnings()
    assert email.to_address == "anna@example.org" and email.language == "ru"
    assert email.dedupe_key == f"time_limit_warning:{booking.id}:{LIMIT.isoformat()}"
    assert email.context["minutes_left"] == 45
    assert email.context["payment_time_limit"] == "01.03.2030, 15:00 (UTC+03:00)"
    # The sender gives up on it once the time limit has passed.
    assert email.expires_at == LIMIT


def test_no_warning_once_the_window_has_passed_unnoticed(agency):
    configure(agency, warn_from_minutes=30, warn_to_minutes=60)
    order(agency)

    assert warn_time_limits(LIMIT - minutes(29)) == 0
    assert warn_time_limits(LIMIT - minutes(5)) == 0
    assert warnings() == []


def test_up_to_alone_warns_until_the_time_limit_and_not_after(agency):
    configure(agency, warn_from_minutes=None, warn_to_minutes=60)
    order(agency, "1")
    order(agency, "2")

    assert warn_time_limits(LIMIT - minutes(90)) == 0
    assert warn_time_limits(LIMIT - minutes(2)) == 2
    assert warn_time_limits(LIMIT + minutes(1)) == 0

    order(agency, "3")
    assert warn_time_limits(LIMIT + minutes(1)) == 0
    assert len(warnings()) == 2


def test_from_equal_to_still_gets_one_tick(agency):
    configure(agency, warn_from_minutes=45, warn_to_minutes=45)
    order(agency)

    assert warn_time_limits(LIMIT - minutes(46)) == 0
    assert warn_time_limits(LIMIT - minutes(44.5)) == 1
    assert warn_time_limits(LIMIT - minutes(44)) == 0


@pytest.mark.parametrize("fields", [{"paid": True}, {"status": "cancelled"}])
def test_paid_or_cancelled_orders_get_no_warning(agency, fields):
    configure(agency, warn_to_minutes=60)
    order(agency, **fields)

    assert warn_time_limits(LIMIT - minutes(30)) == 0
    assert warnings() == []


def test_a_cancelled_order_needs_no_data(agency):
    configure(agency, data_deadline_hours=24)
    order(agency, status="cancelled", data_deadline=LIMIT)

    assert notify_data_deadlines(LIMIT - timedelta(hours=2)) == 0
    assert outbox(DATA_DEADLINE) == []


@pytest.mark.parametrize("change", [{"paid": True}, {"status": "cancelled"}])
def test_an_order_paid_or_cancelled_before_the_window_gets_no_warning(agency, change):
    configure(agency, warn_to_minutes=60)
    order(agency)
    update_order(agency, "291205", change)

    assert warn_time_limits(LIMIT - minutes(30)) == 0
    assert warnings() == []


def test_a_moved_time_limit_warns_again_exactly_once(agency):
    configure(agency, warn_to_minutes=60)
    order(agency)
    assert warn_time_limits(LIMIT - minutes(30)) == 1

    later = LIMIT + timedelta(days=1)
    update_order(agency, "291205", {"payment_time_limit": later}, "Продлён таймлимит")

    assert warn_time_limits(LIMIT - minutes(20)) == 0
    assert warn_time_limits(later - minutes(30)) == 1
    assert warn_time_limits(later - minutes(10)) == 0
    assert [email.context["minutes_left"] for email in warnings()] == [30, 30]


def test_an_unrelated_change_after_the_warning_sends_nothing_more(agency):
    configure(agency, warn_to_minutes=60)
    order(agency)
    assert warn_time_limits(LIMIT - minutes(30)) == 1

    update_order(agency, "291205", {"client_name": "Анна П."}, "Исправлено имя")

    assert warn_time_limits(LIMIT - minutes(20)) == 0
    assert len(warnings()) == 1


def test_the_data_deadline_notification_goes_once_n_hours_before(agency):
    configure(agency, data_deadline_hours=24)
    deadline = LIMIT + timedelta(days=3)
    order(agency, data_deadline=deadline.astimezone(MSK))

    assert notify_data_deadlines(deadline - timedelta(hours=25)) == 0
    assert notify_data_deadlines(deadline - timedelta(hours=23, minutes=30)) == 1
    assert notify_data_deadlines(deadline - timedelta(hours=2)) == 0

    [email] = outbox(DATA_DEADLINE)
    assert email.context["hours_left"] == 24
    assert email.context["data_deadline"] == "04.03.2030, 15:00 (UTC+03:00)"
    assert email.expires_at == deadline


def test_never_after_the_data_deadline_nor_once_the_data_is_complete(agency):
    configure(agency, data_deadline_hours=24)
    order(agency, "late", data_deadline=LIMIT)
    order(agency, "complete", data_deadline=LIMIT + timedelta(hours=12))
    update_order(agency, "complete", {"data_complete": True})

    assert notify_data_deadlines(LIMIT + minutes(1)) == 0
    assert outbox(DATA_DEADLINE) == []


def test_a_settings_change_applies_from_the_next_tick(agency):
    order(agency)
    assert warn_time_limits(LIMIT - minutes(50)) == 0  # warnings are off

    configure(agency, warn_to_minutes=60)
    assert warn_time_limits(LIMIT - minutes(45)) == 1


def test_a_narrowed_window_waits_for_its_new_start(agency):
    configure(agency, warn_from_minutes=None, warn_to_minutes=60)
    order(agency)

    configure(agency, warn_from_minutes=None, warn_to_minutes=10)
    assert warn_time_limits(LIMIT - minutes(30)) == 0
    assert warn_time_limits(LIMIT - minutes(5)) == 1
    assert warnings()[0].context["minutes_left"] == 5


def test_a_warning_already_due_when_settings_change_is_not_lost(agency):
    configure(agency, warn_from_minutes=30, warn_to_minutes=60)
    order(agency)

    configure(agency, warn_from_minutes=None, warn_to_minutes=120)
    assert warn_time_limits(LIMIT - minutes(100)) == 1


def test_two_ticks_at_once_queue_one_email(app, agency):
    configure(agency, warn_to_minutes=60, data_deadline_hours=24)
    for number in range(20):
        order(agency, str(number), data_deadline=LIMIT)
    now = LIMIT - minutes(30)
    start = threading.Barrier(2)
    produced, errors = [], []

    def run():
        with app.app_context():
            start.wait()
            try:
                produced.append(tick(now))
            except Exception as exc:  # surfaced by the assertion below
                errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert errors == []
    assert sum(result["warn_time_limits"] for result in produced) == 20
    assert sum(result["notify_data_deadlines"] for result in produced) == 20
    assert len(warnings()) == 20 and len(outbox(DATA_DEADLINE)) == 20
    assert tick(now + minutes(1))["warn_time_limits"] == 0


def test_a_warning_still_waiting_is_withdrawn_when_the_order_is_paid(agency, engine):
    engine.post("/orders", ORDER)
    order = db.session.execute(db.select(Order).filter_by(number=ORDER["number"])).scalar_one()
    queue_email(agency.id, TIME_LIMIT_WARNING, order.client_email, {}, f"time_limit_warning:{order.id}:x")
    db.session.commit()

    assert engine.patch(f"/orders/{ORDER['number']}", {"paid": True}).status_code == 200

    db.session.expire_all()
    row = db.session.execute(db.select(OutboxEmail).filter_by(kind=TIME_LIMIT_WARNING)).scalar_one()
    assert (row.status, row.status_reason) == ("skipped", "no_longer_needed")


def test_a_waiting_warning_stays_when_the_order_is_only_issued(agency, engine):
    engine.post("/orders", ORDER)
    order = db.session.execute(db.select(Order).filter_by(number=ORDER["number"])).scalar_one()
    queue_email(agency.id, TIME_LIMIT_WARNING, order.client_email, {}, f"time_limit_warning:{order.id}:x")
    db.session.commit()

    assert engine.patch(f"/orders/{ORDER['number']}", {"status": "issued"}).status_code == 200

    db.session.expire_all()
    row = db.session.execute(db.select(OutboxEmail).filter_by(kind=TIME_LIMIT_WARNING)).scalar_one()
    assert row.status == "queued"


def test_reminders_speak_the_clients_language(agency):
    """S14: the order's language from the engine, else the agency's default client language."""
    configure(agency, warn_from_minutes=30, warn_to_minutes=60, data_deadline_hours=24,
              client_language="en")
    order(agency, "1", language="ru", data_deadline=LIMIT)
    order(agency, "2")

    warn_time_limits(LIMIT - minutes(45))
    notify_data_deadlines(LIMIT - timedelta(hours=2))

    assert sorted((row.kind, row.context["order_number"], row.language) for row in outbox()
                  if row.kind in (TIME_LIMIT_WARNING, DATA_DEADLINE)) == [
        (DATA_DEADLINE, "1", "ru"), (TIME_LIMIT_WARNING, "1", "ru"), (TIME_LIMIT_WARNING, "2", "en")]
    [english] = [row for row in warnings() if row.language == "en"]
    assert english.context["payment_time_limit"] == "3/1/30, 3:00\u202fPM (UTC+03:00)"
