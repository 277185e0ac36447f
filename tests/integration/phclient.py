"""phclient - helpers for tests that talk to posthaste's SMTP side and read
back what it stored.

  RawSMTP(port)            byte-level client: send(), reply() -> (code, lines)
  account(d, trust=...)    create an account through the CLI, return its JSON
  tls_context()            a client TLS context that accepts the self-signed cert
  stored_messages(d)       rows of the messages table (sqlite3, read-only)
  spool_body(d, public_id) the message bytes from its spool record, checked
"""

import os
import socket
import sqlite3
import ssl
import struct

REC_HDR = 56
REC_TRAILER = 8


class RawSMTP:
    """A plain socket SMTP client that sends exactly the bytes given."""

    def __init__(self, port, addr="127.0.0.1", timeout=10.0):
        self.sock = socket.create_connection((addr, port), timeout=timeout)
        self.buf = b""
        self.greeting = self.reply()

    def send(self, data):
        self.sock.sendall(data)

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"connection closed; pending {self.buf!r}")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self):
        """Read one (possibly multi-line) reply: (code, [text lines])."""
        lines = []
        while True:
            line = self._line()
            lines.append(line[4:].decode("utf-8", "replace"))
            if line[3:4] != b"-":
                return int(line[:3]), lines

    def cmd(self, line):
        self.send(line.encode() + b"\r\n")
        return self.reply()

    def starttls(self, ctx=None):
        """Upgrade the socket; whatever was buffered stays unread."""
        ctx = ctx or tls_context()
        self.sock = ctx.wrap_socket(self.sock, server_hostname="posthaste.test")
        self.buf = b""

    def closed_by_peer(self, timeout=5.0):
        """True when the server closes the connection (EOF) within timeout."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (socket.timeout, TimeoutError):
            return False
        except (ConnectionResetError, ssl.SSLError):
            return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def account(d, name="acme", trust=(), allow_unverified=True):
    """Create an account; by default one allowed to send from any domain
    (tests of other features use made-up sender domains)."""
    args = ["account", "create", name]
    if allow_unverified:
        args.append("--allow-unverified")
    for t in trust:
        args += ["--trust", t]
    return d.cli_json(*args)


def db(d):
    path = os.path.join(d.data_dir, "posthaste.db")
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    con.row_factory = sqlite3.Row
    return con


def stored_messages(d):
    con = db(d)
    try:
        return [dict(r) for r in con.execute("SELECT * FROM messages ORDER BY id")]
    finally:
        con.close()


def events(d, public_id):
    con = db(d)
    try:
        return [dict(r) for r in con.execute(
            "SELECT e.type, e.data, r.rcpt FROM events e JOIN recipients r ON r.id = e.recipient_id"
            " JOIN messages m ON m.id = e.message_id WHERE m.public_id = ? ORDER BY e.id",
            (public_id,))]
    finally:
        con.close()


def read_record(data_dir, seg, off, length, public_id):
    """Return the payload of a spool record after checking its framing."""
    path = os.path.join(data_dir, "spool", f"{seg:08d}.seg")
    with open(path, "rb") as f:
        f.seek(off)
        hdr = f.read(REC_HDR)
        assert len(hdr) == REC_HDR, "truncated header"
        magic, rtype, rlen, _crc, _zero = struct.unpack("<4sIQII", hdr[:24])
        rid = hdr[24:56].rstrip(b"\0").decode()
        assert magic == b"PHSR" and rtype == 1, (magic, rtype)
        assert rlen == length and rid == public_id, (rlen, length, rid, public_id)
        body = f.read(length)
        assert len(body) == length, "truncated payload"
        tr = f.read(REC_TRAILER)
        assert tr[:4] == b"PHSE", tr
        return body


def spool_body(d, public_id):
    for m in stored_messages(d):
        if m["public_id"] == public_id:
            return read_record(d.data_dir, m["spool_seg"], m["spool_off"], m["spool_len"],
                               public_id)
    raise AssertionError(f"message {public_id} not in the store")


def queued_id(reply_lines):
    """The public id from '250 2.0.0 Ok: queued as <id>'."""
    text = reply_lines[-1]
    assert "queued as " in text, text
    return text.rsplit("queued as ", 1)[1].strip()


def held(factory):
    """A posthaste factory whose daemons hold delivery (mta_hold): for tests
    of the accept path alone, which read back exactly what was submitted."""
    def make(*args, config=None, **kw):
        return factory(*args, config="mta_hold = yes\n" + (config or ""), **kw)
    return make
