"""The periodic rules, the tick that runs them all, and the record of each rule's last run.

Every rule takes `now` explicitly (tests drive a controllable clock) and is idempotent: `rq cron`
has no leader election and enqueues its jobs at start, so two ticks at once or a tick repeated
after a restart must produce nothing twice and lose nothing. Three guards make that so:
- a rule takes only rows whose due moment has come, through a partial index (O(due));
- it claims each row with a compare-and-set UPDATE (the due moment it read, and the moment the
  email is about), so of two ticks only one claims the row, and a concurrent change of the order
  (a moved time limit, a payment) makes the claim fail instead of being overwritten;
- the outbox's dedupe key (one per order and time limit / deadline) rejects a second email anyway.
A tick that was missed loses nothing either: whatever fell due meanwhile is still due, and is
sent if its window is still open (never outside it).
"""
import json
import math
import time
from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from webapp import notification_kinds as kinds
from webapp.bookings.service import format_moment
from webapp.extensions import db
from webapp.jobs import redis_connection
from webapp.models import Agency, Client, MailSettings, Order
from webapp.models.types import utcnow
from webapp.outbox.probe import probe_paused
from webapp.outbox.documents import purge_documents
from webapp.outbox.service import queue_email, sweep, wake
from webapp.schedule.due import (TICK_INTERVAL, data_deadline_window, registration_expiry,
                                 reschedule, warning_window)

BATCH_SIZE = 500
# agency id -> the scheduling settings last applied to its rows' due moments (JSON).
APPLIED_SETTINGS = "schedule:applied-settings"
APPLYING_LOCK = "schedule:applying:{agency_id}"
# Applying one agency's change rewrites its open orders: generous, it runs once per change.
APPLYING_LOCK_TIMEOUT = 600
STATS = "schedule:stats:{rule}"
SCHEDULING_FIELDS = ("unconfirmed_expiry_minutes", "data_deadline_hours", "warn_from_minutes",
                     "warn_to_minutes")


# --- the rules ---------------------------------------------------------------------------------

def expire_registrations(now: datetime) -> int:
    """S4: unconfirmed registrations past their expiry become expired (their login is free
    again, their link fails). Returns how many expired."""
    apply_settings_changes(now)
    expired = 0
    while True:
        ids = db.session.execute(
            select(Client.id).where(Client.expires_at <= now, Client.status == "unconfirmed")
            .order_by(Client.expires_at).limit(BATCH_SIZE)).scalars().all()
        if not ids:
            return expired
        # The status condition again: a confirmation or another tick may have come in between.
        expired += db.session.execute(
            update(Client).where(Client.id.in_(ids), Client.status == "unconfirmed",
                                 Client.expires_at <= now)
            .values(status="expired", expired_at=now, expires_at=None)
            .execution_options(synchronize_session=False)).rowcount
        db.session.commit()


def warn_time_limits(now: datetime) -> int:
    """S6: one warning per order and time limit, inside the agency's window. Returns emails queued."""
    apply_settings_changes(now)
    return _process_due(Order.warn_due_at, Order.payment_time_limit, warning_window,
                        _queue_warning, now)


def notify_data_deadlines(now: datetime) -> int:
    """S5: one notification per order and deadline, N hours before it while the data is missing.
    Returns emails queued."""
    apply_settings_changes(now)
    return _process_due(Order.data_due_at, Order.data_deadline, data_deadline_window,
                        _queue_data_deadline, now)


def sweep_outbox(now: datetime) -> int:
    """Wake agencies whose outbox has due rows (retries, lost wakes). Returns agencies woken."""
    return sweep(now)


def probe_paused_sending(now: datetime) -> int:
    """Queue a probe of each paused agency's settings whose next probe (on its backoff) is due;
    its success resumes sending. Returns probes queued."""
    return probe_paused(now)


@dataclass(frozen=True)
class Rule:
    name: str
    run: object
    title: object
    # What the produced count counts, for people.
    unit: object


