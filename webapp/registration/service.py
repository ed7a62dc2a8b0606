"""Confirming a registration by its emailed link: signed, single use, refused once expired (S4)."""
from datetime import datetime

from sqlalchemy import or_, update

from webapp.bookings.service import client_for_token
from webapp.extensions import db
from webapp.models import Agency, Client


def pending_client(token: str, now: datetime) -> tuple[Client | None, bool]:
    """(the token's client or None if forged, whether the link may still confirm it).

    Expired by the clock even before the periodic job marks it so: the link is valid exactly as
    long as the agency's expiry says."""
    client = client_for_token(token)
    if client is None:
        return None, False
    usable = client.status == "unconfirmed" and (client.expires_at is None or client.expires_at > now)
    return client, usable


def confirm(client: Client, now: datetime) -> bool:
    """Confirm once: of two clicks, or a click racing the expiry job, exactly one wins."""
    confirmed = db.session.execute(
        update(Client).where(Client.id == client.id, Client.status == "unconfirmed",
                             or_(Client.expires_at.is_(None), Client.expires_at > now))
        .values(status="confirmed", confirmed_at=now, expires_at=None)
        .execution_options(synchronize_session=False)).rowcount == 1
    db.session.commit()
    return confirmed


def agency_of(client: Client | None) -> Agency | None:
    return db.session.get(Agency, client.agency_id) if client else None
