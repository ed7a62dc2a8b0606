"""Events of a background run kept in a Redis Stream, and their replay to a browser as server-sent events."""
import json
import time
from collections.abc import Callable

from flask import Response, stream_with_context

from webapp.jobs import redis_connection

# A finished run's stream stays for late or reconnecting subscribers, then goes.
STREAM_TTL = 3600
HEARTBEAT_MS = 15_000
# A stream never outlives this, even if the job died without its "done".
STREAM_LIMIT_S = 180


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


def sse_response(key: str, render: Callable[[str, dict], str], *, after: str = "0",
                 limit_s: float = STREAM_LIMIT_S) -> Response:
    """Replay the stream from `after` (the browser's Last-Event-ID), then follow it until "done".

    Check who may read it before calling: the generator runs after the request's database
    session is gone, so `render` should need plain values only.
    """

    def events():
        deadline = time.monotonic() + limit_s
        cursor = after
        while time.monotonic() < deadline:
            batch = read_events(key, cursor, block_ms=HEARTBEAT_MS)
            if not batch:
                yield ": heartbeat\n\n"
                continue
            for entry_id, event, data in batch:
                cursor = entry_id
                yield sse_event(entry_id, event, render(event, data))
                if event == "done":
                    return
        yield sse_event(cursor, "done", "")

    return Response(stream_with_context(events()), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def sse_event(entry_id: str, event: str, html: str) -> str:
    # One data line per event: htmx swaps the joined lines, and HTML needs no line breaks.
    return f"id: {entry_id}\nevent: {event}\ndata: {' '.join(html.splitlines())}\n\n"
