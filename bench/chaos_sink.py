"""An SMTP sink for chaos runs: answers 10 % of messages 451, hangs up on 2 % right after DATA
(delivered, but the client never hears so), accepts the rest; logs every delivery.

    .venv/bin/python bench/chaos_sink.py PORT LOG_FILE

The fate of a message is a hash of its Message-ID, so a run is reproducible and a resend (which
gets a new Message-ID) draws again. Each log line: outcome, To, Message-ID.
"""
import asyncio
import hashlib
import sys
from email.parser import BytesHeaderParser

from aiosmtpd.controller import Controller

TEMPORARY_SHARE = 0.10
DROP_SHARE = 0.02


def fate(message_id: str) -> str:
    draw = int.from_bytes(hashlib.sha256(message_id.encode()).digest()[:8], "big") / 2 ** 64
    if draw < TEMPORARY_SHARE:
        return "451"
    if draw < TEMPORARY_SHARE + DROP_SHARE:
        return "drop"
    return "250"


class ChaosHandler:
    def __init__(self, log):
        self.log = log

    async def handle_DATA(self, server, session, envelope):
        headers = BytesHeaderParser().parsebytes(envelope.original_content)
        message_id, to = headers.get("Message-ID", ""), headers.get("To", "")
        outcome = fate(message_id)
        self.log.write(f"{outcome}\t{to}\t{message_id}\n")
        self.log.flush()
        if outcome == "451":
            return "451 4.3.0 Try again later"
        if outcome == "drop":
            server.transport.close()  # the message is kept, the reply is lost (RFC 1047)
            return "250 2.0.0 never heard"
        return "250 2.0.0 OK"


def main() -> None:
    port, log_path = int(sys.argv[1]), sys.argv[2]
    with open(log_path, "a", encoding="utf-8") as log:
        controller = Controller(ChaosHandler(log), hostname="127.0.0.1", port=port)
        controller.start()
        try:
            asyncio.run(asyncio.Event().wait())
        finally:
            controller.stop()


if __name__ == "__main__":
    main()
