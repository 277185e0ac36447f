"""fakemx - a scriptable fake recipient MX (SMTP server) for the tests.

FakeMX listens on one 127.0.0.x address and port and runs in a background
thread with its own asyncio event loop. It speaks correct SMTP (RFC 5321):
multi-line EHLO reply, PIPELINING (commands are read from one buffer and
answered in order), dot-unstuffing (4.5.2), RSET, NOOP, QUIT, HELO, VRFY,
STARTTLS (RFC 3207) and AUTH PLAIN/LOGIN (RFC 4954), with Postfix-like
reply texts. Everything received is recorded byte for byte.

    mx = FakeMX(addr="127.0.0.2", port=2525, starttls=True,
                tls_cert=(cert, key)).start()
    ...
    msgs = mx.wait_for(1, timeout=10)     # accepted messages
    msgs[0].mail_from, msgs[0].rcpt_to, msgs[0].data, msgs[0].queue_id
    mx.stop()

Behaviour by RECIPIENT local part
---------------------------------
The local part is lower-cased and anything from the first "+" on is
ignored, so rcpt550+a@x and rcpt550+b@x behave alike but are different
recipients.

  (anything else)   accept: RCPT 250 2.1.5 Ok; after the final dot
                    250 2.0.0 Ok: queued as <10 hex digits> (Postfix-like;
                    the id is recorded as Transaction.queue_id)
  rcptNNN           reply NNN to RCPT, e.g. rcpt421 rcpt450 rcpt451 rcpt452
                    rcpt550 rcpt552 rcpt553 rcpt554, with a realistic enhanced
                    code and text ("550 5.1.1 <x>: Recipient address
                    rejected: User unknown in virtual mailbox table").
                    rcpt250 accepts.
  dataNNN           accept RCPT, reply NNN after the final dot (data421,
                    data450, data451, data452, data550, data552, data554).
                    data250 accepts. With several recipients in one
                    transaction the first recipient with a data behaviour
                    decides the single reply (SMTP, not LMTP).
  greylist          450 4.7.1 ... Greylisted at RCPT the first time this
                    server sees the (sender, recipient) pair, accept later
                    (after greylist_delay seconds, default 0).
  rcptdrop          close the connection instead of replying to RCPT.
  dropdata          close the connection in the middle of DATA: after the
                    354 and the first body bytes, before the final dot/reply.
  droplater         read the whole message including the final dot, then
                    close without replying (the "final reply lost" case).
  slow, slowN       wait N seconds (default 3) before the RCPT reply and
                    every later reply of the same transaction.
  slowdata, slowdataN  wait N seconds (default 3) before the final reply only.

  Suffixes (combinable, after any of the above):
  ...once           the behaviour happens only the first time this server
                    sees the (sender, recipient) pair; later tries are
                    accepted (rcpt451once, data451once, droplateronce ...).
  ...ml             the reply is multi-line (Gmail style: "550-5.1.1 ..."
                    lines); data250ml is a multi-line acceptance whose last
                    line is "250 2.0.0 Ok: queued as ID".

A 421 reply at any stage closes the connection after it is sent.

Behaviour by SENDER local part
------------------------------
  mailNNN[ml][once] reply NNN to MAIL FROM (mail451, mail550, mail553 ...).
  slow, slowN       as for recipients, from the MAIL reply on.

Server-level options (FakeMX(...) keyword arguments)
----------------------------------------------------
  addr, port        where to listen (port None: a free one)
  hostname          the name in the greeting and EHLO reply (mx.fake.test)
  greeting          220 (default), another code (421: reply then close;
                    554 and other codes: reply 503 to everything but QUIT,
                    RFC 5321 3.1), or a whole greeting line
  greeting_delay    seconds before the greeting
  reply_delay       seconds before every reply
  esmtp             False: EHLO is answered 502, only HELO works
  pipelining, eightbitmime, smtputf8, enhancedstatuscodes   advertise or not
                    (enhancedstatuscodes=False also drops the X.Y.Z codes
                    from every reply but custom ones)
  size              SIZE limit advertised and enforced (None: not advertised)
  starttls          False, True (offer STARTTLS; needs tls_cert), or "454"
                    (offer it, then refuse with 454 4.7.0)
  tls_cert          (cert_path, key_path) for STARTTLS
  require_tls       530 5.7.0 to MAIL before STARTTLS
  auth              {"user": "password"}: offer AUTH PLAIN LOGIN, and
                    require it before MAIL (530 5.7.0 otherwise)
  max_rcpts         452 4.5.3 Error: too many recipients beyond this many
  greylist_delay    seconds a greylisted pair must wait
  custom            {"localpart": {"mail"|"rcpt"|"data": "NNN text"}}:
                    exact replies (may contain newlines for multi-line)
  extra_ehlo        more EHLO keywords, e.g. ["DSN", "CHUNKING"]

Records (read them from the test thread; lists only grow)
--------------------------------------------------------
  mx.connections    [Connection]: peer, helo, esmtp, tls, tls_version,
                    tls_cipher, tls_error, starttls_injected, auth_user,
                    received (all bytes from the client, decrypted, in
                    order), sent, log [(time, "C"|"S", bytes)], commands,
                    transactions, closed, closed_by
  mx.transactions   [Transaction] every MAIL transaction, in order
  mx.messages       [Transaction] accepted ones (2xx after the final dot)
  Transaction:      mail_from, mail_params, rcpt_to (accepted), rcpt_replies
                    [(address, params, reply)], data (unstuffed bytes, CRLF,
                    without the final dot), raw_data (as sent), complete,
                    reply, code, queue_id, accepted, dropped, tls, bare_lf,
                    conn, message (email.message.Message of data)
  mx.wait_for(n, timeout)              -> first n accepted messages
  mx.wait_for_transactions(n, timeout), mx.wait_for_connections(n, timeout)
  mx.wait_until(predicate, timeout)    -> predicate(mx) result
  mx.transcript()   the whole conversation as text, for failure reports
"""

