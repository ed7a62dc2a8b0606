"""Applying the booking engine's events and queueing the emails that follow, in one transaction."""
import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from babel.dates import format_datetime
from babel.numbers import format_currency, format_decimal
from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from webapp import notification_kinds as kinds
from webapp.extensions import db
from webapp.mailsettings.service import settings_view
from webapp.models import Agency, Client, Order, OutboxEmail
from webapp.models.types import utcnow
from webapp.outbox.documents import Document
from webapp.outbox.service import queue_email, queue_emails, wake, withdraw_unsent
from webapp.schedule.due import registration_expiry, reschedule

PAYMENT_PROBLEMS = ("issued_unpaid", "cancelled_paid")
# Letters, digits and . _ - only: the number is a segment of the order's URL.
ORDER_NUMBER_PATTERN = r"[A-Za-z0-9._-]+"
ORDER_NUMBER_MAX = 40
LOGIN_TAKEN = "this login is already registered"
MOMENT_FIELDS = ("payment_time_limit", "data_deadline")
_HELD_COMMIT = "bookings.commit_held"


class BookingError(Exception):
    """An event that cannot be applied; names the field at fault, in English for the engine."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class NotFound(BookingError):
    pass


class Conflict(BookingError):
    pass


class Invalid(BookingError):
    pass


def register_client(agency: Agency, login: str, email: str, name: str, *, site_url: str) -> Client:
    """A new unconfirmed client, emailed a link to `site_url`/confirm/TOKEN (S4)."""
    expiry_minutes = settings_view(agency).unconfirmed_expiry_minutes or None
    registered_at = utcnow()
    _free_expired_logins(agency.id, [login], registered_at)
    client = Client(agency_id=agency.id, login=login, email=email, name=name,
                    status="unconfirmed", registered_at=registered_at,
                    expires_at=registration_expiry(registered_at, expiry_minutes))
    # The unique index on live logins decides, so two registrations at once cannot both win.
    _insert([client], Conflict("login", LOGIN_TAKEN))
    queue_email(**_confirmation(agency, client, expiry_minutes, site_url,
                                _confirmation_serializer()))
    _commit_and_wake(agency.id)
    return client


@dataclass(frozen=True)
class Registered:
    """A client register_clients made, as the engine is told of it."""
    id: int
    login: str
    status: str


class _LoginTakenMeanwhile(Exception):
    """A login of the list was registered by another request between the check and the insert."""


def register_clients(agency: Agency, registrations: list[dict], *,
                     site_url: str) -> list[Registered | Conflict]:
    """Many registrations in one transaction, each as register_client would make it: the client,
    or a Conflict when its login is live (registered before, or earlier in the same list)."""
    for _ in range(2):
        # After a race the second pass sees the other request's login and answers that item
        # with its own 409: a result the engine can store and replay.
        try:
            return _register_clients(agency, registrations, site_url)
        except _LoginTakenMeanwhile:
            pass
    raise Conflict("registrations", "other requests are registering logins of this list right "
                                    "now; send it again with a new Idempotency-Key")


def _register_clients(agency: Agency, registrations: list[dict],
                      site_url: str) -> list[Registered | Conflict]:
    expiry_minutes = settings_view(agency).unconfirmed_expiry_minutes or None
    registered_at = utcnow()
    logins = {registration["login"] for registration in registrations}
    _free_expired_logins(agency.id, logins, registered_at)
    taken = set(db.session.execute(
        db.select(Client.login).where(Client.agency_id == agency.id, Client.login.in_(logins),
                                      Client.status != "expired")).scalars())
    outcomes: list[Client | Conflict] = []
    first_at: dict[str, int] = {}
    for index, registration in enumerate(registrations):
        login = registration["login"]
        if login in first_at:
            outcomes.append(Conflict("login", f"repeats the login of registrations[{first_at[login]}]"))
            continue
        first_at[login] = index
        if login in taken:
            outcomes.append(Conflict("login", LOGIN_TAKEN))
            continue
        outcomes.append(Client(agency_id=agency.id, **registration, status="unconfirmed",
                               registered_at=registered_at,
                               expires_at=registration_expiry(registered_at, expiry_minutes)))
    clients = [outcome for outcome in outcomes if isinstance(outcome, Client)]
    # One INSERT for all; the unique index on live logins still decides.
    _insert(clients, _LoginTakenMeanwhile())
    serializer = _confirmation_serializer()
    queue_emails([_confirmation(agency, client, expiry_minutes, site_url, serializer)
                  for client in clients])
    # Read before the commit expires them: one SELECT a client otherwise.
    outcomes = [Registered(outcome.id, outcome.login, outcome.status)
                if isinstance(outcome, Client) else outcome for outcome in outcomes]
    _commit_and_wake(agency.id, queued=bool(clients))
    return outcomes


def _free_expired_logins(agency_id: int, logins, now: datetime) -> None:
    # A registration past its expiry frees its login now, not only at the next tick (S4).
    db.session.execute(
        update(Client).where(Client.agency_id == agency_id, Client.login.in_(logins),
                             Client.status == "unconfirmed", Client.expires_at <= now)
        .values(status="expired", expired_at=now, expires_at=None)
        .execution_options(synchronize_session=False))


def _confirmation(agency: Agency, client: Client, expiry_minutes: int | None, site_url: str,
                  serializer: URLSafeTimedSerializer) -> dict:
    """The queue_email arguments of a client's confirmation email; the link's token is signed
    (`client_for_token` reads it) and single use is the client's status's job."""
    token = serializer.dumps(client.id)
    return dict(
        agency_id=agency.id, kind=kinds.REGISTRATION_CONFIRMATION, to_address=client.email,
        context={"client_name": client.name, "login": client.login,
                 "expiry_minutes": expiry_minutes,
                 "confirm_url": f"{site_url.rstrip('/')}/confirm/{token}"},
        # A link that no longer works is not worth sending.
        dedupe_key=f"registration:{client.id}", language=agency.locale,
        expires_at=client.expires_at)


def client_for_token(token: str) -> Client | None:
    """The client a confirmation token was made for, whatever its status; None if forged."""
    try:
        client_id = _confirmation_serializer().loads(token)
    except BadSignature:
        return None
    return db.session.get(Client, client_id)


def create_order(agency: Agency, number: str, client_email: str, client_name: str, status: str,
                 paid: bool, data_complete: bool, payment_time_limit: datetime | None = None,
                 data_deadline: datetime | None = None, language: str | None = None,
                 amount: str | None = None, currency: str | None = None, itinerary: str = "",
                 documents: tuple[Document, ...] = ()) -> Order:
    """Store a new booking; the client gets its confirmation (with the documents) and the agency
    address a "new booking" notification when the agency wants it (S14)."""
    order = Order(agency_id=agency.id, number=number, client_email=client_email,
                  client_name=client_name, status=status, paid=paid, data_complete=data_complete,
                  payment_time_limit=payment_time_limit, data_deadline=data_deadline,
                  language=language, amount=amount, currency=currency, itinerary=itinerary,
                  utc_offset_minutes=_offset_minutes(payment_time_limit, data_deadline))
    settings = settings_view(agency)
    reschedule(order, settings)
    _insert([order], Conflict("number", "an order with this number exists"))
    queued = _notify(agency, settings, order, "booking_created", f"{order.id}", {}, documents)
    _commit_and_wake(agency.id, queued)
    return order


def issue_order(agency: Agency, number: str, language: str | None = None,
                documents: tuple[Document, ...] = ()) -> Order:
    """The tickets or vouchers are issued: the client gets them attached, the agency address a
    "booking issued". Replaying the same event (same documents) sends nothing again; issuing
    again with other documents (an exchange) sends them."""
    order = _order_for_update(agency, number, language)
    if order.status == "cancelled":
        # A late replay of "issued" must not bring a cancelled booking back, nor its warnings.
        db.session.rollback()
        raise Conflict("status", "the order is cancelled; a cancelled order cannot be issued")
    _apply(agency, order, {"status": "issued"})
    queued = _notify(agency, settings_view(agency), order, "booking_issued",
                     f"{order.id}:{_documents_digest(documents)[:16]}", {}, documents)
    _commit_and_wake(agency.id, queued)
    return order


def _documents_digest(documents) -> str:
    """What tells the same documents from others: each name and content, length-prefixed (no
    two lists hash alike by moving bytes between them), fed in without copying the content."""
    digest = hashlib.sha256()
    for document in documents:
        for part in (document.filename.encode(), document.content):
            digest.update(len(part).to_bytes(8, "big"))
            digest.update(part)
    return digest.hexdigest()


def cancel_order(agency: Agency, number: str, reason: str = "", language: str | None = None,
                 documents: tuple[Document, ...] = ()) -> Order:
    """The booking is cancelled (annulled): the client and the agency address are told once;
    its reminders still waiting are withdrawn."""
    order = _order_for_update(agency, number, language)
    changed = _apply(agency, order, {"status": "cancelled"})
    _withdraw_moot_reminders(order, changed)
    queued = _notify(agency, settings_view(agency), order, "booking_cancelled", f"{order.id}",
                     {"reason": reason}, documents)
    _commit_and_wake(agency.id, queued)
    return order


def record_payment(agency: Agency, number: str, amount: str, currency: str | None = None,
                   reference: str | None = None, language: str | None = None,
                   documents: tuple[Document, ...] = ()) -> Order:
    """A payment came: the client gets a receipt, the agency address "payment received"; the
    order is paid, so no time-limit warning follows. Once per reference (or amount)."""
    order = _order_for_update(agency, number, language)
    changed = _apply(agency, order, {"paid": True})
    _withdraw_moot_reminders(order, changed)
    currency = currency or order.currency
    queued = _notify(agency, settings_view(agency), order, "payment_received",
                     f"{order.id}:{reference or _amount_key(amount, currency)}",
                     {"reference": reference or ""}, documents, paid=(amount, currency))
    _commit_and_wake(agency.id, queued)
    return order


def _amount_key(amount: str, currency: str | None) -> str:
    """"100" and "100.00" are one amount; the space (never in a reference) ends it."""
    return f"{Decimal(amount).quantize(Decimal('0.01'))} {currency or '-'}"


def _order_for_update(agency: Agency, number: str, language: str | None) -> Order:
    """The order, locked until the commit and read afresh (not as the session last saw it)."""
    order = db.session.execute(
        db.select(Order).filter_by(agency_id=agency.id, number=number)
        .with_for_update().execution_options(populate_existing=True)).scalar_one_or_none()
    if order is None:
        raise NotFound("number", "no such order")
    if language is not None:
        order.language = language
    return order


def _apply(agency: Agency, order: Order, values: dict) -> dict:
    """Set what differs; a real change is a revision, as a PATCH's is."""
    changed = {name: value for name, value in values.items() if getattr(order, name) != value}
    for name, value in changed.items():
        setattr(order, name, value)
    if changed:
        order.revision += 1
        reschedule(order, settings_view(agency))
    return changed


