"""What a send batch has handed to the mail server, kept in Redis until the batch's statuses
are committed, so a worker killed mid-batch is settled from it instead of sending it all again.

One Redis round trip a message replaces a database commit a message: the journal says which
rows were accepted (and with what reply) and which one was with the server when the worker
died; the database learns it once a batch, or from `read` after the lease ran out.
"""
import json
from dataclasses import dataclass, field
from datetime import datetime

from redis import Redis

from webapp.jobs import redis_connection

KEY = "outbox:journal:{owner}"
# Far beyond any lease (sender.LEASE): the journal must outlive the lease it settles.
TTL_S = 2 * 86400
_OPENED = json.dumps(["opened"])


@dataclass(frozen=True)
class Accepted:
    """A row the server accepted: what its status update needs."""
    row_id: int
    code: int
    reply: str
    sent_at: datetime
    subject: str
    message_id: str

    def as_entry(self) -> str:
        return json.dumps(["accepted", self.row_id, self.code, self.reply,
                           self.sent_at.isoformat(), self.subject, self.message_id])


@dataclass
class Record:
    """A dead batch as its journal tells it; `found` is False when Redis has no journal for it
    (the worker died before opening one, or Redis lost it)."""
    found: bool = False
    accepted: dict[int, Accepted] = field(default_factory=dict)
    handed: set[int] = field(default_factory=set)

    @property
    def in_flight(self) -> set[int]:
        """Handed to the server without a known answer: it may have arrived."""
        return self.handed - self.accepted.keys()


def start(owner: str) -> None:
    """Before a batch's first message: from here on a missing journal means a lost one."""
    _push(redis_connection(), KEY.format(owner=owner), [_OPENED])


class Journal:
    """One batch's entries as it sends; close it when the batch is done."""

    def __init__(self, owner: str):
        self.key = KEY.format(owner=owner)
        self._held: Redis | None = None

    def handing(self, row_id: int, accepted: list[Accepted]) -> bool:
        """Before a row goes to the server: the acceptances not yet written, then the row. True
        when the journal had to start anew (Redis lost it): what it held must reach the
        database now."""
        entries = [entry.as_entry() for entry in accepted] + [json.dumps(["handing", row_id])]
        return _push(self._redis, self.key, entries)

    def close(self) -> None:
        if self._held is not None:
            self._held.close()

    @property
    def _redis(self) -> Redis:
        # One connection held for the batch: taking one from the pool and giving it back around
        # every command cost more CPU than the RPUSH itself (~55 of ~100 µs a message). Taken at
        # the first entry, so a Redis outage surfaces where the sender handles it.
        if self._held is None:
            self._held = redis_connection().client()
        return self._held


def _push(redis: Redis, key: str, entries: list[str]) -> bool:
    """True if the list is new (the batch's first entry, or Redis lost the rest)."""
    if redis.rpush(key, *entries) != len(entries):
        return False
    # One more round trip for its expiry, instead of one with every entry.
    redis.expire(key, TTL_S)
    return True


def read(owner: str) -> Record:
    entries = redis_connection().lrange(KEY.format(owner=owner), 0, -1)
    record = Record(found=bool(entries))
    for raw in entries:
        kind, *details = json.loads(raw)
        if kind == "handing":
            record.handed.add(details[0])
        elif kind == "accepted":
            row_id, code, reply, sent_at, subject, message_id = details
            record.accepted[row_id] = Accepted(row_id, code, reply, datetime.fromisoformat(sent_at),
                                               subject, message_id)
    return record


def discard(owner: str) -> None:
    redis_connection().delete(KEY.format(owner=owner))
