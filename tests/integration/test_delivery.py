"""The delivery engine (issue 4): MX rules, every reply class where it is
given, retries, bounces with DSNs, and the evidence of every attempt (event
fields and the transcript), checked against what the fake MX really saw.

Each test serves its recipient domains from nsd and points posthaste at the
fake MXes with --dns and --mx-port.
"""

import email
import email.policy
import json
import time

import pytest

from phclient import account, db, queued_id, RawSMTP

RCPT_DOMAIN = "example.net"
SENDER_DOMAIN = "app.example.test"
FAST = ("mta_retry_schedule = 1s,1s,2s\nmta_greylist_retry = 1s\nmta_idle_reuse = 1s\n"
        "mta_command_timeout = 5s\nmta_connect_timeout = 3s\n")


def zone_mx(dns, name, *mx):
    """MX records for name: mx = [(pref, host_label, ip)]; labels live in name."""
    recs = [("@", "MX", f"{pref} {label}.{name}.") for pref, label, _ in mx]
    recs += [(label, "A", ip) for _, label, ip in mx]
    return dns.zone(name, recs)


@pytest.fixture
def world(dns, fake_mx, mx_port, posthaste):
    """nsd with example.net -> 127.0.0.2 and the sender's domain -> 127.0.0.3
    (where DSNs arrive), fake MXes on both, posthaste trusting 127.0.0.0/8."""
    class World:
        pass

    w = World()
    w.dns = dns
    zone_mx(dns, RCPT_DOMAIN, (10, "mx", "127.0.0.2"))
    zone_mx(dns, SENDER_DOMAIN, (10, "mx", "127.0.0.3"))
    w.mx = fake_mx("127.0.0.2", hostname="mx.example.net")
    w.sender_mx = fake_mx("127.0.0.3", hostname="mx.app.example.test")

    def start(config="", mx=None, **kw):
        d = posthaste(start=False, dns=dns, mx_port=mx_port, hostname="out.posthaste.test",
                      config=FAST + config, **kw)
        d.acct = account(d, trust=["127.0.0.0/8"])
        d.start()
        w.d = d
        return d
    w.start = start
    return w


def submit(d, rcpts, body=None, sender=f"app@{SENDER_DOMAIN}", extra_mail=""):
    """Send one message through the daemon's SMTP; return its public id."""
    body = body or (b"Subject: order 1234\r\nFrom: " + sender.encode() +
                    b"\r\nMessage-ID: <order-1234@app.example.test>\r\n\r\nThanks!\r\n")
    c = RawSMTP(d.smtp_port)
    c.cmd("EHLO client.test")
    assert c.cmd(f"MAIL FROM:<{sender}>{extra_mail}")[0] == 250
    for r in rcpts:
        assert c.cmd(f"RCPT TO:<{r}>")[0] == 250
    assert c.cmd("DATA")[0] == 354
    c.send(body + b".\r\n")
    code, lines = c.reply()
    assert code == 250, lines
    c.cmd("QUIT")
    return queued_id(lines)


def timeline(d, pid):
    """Events of a message: [(rcpt, type, data)] in order."""
    con = db(d)
    try:
        rows = con.execute(
            "SELECT r.rcpt, e.type, e.data FROM events e JOIN recipients r ON r.id = e.recipient_id"
            " JOIN messages m ON m.id = e.message_id WHERE m.public_id = ? ORDER BY e.id",
            (pid,)).fetchall()
        return [(r[0], r[1], json.loads(r[2]) if r[2] else {}) for r in rows]
    finally:
        con.close()


def wait_events(d, pid, rcpt, types, timeout=30):
    """Wait until rcpt's timeline (minus 'received') starts with types."""
    deadline = time.monotonic() + timeout
    got = []
    while time.monotonic() < deadline:
        got = [(t, data) for r, t, data in timeline(d, pid) if r == rcpt and t != "received"]
        if len(got) >= len(types):
            break
        time.sleep(0.1)
    assert [t for t, _ in got[:len(types)]] == list(types), got
    return [data for _, data in got]