def _client_language(order: Order, settings) -> str:
    """The event's language (kept on the order), else the agency's default client language."""
    return order.language or settings.client_language


def _notify(agency: Agency, settings, order: Order, event: str, key: str, extra: dict,
            documents=(), *, client: bool = True, paid: tuple | None = None) -> bool:
    """Queue the event's emails (S14): the client's in the client's language with the
    documents, and the agency address's in the agency's language when the agency wants it;
    True if any was new. `paid`: the (amount, currency) of a payment, written for each reader."""
    client_kind, agency_kind, toggle = kinds.BOOKING_EVENTS[event]
    names = ", ".join(document.filename for document in documents)
    queued = False
    if client:
        language = _client_language(order, settings)
        queued |= queue_email(agency.id, client_kind, order.client_email,
                              _order_context(order, language, names, paid) | extra,
                              f"{client_kind}:{key}", language=language, documents=documents)
    if getattr(settings, toggle):
        # No agency address: the row is still written and skipped "no recipient" (S11).
        queued |= queue_email(agency.id, agency_kind, agency.email or "",
                              _order_context(order, agency.locale, names, paid) | extra,
                              f"{agency_kind}:{key}", language=agency.locale)
    return queued


def _order_context(order: Order, language: str, documents: str, paid: tuple | None) -> dict:
    context = {"order_number": order.number, "client_name": order.client_name,
               "client_email": order.client_email, "status": order.status,
               "amount": format_amount(order.amount, order.currency, language),
               "payment_time_limit": format_moment(order.payment_time_limit,
                                                   order.utc_offset_minutes, language),
               "itinerary": order.itinerary or "", "documents": documents}
    if paid:
        context["paid_amount"] = format_amount(*paid, language)
    return context


