"""A real IMAP server for tests: Debian's Dovecot, unprivileged, with its own configuration,
users from a passwd-file and Maildirs in a temporary folder; plain/STARTTLS and implicit TLS."""

from __future__ import annotations

import grp
import imaplib
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from fixtures_smtp import free_port

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"

CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
ssl = yes
ssl_cert = <{root}/server.pem
ssl_key = <{root}/server.key
auth_mechanisms = plain login
disable_plaintext_auth = no
mail_location = maildir:{root}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users/%n
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/mail/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0600
  }}
  unix_listener stats-writer {{
    mode = 0600
  }}
}}
"""


@dataclass
class DovecotServer:
    root: Path
    port: int
    tls_port: int
    ca_file: str
    uid: int
    gid: int
    process: subprocess.Popen

    def add_user(self, login: str, password: str) -> None:
        # One passwd-file per user (the path has %n): Dovecot notices a changed file only by its
        # modification time, in whole seconds, so appending to one file loses quick additions.
        path = self.root / "users" / login.split("@", 1)[0]
        path.write_text(f"{login}:{{PLAIN}}{password}\n")
        self.give(path)

    def give(self, path: Path) -> None:
        """Files the tests write belong to the user Dovecot runs as, as if it had written them."""
        os.chown(path, self.uid, self.gid)


@dataclass
class ImapMailbox:
    """One user's INBOX on the test Dovecot: where the provider's bounces land."""

    server: DovecotServer
    login: str
    password: str

    host = "127.0.0.1"

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def tls_port(self) -> int:
        return self.server.tls_port

    @property
    def maildir(self) -> Path:
        return self.server.root / "mail" / self.login

    def connect(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4(self.host, self.port, timeout=10)
        client.login(self.login, self.password)
        client.select("INBOX")
        return client

    def deliver(self, raw: bytes, flags: str | None = None) -> int:
        """APPEND one message, as the provider's delivery would; returns its UID."""
        client = self.connect()
        try:
            status, data = client.append("INBOX", flags, None, raw)
            assert status == "OK", data
            # [APPENDUID <uidvalidity> <uid>] (RFC 4315, which Dovecot supports)
            return int(data[0].decode().split("APPENDUID ", 1)[1].split()[1].rstrip("]"))
        finally:
            client.logout()

    def deliver_many(self, raws) -> None:
        """Drop messages straight into the Maildir (Dovecot indexes them at the next SELECT):
        the quick way to fill a big mailbox."""
        self.connect().logout()  # Dovecot makes the Maildir
        new = self.maildir / "new"
        for number, raw in enumerate(raws):
            path = new / f"{time.time():.0f}.M{number}P{os.getpid()}.test"
            path.write_bytes(raw)
            self.server.give(path)

    def uidvalidity(self) -> int:
        client = self.connect()
        try:
            return int(client.response("UIDVALIDITY")[1][0])
        finally:
            client.logout()

    def flags(self) -> dict[int, str]:
        client = self.connect()
        try:
            status, data = client.uid("FETCH", "1:*", "(FLAGS)")
            result = {}
            for line in data:
                if not line:
                    continue
                text = line.decode() if isinstance(line, bytes) else line[0].decode()
                uid = int(text.split("UID ", 1)[1].split()[0].rstrip(")"))
                result[uid] = text.split("FLAGS (", 1)[1].split(")", 1)[0]
            return result
        finally:
            client.logout()

    def bytes_sent_by_server(self) -> list[int]:
        """What Dovecot sent in each finished session of this user (its log's out=), oldest first."""
        log = (self.server.root / "dovecot.log").read_text(errors="replace")
        return [int(line.split(" out=", 1)[1].split()[0]) for line in log.splitlines()
                if f"imap({self.login})" in line and " out=" in line]

    def recreate(self) -> None:
        """Throw the mailbox away: the next session finds a new one with a new UIDVALIDITY
        (Dovecot takes the current second; wait until it has moved past the old value)."""
        old = self.uidvalidity()
        shutil.rmtree(self.maildir)
        while int(time.time()) <= old:
            time.sleep(0.05)


def _account_for_dovecot() -> tuple[str, str, int, int]:
    """Dovecot refuses to run its helpers as root: as root run it as nobody, else as ourselves."""
    if os.geteuid() == 0:
        entry = pwd.getpwnam("nobody")
    else:
        entry = pwd.getpwuid(os.geteuid())
    return entry.pw_name, grp.getgrgid(entry.pw_gid).gr_name, entry.pw_uid, entry.pw_gid


def _wait_for_port(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dovecot exited: {log.read_text() if log.exists() else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("dovecot did not start listening")


@pytest.fixture(scope="session")
def dovecot(smtp_tls_files):
    assert os.path.exists(DOVECOT), "dovecot is not installed: run ./test, which installs dovecot-imapd"
    user, group, uid, gid = _account_for_dovecot()
    root = Path(tempfile.mkdtemp(prefix="dovecot-test-"))
    for folder in ("run", "state", "mail", "users"):
        (root / folder).mkdir()
    shutil.copy(smtp_tls_files.cert_file, root / "server.pem")
    shutil.copy(smtp_tls_files.key_file, root / "server.key")
    port, tls_port = free_port(), free_port()
    (root / "dovecot.conf").write_text(CONFIG.format(root=root, user=user, group=group, uid=uid,
                                                     gid=gid, port=port, tls_port=tls_port))
    for path in [root, *root.rglob("*")]:
        os.chown(path, uid, gid)
    os.chmod(root, 0o755)
    as_user = {"user": uid, "group": gid, "extra_groups": []} if os.geteuid() == 0 else {}
    process = subprocess.Popen([DOVECOT, "-F", "-c", str(root / "dovecot.conf")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **as_user)
    try:
        _wait_for_port(port, process, root / "dovecot.log")
        _wait_for_port(tls_port, process, root / "dovecot.log")
        yield DovecotServer(root, port, tls_port, smtp_tls_files.ca_file, uid, gid, process)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(root, ignore_errors=True)


_numbers = itertools.count(1)


@pytest.fixture
def imap_mailbox(dovecot) -> ImapMailbox:
    """A fresh, empty mailbox of its own for each test."""
    login = f"bounces{next(_numbers)}-{uuid.uuid4().hex[:6]}@agency.test"
    password = uuid.uuid4().hex
    dovecot.add_user(login, password)
    return ImapMailbox(dovecot, login, password)