import asyncio
import base64
import email
import email.policy
import re
import secrets
import socket
import ssl
import threading
import time

from netutil import free_port

LINE_MAX = 1 << 20  # bytes buffered without a newline before we give up
IDLE_TIMEOUT = 120.0  # seconds a connection may stay silent
START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
DEFAULT_SLOW = 3.0

# Reply templates per stage: {code: (enhanced code, text)}; "{a}" is the
# address, "{h}" our host name. Texts follow Postfix where it has one.
_RCPT_TEXT = {
    421: ("4.7.0", "{h} Error: too many errors"),
    450: ("4.2.0", "<{a}>: Recipient address rejected: Mailbox temporarily unavailable"),
    451: ("4.3.0", "<{a}>: Temporary lookup failure"),
    452: ("4.5.3", "Error: too many recipients"),
    550: ("5.1.1", "<{a}>: Recipient address rejected: User unknown in virtual mailbox table"),
    551: ("5.1.6", "<{a}>: Recipient address rejected: User has moved"),
    552: ("5.2.2", "<{a}>: Recipient address rejected: Mailbox full"),
    553: ("5.1.3", "<{a}>: Recipient address rejected: Bad recipient address syntax"),
    554: ("5.7.1", "<{a}>: Relay access denied"),
}
_DATA_TEXT = {
    421: ("4.4.2", "{h} Error: timeout exceeded"),
    450: ("4.7.1", "Message temporarily rejected, try again later"),
    451: ("4.3.0", "Error: queue file write error"),
    452: ("4.3.1", "Insufficient system storage"),
    550: ("5.7.1", "Message rejected: spam content detected"),
    552: ("5.3.4", "Message size exceeds fixed limit"),
    554: ("5.6.0", "Message content rejected"),
}
_MAIL_TEXT = {
    421: ("4.7.0", "{h} Error: too many connections"),
    450: ("4.1.8", "<{a}>: Sender address rejected: Domain not found"),
    451: ("4.3.0", "<{a}>: Temporary lookup failure"),
    452: ("4.3.1", "Insufficient system storage"),
    550: ("5.7.1", "<{a}>: Sender address rejected: Access denied"),
    552: ("5.3.4", "Message size exceeds fixed limit"),
    553: ("5.7.1", "<{a}>: Sender address rejected: not owned by user"),
    554: ("5.7.1", "<{a}>: Sender address rejected: Access denied"),
}
_STAGE_TEXT = {"mail": _MAIL_TEXT, "rcpt": _RCPT_TEXT, "data": _DATA_TEXT}

_BEHAVIOUR = re.compile(
    r"^(?:(?P<stage>mail|rcpt|data)(?P<code>[2-5]\d\d)"
    r"|(?P<kw>greylist|rcptdrop|dropdata|droplater|slowdata|slow)(?P<secs>\d+(?:\.\d+)?)?)"
    r"(?P<flags>(?:ml|once)*)$")
_ENHANCED = re.compile(r"^(\d{3}[ -])[245]\.\d{1,3}\.\d{1,3} ")
_PATH = re.compile(rb"^(MAIL FROM|RCPT TO):\s*<([^>]*)>\s*(.*)$", re.I)