def format_amount(amount: str | None, currency: str | None, language: str) -> str:
    """"48 200,00 RUB" in Russian, "RUB 48,200.00" in English; empty when none was given."""
    if not amount:
        return ""
    if currency:
        text = format_currency(Decimal(amount), currency, locale=language)
        # A currency without a symbol in the language comes as its code glued to the number.
        return re.sub(r"^([A-Z]{3})(?=\d)", "\\1\xa0", text)
    return format_decimal(Decimal(amount), format="#,##0.00", locale=language)


def update_order(agency: Agency, number: str, changes: dict, change_summary: str = "") -> Order:
    """Apply what changed; the client hears of it when the agency wants that (S7).

    Nothing changed and the same summary as last time: a replayed event, nothing happens.
    """
    # The revision is taken first, by one UPDATE ... RETURNING: it locks the order (PostgreSQL)
    # or the database (SQLite) until the commit, so changes at once wait for each other, and
    # each reads the order as the one before it left it. A read-then-write gave two changes
    # the same revision, and the second its dedupe key, so the client never heard of it.
    revision = db.session.execute(
        update(Order).where(Order.agency_id == agency.id, Order.number == number)
        .values(revision=Order.revision + 1).returning(Order.revision)
        .execution_options(synchronize_session=False)).scalar_one_or_none()
    if revision is None:
        db.session.rollback()
        raise NotFound("number", "no such order")
    order = _order_for_update(agency, number, None)  # locked already: read as the UPDATE left it
    changed = {name: value for name, value in changes.items() if getattr(order, name) != value}
    # The language is how to write to the client, not news for them (the itinerary is).
    if not set(changed) - {"language"} and (not change_summary
                                             or change_summary == order.change_summary):
        db.session.rollback()  # and the revision with it
        if changed:
            order = _order_for_update(agency, number, changed["language"])
            _commit_and_wake(agency.id, queued=False)
        return order
    for name, value in changed.items():
        setattr(order, name, value)
    offset = _offset_minutes(*(changes.get(name) for name in MOMENT_FIELDS))
    if offset is not None:
        order.utc_offset_minutes = offset
    order.change_summary = change_summary
    settings = settings_view(agency)
    reschedule(order, settings)
    _withdraw_moot_reminders(order, changed)
    queued = False
    if settings.order_change_emails:
        language = _client_language(order, settings)
        queued = queue_email(
            agency.id, kinds.ORDER_CHANGE, order.client_email,
            {"order_number": order.number, "client_name": order.client_name,
             "status": order.status, "change_summary": change_summary,
             "payment_time_limit": format_moment(order.payment_time_limit,
                                                 order.utc_offset_minutes, language)},
            f"order_change:{order.id}:{order.revision}", language=language)
    # The agency address hears of the change whatever S7 says (S14).
    queued |= _notify(agency, settings, order, "booking_changed", f"{order.id}:{order.revision}",
                      {"change_summary": change_summary}, client=False)
    _commit_and_wake(agency.id, queued)
    return order