def transcript(d, tid):
    con = db(d)
    try:
        row = con.execute("SELECT text FROM transcripts WHERE public_id = ?", (tid,)).fetchone()
        assert row, f"no transcript {tid}"
        return row[0]
    finally:
        con.close()


def status(d, pid, rcpt):
    con = db(d)
    try:
        return con.execute(
            "SELECT r.status FROM recipients r JOIN messages m ON m.id = r.message_id"
            " WHERE m.public_id = ? AND r.rcpt = ?", (pid, rcpt)).fetchone()[0]
    finally:
        con.close()


# -- delivered, with the evidence -------------------------------------------------


def test_delivered_with_evidence_and_transcript(world):
    d = world.start()
    pid = submit(d, [f"alice@{RCPT_DOMAIN}"])
    msgs = world.mx.wait_for(1, timeout=20)
    m = msgs[0]
    assert m.mail_from == f"app@{SENDER_DOMAIN}" and m.rcpt_to == [f"alice@{RCPT_DOMAIN}"]
    assert b"Subject: order 1234\r\n" in m.data and m.data.endswith(b"\r\nThanks!\r\n")
    assert m.data.startswith(b"Received: from client.test ([127.0.0.1])")
    (ev,) = wait_events(d, pid, f"alice@{RCPT_DOMAIN}", ["delivered"])
    assert ev["attempt"] == 1
    assert ev["mx_host"] == f"mx.{RCPT_DOMAIN}"
    assert ev["remote_ip"] == "127.0.0.2"
    assert ev["local_ip"].startswith("127.")
    assert ev["helo_name"] == "out.posthaste.test"
    assert ev["smtp_code"] == 250 and ev["enhanced_code"] == "2.0.0"
    assert ev["response"] == f"Ok: queued as {m.queue_id}"
    assert ev["remote_queue_id"] == m.queue_id
    assert ev["tls"] is None and ev["route"] == "direct"
    assert isinstance(ev["duration_ms"], int)
    t = transcript(d, ev["transcript_id"]).splitlines()
    body = [l.split(" ", 1)[1] for l in t]  # drop the timestamps
    assert body[0] == f"dns MX {RCPT_DOMAIN}: 10 mx.{RCPT_DOMAIN} (ttl 5)"
    assert f"dns A mx.{RCPT_DOMAIN}: 127.0.0.2" in body
    i = body.index(f"-- connect to mx.{RCPT_DOMAIN} [127.0.0.2]:{world.mx.port}")
    assert body[i + 1].startswith("-- connected from 127.")
    assert body[i + 2].startswith("< 220 ")
    assert body[i + 3] == "> EHLO out.posthaste.test"
    assert "< 250-PIPELINING" in body
    # SIZE= because the fake MX offers SIZE (RFC 1870), with the real size.
    j = body.index(f"> MAIL FROM:<app@{SENDER_DOMAIN}> SIZE={len(m.data)}")
    assert body[j + 1] == f"> RCPT TO:<alice@{RCPT_DOMAIN}>"
    assert body[j + 2] == "> DATA"
    k = [n for n, l in enumerate(body) if l.startswith("> [message content: ")][0]
    assert "Subject: order 1234" in body[k] and "<order-1234@app.example.test>" in body[k]
    assert body[k + 1] == "> ."
    assert body[k + 2] == f"< 250 2.0.0 Ok: queued as {m.queue_id}"
    assert "Thanks!" not in "\n".join(t)  # content is left out
    assert status(d, pid, f"alice@{RCPT_DOMAIN}") == "delivered"