RULES = (
    Rule("expire_registrations", expire_registrations, _l("Expiry of unconfirmed registrations"),
         _l("Registrations expired")),
    Rule("warn_time_limits", warn_time_limits, _l("Payment time-limit warnings"),
         _l("Emails queued")),
    Rule("notify_data_deadlines", notify_data_deadlines,
         _l("Deadline for mandatory booking data"), _l("Emails queued")),
    Rule("sweep_outbox", sweep_outbox, _l("Outbox sweep"), _l("Agencies woken")),
    Rule("probe_paused_sending", probe_paused_sending, _l("Probe of paused sending"),
         _l("Agencies probed")),
    Rule("purge_documents", purge_documents, _l("Deletion of sent emails' documents after 30 days"),
         _l("Documents deleted")),
)


def tick(now: datetime | None = None) -> dict[str, int]:
    """Run every rule once, recording each one's run; what `rq cron` and `flask schedule tick` run.

    One failing rule does not stop the others; the first failure is raised at the end, so the
    job shows as failed in RQ.
    """
    now = now or utcnow()
    produced, failure = {}, None
    for rule in RULES:
        started = time.perf_counter()
        error = ""
        try:
            produced[rule.name] = rule.run(now)
        except Exception as exc:  # noqa: BLE001  (recorded for operators, re-raised below)
            db.session.rollback()
            produced[rule.name] = 0
            error = f"{type(exc).__name__}: {exc}"[:500]
            failure = failure or exc
        _record(rule.name, now, round((time.perf_counter() - started) * 1000), produced[rule.name],
                error)
    if failure is not None:
        raise failure
    return produced


# --- what operators see ------------------------------------------------------------------------

@dataclass(frozen=True)
class RuleStatus:
    name: str
    title: object
    unit: object
    last_tick: datetime | None
    duration_ms: int | None
    produced: int | None
    error: str
    next_run: datetime | None


def status() -> list[RuleStatus]:
    """Each rule's last run; the next run is one interval after it (rq cron's interval job)."""
    redis = redis_connection()
    statuses = []
    for rule in RULES:
        stats = {key.decode(): value.decode()
                 for key, value in redis.hgetall(STATS.format(rule=rule.name)).items()}
        last_tick = datetime.fromisoformat(stats["last_tick"]) if stats else None
        statuses.append(RuleStatus(
            rule.name, rule.title, rule.unit, last_tick,
            int(stats["duration_ms"]) if stats else None,
            int(stats["produced"]) if stats else None, stats.get("error", ""),
            last_tick + TICK_INTERVAL if last_tick else None))
    return statuses


def _record(rule: str, now: datetime, duration_ms: int, produced: int, error: str) -> None:
    redis_connection().hset(STATS.format(rule=rule), mapping={
        "last_tick": now.isoformat(), "duration_ms": duration_ms, "produced": produced,
        "error": error})


# --- settings changes --------------------------------------------------------------------------

def apply_settings_changes(now: datetime) -> int:
    """Recompute the due moments of agencies whose scheduling settings changed since last applied;
    returns how many agencies. Cost: one read of the settings per tick, plus, once per change,
    the agency's open orders and unconfirmed clients.

    Lazily, in the tick rather than in the settings save: a save stays fast for an agency with
    many orders, settings changed any way (the page, the CLI, a script) are seen, and "a change
    applies from the next tick" holds by construction. What was applied is kept in Redis; if
    Redis loses it, the next tick simply recomputes every agency once.
    """
    redis = redis_connection()
    applied = {int(agency_id): value.decode()
               for agency_id, value in redis.hgetall(APPLIED_SETTINGS).items()}
    changed = 0
    for settings in db.session.execute(select(MailSettings)).scalars().all():
        value = json.dumps([getattr(settings, name) for name in SCHEDULING_FIELDS])
        if applied.get(settings.agency_id) == value:
            continue
        # Two ticks applying one agency's change at once could interleave old and new values;
        # the one without the lock leaves it to the holder (or to the next tick).
        lock = redis.lock(APPLYING_LOCK.format(agency_id=settings.agency_id),
                          timeout=APPLYING_LOCK_TIMEOUT, blocking=False)
        if not lock.acquire():
            continue
        try:
            _reschedule_agency(settings, now)
            db.session.commit()
            # Recorded after the commit: a crash in between only means recomputing again.
            redis.hset(APPLIED_SETTINGS, settings.agency_id, value)
        finally:
            lock.release()
        changed += 1
    return changed


