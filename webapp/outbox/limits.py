"""How many SMTP connections an agency's mail server gets from us at once, across every worker.

A mailbox that opens too many connections gets blocked (providers count them), so every sending
session holds one of the agency's slots in Redis while its connection may be open. A slot is a
member of a sorted set scored by its expiry: a session refreshes it as it sends, and a killed
worker's slots free themselves once they expire, without anybody cleaning up.
"""
from __future__ import annotations

import time
import uuid
from datetime import datetime

from redis import Redis
from sqlalchemy import select

from webapp.extensions import db
from webapp.jobs import redis_connection
from webapp.mailsettings.presets import preset_for_host
from webapp.models import MailSettings

# A server we know nothing about: Postfix sends 20 at once to one destination by default
# (default_destination_concurrency_limit), but a single mailbox is not a destination; 3 is what
# the providers we know tolerate.
DEFAULT_CONNECTION_CAP = 3
SLOTS_KEY = "outbox:slots:{agency_id}"
# A slot is refreshed at most this often while its session sends.
SLOT_REFRESH_S = 10.0

# Take a slot if fewer than the cap are held (expired ones do not count).
_TAKE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
  redis.call('EXPIRE', KEYS[1], ARGV[5])
  return 1
end
return 0
"""


def connection_cap(agency_id: int) -> int:
    """The most connections the agency's server gets at once: its provider's, or the default."""
    host = db.session.execute(select(MailSettings.host).filter_by(agency_id=agency_id)).scalar()
    preset = preset_for_host(host)
    return getattr(preset, "connection_cap", None) or DEFAULT_CONNECTION_CAP


def slot_ttl(timeout: float) -> float:
    """Long enough to outlast the longest stretch between two refreshes (the refresh interval,
    then one exchange of up to 4 timeouts, and a margin); short enough that a killed worker's
    slots come back within a couple of minutes."""
    return SLOT_REFRESH_S + 4 * timeout + 30


def _seconds(moment: datetime | None) -> float:
    return moment.timestamp() if moment is not None else time.time()


class Slot:
    """One connection's place among the agency's; `take` before connecting, `release` after."""

    def __init__(self, agency_id: int, cap: int, ttl: float, redis: Redis | None = None):
        self.key = SLOTS_KEY.format(agency_id=agency_id)
        self.cap, self.ttl = cap, ttl
        self.token = uuid.uuid4().hex
        self.redis = redis or redis_connection()
        self.held = False
        self._refreshed = 0.0

    def take(self, now: datetime | None = None) -> bool:
        """True if a slot was free and is now this session's. `now` is the sender's clock (tests
        and the chaos run play time forward: a slot of a worker killed "earlier" has expired)."""
        at = _seconds(now)
        self.held = bool(self.redis.eval(_TAKE, 1, self.key, at, self.cap, at + self.ttl,
                                         self.token, int(self.ttl) + 60))
        self._refreshed = time.monotonic()
        return self.held

    def keep(self) -> None:
        """Called as the session sends: pushes the slot's expiry on, at most every SLOT_REFRESH_S."""
        if self.held and time.monotonic() - self._refreshed > SLOT_REFRESH_S:
            self.redis.zadd(self.key, {self.token: time.time() + self.ttl}, xx=True)
            self._refreshed = time.monotonic()

    def release(self) -> None:
        if self.held:
            self.held = False
            self.redis.zrem(self.key, self.token)


def slots_in_use(agency_id: int, now: datetime | None = None) -> int:
    """Connections the agency's server has from us now (for pages and tests)."""
    return redis_connection().zcount(SLOTS_KEY.format(agency_id=agency_id), f"({_seconds(now)}", "+inf")