def test_several_recipients_one_transaction_and_reuse(world):
    d = world.start(config="mta_idle_reuse = 5s\n")
    rcpts = [f"r{i}@{RCPT_DOMAIN}" for i in range(3)]
    pid1 = submit(d, rcpts)
    world.mx.wait_for(1, timeout=20)
    pid2 = submit(d, [f"next@{RCPT_DOMAIN}"])
    msgs = world.mx.wait_for(2, timeout=20)
    assert sorted(msgs[0].rcpt_to) == sorted(rcpts)
    # The second message went over the same connection (RFC 5321 reuse).
    assert msgs[0].conn is msgs[1].conn
    for r in rcpts:
        wait_events(d, pid1, r, ["delivered"])
    wait_events(d, pid2, f"next@{RCPT_DOMAIN}", ["delivered"])


# -- refusals and their classes ---------------------------------------------------


def dsn_for(world, n=1, timeout=20):
    msgs = world.sender_mx.wait_for(n, timeout=timeout)
    m = msgs[n - 1]
    assert m.mail_from == ""  # DSNs come from the null sender
    assert m.rcpt_to == [f"app@{SENDER_DOMAIN}"]
    return email.message_from_bytes(m.data, policy=email.policy.default)


def check_dsn(msg, rcpt, status_code, diag_part):
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "delivery-status"
    assert msg["Auto-Submitted"].startswith("auto-replied")
    parts = list(msg.iter_parts())
    assert parts[0].get_content_type() == "text/plain"
    assert parts[1].get_content_type() == "message/delivery-status"
    ds = parts[1].get_payload()
    per_msg, per_rcpt = ds[0], ds[1]
    assert per_msg["Reporting-MTA"] == "dns; out.posthaste.test"
    assert per_rcpt["Final-Recipient"] == f"rfc822; {rcpt}"
    assert per_rcpt["Action"] == "failed"
    assert per_rcpt["Status"] == status_code
    assert diag_part in per_rcpt["Diagnostic-Code"]
    assert parts[2].get_content_type() == "text/rfc822-headers"
    assert "order-1234@app.example.test" in parts[2].get_payload()


@pytest.mark.parametrize("local, stage", [("rcpt550", "rcpt"), ("data554", "data")])
def test_5xx_bounces_with_dsn(world, local, stage):
    d = world.start()
    rcpt = f"{local}@{RCPT_DOMAIN}"
    pid = submit(d, [rcpt])
    (ev,) = wait_events(d, pid, rcpt, ["bounced"])
    assert ev["smtp_code"] == int(local[-3:])
    assert ev["bounce_type"] in ("hard", "soft") and ev["category"]
    if local == "rcpt550":
        assert ev["bounce_type"] == "hard" and ev["category"] == "unknown_user"
    msg = dsn_for(world)
    check_dsn(msg, rcpt, ev["enhanced_code"], ev["response"].split(":")[0])
    assert status(d, pid, rcpt) == "bounced"


@pytest.mark.parametrize("local", ["rcpt450once", "data451once", "greylist", "dropdataonce",
                                   "rcptdroponce"])
def test_temporary_failures_retry_then_deliver(world, local):
    d = world.start()
    rcpt = f"{local}@{RCPT_DOMAIN}"
    pid = submit(d, [rcpt])
    evs = wait_events(d, pid, rcpt, ["deferred", "delivered"], timeout=30)
    assert evs[0]["next_attempt"] and evs[1]["attempt"] == 2
    if local == "greylist":
        assert evs[0]["category"] == "greylist"
    if local.startswith("drop") or local.startswith("rcptdrop"):
        assert evs[0]["smtp_code"] is None and "closed" in evs[0]["response"]


def test_lost_final_reply_counts_a_possible_duplicate(world):
    d = world.start()
    rcpt = f"droplateronce@{RCPT_DOMAIN}"
    pid = submit(d, [rcpt])
    evs = wait_events(d, pid, rcpt, ["deferred", "delivered"], timeout=30)
    assert evs[0].get("final_reply_lost") is True
    assert evs[1].get("possible_duplicate") is True
    # The fake MX saw the whole message twice: at-least-once, and we say so.
    assert len([t for t in world.mx.transactions if t.complete]) == 2


