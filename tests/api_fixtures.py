"""Fixtures for API tests: the booking engine as a client holding an agency's token."""
import pytest

from webapp.api.service import issue_token
from webapp.extensions import db
from webapp.models import OutboxEmail

ORDER = {"number": "291205", "client_email": "anna@example.org", "client_name": "Анна Петрова",
         "status": "booked", "paid": False, "payment_time_limit": "2026-11-27T18:00:00+03:00",
         "data_complete": False}


class Engine:
    """The booking engine: sends JSON to /api/v1 with its bearer token."""

    def __init__(self, client, token: str):
        self.client, self.token = client, token

    def send(self, method: str, path: str, body=None, *, key: str | None = None, **kwargs):
        headers = {"Authorization": f"Bearer {self.token}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        if body is not None:
            kwargs["json"] = body
        return self.client.open(f"/api/v1{path}", method=method, headers=headers, **kwargs)

    def post(self, path, body=None, **kwargs):
        return self.send("POST", path, body, **kwargs)

    def patch(self, path, body=None, **kwargs):
        return self.send("PATCH", path, body, **kwargs)


@pytest.fixture
def engine(client, agency):
    return Engine(client, issue_token(agency.id))


def outbox(kind: str | None = None) -> list[OutboxEmail]:
    db.session.expire_all()
    query = db.select(OutboxEmail).order_by(OutboxEmail.id)
    return list(db.session.execute(query.filter_by(kind=kind) if kind else query).scalars())