def _reschedule_agency(settings: MailSettings, now: datetime) -> None:
    """Due moments of the agency's orders and clients that may still be owed something."""
    open_orders = select(Order).where(
        Order.agency_id == settings.agency_id, Order.status != "cancelled",
        ((Order.paid.is_(False) & (Order.payment_time_limit > now))
         | (Order.data_complete.is_(False) & (Order.data_deadline > now))
         # Owed nothing any more, yet still pending: clear them here rather than in the tick.
         | Order.warn_due_at.is_not(None) | Order.data_due_at.is_not(None)))
    for order in db.session.execute(open_orders.execution_options(yield_per=1000)).scalars():
        reschedule(order, settings)
    unconfirmed = select(Client).where(Client.agency_id == settings.agency_id,
                                       Client.status == "unconfirmed")
    for client in db.session.execute(unconfirmed.execution_options(yield_per=1000)).scalars():
        client.expires_at = registration_expiry(client.registered_at,
                                                settings.unconfirmed_expiry_minutes)


# --- the orders' due rows ----------------------------------------------------------------------

def _process_due(due_column, moment_column, window_of, queue, now: datetime) -> int:
    """Claim each order whose `due_column` has come and queue its email if `now` is inside its
    window; the column is then cleared, or moved on if the agency's settings moved the window."""
    queued = 0
    while True:
        orders = db.session.execute(
            select(Order).where(due_column <= now).order_by(due_column, Order.id)
            .limit(BATCH_SIZE)).scalars().all()
        if not orders:
            return queued
        agencies = _agencies_with_settings({order.agency_id for order in orders})
        woken = set()
        for order in orders:
            agency, settings = agencies[order.agency_id]
            window = window_of(order, settings)
            next_due = window[0] if window and window[0] > now else None
            claimed = db.session.execute(
                update(Order).where(Order.id == order.id,
                                    due_column == getattr(order, due_column.key),
                                    moment_column == getattr(order, moment_column.key))
                .values({due_column.key: next_due})
                .execution_options(synchronize_session=False)).rowcount
            if claimed and window and window[0] <= now < window[1] and queue(order, agency, now,
                                                                         settings.client_language):
                queued += 1
                woken.add(agency.id)
        db.session.commit()
        for agency_id in woken:
            wake(agency_id)


def _agencies_with_settings(agency_ids: set[int]) -> dict[int, tuple[Agency, MailSettings]]:
    rows = db.session.execute(
        select(Agency, MailSettings).join(MailSettings, MailSettings.agency_id == Agency.id)
        .where(Agency.id.in_(agency_ids))).all()
    return {agency.id: (agency, settings) for agency, settings in rows}


def _queue_warning(order: Order, agency: Agency, now: datetime, client_language: str) -> bool:
    limit = order.payment_time_limit
    # The client's language, as for the booking's own emails (S14).
    language = order.language or client_language
    return queue_email(
        agency.id, kinds.TIME_LIMIT_WARNING, order.client_email,
        {"order_number": order.number, "client_name": order.client_name,
         "payment_time_limit": format_moment(limit, order.utc_offset_minutes, language),
         # Rounded up: with 44.5 minutes left, "45 minutes left" is what a person would say.
         "minutes_left": math.ceil((limit - now).total_seconds() / 60)},
        # A moved time limit is a new key: one new warning for the new limit.
        f"time_limit_warning:{order.id}:{limit.isoformat()}",
        # The sender gives up on a warning still unsent when the limit has passed.
        language=language, expires_at=limit)


def _queue_data_deadline(order: Order, agency: Agency, now: datetime, client_language: str) -> bool:
    deadline = order.data_deadline
    language = order.language or client_language
    return queue_email(
        agency.id, kinds.DATA_DEADLINE, order.client_email,
        {"order_number": order.number, "client_name": order.client_name,
         "data_deadline": format_moment(deadline, order.utc_offset_minutes, language),
         "hours_left": math.ceil((deadline - now).total_seconds() / 3600)},
        f"data_deadline:{order.id}:{deadline.isoformat()}",
        language=language, expires_at=deadline)