def test_expiry_sends_dsn(world):
    d = world.start(config="mta_max_lifetime = 3s\n")
    rcpt = f"rcpt451@{RCPT_DOMAIN}"
    pid = submit(d, [rcpt])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and status(d, pid, rcpt) != "expired":
        time.sleep(0.2)
    assert status(d, pid, rcpt) == "expired"
    types = [t for r, t, _ in timeline(d, pid) if r == rcpt]
    assert types[0] == "received" and types[-1] == "expired" and "deferred" in types
    msg = dsn_for(world)
    check_dsn(msg, rcpt, "5.4.7" if False else msg.get_payload()[1].get_payload()[1]["Status"],
              "451")


def test_no_dsn_to_null_sender(world):
    d = world.start()
    pid = submit(d, [f"rcpt550@{RCPT_DOMAIN}"], sender="")
    wait_events(d, pid, f"rcpt550@{RCPT_DOMAIN}", ["bounced"])
    time.sleep(1.5)
    assert world.sender_mx.messages == []


# -- MX rules ----------------------------------------------------------------------


def test_mx_fallback_on_421_greeting(world, fake_mx):
    world.dns.zone("fallback.test", [("@", "MX", "10 mx1.fallback.test."),
                                     ("@", "MX", "20 mx2.fallback.test."),
                                     ("mx1", "A", "127.0.0.4"), ("mx2", "A", "127.0.0.5")])
    bad = fake_mx("127.0.0.4", greeting=421)
    good = fake_mx("127.0.0.5")
    d = world.start()
    pid = submit(d, ["bob@fallback.test"])
    good.wait_for(1, timeout=20)
    (ev,) = wait_events(d, pid, "bob@fallback.test", ["delivered"])
    assert ev["mx_host"] == "mx2.fallback.test" and ev["remote_ip"] == "127.0.0.5"
    body = transcript(d, ev["transcript_id"])
    assert "connect to mx1.fallback.test [127.0.0.4]" in body and "< 421" in body
    assert len(bad.connections) >= 1


def test_implicit_mx(world, fake_mx):
    world.dns.zone("nomx.test", [("@", "A", "127.0.0.6")])
    mx = fake_mx("127.0.0.6")
    d = world.start()
    pid = submit(d, ["carol@nomx.test"])
    mx.wait_for(1, timeout=20)
    (ev,) = wait_events(d, pid, "carol@nomx.test", ["delivered"])
    assert ev["mx_host"] == "nomx.test"
    assert "implicit MX" in transcript(d, ev["transcript_id"])


@pytest.mark.parametrize("zone, rcpt, enhanced", [
    ([("@", "MX", "0 .")], "x@nullmx.test", "5.1.10"),
    (None, "x@nxdomain.nullmx.test", "5.1.2"),
])
def test_null_mx_and_nxdomain_bounce_at_once(world, zone, rcpt, enhanced):
    world.dns.zone("nullmx.test", [("@", "MX", "0 .")])
    d = world.start()
    pid = submit(d, [rcpt])
    (ev,) = wait_events(d, pid, rcpt, ["bounced"])
    assert ev["enhanced_code"] == enhanced and ev["smtp_code"] is None
    assert ev["attempt"] == 1
    msg = dsn_for(world)
    check_dsn(msg, rcpt, enhanced, "")


def test_dns_failure_defers(world):
    # nsd refuses a zone it does not serve: a DNS failure, not an answer.
    d = world.start()
    pid = submit(d, ["x@unserved.example"])
    evs = wait_events(d, pid, "x@unserved.example", ["deferred"])
    assert evs[0]["enhanced_code"].startswith("4.")
    assert status(d, pid, "x@unserved.example") == "deferred"


