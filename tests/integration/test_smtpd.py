"""The submission server (issue 3): AUTH, TLS, pipelining, limits at N-1, N
and N+1, no open relay, smuggling, and what a 250 means: the message is in
the spool and the store.
"""

import base64
import json
import smtplib
import socket
import ssl
import subprocess
import time

import pytest

from phclient import (held, RawSMTP, account, events, queued_id, spool_body, stored_messages,
                      tls_context)

MSG = b"Subject: hello\r\nFrom: a@example.test\r\nTo: b@example.net\r\n\r\nbody line\r\n"

@pytest.fixture
def posthaste(posthaste):
    """The accept path alone: delivery on hold."""
    return held(posthaste)



def send_raw_message(c, body=MSG, rcpt="b@example.net", sender="a@example.test"):
    assert c.cmd(f"MAIL FROM:<{sender}>")[0] == 250
    assert c.cmd(f"RCPT TO:<{rcpt}>")[0] == 250
    assert c.cmd("DATA")[0] == 354
    c.send(body + b".\r\n")
    return c.reply()


@pytest.fixture
def trusted(posthaste):
    """A daemon whose account trusts 127.0.0.0/8 (no AUTH needed)."""
    def make(config="", **kw):
        d = posthaste(start=False, config=config or None, **kw)
        d.acct = account(d, trust=["127.0.0.0/8"])
        d.start()
        return d
    return make


# -- AUTH and TLS -------------------------------------------------------------


def test_auth_plain_and_login_over_starttls(posthaste):
    d = posthaste(start=False)
    a = account(d)
    d.start()
    for mech in ("PLAIN", "LOGIN"):
        s = d.smtp()
        s.ehlo()
        assert "auth" not in s.esmtp_features, "AUTH must not be offered without TLS"
        assert s.has_extn("starttls")
        s.starttls(context=tls_context())
        s.ehlo()
        assert s.has_extn("auth")
        assert set(s.esmtp_features["auth"].split()) == {"PLAIN", "LOGIN"}
        s.user, s.password = a["smtp_username"], a["smtp_password"]
        code, _ = s.auth(mech, getattr(s, "auth_" + mech.lower()), initial_response_ok=(mech == "PLAIN"))
        assert code == 235
        refused = s.sendmail("app@example.test", ["x@example.net"], MSG)
        assert refused == {}
        s.quit()
    msgs = stored_messages(d)
    assert len(msgs) == 2
    assert all(m["auth_user"] == a["smtp_username"] for m in msgs)
    assert all(m["tls_version"] and m["tls_version"].startswith("TLSv1.") for m in msgs)