def _withdraw_moot_reminders(order: Order, changed: dict) -> None:
    """Reminders still waiting in the outbox that the change made pointless: a paid or
    cancelled order needs no time-limit warning, complete data no deadline reminder, and a
    moved limit or deadline gets a reminder of its own (a new dedupe key) from the scheduler.
    Any other change (booked -> issued, a new name) leaves them alone."""
    cancelled = changed.get("status") == "cancelled"
    if cancelled or changed.get("paid") is True or "payment_time_limit" in changed:
        withdraw_unsent(order.agency_id, f"{kinds.TIME_LIMIT_WARNING}:{order.id}:")
    if cancelled or changed.get("data_complete") is True or "data_deadline" in changed:
        withdraw_unsent(order.agency_id, f"{kinds.DATA_DEADLINE}:{order.id}:")


def report_payment_problem(agency: Agency, number: str, problem: str) -> bool:
    """Alert the agency's payment-problem address (S8); once per order and problem. Returns
    whether the console knows the order: the text needs only its number, so an alert of an
    order older than the console (or reported before its booking) is sent all the same.

    With no address set the row is still written, and the sender marks it skipped with the
    reason, so the email log shows why nobody heard of it (S11).
    """
    if len(number) > ORDER_NUMBER_MAX:
        raise Invalid("number", f"must be at most {ORDER_NUMBER_MAX} characters")
    if not re.fullmatch(ORDER_NUMBER_PATTERN, number):
        # It is still written into the alert, and keys it: it must be a number the engine uses.
        raise Invalid("number", f"must match {ORDER_NUMBER_PATTERN}")
    order = find_order(agency, number)
    # Keyed by the number, known order or not: an alert replayed after the order was created is
    # the same alert. Rows queued before keyed a known order by its id: they still count.
    if order is not None and _queued_before(agency, f"payment_problem:{order.id}:{problem}"):
        return True
    queued = queue_email(
        agency.id, kinds.PAYMENT_PROBLEM, settings_view(agency).payment_problems_email,
        {"order_number": number, "problem": problem}, f"payment_problem:number:{number}:{problem}",
        language=agency.locale)
    _commit_and_wake(agency.id, queued)
    return order is not None