# -- TLS, SMTPUTF8 ------------------------------------------------------------------


def test_starttls_recorded(world, fake_mx, test_ca):
    world.dns.zone("tls.test", [("@", "MX", "10 mx.tls.test."), ("mx", "A", "127.0.0.7")])
    mx = fake_mx("127.0.0.7", hostname="mx.tls.test", starttls=True, tls_names=["mx.tls.test"])
    d = world.start(config=f"tls_ca_file = {mx.ca_cert_path}\n")
    pid = submit(d, ["dave@tls.test"])
    msgs = mx.wait_for(1, timeout=20)
    assert msgs[0].tls
    (ev,) = wait_events(d, pid, "dave@tls.test", ["delivered"])
    assert ev["tls"]["version"].startswith("TLSv1.")
    assert ev["tls"]["cipher"] and ev["tls"]["verified"] is True
    assert "mx.tls.test" in ev["tls"]["peer_subject"]
    t = transcript(d, ev["transcript_id"])
    assert "> STARTTLS" in t and "verified=yes" in t


def test_starttls_unverified_is_recorded_not_enforced(world, fake_mx):
    world.dns.zone("tls2.test", [("@", "MX", "10 mx.tls2.test."), ("mx", "A", "127.0.0.8")])
    mx = fake_mx("127.0.0.8", hostname="mx.tls2.test", starttls=True)
    d = world.start()
    pid = submit(d, ["erin@tls2.test"])
    mx.wait_for(1, timeout=20)
    (ev,) = wait_events(d, pid, "erin@tls2.test", ["delivered"])
    assert ev["tls"]["verified"] is False


def test_smtputf8_needed_but_not_offered_bounces(world, fake_mx):
    world.dns.zone("ascii.test", [("@", "MX", "10 mx.ascii.test."), ("mx", "A", "127.0.0.9")])
    fake_mx("127.0.0.9", smtputf8=False)
    d = world.start()
    pid = submit(d, ["jörg@ascii.test"], extra_mail=" SMTPUTF8")
    (ev,) = wait_events(d, pid, "jörg@ascii.test", ["bounced"])
    assert ev["enhanced_code"] == "5.6.7"


# -- restart ------------------------------------------------------------------------


def test_restart_resumes_deferred(world):
    d = world.start(config="mta_retry_schedule = 3s\n")
    rcpt = f"rcpt451once@{RCPT_DOMAIN}"
    pid = submit(d, [rcpt])
    wait_events(d, pid, rcpt, ["deferred"])
    d.stop()
    d.start()
    assert "mta loaded recipients=1" in d.log_text(current=True)
    wait_events(d, pid, rcpt, ["deferred", "delivered"], timeout=30)


def test_restart_removes_spool_segments_nobody_needs(world):
    import os
    d = world.start(config="mta_retry_schedule = 1h\n")
    done = submit(d, [f"alice@{RCPT_DOMAIN}"])
    wait_events(d, done, f"alice@{RCPT_DOMAIN}", ["delivered"])
    segs = lambda: sorted(f for f in os.listdir(os.path.join(d.data_dir, "spool"))
                          if f.endswith(".seg"))
    first = segs()
    assert first == ["00000001.seg"]
    d.stop()
    d.start()  # segment 1 holds only a delivered message: it goes
    d.wait_for_log("queue spool segments removed=1")
    assert segs() == ["00000002.seg"]
    waiting = submit(d, [f"rcpt451@{RCPT_DOMAIN}"])
    wait_events(d, waiting, f"rcpt451@{RCPT_DOMAIN}", ["deferred"])
    d.stop()
    d.start()  # segment 2 still holds a deferred message: it stays
    assert segs() == ["00000002.seg", "00000003.seg"]
    d.cli("queue", "flush", waiting)
    wait_events(d, waiting, f"rcpt451@{RCPT_DOMAIN}", ["deferred", "deferred"])