def test_swaks_auth_over_tls(posthaste):
    d = posthaste(start=False)
    a = account(d)
    d.start()
    for mech in ("PLAIN", "LOGIN"):
        p = subprocess.run(["swaks", "--server", f"127.0.0.1:{d.smtp_port}", "--tls",
                            "--auth", mech, "--auth-user", a["smtp_username"],
                            "--auth-password", a["smtp_password"], "--from", "s@example.test",
                            "--to", "r@example.net", "--timeout", "10"],
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, p.stdout + p.stderr
        assert "235 2.7.0" in p.stdout and "queued as" in p.stdout
        assert a["smtp_password"] not in d.log_text()


def test_auth_before_tls_is_refused(posthaste):
    d = posthaste(start=False)
    a = account(d)
    d.start()
    c = RawSMTP(d.smtp_port)
    c.cmd("EHLO client.test")
    cred = base64.b64encode(f"\0{a['smtp_username']}\0{a['smtp_password']}".encode()).decode()
    code, lines = c.cmd(f"AUTH PLAIN {cred}")
    assert code == 538 and "5.7.11" in lines[0]


def test_implicit_tls_listener(posthaste, trusted):
    from netutil import free_port
    port = free_port("127.0.0.1")
    d = trusted(config=f"smtps_listen = 127.0.0.1:{port}\n")
    s = smtplib.SMTP_SSL("127.0.0.1", port, context=tls_context(), timeout=10)
    s.ehlo()
    assert not s.has_extn("starttls")  # already TLS
    assert s.has_extn("auth")
    assert s.sendmail("a@example.test", ["b@example.net"], MSG) == {}
    s.quit()
    m = stored_messages(d)[-1]
    assert m["tls_version"].startswith("TLSv1.")
    body = spool_body(d, m["public_id"]).decode()
    assert "with ESMTPS id" in body


def test_bad_credentials_and_slowdown(posthaste):
    d = posthaste(start=False, config="smtp_max_errors = 20\n")
    a = account(d)
    d.start()
    s = d.smtp()
    s.starttls(context=tls_context())
    s.ehlo()
    for i in range(3):
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            s.login(a["smtp_username"], "wrong-password")
        assert e.value.smtp_code == 535 and b"5.7.8" in e.value.smtp_error
    s.close()
    log = d.wait_for_log("failures=3 delay_ms=1000")
    # Each failure of the same user and IP doubles the hold-back of the 535.
    assert "failures=1 delay_ms=250" in log
    assert "failures=2 delay_ms=500" in log
    assert "failures=3 delay_ms=1000" in log
    assert "wrong-password" not in log
    # A right password still works afterwards.
    s = d.smtp()
    s.starttls(context=tls_context())
    s.ehlo()
    assert s.login(a["smtp_username"], a["smtp_password"])[0] == 235
    s.quit()


def test_auth_cancel_and_garbage(posthaste):
    d = posthaste(start=False, config="smtp_auth_plaintext_loopback = yes\n")
    account(d)
    d.start()
    c = RawSMTP(d.smtp_port)
    assert "AUTH PLAIN LOGIN" in c.cmd("EHLO client.test")[1]
    assert c.cmd("AUTH PLAIN")[0] == 334
    assert c.cmd("*")[0] == 501
    assert c.cmd("AUTH PLAIN !!!notbase64")[0] == 501
    assert c.cmd("AUTH CRAM-MD5")[0] == 504


# -- no open relay ------------------------------------------------------------


def test_no_relay_without_auth(posthaste):
    d = posthaste(start=False)
    account(d, trust=["10.9.8.0/24"])  # somebody else's network
    d.start()
    c = RawSMTP(d.smtp_port)
    c.cmd("EHLO client.test")
    assert c.cmd("MAIL FROM:<a@example.test>")[0] == 250
    code, lines = c.cmd("RCPT TO:<b@example.net>")
    assert code == 530 and lines[0].startswith("5.7.0")
    code, lines = c.cmd("DATA")
    assert code == 554 and "no valid recipients" in lines[0]
    assert stored_messages(d) == []


def test_trusted_network_relays_without_auth(trusted):
    d = trusted()
    c = RawSMTP(d.smtp_port)
    c.cmd("EHLO client.test")
    code, lines = send_raw_message(c)
    assert code == 250
    pid = queued_id(lines)
    m = stored_messages(d)[0]
    assert m["public_id"] == pid and m["auth_user"] is None
    assert m["account_id"] == d.acct["account_id"]


# -- what a 250 means --------------------------------------------------------


def test_accepted_message_is_in_spool_and_store(trusted):
    d = trusted(hostname="mx.posthaste.test")
    c = RawSMTP(d.smtp_port)
    c.cmd("EHLO client.test")
    assert c.cmd("MAIL FROM:<a@example.test>")[0] == 250
    for r in ("one@example.net", "two@example.org"):
        assert c.cmd(f"RCPT TO:<{r}>")[0] == 250
    assert c.cmd("DATA")[0] == 354
    c.send(b"Subject: receipt 42\r\n\r\n..leading dot\r\nend\r\n.\r\n")
    code, lines = c.reply()
    assert code == 250 and lines[0].startswith("2.0.0 Ok: queued as ")
    pid = queued_id(lines)
    body = spool_body(d, pid)
    head, _, rest = body.partition(b"\r\n\r\n")
    assert rest == b".leading dot\r\nend\r\n"  # unstuffed, exact
    assert head.startswith(b"Received: from client.test ([127.0.0.1])\r\n\tby mx.posthaste.test")
    assert f"with ESMTP id {pid};".encode() in head
    assert f"Message-ID: <{pid}@mx.posthaste.test>".encode() in head
    assert b"\r\nDate: " in head
    m = stored_messages(d)[0]
    assert m["subject"] == "receipt 42" and m["mail_from"] == "a@example.test"
    assert m["size"] == len(body)
    ev = events(d, pid)
    assert sorted(e["rcpt"] for e in ev) == ["one@example.net", "two@example.org"]
    for e in ev:
        assert e["type"] == "received"
        data = json.loads(e["data"])
        assert data["client_ip"] == "127.0.0.1" and data["size"] == len(body)
        assert data["tls"] is None and data["source"] == "smtp"
    q = d.cli_json("queue", "list")
    assert sorted(x["to"] for x in q if x["id"] == pid) == ["one@example.net", "two@example.org"]


def test_existing_message_id_and_date_are_kept(trusted):
    d = trusted()
    c = RawSMTP(d.smtp_port)
    c.cmd("EHLO client.test")
    code, lines = send_raw_message(
        c, b"Message-ID: <mine@app.test>\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\nx\r\n")
    assert code == 250
    pid = queued_id(lines)
    body = spool_body(d, pid)
    assert body.count(b"Message-ID:") == 1 and body.count(b"Date:") == 1
    assert stored_messages(d)[0]["message_id_hdr"] == "<mine@app.test>"


def test_pipelining(trusted):
    d = trusted()
    c = RawSMTP(d.smtp_port)
    code, lines = c.cmd("EHLO client.test")
    assert "PIPELINING" in lines
    # Everything up to DATA in one packet (RFC 2920), then the content.
    c.send(b"MAIL FROM:<a@example.test>\r\nRCPT TO:<x@example.net>\r\n"
           b"RCPT TO:<bad address>\r\nRCPT TO:<y@example.net>\r\nDATA\r\n")
    codes = [c.reply()[0] for _ in range(5)]
    assert codes == [250, 250, 501, 250, 354]
    c.send(MSG + b".\r\nMAIL FROM:<a@example.test>\r\nRCPT TO:<z@example.net>\r\nDATA\r\n")
    assert c.reply()[0] == 250
    assert [c.reply()[0] for _ in range(3)] == [250, 250, 354]
    c.send(MSG + b".\r\nQUIT\r\n")
    assert c.reply()[0] == 250
    assert c.reply()[0] == 221
    assert len(stored_messages(d)) == 2


def test_starttls_discards_pipelined_commands(trusted):
    d = trusted()
    c = RawSMTP(d.smtp_port)
    c.cmd("EHLO client.test")
    # CVE-2011-0411: a command injected behind STARTTLS in the same packet
    c.send(b"STARTTLS\r\nMAIL FROM:<evil@example.test>\r\n")
    code, _ = c.reply()
    assert code == 220
    c.starttls()
    # The first reply inside TLS must be the one to our EHLO, not to MAIL.
    code, lines = c.cmd("EHLO client.test")
    assert code == 250 and lines[0] != "2.1.0 Ok"
    assert "STARTTLS" not in lines
    # The session was reset: MAIL is allowed (not "nested MAIL").
    assert c.cmd("MAIL FROM:<a@example.test>")[0] == 250


def test_commands_before_helo_and_sequence_errors(trusted):
    d = trusted()
    c = RawSMTP(d.smtp_port)
    assert c.cmd("MAIL FROM:<a@example.test>")[0] == 503
    c.cmd("EHLO client.test")
    assert c.cmd("RCPT TO:<b@example.net>")[0] == 503
    assert c.cmd("DATA")[0] == 503
    assert c.cmd("VRFY postmaster")[0] == 252
    assert c.cmd("NOOP")[0] == 250
    assert c.cmd("HELP")[0] == 214
    assert c.cmd("RSET")[0] == 250
    assert c.cmd("FROB")[0] == 500


# -- limits at N-1, N, N+1 ------------------------------------------------------


def test_message_size_limit(trusted):
    n = 2048
    d = trusted(config=f"smtp_max_message_size = {n}\n")
    c = RawSMTP(d.smtp_port)
    code, lines = c.cmd("EHLO client.test")
    assert f"SIZE {n}" in lines
    assert c.cmd(f"MAIL FROM:<a@example.test> SIZE={n + 1}")[0] == 552
    assert c.cmd(f"MAIL FROM:<a@example.test> SIZE={n}")[0] == 250
    c.cmd("RSET")
    header = b"Subject: s\r\n\r\n"
    for size, want in ((n - 1, 250), (n, 250), (n + 1, 552)):
        fill = size - len(header) - 2
        body = header + b"x" * (fill - (fill // 900) * 2)
        # lines of 898 x's + CRLF so no line passes 998
        lines_ = [body[i:i + 898] for i in range(0, len(body), 898)]
        content = b"\r\n".join(lines_) + b"\r\n"
        content = content[:size] if len(content) > size else content + b"y" * (size - len(content))
        content = content[:-2] + b"\r\n"
        assert len(content) == size
        code, lines = send_raw_message(c, content)
        assert code == want, (size, code, lines)
        if want == 552:
            assert lines[0].startswith("5.3.4")
    assert len(stored_messages(d)) == 2


def test_data_line_length_limit(trusted):
    d = trusted()
    c = RawSMTP(d.smtp_port)
    c.cmd("EHLO client.test")
    for length, want in ((997, 250), (998, 250), (999, 550)):
        code, lines = send_raw_message(c, b"Subject: l\r\n\r\n" + b"a" * length + b"\r\n")
        assert code == want, (length, code, lines)
    # A stuffed dot counts as transmitted: "." + 998 octets is 999.
    code, _ = send_raw_message(c, b"\r\n." + b"b" * 997 + b"\r\n")
    assert code == 250
    code, _ = send_raw_message(c, b"\r\n." + b"b" * 998 + b"\r\n")
    assert code == 550


def test_command_line_length_limit(trusted, posthaste):
    # Before AUTH the limit is 512 octets without CRLF (RFC 5321 4.5.3.1.4).
    d = posthaste()
    c = RawSMTP(d.smtp_port)
    for length, want in ((511, 250), (512, 250), (513, 500)):
        line = "NOOP " + "x" * (length - 5)
        assert len(line) == length
        code, lines = c.cmd(line)
        assert code == want, (length, code, lines)
    # After AUTH (here: a trusted network) the configured limit applies.
    t = trusted(config="smtp_max_line = 600\n")
    c = RawSMTP(t.smtp_port)
    c.cmd("EHLO client.test")
    for length, want in ((599, 250), (600, 250), (601, 500)):
        code, _ = c.cmd("NOOP " + "x" * (length - 5))
        assert code == want, (length, code)
    # A huge line without LF is cut off, and the session stays in step.
    c.send(b"NOOP " + b"y" * 100000)
    assert c.reply()[0] == 500
    c.send(b"\r\n")
    assert c.cmd("NOOP")[0] == 250


def test_recipient_limit(trusted):
    d = trusted(config="smtp_max_recipients = 3\n")
    c = RawSMTP(d.smtp_port)
    c.cmd("EHLO client.test")
    c.cmd("MAIL FROM:<a@example.test>")
    assert [c.cmd(f"RCPT TO:<r{i}@example.net>")[0] for i in range(4)] == [250, 250, 250, 452]
    assert c.cmd("DATA")[0] == 354
    c.send(MSG + b".\r\n")
    code, lines = c.reply()
    assert code == 250
    assert len(events(d, queued_id(lines))) == 3


def test_error_limit(posthaste, trusted):
    # Before AUTH, half the errors: 4 -> 2.
    d = posthaste(config="smtp_max_errors = 4\n")
    c = RawSMTP(d.smtp_port)
    assert c.cmd("BOGUS")[0] == 500
    code, lines = c.cmd("BOGUS")
    assert code == 500
    assert c.reply()[0] == 421
    assert c.closed_by_peer()
    t = trusted(config="smtp_max_errors = 4\n")
    c = RawSMTP(t.smtp_port)
    for _ in range(3):
        assert c.cmd("BOGUS")[0] == 500
    assert c.cmd("BOGUS")[0] == 500
    assert c.reply()[0] == 421


def test_connection_limits(posthaste):
    d = posthaste(config="smtp_max_per_ip = 2\nsmtp_max_connections = 3\n")
    keep = [RawSMTP(d.smtp_port) for _ in range(2)]
    assert all(k.greeting[0] == 220 for k in keep)
    over = RawSMTP(d.smtp_port)
    assert over.greeting[0] == 421 and over.greeting[1][0].startswith("4.7.0")
    assert over.closed_by_peer()
    # Another address is under its own per-IP limit but hits the total.
    other = RawSMTP(d.smtp_port, addr="127.0.0.1")
    assert other.greeting[0] == 421
    keep[0].cmd("QUIT")
    time.sleep(0.3)
    again = RawSMTP(d.smtp_port)
    assert again.greeting[0] == 220


def test_idle_timeouts(posthaste, trusted):
    d = posthaste(config="smtp_preauth_idle_timeout = 1s\n")
    c = RawSMTP(d.smtp_port)
    code, lines = c.reply()
    assert code == 421 and "4.4.2" in lines[0]
    assert c.closed_by_peer()
    t = trusted(config="smtp_idle_timeout = 1s\nsmtp_session_timeout = 60s\n")
    c = RawSMTP(t.smtp_port)
    c.cmd("EHLO client.test")
    assert c.reply()[0] == 421


def test_session_time_limit(trusted):
    d = trusted(config="smtp_session_timeout = 2s\nsmtp_idle_timeout = 10s\n")
    c = RawSMTP(d.smtp_port)
    c.cmd("EHLO client.test")
    deadline = time.monotonic() + 10
    code = None
    while time.monotonic() < deadline:
        code = c.cmd("NOOP")[0]
        if code != 250:
            break
        time.sleep(0.2)
    assert code == 421


# -- smuggling and bare line ends ----------------------------------------------


SMUGGLE = [b"\n.\n", b"\n.\r\n", b"\r.\r", b"\r\n.\r", b"\r\n.\n", b"\r\n.\r\r\n", b"\0"]


@pytest.mark.parametrize("seq", SMUGGLE, ids=[repr(s) for s in SMUGGLE])
def test_smuggling_sequences_never_end_data(trusted, seq):
    d = trusted()
    c = RawSMTP(d.smtp_port)
    c.cmd("EHLO client.test")
    assert c.cmd("MAIL FROM:<a@example.test>")[0] == 250
    assert c.cmd("RCPT TO:<b@example.net>")[0] == 250
    assert c.cmd("DATA")[0] == 354
    smuggled = b"MAIL FROM:<evil@example.test>\r\nRCPT TO:<victim@example.net>\r\nDATA\r\n"
    c.send(b"Subject: s\r\n\r\nhello" + seq + smuggled + b"evil body\r\n.\r\n")
    code, lines = c.reply()
    assert code == 550 and lines[0].startswith("5.6.0"), (code, lines)
    # The next reply answers our NOOP: nothing smuggled was run as a command.
    assert c.cmd("NOOP") == (250, ["2.0.0 Ok"])
    assert stored_messages(d) == []


def test_bare_lf_command_rejected(trusted):
    d = trusted()
    c = RawSMTP(d.smtp_port)
    c.send(b"EHLO client.test\n")
    assert c.reply()[0] == 500
    assert c.cmd("EHLO client.test")[0] == 250


# -- addresses --------------------------------------------------------------------


@pytest.mark.parametrize("cmd, code", [
    ("MAIL FROM:<>", 250),
    ("MAIL FROM:<a@example.test> BODY=8BITMIME", 250),
    ("MAIL FROM:<a@example.test> SMTPUTF8", 250),
    ("MAIL FROM:<ü@example.test>", 553),
    ("MAIL FROM:<ü@example.test> SMTPUTF8", 250),
    ("MAIL FROM:a@example.test", 501),
    ("MAIL FROM:<a@example.test> FOO=1", 555),
    ("MAIL FROM:<a..b@example.test>", 501),
    ("MAIL FROM:<" + "l" * 65 + "@example.test>", 501),
])
def test_mail_from_syntax(trusted, cmd, code):
    d = trusted()
    c = RawSMTP(d.smtp_port)
    c.cmd("EHLO client.test")
    assert c.cmd(cmd)[0] == code


def test_smtputf8_recipient(trusted):
    d = trusted()
    c = RawSMTP(d.smtp_port)
    c.cmd("EHLO client.test")
    c.cmd("MAIL FROM:<a@example.test>")
    assert c.cmd("RCPT TO:<ü@example.net>")[0] == 553
    c.cmd("RSET")
    c.cmd("MAIL FROM:<a@example.test> SMTPUTF8")
    assert c.cmd("RCPT TO:<ü@example.net>")[0] == 250