class Behaviour:
    """What a local part asks for (module doc); kind None means "accept"."""

    def __init__(self, kind=None, code=None, secs=None, multiline=False, once=False):
        self.kind = kind  # "mail" "rcpt" "data" "greylist" "rcptdrop" ...
        self.code = code
        self.secs = secs
        self.multiline = multiline
        self.once = once

    @classmethod
    def parse(cls, address):
        local = address.rsplit("@", 1)[0].lower().split("+", 1)[0]
        m = _BEHAVIOUR.match(local)
        if not m:
            return cls()
        flags = m.group("flags") or ""
        if m.group("stage"):
            return cls(m.group("stage"), int(m.group("code")), None, "ml" in flags, "once" in flags)
        secs = float(m.group("secs")) if m.group("secs") else DEFAULT_SLOW
        return cls(m.group("kw"), None, secs, "ml" in flags, "once" in flags)

    def __repr__(self):
        return f"<Behaviour {self.kind} code={self.code} secs={self.secs}>"


def format_reply(code, enhanced, text, multiline=False):
    """Reply lines (without CRLF).

    Multi-line: a refusal's text is split over three lines Gmail-style, then
    a fourth line follows; an acceptance keeps its text whole on the last
    line (where "queued as ID" stays parseable) after two other lines.
    """
    if not multiline:
        return [f"{code} {enhanced} {text}".rstrip()]
    if code < 300:
        return [f"{code}-{enhanced} Message accepted (multi-line reply from the fake MX)",
                f"{code}-{enhanced} Have a nice day", f"{code} {enhanced} {text}"]
    words = text.split()
    n = max(1, min(3, len(words)))
    parts = [" ".join(words[i * len(words) // n:(i + 1) * len(words) // n]) for i in range(n)]
    parts.append("(multi-line reply from the fake MX)")
    return [f"{code}-{enhanced} {p}" for p in parts[:-1]] + [f"{code} {enhanced} {parts[-1]}"]


def _code_of(line):
    m = re.match(r"^(\d{3})", line)
    return int(m.group(1)) if m else 0


class Transaction:
    """One MAIL transaction as the fake MX saw it (module doc)."""

    def __init__(self, conn, mail_from, mail_params):
        self.conn = conn
        self.time = time.time()
        self.mail_from = mail_from
        self.mail_params = mail_params
        self.rcpt_to = []
        self.rcpt_replies = []
        self.behaviours = {}  # accepted address -> Behaviour
        self.data = None
        self.raw_data = None
        self.complete = False
        self.reply = None
        self.code = None
        self.queue_id = None
        self.accepted = False
        self.dropped = False
        self.bare_lf = False
        self.tls = conn.tls

    @property
    def message(self):
        """The data parsed as an email message (None before DATA)."""
        if self.data is None:
            return None
        return email.message_from_bytes(self.data, policy=email.policy.compat32)

    def __repr__(self):
        return (f"<Transaction from={self.mail_from!r} to={self.rcpt_to!r} "
                f"code={self.code} queue_id={self.queue_id}>")


class Connection:
    """One SMTP connection as the fake MX saw it (module doc)."""

    def __init__(self, cid, peer, local):
        self.id = cid
        self.peer = peer
        self.local = local
        self.opened_at = time.time()
        self.closed_at = None
        self.closed = False
        self.closed_by = None  # "client", "server", "error: ..."
        self.received = bytearray()
        self.sent = bytearray()
        self.log = []
        self.commands = []
        self.transactions = []
        self.helo = None
        self.esmtp = False
        self.tls = False
        self.tls_version = None
        self.tls_cipher = None
        self.tls_error = None
        self.starttls_injected = b""
        self.auth_user = None

    def __repr__(self):
        return f"<Connection #{self.id} peer={self.peer} tls={self.tls} closed={self.closed}>"


class _Drop(Exception):
    """Close the connection now, without a reply."""


class _Close(Exception):
    """Close the connection after the reply already sent."""


class _Session:
    """The server side of one connection."""

    def __init__(self, mx, conn, reader, writer):
        self.mx = mx
        self.conn = conn
        self.reader = reader
        self.writer = writer
        self.buf = bytearray()
        self.txn = None
        self.txn_delay = 0.0
        self.rejected_greeting = False

    # -- I/O ------------------------------------------------------------

    async def readline(self):
        """Next line including its LF; raises EOFError at end of stream."""
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line = bytes(self.buf[:i + 1])
                del self.buf[:i + 1]
                return line
            if len(self.buf) > LINE_MAX:
                await self.reply("500 5.5.0 Error: line too long")
                raise _Close()
            data = await asyncio.wait_for(self.reader.read(65536), IDLE_TIMEOUT)
            if not data:
                raise EOFError()
            self.conn.received += data
            self.conn.log.append((time.time(), "C", data))
            self.buf += data

    async def reply(self, lines, delay=None, raw=False):
        """Send reply lines (str or list of str) after the configured delays.

        Without ENHANCEDSTATUSCODES the "X.Y.Z " codes are cut (RFC 2034
        3: only a server that advertises them sends them), except with raw
        (custom replies are sent exactly as given).
        """
        if isinstance(lines, str):
            lines = lines.replace("\r\n", "\n").split("\n")
        if not raw and not self.mx.enhancedstatuscodes:
            lines = [_ENHANCED.sub(r"\1", l) for l in lines]
        d = self.mx.reply_delay + self.txn_delay if delay is None else delay
        if d > 0:
            await asyncio.sleep(d)
        out = "".join(l + "\r\n" for l in lines).encode("utf-8", "surrogateescape")
        self.conn.sent += out
        self.conn.log.append((time.time(), "S", out))
        self.writer.write(out)
        await self.writer.drain()
        if _code_of(lines[-1]) == 421:
            raise _Close()  # RFC 5321 3.8: 421 closes the channel

    def stage_reply(self, stage, code, address, multiline=False):
        enhanced, text = _STAGE_TEXT[stage].get(code) or (
            f"{code // 100}.0.0", "<{a}>: rejected by the fake MX" if code >= 400 else "Ok")
        return format_reply(code, enhanced, text.format(a=address, h=self.mx.hostname), multiline)

    # -- main loop ------------------------------------------------------

    async def run(self):
        mx = self.mx
        if mx.greeting_delay:
            await asyncio.sleep(mx.greeting_delay)
        greeting = mx.greeting_line()
        self.rejected_greeting = not greeting.startswith("2")
        await self.reply(greeting, delay=0)
        while True:
            line = await self.readline()
            cmd = line.rstrip(b"\r\n").decode("utf-8", "surrogateescape")
            self.conn.commands.append(cmd)
            verb = cmd.split(" ", 1)[0].upper()
            arg = cmd[len(verb) + 1:] if " " in cmd else ""
            if self.rejected_greeting and verb != "QUIT":
                await self.reply("503 5.5.0 Error: no SMTP service here")
                continue
            handler = getattr(self, "cmd_" + verb.lower(), None) if verb.isalpha() else None
            if not cmd:
                await self.reply("500 5.5.2 Error: bad syntax")
            elif handler is None:
                await self.reply("502 5.5.2 Error: command not recognized")
            else:
                await handler(arg, line)

    # -- commands -------------------------------------------------------

    def reset_txn(self):
        self.txn = None
        self.txn_delay = 0.0

    async def cmd_ehlo(self, arg, line):
        mx = self.mx
        if not mx.esmtp:
            await self.reply("502 5.5.2 Error: command not recognized")
            return
        if not arg.strip():
            await self.reply("501 5.5.4 Syntax: EHLO hostname")
            return
        self.reset_txn()
        self.conn.helo, self.conn.esmtp = arg.strip(), True
        ext = []
        if mx.pipelining:
            ext.append("PIPELINING")
        if mx.size is not None:
            ext.append(f"SIZE {mx.size}")
        ext.append("VRFY")
        if mx.starttls and not self.conn.tls:
            ext.append("STARTTLS")
        if mx.auth and (self.conn.tls or not mx.starttls):
            ext.append("AUTH PLAIN LOGIN")
        if mx.enhancedstatuscodes:
            ext.append("ENHANCEDSTATUSCODES")
        if mx.eightbitmime:
            ext.append("8BITMIME")
        if mx.smtputf8:
            ext.append("SMTPUTF8")
        ext += list(mx.extra_ehlo)
        lines = [mx.hostname] + ext
        await self.reply([f"250-{l}" for l in lines[:-1]] + [f"250 {lines[-1]}"])

    async def cmd_helo(self, arg, line):
        if not arg.strip():
            await self.reply("501 Syntax: HELO hostname")
            return
        self.reset_txn()
        self.conn.helo, self.conn.esmtp = arg.strip(), False
        await self.reply(f"250 {self.mx.hostname}")

    async def cmd_noop(self, arg, line):
        await self.reply("250 2.0.0 Ok")

    async def cmd_rset(self, arg, line):
        self.reset_txn()
        await self.reply("250 2.0.0 Ok")

    async def cmd_vrfy(self, arg, line):
        await self.reply("252 2.0.0 " + (arg or "nobody"))

    async def cmd_quit(self, arg, line):
        await self.reply("221 2.0.0 Bye", delay=0)
        self.conn.closed_by = "client quit"
        raise _Close()

    async def cmd_starttls(self, arg, line):
        mx, conn = self.mx, self.conn
        if not mx.starttls or conn.tls:
            await self.reply("502 5.5.1 Error: command not implemented" if not mx.starttls
                             else "554 5.5.1 Error: TLS already active")
            return
        if arg:
            await self.reply("501 5.5.4 Syntax: STARTTLS")
            return
        if mx.starttls == "454":
            await self.reply("454 4.7.0 TLS not available due to local problem")
            return
        # CVE-2011-0411: whatever the client sent after STARTTLS in plain
        # text must not be read as if it came through TLS. Keep it for the
        # tests to look at, and drop it. reader._buffer is private, but it
        # is where bytes received yet unread by us wait.
        leftover = bytes(self.buf) + bytes(getattr(self.reader, "_buffer", b""))
        self.buf.clear()
        if hasattr(self.reader, "_buffer"):
            self.reader._buffer.clear()
        conn.starttls_injected += leftover
        await self.reply("220 2.0.0 Ready to start TLS")
        try:
            await asyncio.wait_for(self.writer.start_tls(mx.ssl_context()), IDLE_TIMEOUT)
        except (ssl.SSLError, OSError, asyncio.TimeoutError, ConnectionError) as e:
            conn.tls_error = repr(e)
            raise _Drop()
        sslobj = self.writer.get_extra_info("ssl_object")
        conn.tls, conn.tls_version = True, sslobj.version()
        conn.tls_cipher = sslobj.cipher()[0]
        # RFC 3207 4.2: forget everything learnt before TLS.
        conn.helo, conn.esmtp, conn.auth_user = None, False, None
        self.reset_txn()

    async def cmd_auth(self, arg, line):
        mx, conn = self.mx, self.conn
        if not mx.auth or (mx.starttls and not conn.tls):
            await self.reply("503 5.5.1 Error: authentication not enabled")
            return
        if conn.helo is None or not conn.esmtp:
            await self.reply("503 5.5.1 Error: send EHLO first")
            return
        if conn.auth_user is not None:
            await self.reply("503 5.5.1 Error: already authenticated")
            return
        parts = arg.split()
        mech = parts[0].upper() if parts else ""
        try:
            if mech == "PLAIN":
                resp = parts[1] if len(parts) > 1 else await self._auth_prompt("")
                fields = base64.b64decode(resp, validate=True).split(b"\0")
                if len(fields) != 3:
                    raise ValueError("PLAIN needs three fields")
                user, password = fields[1].decode(), fields[2].decode()
            elif mech == "LOGIN":
                user = base64.b64decode(parts[1] if len(parts) > 1 else
                                        await self._auth_prompt("VXNlcm5hbWU6"), validate=True).decode()
                password = base64.b64decode(await self._auth_prompt("UGFzc3dvcmQ6"),
                                            validate=True).decode()
            else:
                await self.reply("535 5.7.8 Error: authentication failed: Invalid authentication mechanism")
                return
        except _AuthCancelled:
            await self.reply("501 5.7.0 Authentication aborted")
            return
        except (ValueError, UnicodeDecodeError):
            await self.reply("501 5.5.2 Cannot decode response")
            return
        if mx.auth.get(user) == password:
            conn.auth_user = user
            await self.reply("235 2.7.0 Authentication successful")
        else:
            await self.reply("535 5.7.8 Error: authentication failed: authentication failure")

    async def _auth_prompt(self, challenge):
        await self.reply(f"334 {challenge}".rstrip() if challenge else "334 ")
        resp = (await self.readline()).rstrip(b"\r\n").decode("ascii", "replace")
        self.conn.commands.append(resp)
        if resp == "*":
            raise _AuthCancelled()
        return resp

    async def cmd_mail(self, arg, line):
        mx, conn = self.mx, self.conn
        m = _PATH.match(line.rstrip(b"\r\n"))
        if conn.helo is None:
            await self.reply("503 5.5.1 Error: send HELO/EHLO first")
            return
        if mx.require_tls and not conn.tls:
            await self.reply("530 5.7.0 Must issue a STARTTLS command first")
            return
        if mx.auth and conn.auth_user is None:
            await self.reply("530 5.7.0 Authentication required")
            return
        if self.txn is not None:
            await self.reply("503 5.5.1 Error: nested MAIL command")
            return
        if not m or m.group(1).upper() != b"MAIL FROM":
            await self.reply("501 5.5.4 Syntax: MAIL FROM:<address>")
            return
        sender = m.group(2).decode("utf-8", "surrogateescape")
        params = m.group(3).decode("utf-8", "surrogateescape")
        sm = re.search(r"(?:^|\s)SIZE=(\d+)", params, re.I)
        if mx.size and sm and int(sm.group(1)) > mx.size:
            await self.reply("552 5.3.4 Message size exceeds fixed limit")
            return
        b = Behaviour.parse(sender)
        slow = b.secs if b.kind == "slow" else 0.0
        reply = mx.custom_reply(sender, "mail")
        if reply is None:
            if b.kind == "mail" and b.code >= 300 and mx.first_time(("mail", b.code, sender), b.once):
                reply = self.stage_reply("mail", b.code, sender, b.multiline)
            else:
                reply = "250 2.1.0 Ok"
        first = reply[0] if isinstance(reply, list) else reply
        if first.startswith("2"):
            txn = self.txn = Transaction(conn, sender, params)
            self.txn_delay = slow
            conn.transactions.append(txn)
            mx._record(lambda: mx.transactions.append(txn))
        await self.reply(reply, delay=mx.reply_delay + slow,
                         raw=mx.custom_reply(sender, "mail") is not None)

    async def cmd_rcpt(self, arg, line):
        mx, txn = self.mx, self.txn
        m = _PATH.match(line.rstrip(b"\r\n"))
        if txn is None:
            await self.reply("503 5.5.1 Error: need MAIL command")
            return
        if not m or m.group(1).upper() != b"RCPT TO":
            await self.reply("501 5.5.4 Syntax: RCPT TO:<address>")
            return
        rcpt = m.group(2).decode("utf-8", "surrogateescape")
        params = m.group(3).decode("utf-8", "surrogateescape")
        b = Behaviour.parse(rcpt)
        if b.kind == "slow":
            self.txn_delay = max(self.txn_delay, b.secs)
        reply = mx.custom_reply(rcpt, "rcpt")
        raw = reply is not None
        if reply is None:
            pair = (txn.mail_from, rcpt)
            if len(txn.rcpt_to) >= mx.max_rcpts:
                reply = "452 4.5.3 Error: too many recipients"
            elif b.kind == "rcpt" and mx.first_time(("rcpt", b.code) + pair, b.once):
                reply = self.stage_reply("rcpt", b.code, rcpt, b.multiline)
            elif b.kind == "greylist" and mx.greylisted(pair):
                reply = format_reply(450, "4.7.1", f"<{rcpt}>: Recipient address rejected: "
                                     "Greylisted, see https://postgrey.schweikert.ch/help/fake.test.html",
                                     b.multiline)
            elif b.kind == "rcptdrop" and mx.first_time(("rcptdrop",) + pair, b.once):
                txn.rcpt_replies.append((rcpt, params, None))
                self.conn.closed_by = "server (rcptdrop)"
                raise _Drop()
            else:
                reply = "250 2.1.5 Ok"
        text = "\r\n".join(reply) if isinstance(reply, list) else reply
        txn.rcpt_replies.append((rcpt, params, text))
        if text.startswith("2"):
            txn.rcpt_to.append(rcpt)
            txn.behaviours[rcpt] = b
        await self.reply(reply, raw=raw)

    async def cmd_data(self, arg, line):
        mx, conn, txn = self.mx, self.conn, self.txn
        if txn is None:
            await self.reply("503 5.5.1 Error: need RCPT command")
            return
        if not txn.rcpt_to:
            await self.reply("554 5.5.1 Error: no valid recipients")
            return
        # The first accepted recipient with a DATA-stage behaviour decides.
        data_b, data_rcpt = Behaviour(), None
        for r in txn.rcpt_to:
            b = txn.behaviours[r]
            if b.kind in ("data", "dropdata", "droplater", "slowdata") or mx.custom_reply(r, "data"):
                data_b, data_rcpt = b, r
                break
        pair = (txn.mail_from, data_rcpt)
        await self.reply("354 End data with <CR><LF>.<CR><LF>")
        raw = bytearray()
        body = bytearray()
        drop_mid = data_b.kind == "dropdata" and mx.first_time(("dropdata",) + pair, data_b.once)
        while True:
            dline = await self.readline()
            if dline in (b".\r\n", b".\n"):
                txn.complete = True
                break
            raw += dline
            if not dline.endswith(b"\r\n"):
                txn.bare_lf = True
            # RFC 5321 4.5.2: drop the first dot of a line that starts with one.
            body += dline[1:] if dline.startswith(b".") else dline
            if drop_mid:
                break
        txn.raw_data, txn.data = bytes(raw), bytes(body)
        if drop_mid:
            txn.dropped = True
            conn.closed_by = "server (dropdata)"
            mx._notify()
            raise _Drop()
        if data_b.kind == "droplater" and mx.first_time(("droplater",) + pair, data_b.once):
            txn.dropped = True
            conn.closed_by = "server (droplater)"
            mx._notify()
            raise _Drop()
        queue_id = secrets.token_hex(5).upper()
        custom = mx.custom_reply(data_rcpt, "data") if data_rcpt else None
        if custom:
            reply = custom.replace("{queue_id}", queue_id).replace("\r\n", "\n").split("\n")
        elif mx.size and len(body) > mx.size:
            reply = self.stage_reply("data", 552, data_rcpt or "")
        elif data_b.kind == "data" and data_b.code >= 300 and \
                mx.first_time(("data", data_b.code) + pair, data_b.once):
            reply = self.stage_reply("data", data_b.code, data_rcpt, data_b.multiline)
        else:
            reply = format_reply(250, "2.0.0", f"Ok: queued as {queue_id}", data_b.multiline)
        # Computed before reset_txn() forgets the transaction's slowness.
        delay = mx.reply_delay + self.txn_delay
        if data_b.kind == "slowdata":
            delay += data_b.secs
        if not custom and not mx.enhancedstatuscodes:
            reply = [_ENHANCED.sub(r"\1", l) for l in reply]
        txn.reply = "\r\n".join(reply)
        txn.code = _code_of(reply[-1])
        txn.accepted = 200 <= txn.code < 300
        if txn.accepted:
            txn.queue_id = queue_id
        self.reset_txn()

        def record():
            if txn.accepted:
                mx.messages.append(txn)

        try:
            await self.reply(reply, delay=delay, raw=bool(custom))
        finally:
            # Recorded once the reply is sent (or failed to be): a test that
            # sees the message may assume the client had its answer.
            mx._record(record)


class _AuthCancelled(Exception):
    pass


class FakeMX:
    """A fake recipient MX in its own thread and event loop (module doc)."""

    def __init__(self, addr="127.0.0.2", port=None, hostname="mx.fake.test", greeting=220,
                 greeting_delay=0.0, reply_delay=0.0, esmtp=True, pipelining=True,
                 eightbitmime=True, smtputf8=True, enhancedstatuscodes=True, size=10240000,
                 starttls=False, tls_cert=None, require_tls=False, auth=None, max_rcpts=1000,
                 greylist_delay=0.0, custom=None, extra_ehlo=()):
        self.addr = addr
        self.port = port if port else free_port(addr)
        self.hostname = hostname
        self.greeting = greeting
        self.greeting_delay = greeting_delay
        self.reply_delay = reply_delay
        self.esmtp = esmtp
        self.pipelining = pipelining
        self.eightbitmime = eightbitmime
        self.smtputf8 = smtputf8
        self.enhancedstatuscodes = enhancedstatuscodes
        self.size = size
        self.starttls = starttls
        self.tls_cert = tls_cert
        self.cert_path, self.key_path = tls_cert if tls_cert else (None, None)
        self.ca_cert_path = None  # set by the fixture when a test CA issued tls_cert
        self.require_tls = require_tls
        self.auth = dict(auth) if auth else None
        self.max_rcpts = max_rcpts
        self.greylist_delay = greylist_delay
        self.custom = {k.lower(): v for k, v in (custom or {}).items()}
        self.extra_ehlo = list(extra_ehlo)
        if starttls is True and not tls_cert:
            raise ValueError("starttls=True needs tls_cert=(cert_path, key_path)")

        self.connections = []
        self.transactions = []
        self.messages = []
        self._cond = threading.Condition()
        self._seen = {}  # first_time() / greylist state: key -> first seen time
        self._ssl_ctx = None
        self._loop = None
        self._thread = None
        self._server = None
        self._writers = set()

    def __repr__(self):
        return f"<FakeMX {self.addr}:{self.port} messages={len(self.messages)}>"

    # -- life cycle -----------------------------------------------------

    def start(self):
        """Start listening; returns self once the socket accepts connections."""
        ready = threading.Event()
        failure = []

        def main():
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                self._server = loop.run_until_complete(asyncio.start_server(
                    self._handle, self.addr, self.port, reuse_address=True))
            except Exception as e:  # noqa: BLE001 - reported to start()
                failure.append(e)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=main, name=f"fakemx-{self.addr}:{self.port}",
                                        daemon=True)
        self._thread.start()
        if not ready.wait(START_TIMEOUT):
            raise RuntimeError(f"fake MX {self.addr}:{self.port} did not start")
        if failure:
            raise RuntimeError(f"fake MX cannot listen on {self.addr}:{self.port}: {failure[0]}")
        return self

    def stop(self):
        """Close the listener and every connection; safe to call twice."""
        loop, self._loop = self._loop, None
        if loop is None or loop.is_closed():
            return

        async def shutdown():
            self._server.close()
            for w in list(self._writers):
                w.transport.abort()
            await asyncio.sleep(0)
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            asyncio.run_coroutine_threadsafe(shutdown(), loop).result(STOP_TIMEOUT)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            self._thread.join(STOP_TIMEOUT)

    # -- waiting --------------------------------------------------------

    def wait_until(self, predicate, timeout=10.0, what="condition"):
        """Wait until predicate(self) is truthy; return it or fail with a transcript."""
        with self._cond:
            result = self._cond.wait_for(lambda: predicate(self), timeout)
        if not result:
            raise AssertionError(f"fake MX {self.addr}:{self.port}: timed out after {timeout}s "
                                 f"waiting for {what}\n{self.transcript()}")
        return result

    def wait_for(self, n_messages=1, timeout=10.0):
        """Wait for n accepted messages; returns the first n."""
        self.wait_until(lambda mx: len(mx.messages) >= n_messages, timeout,
                        f"{n_messages} accepted message(s)")
        return self.messages[:n_messages]

    def wait_for_transactions(self, n, timeout=10.0, complete=False):
        """Wait for n transactions (complete=True: finished: final dot seen, or dropped)."""
        def done(mx):
            ts = [t for t in mx.transactions if t.complete or t.dropped or not complete]
            return len(ts) >= n and ts[:n]
        return self.wait_until(done, timeout, f"{n} transaction(s)")

    def wait_for_connections(self, n, timeout=10.0, closed=False):
        """Wait for n connections (closed=True: that have ended)."""
        def done(mx):
            cs = [c for c in mx.connections if c.closed or not closed]
            return len(cs) >= n and cs[:n]
        return self.wait_until(done, timeout, f"{n} connection(s)")

    def transcript(self):
        """Every connection's conversation as text (C: client, S: us)."""
        out = []
        for c in list(self.connections):
            out.append(f"--- fake MX {self.addr}:{self.port} connection #{c.id} from {c.peer} "
                       f"tls={c.tls_version} closed_by={c.closed_by}")
            t0 = c.opened_at
            for t, who, data in list(c.log):
                for l in data.decode("utf-8", "replace").splitlines() or [""]:
                    out.append(f"{t - t0:8.3f} {who}: {l[:300]}")
        return "\n".join(out) if out else f"--- fake MX {self.addr}:{self.port}: no connections"

    # -- used by sessions (event-loop thread) ----------------------------

    def greeting_line(self):
        g = self.greeting
        if isinstance(g, str):
            return g
        return {220: f"220 {self.hostname} ESMTP Postfix (posthaste fake MX)",
                421: f"421 4.3.2 {self.hostname} Service not available, closing transmission channel",
                554: f"554 5.3.2 {self.hostname} No SMTP service here"}.get(
                    g, f"{g} {g // 100}.0.0 {self.hostname} fake MX greeting")

    def ssl_context(self):
        if self._ssl_ctx is None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(self.cert_path, self.key_path)
            self._ssl_ctx = ctx
        return self._ssl_ctx

    def custom_reply(self, address, stage):
        local = address.rsplit("@", 1)[0].lower()
        return self.custom.get(local, {}).get(stage)

    def first_time(self, key, once):
        """True unless once is set and key was seen before (then False)."""
        if not once:
            return True
        if key in self._seen:
            return False
        self._seen[key] = time.monotonic()
        return True

    def greylisted(self, pair):
        """Greylisting: refuse the first try, and later ones until the delay passed."""
        key = ("greylist",) + pair
        now = time.monotonic()
        first = self._seen.get(key)
        if first is None:
            self._seen[key] = now
            return True
        return now - first < self.greylist_delay

    def _record(self, fn):
        with self._cond:
            fn()
            self._cond.notify_all()

    def _notify(self):
        with self._cond:
            self._cond.notify_all()

    async def _handle(self, reader, writer):
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = Connection(len(self.connections) + 1, writer.get_extra_info("peername"),
                          writer.get_extra_info("sockname"))
        self._record(lambda: self.connections.append(conn))
        self._writers.add(writer)
        session = _Session(self, conn, reader, writer)
        try:
            await session.run()
        except _Close:
            conn.closed_by = conn.closed_by or "server"
        except _Drop:
            conn.closed_by = conn.closed_by or "server (drop)"
            writer.transport.abort()
        except EOFError:
            conn.closed_by = "client"
        except asyncio.TimeoutError:
            conn.closed_by = "server (idle timeout)"
        except asyncio.CancelledError:
            conn.closed_by = "server (stopped)"
        except (ConnectionError, OSError, ssl.SSLError) as e:
            conn.closed_by = f"error: {e!r}"
        finally:
            self._writers.discard(writer)
            try:
                writer.close()
            except Exception:  # noqa: BLE001 - already broken
                pass
            conn.closed_at = time.time()
            self._record(lambda: setattr(conn, "closed", True))
