"""The API's own records: each agency's token, and the responses kept for Idempotency-Key replays."""
import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.models import Agency, ApiToken, IdempotencyRecord
from webapp.models.types import utcnow

# last_used_at is for people ("used 2 minutes ago"): one write a minute is plenty.
LAST_USED_PRECISION = timedelta(minutes=1)
# A request that holds its key longer than this has died (a killed worker); another may take over.
IDEMPOTENCY_LOCK = timedelta(minutes=2)


class IdempotencyKeyReused(Exception):
    """The key came before with a different request."""


class IdempotencyKeyBusy(Exception):
    """The first request with this key is still running."""


def issue_token(agency_id: int) -> str:
    """A new token for the agency, replacing (and so revoking) the old one; shown once, kept hashed."""
    token = secrets.token_urlsafe(32)
    row = db.session.execute(
        db.select(ApiToken).filter_by(agency_id=agency_id)).scalar_one_or_none() \
        or ApiToken(agency_id=agency_id)
    # A sha256 is enough for 256 random bits: there is nothing to brute-force, unlike a password.
    row.token_hash = _digest(token)
    row.created_at = utcnow()
    row.last_used_at = None
    db.session.add(row)
    db.session.commit()
    return token


def token_status(agency_id: int) -> ApiToken | None:
    return db.session.execute(db.select(ApiToken).filter_by(agency_id=agency_id)).scalar_one_or_none()


def agency_for_token(token: str) -> Agency | None:
    """The agency a bearer token belongs to, noting when it was used; None for any other string."""
    row = db.session.execute(
        db.select(ApiToken).filter_by(token_hash=_digest(token))).scalar_one_or_none()
    if row is None:
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_PRECISION:
        row.last_used_at = now
        db.session.commit()
    return db.session.get(Agency, row.agency_id)


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    return _digest(f"{method} {path}\n".encode() + body)


def replay_or_reserve(agency_id: int, key: str, fingerprint: str) -> tuple[int, dict] | None:
    """The stored (status, body) of an earlier request with this key, or None once the key is
    reserved for this request, which must then `remember_response` or `release_key`."""
    db.session.add(IdempotencyRecord(agency_id=agency_id, key=key, fingerprint=fingerprint,
                                     created_at=utcnow()))
    try:
        db.session.commit()
        return None
    except IntegrityError:
        db.session.rollback()
    record = _record(agency_id, key)
    if record.fingerprint != fingerprint:
        raise IdempotencyKeyReused
    if record.response_status is not None:
        return record.response_status, record.response_body
    if not _take_over(record):
        raise IdempotencyKeyBusy
    return None


def remember_response(agency_id: int, key: str, status: int, body: dict) -> None:
    db.session.execute(
        update(IdempotencyRecord).filter_by(agency_id=agency_id, key=key)
        .values(response_status=status, response_body=body)
        .execution_options(synchronize_session=False))
    db.session.commit()


def release_key(agency_id: int, key: str) -> None:
    """Free the key of a request that failed unexpectedly, so that its retry runs again."""
    db.session.rollback()
    db.session.execute(delete(IdempotencyRecord).filter_by(
        agency_id=agency_id, key=key, response_status=None))
    db.session.commit()


def _take_over(record: IdempotencyRecord) -> bool:
    """Take the key of a request that died holding it: an event's effects are committed with its
    answer (webapp/api/views.py), so the dead request left nothing and this run starts afresh."""
    now = utcnow()
    taken = db.session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.id == record.id, IdempotencyRecord.response_status.is_(None),
               IdempotencyRecord.created_at < now - IDEMPOTENCY_LOCK)
        .values(created_at=now)).rowcount
    db.session.commit()
    return taken == 1


def _record(agency_id: int, key: str) -> IdempotencyRecord:
    return db.session.execute(
        db.select(IdempotencyRecord).filter_by(agency_id=agency_id, key=key)).scalar_one()


def _digest(data: str | bytes) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()
