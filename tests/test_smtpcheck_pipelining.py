"""Under PIPELINING a message's MAIL, RCPT and DATA go in one write (one round trip), and a
refusal leaves the connection in step. A scripted socket server shows what arrives how."""
import contextlib
import socket
import threading

import pytest

from webapp.smtpcheck import connection
from webapp.smtpcheck.connection import Envelope, SmtpError, SmtpSettings, open_session
from webapp.smtpcheck.message import compose_message

SETTINGS = SmtpSettings("127.0.0.1", 0, "none", timeout=3.0, sender_address="tours@example.com",
                        ehlo_name="booking.example.net", allow_private=True)


class ScriptedServer:
    """One connection: greets, answers EHLO with PIPELINING, then answers each command with the
    next scripted reply; records each recv() as it came, to show what was written together."""

    def __init__(self, replies: list[str]):
        self.replies, self.chunks = list(replies), []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        connection, _ = self.listener.accept()
        connection.settimeout(5)
        buffer, in_data = b"", False
        connection.sendall(b"220 mx.test ESMTP\r\n")
        # A client may hang up with replies still owed (one leaving with a message announced).
        with connection, contextlib.suppress(BrokenPipeError, ConnectionResetError):
            while True:
                chunk = connection.recv(65536)
                if not chunk:
                    return
                self.chunks.append(chunk)
                buffer += chunk
                while True:
                    if in_data:
                        end = buffer.find(b"\r\n.\r\n") if not buffer.startswith(b".\r\n") else -2
                        if end == -1:
                            break
                        buffer, in_data = buffer[end + 5:], False
                        reply = self.replies.pop(0)
                        if reply == "HANG UP":
                            return
                        connection.sendall(reply.encode() + b"\r\n")
                        continue
                    line, found, rest = buffer.partition(b"\r\n")
                    if not found:
                        break
                    buffer = rest
                    command = line.split(b" ", 1)[0].upper()
                    if command == b"EHLO":
                        connection.sendall(b"250-mx.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
                    elif command == b"QUIT":
                        connection.sendall(b"221 bye\r\n")
                        return
                    else:
                        reply = self.replies.pop(0)
                        if reply == "HANG UP":
                            return
                        in_data = command == b"DATA" and reply.startswith("354")
                        connection.sendall(reply.encode() + b"\r\n")

    def settings(self) -> SmtpSettings:
        return SmtpSettings(**{**SETTINGS.__dict__, "port": self.port})


def envelope(settings: SmtpSettings, to: str = "client@example.org") -> Envelope:
    return Envelope(compose_message(settings, to, "Заказ изменён", "Текст"), "tours@example.com", [to])


def test_mail_rcpt_and_data_go_in_one_write():
    server = ScriptedServer(["250 sender ok", "250 rcpt ok", "354 go on", "250 queued"])
    settings = server.settings()
    with open_session(settings) as session:
        reply = session.send(envelope(settings))
    assert reply.code == 250
    commands = next(chunk for chunk in server.chunks if chunk.startswith(b"MAIL"))
    assert commands.count(b"\r\n") == 3 and b"RCPT TO:<client@example.org>" in commands \
        and commands.endswith(b"DATA\r\n")
    assert b"BODY=8BITMIME" in commands  # RFC 6152: the Cyrillic body goes as 8bit


def test_a_server_saying_354_after_refusing_the_only_recipient_gets_no_message():
    # RFC 2920 3.1: the client ends such a transaction with a lone "." and sends nothing of it.
    server = ScriptedServer(["250 sender ok", "550 5.1.1 no such user", "354 go on",
                             "554 5.5.1 no valid recipients", "250 reset",
                             "250 sender ok", "250 rcpt ok", "354 go on", "250 queued"])
    settings = server.settings()
    with open_session(settings) as session:
        with pytest.raises(SmtpError) as refused:
            session.send(envelope(settings, "gone@example.org"))
        after = session.send(envelope(settings))
    assert (refused.value.step, refused.value.code) == ("rcpt_to", 550)
    assert after.code == 250
    received = b"".join(server.chunks)
    assert received.count(b"Subject:") == 1  # only the second message's content went out
    assert b"data\r\n.\r\nrset\r\n" in received.lower()


@pytest.mark.parametrize(("replies", "message_sent"), [
    (["250 sender ok", "250 rcpt ok", "HANG UP"], False),  # before 354: nothing of it went
    (["250 sender ok", "250 rcpt ok", "354 go on", "HANG UP"], True),  # after the message
])
def test_a_lost_connection_says_whether_the_message_had_gone(replies, message_sent):
    # Only a message that had gone may have been delivered (RFC 1047): the sender marks that
    # one unknown and resends it once; one that never went is simply retried.
    server = ScriptedServer(replies)
    settings = server.settings()
    with open_session(settings) as session:
        with pytest.raises(SmtpError) as lost:
            session.send(envelope(settings))
    assert (lost.value.step, lost.value.code, lost.value.message_sent) == ("data", None, message_sent)


def test_the_next_messages_commands_go_with_this_ones_text():
    # RFC 2920 3.1: the content may start a group; a message then costs one round trip, not two.
    server = ScriptedServer(["250 sender ok", "250 rcpt ok", "354 go on", "250 first queued",
                             "250 sender ok", "250 rcpt ok", "354 go on", "250 second queued"])
    settings = server.settings()
    following = envelope(settings, "next@example.org")
    with open_session(settings) as session:
        first = session.send(envelope(settings), then=following)
        second = session.send(following)
    assert (first.reply, second.reply) == ("first queued", "second queued")
    together = next(chunk for chunk in server.chunks if b"\r\n.\r\nMAIL FROM" in chunk)
    assert together.endswith(b"RCPT TO:<next@example.org>\r\nDATA\r\n")
    assert b"".join(server.chunks).count(b"MAIL FROM") == 2


def test_a_refused_message_leaves_the_announced_one_to_go_intact():
    # Its refusal ended its transaction: an RSET now would be read as the next message's text.
    server = ScriptedServer(["250 sender ok", "250 rcpt ok", "354 go on", "554 5.6.0 refused",
                             "250 sender ok", "250 rcpt ok", "354 go on", "250 queued"])
    settings = server.settings()
    following = envelope(settings, "next@example.org")
    with open_session(settings) as session:
        with pytest.raises(SmtpError) as refused:
            session.send(envelope(settings), then=following)
        after = session.send(following)
    assert (refused.value.step, refused.value.code, after.code) == ("data", 554, 250)
    assert b"\r\nrset\r\n" not in b"".join(server.chunks).lower()


# A message accepted, the next one's envelope answered up to its 354.
ONE_SENT_ONE_ANNOUNCED = ["250 sender ok", "250 rcpt ok", "354 go on", "250 queued",
                          "250 sender ok", "250 rcpt ok", "354 go on"]


def test_a_session_left_with_a_message_announced_drops_the_line_instead_of_quitting():
    # After the announced DATA's 354 a QUIT would be the text of a message nobody meant to send;
    # a dropped connection cancels the transaction (RFC 5321 3.8).
    server = ScriptedServer(ONE_SENT_ONE_ANNOUNCED)
    settings = server.settings()
    with open_session(settings) as session:
        session.send(envelope(settings), then=envelope(settings, "next@example.org"))
    server.thread.join(5)
    received = b"".join(server.chunks)
    assert b"\r\nquit\r\n" not in received.lower() and received.count(b"Subject:") == 1
    assert not server.thread.is_alive()  # the server saw the connection end


def test_a_message_other_than_the_announced_one_is_refused_before_anything_is_written():
    server = ScriptedServer(ONE_SENT_ONE_ANNOUNCED)
    settings = server.settings()
    with open_session(settings) as session:
        session.send(envelope(settings), then=envelope(settings, "next@example.org"))
        with pytest.raises(RuntimeError):
            session.send(envelope(settings))
    assert b"".join(server.chunks).count(b"Subject:") == 1


def test_an_error_after_the_354_leaves_without_writing_into_the_text(monkeypatch):
    # A job timeout, say, between the 354 and the text: the server reads every byte as the
    # message's text, so leaving must drop the line, not write RSET or QUIT into it.
    server = ScriptedServer(["250 sender ok", "250 rcpt ok", "354 go on"])
    settings = server.settings()

    def interrupted(commands, content, following=None):
        raise TimeoutError("the job ran out of time")

    monkeypatch.setattr(connection._Commands, "content", interrupted)
    with pytest.raises(SmtpError), open_session(settings) as session:
        session.send(envelope(settings))
    server.thread.join(5)
    received = b"".join(server.chunks).lower()
    assert b"\r\nrset\r\n" not in received and b"\r\nquit\r\n" not in received
    assert not server.thread.is_alive()
