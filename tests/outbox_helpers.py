"""Helpers for outbox tests: point an agency at a test SMTP server, queue a notification, see how
the database runs a query."""
import contextlib

from sqlalchemy import event

from webapp import mail_secrets
from webapp.extensions import db
from webapp.models import OutboxEmail, SendingPause
from webapp.notification_kinds import REGISTRATION_CONFIRMATION, sample_context
from webapp.outbox.sender import CONFIRM_AFTER
from webapp.outbox.service import queue_email, wake


def point_agency_at(agency, server, *, login="", password="", copies_email=""):
    settings = agency.mail_settings
    settings.host, settings.port, settings.security = "localhost", server.port, "none"
    settings.login = login
    settings.password_encrypted = mail_secrets.encrypt(password) if password else None
    settings.sender_address = "office@alpha.example"
    settings.sender_name = "Альфа-Тур"
    settings.copies_email = copies_email
    db.session.commit()


def queue_confirmation(agency, to="client@example.org", key="registration:1", **kwargs) -> OutboxEmail:
    context = sample_context(REGISTRATION_CONFIRMATION) | {"client_name": "Анна"}
    queue_email(agency.id, REGISTRATION_CONFIRMATION, to, context, key, **kwargs)
    db.session.commit()
    wake(agency.id)
    return db.session.execute(db.select(OutboxEmail).filter_by(
        agency_id=agency.id, dedupe_key=key)).scalar_one()


def queue_confirmations(agency, count: int) -> list[OutboxEmail]:
    """`count` confirmations to client0@example.org, client1@example.org, ..., in that order."""
    return [queue_confirmation(agency, to=f"client{number}@example.org", key=f"registration:{number}")
            for number in range(count)]


def reload(row: OutboxEmail) -> OutboxEmail:
    db.session.expire_all()
    return db.session.get(OutboxEmail, row.id)


@contextlib.contextmanager
def statements_run(*beginnings: str):
    """The (statement, parameters) the database runs inside the block that begin so."""
    seen = []

    def keep(connection, cursor, statement, parameters, context, executemany):
        if statement.lstrip().startswith(beginnings):
            seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", keep)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", keep)


def query_plan(statement: str, parameters) -> str:
    """The database's plan for a statement, as text."""
    connection = db.engine.raw_connection()
    try:
        cursor = connection.cursor()
        if db.engine.dialect.name == "postgresql":
            # A handful of rows: without this PostgreSQL reads the table whatever its indexes.
            # LOCAL: the pooled connection must not keep it past this transaction.
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("EXPLAIN " + statement, parameters)
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
        return "\n".join(str(row) for row in cursor.fetchall())
    finally:
        connection.rollback()
        connection.close()


def minutes_pass(agency, delta=CONFIRM_AFTER):
    """As if `delta` went by: every stored moment of the agency's sending comes that much closer."""
    db.session.expire_all()
    for failure in db.session.execute(db.select(SendingPause).filter_by(agency_id=agency.id)).scalars():
        failure.retry_at -= delta
    for row in db.session.execute(db.select(OutboxEmail).filter_by(agency_id=agency.id)).scalars():
        row.next_attempt_at -= delta
    db.session.commit()
