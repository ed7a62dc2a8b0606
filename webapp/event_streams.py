"""Events of a background run kept in a Redis Stream, and their replay to a browser as server-sent
events, within limits that keep the site's threads for its pages."""
import json
import os
import re
import secrets
import threading
import time
from collections.abc import Callable

from flask import Response, current_app, request, stream_with_context
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from webapp.jobs import redis_connection

# A finished run's stream stays for late or reconnecting subscribers, then goes.
STREAM_TTL = 3600
HEARTBEAT_MS = 15_000
# A stream never outlives this, even if the job died without its "done".
STREAM_LIMIT_S = 180

# Every open stream holds one of gunicorn's threads (gunicorn.conf.py: WEB_THREADS, 32 a
# process) until its run ends. Without limits one signed-in user opening 70 streams held every
# thread and the site stopped answering. A user has one test email and one troubleshooting run
# at a time, in a tab or two: 4 streams; an agency's few administrators 8 together; and a
# process gives streams at most half its threads, so the other half always serves pages
# (docs/DEPLOY.md). The per-user and per-agency counts live in Redis (all processes and
# machines), each open stream an entry that expires with the stream's longest life, so a
# killed process cannot hold a slot for ever.
STREAMS_PER_USER = 4
STREAMS_PER_AGENCY = 8
RETRY_AFTER_S = 15
_STREAM_ID = re.compile(r"(\d{1,20})(?:-(\d{1,20}))?")
_open_here_lock = threading.Lock()  # guards the count of this process's open streams

# KEYS: the user's and the agency's sets of open streams; ARGV: now, expiry, entry, the limits.
_TAKE_SLOT = """
for _, key in ipairs(KEYS) do redis.call('ZREMRANGEBYSCORE', key, '-inf', ARGV[1]) end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 1 end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[5]) then return 2 end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, ARGV[2], ARGV[3])
  redis.call('EXPIRE', key, math.ceil(ARGV[2] - ARGV[1]))
end
return 0
"""


def publish(key: str, event: str, data: dict, *, ttl: int = STREAM_TTL) -> str:
    connection = redis_connection()
    entry_id = connection.xadd(key, {"event": event, "data": json.dumps(data, ensure_ascii=False)})
    connection.expire(key, ttl)
    return entry_id.decode()


def read_events(key: str, after: str = "0", block_ms: int | None = None) -> list[tuple[str, str, dict]]:
    """Events after the stream id `after` ("0": from the start): (id, event, data)."""
    answer = redis_connection().xread({key: after}, block=block_ms)
    events = []
    for _key, entries in answer or []:
        for entry_id, fields in entries:
            events.append((entry_id.decode(), fields[b"event"].decode(), json.loads(fields[b"data"])))
    return events


