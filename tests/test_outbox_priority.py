"""Deadline-critical emails (a confirmation link, a time-limit warning) go before the bulk of the
same agency, even behind a backlog that fell due earlier."""
import email
from email import policy

from outbox_helpers import point_agency_at, query_plan, statements_run
from webapp.extensions import db
from webapp.models.types import utcnow
from webapp.notification_kinds import (ORDER_CHANGE, REGISTRATION_CONFIRMATION, TIME_LIMIT_WARNING,
                                       sample_context)
from webapp.outbox.sender import BATCH_SIZE, claim_due, send_due
from webapp.outbox.service import queue_email


def queue(agency, kind, count, prefix):
    for n in range(count):
        queue_email(agency.id, kind, f"{prefix}{n}@example.org", sample_context(kind),
                    f"{prefix}:{n}")
    db.session.commit()


def test_deadline_critical_emails_are_claimed_before_an_earlier_bulk_backlog(agency):
    queue(agency, ORDER_CHANGE, BATCH_SIZE + 50, "bulk")
    queue(agency, REGISTRATION_CONFIRMATION, 3, "confirm")
    queue(agency, TIME_LIMIT_WARNING, 2, "limit")

    first = claim_due(agency.id, now=utcnow())

    assert len(first) == BATCH_SIZE
    kinds = [row.kind for row in sorted(first, key=lambda row: row.id)]
    assert kinds.count(REGISTRATION_CONFIRMATION) == 3 and kinds.count(TIME_LIMIT_WARNING) == 2
    second = claim_due(agency.id, now=utcnow())
    assert {row.kind for row in second} == {ORDER_CHANGE} and len(second) == 55


def test_the_server_gets_the_confirmation_first(agency, smtp_server):
    server = smtp_server()
    point_agency_at(agency, server)
    queue(agency, ORDER_CHANGE, 20, "bulk")
    queue(agency, REGISTRATION_CONFIRMATION, 1, "confirm")

    send_due(agency.id)

    recipients = [str(email.message_from_bytes(r.content, policy=policy.default)["To"])
                  for r in server.handler.received]
    assert len(recipients) == 21
    assert recipients[0] == "confirm0@example.org"


def test_the_claim_reads_the_deadline_emails_from_their_index(agency):
    queue(agency, REGISTRATION_CONFIRMATION, 1, "confirm")
    with statements_run("UPDATE outbox_email", "WITH candidates") as claims:
        claim_due(agency.id, now=utcnow())

    (statement, parameters), = claims
    plan = query_plan(statement, parameters)
    assert "ix_outbox_email_due_deadline" in plan
