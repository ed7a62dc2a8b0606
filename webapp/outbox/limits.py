"""How many SMTP connections an agency's mail server gets from us at once, across every worker.

A mailbox that opens too many connections gets blocked (providers count them), so every sending
session holds one of the agency's slots in Redis while its connection may be open. A slot is a
member of a sorted set scored by its expiry: a session refreshes it as it sends, and a killed
worker's slots free themselves once they expire, without anybody cleaning up.
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from redis import Redis
from sqlalchemy import func, select

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


# The bounds of an agency's own connection cap: one at least, and never as many as Postfix
# opens to a whole destination (a mailbox is not one).
CONNECTION_CAP_BOUNDS = (1, 10)


def _settings(agency_id: int):
    # No settings row yet: the defaults (the sender then pauses for the missing settings).
    return db.session.execute(
        select(MailSettings.host, MailSettings.connection_cap, MailSettings.rate_per_minute,
               MailSettings.rate_per_day).filter_by(agency_id=agency_id)).first() \
        or MailSettings(host="")


def connection_cap(agency_id: int) -> int:
    """The most connections the agency's server gets at once: the agency's own setting (within
    CONNECTION_CAP_BOUNDS), its provider's, or the default."""
    settings = _settings(agency_id)
    if settings.connection_cap:
        low, high = CONNECTION_CAP_BOUNDS
        return min(max(settings.connection_cap, low), high)
    preset = preset_for_host(settings.host)
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


@dataclass(frozen=True)
class Rates:
    """Messages the agency's mailbox may send in any minute and any 24 hours (None: no limit)."""
    per_minute: int | None = None
    per_day: int | None = None


# (limit name, bucket seconds, buckets): a rolling window counted in buckets, as providers count
# theirs ("a rolling 24-hour period, not a set time of day", Google's page in presets).
_WINDOWS = (("per_minute", 10, 6), ("per_day", 3600, 24))
RATE_KEY = "outbox:rate:{agency_id}"

# Grant up to ARGV[1] messages now under each window's limit; returns {granted, opens_at}, where
# opens_at (when nothing was granted) is when the fullest window frees its oldest bucket.
_RESERVE = """
local want, now = tonumber(ARGV[1]), tonumber(ARGV[2])
local grant, opens = want, 0
local windows = {}
for i = 0, (#ARGV - 2) / 3 - 1 do
  local limit, size, n = tonumber(ARGV[3 + i * 3]), tonumber(ARGV[4 + i * 3]), tonumber(ARGV[5 + i * 3])
  local current = math.floor(now / size)
  local used, oldest = 0, nil
  for b = current - n + 1, current do
    local count = tonumber(redis.call('GET', KEYS[1] .. ':' .. size .. ':' .. b) or '0')
    used = used + count
    if count > 0 and oldest == nil then oldest = b end
  end
  if limit - used < grant then
    grant = math.max(limit - used, 0)
    if grant == 0 then opens = math.max(opens, ((oldest or current) + n) * size) end
  end
  windows[#windows + 1] = {KEYS[1] .. ':' .. size .. ':' .. current, size * n + 60}
end
if grant > 0 then
  for _, w in ipairs(windows) do
    redis.call('INCRBY', w[1], grant)
    redis.call('EXPIRE', w[1], w[2])
  end
end
return {grant, tostring(opens)}
"""


def rates(agency_id: int) -> Rates:
    """The agency's sending rates: its own, else its provider's published limits, else none."""
    settings = _settings(agency_id)
    preset = preset_for_host(settings.host)
    return Rates(settings.rate_per_minute or (preset.per_minute if preset else None),
                 settings.rate_per_day or (preset.per_day if preset else None))


@dataclass(frozen=True)
class Allowance:
    granted: int
    opens_at: datetime | None  # when nothing was granted: when the limit lets messages go again


def reserve(agency_id: int, limits: Rates, want: int, now: datetime | None = None) -> Allowance:
    """Take up to `want` messages of the agency's allowance (all of them without limits)."""
    arguments = []
    for name, size, buckets in _WINDOWS:
        limit = getattr(limits, name)
        if limit:
            arguments += [limit, size, buckets]
    if not arguments:
        return Allowance(want, None)
    granted, opens = redis_connection().eval(_RESERVE, 1, RATE_KEY.format(agency_id=agency_id),
                                            want, _seconds(now), *arguments)
    opens_at = (datetime.fromtimestamp(float(opens), timezone.utc)
                if int(granted) == 0 else None)
    return Allowance(int(granted), opens_at)


def give_back(agency_id: int, limits: Rates, count: int, now: datetime | None = None) -> None:
    """Messages reserved but never claimed (fewer rows were due) return to the allowance."""
    if count <= 0:
        return
    at = _seconds(now)
    pipe = redis_connection().pipeline()
    for name, size, _ in _WINDOWS:
        if getattr(limits, name):
            pipe.decrby(f"{RATE_KEY.format(agency_id=agency_id)}:{size}:{int(at // size)}", count)
    pipe.execute()


@dataclass(frozen=True)
class DailyOutlook:
    """The agency's daily limit against what waits to be sent."""
    per_day: int
    left: int  # messages the rolling 24 hours still allow
    waiting: int  # emails waiting to be sent (counted up to WAITING_COUNTED)

    @property
    def will_be_hit(self) -> bool:
        """The limit will be reached before the queue drains: the rest goes a day later or more."""
        return self.waiting > self.left


WAITING_COUNTED = 100_000


def daily_outlook(agency_id: int, now: datetime | None = None) -> DailyOutlook | None:
    """For the settings and troubleshooting pages; None when the agency has no daily limit."""
    per_day = rates(agency_id).per_day
    if not per_day:
        return None
    _, size, buckets = _WINDOWS[1]
    current = int(_seconds(now) // size)
    key = RATE_KEY.format(agency_id=agency_id)
    used = sum(int(count or 0) for count in redis_connection().mget(
        [f"{key}:{size}:{bucket}" for bucket in range(current - buckets + 1, current + 1)]))
    from webapp.models.outbox import AWAITING_SEND, OutboxEmail
    waiting = (select(OutboxEmail.id).where(OutboxEmail.agency_id == agency_id, AWAITING_SEND)
               .limit(WAITING_COUNTED).subquery())
    count = db.session.execute(select(func.count()).select_from(waiting)).scalar_one()
    return DailyOutlook(per_day, max(per_day - used, 0), count)