def _queued_before(agency: Agency, dedupe_key: str) -> bool:
    return db.session.execute(db.select(OutboxEmail.id).filter_by(
        agency_id=agency.id, dedupe_key=dedupe_key)).first() is not None


def find_order(agency: Agency, number: str) -> Order | None:
    return db.session.execute(
        db.select(Order).filter_by(agency_id=agency.id, number=number)).scalar_one_or_none()


def format_moment(moment: datetime | None, utc_offset_minutes: int | None, language: str) -> str:
    """A time for people: in the offset the engine gave it in (the agency has no time zone),
    which is shown, since clients travel between zones: "27.11.2026, 18:00 (UTC+03:00)"."""
    if moment is None:
        return ""
    zone = timezone(timedelta(minutes=utc_offset_minutes or 0))
    try:
        moment.astimezone(zone)
    except OverflowError:  # 9999-12-31T23:00Z in another moment's +14:00, as order_json does
        zone = timezone.utc
    return (f"{format_datetime(moment, 'short', tzinfo=zone, locale=language)}"
            f" (UTC{format_datetime(moment, 'xxx', tzinfo=zone, locale=language)})")


def _insert(rows: list, conflict: Exception) -> None:
    db.session.add_all(rows)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise conflict from None


def _confirmation_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="confirm")


def _offset_minutes(*moments: datetime | None) -> int | None:
    """The offset of the last time given: how the engine writes this order's times."""
    given = [moment for moment in moments if moment is not None]
    return int(given[-1].utcoffset().total_seconds() // 60) if given else None


@contextmanager
def commit_held() -> Iterator[set[int]]:
    """Apply events without committing them: the caller commits, with rows of its own (the
    API's Idempotency-Key answer, so that a retry after any failure finds either the answer or
    nothing done), then wakes the agencies of the set, whose emails were queued."""
    woken: set[int] = set()
    db.session.info[_HELD_COMMIT] = woken
    try:
        yield woken
    finally:
        db.session.info.pop(_HELD_COMMIT, None)


def _commit_and_wake(agency_id: int, queued: bool = True) -> None:
    held = db.session.info.get(_HELD_COMMIT)
    if held is not None:
        db.session.flush()
        if queued:
            held.add(agency_id)
        return
    db.session.commit()
    if queued:
        wake(agency_id)