def streams_per_process() -> int:
    configured = current_app.config.get("SSE_STREAMS_PER_PROCESS")
    return configured or max(1, int(os.environ.get("WEB_THREADS", "32")) // 2)


def valid_stream_id(value: str) -> bool:
    """A Redis Stream id ("1733400000000-0", or "0"): what a browser's Last-Event-ID may hold."""
    match = _STREAM_ID.fullmatch(value)
    return bool(match) and all(int(part or 0) < 2 ** 64 for part in match.groups())


class _StreamSlot:
    """One open stream counted against the process, the user and the agency until released."""

    def __init__(self, user_id: int, agency_id: int, limit_s: float):
        self.keys = [f"sse:open:user:{user_id}", f"sse:open:agency:{agency_id}"]
        self.entry = secrets.token_hex(8)
        self.limit_s = limit_s
        self.taken = False
        # Released when the server closes the response, after the app context has gone.
        self.connection = redis_connection()
        self.app_state = current_app.extensions.setdefault("event_streams", {"open": 0})

    def take(self) -> str | None:
        """None when taken; else why not, for people."""
        with _open_here_lock:
            if self.app_state["open"] >= streams_per_process():
                return _("Too many live views are open on the server right now.")
            self.app_state["open"] += 1
        now = time.time()
        try:
            refused = self.connection.register_script(_TAKE_SLOT)(
                keys=self.keys, args=[now, now + self.limit_s + 60, self.entry,
                                      STREAMS_PER_USER, STREAMS_PER_AGENCY])
        except BaseException:
            self._release_here()
            raise
        if refused:
            self._release_here()
            return (ngettext("You have %(num)d live view open already.",
                             "You have %(num)d live views open already.", STREAMS_PER_USER)
                    if refused == 1 else
                    ngettext("Your agency has %(num)d live view open already.",
                             "Your agency has %(num)d live views open already.", STREAMS_PER_AGENCY))
        self.taken = True
        return None

    def release(self) -> None:
        if not self.taken:
            return
        self.taken = False
        self._release_here()
        for key in self.keys:
            self.connection.zrem(key, self.entry)

    def _release_here(self) -> None:
        with _open_here_lock:
            self.app_state["open"] -= 1


def sse_response(key: str, render: Callable[[str, dict], str], *, after: str = "0",
                 limit_s: float = STREAM_LIMIT_S, finished: bool = False) -> Response:
    """Replay the stream from `after` (the browser's Last-Event-ID), then follow it until "done".

    Check who may read it before calling (the signed-in user's slot is counted here): the
    generator runs after the request's database session is gone, so `render` should need plain
    values only. A stream whose "done" is at or before `after` ends at once, and so does an
    expired one when `finished` says the run is over: no "done" is coming for them.
    """
    if after == "0":
        # A new EventSource sends no Last-Event-ID: static/event-streams.js puts the last id the
        # page received in the URL instead, so a reconnection after a refusal replays nothing twice.
        after = request.args.get("last_event_id", "0")
    if not valid_stream_id(after):
        return Response(_("Last-Event-ID: must be the id of an event of this stream, "
                          "such as 1733400000000-0."), 400, mimetype="text/plain")
    slot = _StreamSlot(current_user.id, current_user.agency_id, limit_s)
    refused = slot.take()
    if refused:
        # A non-200 answer closes an EventSource for good (HTML spec: "fail the connection"), and
        # it cannot read Retry-After. htmx-ext-sse (static/vendor/htmx-ext-sse-2.2.4.js, onerror)
        # then opens a new one, 0.5 s later, then 1, 2, 4 ... s, at most 64 s apart, for as long as
        # the view is on the page; the view shows that it is waiting (static/event-streams.js),
        # and the new one resumes after the last event the page received. Retry-After is for
        # other clients.
        message = _("%(why)s Close another tab with a test email or a troubleshooting run; this "
                    "one resumes by itself.", why=refused)
        return Response(message, 429, mimetype="text/plain",
                        headers={"Retry-After": str(RETRY_AFTER_S), "Cache-Control": "no-cache"})

    def events():
        deadline = time.monotonic() + limit_s
        cursor, block_ms = after, None  # the first read replays what is there, without waiting
        yield ": open\n\n"  # the headers go now: the browser knows the stream is open
        while time.monotonic() < deadline:
            batch = read_events(key, cursor, block_ms=block_ms)
            for entry_id, event, data in batch:
                cursor = entry_id
                yield sse_event(entry_id, event, render(event, data))
                if event == "done":
                    return
            if not batch:
                if _ended_before(key, cursor, finished):
                    break  # a "done" sent before, or an id past the run's end: nothing will come
                if block_ms:
                    yield ": heartbeat\n\n"
            block_ms = HEARTBEAT_MS
        yield sse_event(cursor, "done", "")

    response = Response(stream_with_context(events()), mimetype="text/event-stream",
                        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    # Called when the server closes the response: at the end, or at the first write after the
    # browser went away (a heartbeat, within 15 s).
    response.call_on_close(slot.release)
    return response


def _ended_before(key: str, cursor: str, finished: bool) -> bool:
    """The run's "done" is in the stream at or before `cursor`, or its stream expired."""
    last = redis_connection().xrevrange(key, count=1)
    if not last:
        # A finished run's stream has expired; a run not yet started has no stream yet. (A
        # finished run's stream that is still there gets its "done" just after the commit.)
        return finished
    entry_id, fields = last[0]
    return fields[b"event"] == b"done" and _id_key(entry_id.decode()) <= _id_key(cursor)


def _id_key(stream_id: str) -> tuple[int, int]:
    milliseconds, _sep, sequence = stream_id.partition("-")
    return int(milliseconds), int(sequence or 0)


def sse_event(entry_id: str, event: str, html: str) -> str:
    # One data line per event: htmx swaps the joined lines, and HTML needs no line breaks.
    return f"id: {entry_id}\nevent: {event}\ndata: {' '.join(html.splitlines())}\n\n"
