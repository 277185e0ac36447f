"""test_fixtures - the test harness tests itself.

Each fixture of conftest.py is exercised with real peers (dnspython against
NSD; swaks and smtplib against the fake MX; a stub daemon and, once built,
the real binary against the daemon fixture), so a broken fixture fails here
before it makes a real test lie.
"""

import base64
import json
import os
import smtplib
import socket
import ssl
import subprocess
import sys
import textwrap
import time

import pytest
# Imported by name: the `dns` fixture would shadow the dnspython package.
from dns import dnssec, flags, rcode, rdatatype, resolver
from dns import name as dnsname
from dns import rdata as dnsrdata

from daemon import DaemonError, Posthaste
from dnsfix import txt
from fakemx import Behaviour, FakeMX
from tlsfix import self_signed, tlsa_rdata

SWAKS = "/usr/bin/swaks"


def swaks(mx, to, frm="a@b.test", *extra, timeout=60):
    """Run swaks against a fake MX; returns CompletedProcess (output in .out)."""
    p = subprocess.run([SWAKS, "--server", mx.addr, "--port", str(mx.port), "--to", to,
                        "--from", frm, "--helo", "client.test", "--timeout", "15", *extra],
                       capture_output=True, text=True, timeout=timeout)
    p.out = p.stdout + p.stderr
    return p


def smtp_client(mx, timeout=10):
    return smtplib.SMTP(mx.addr, mx.port, local_hostname="client.test", timeout=timeout)


def resolver_for(d):
    r = resolver.Resolver(configure=False)
    r.nameservers = [d.addr]
    r.port = d.port
    r.lifetime = 3
    return r


def send_raw(mx, data, read_until=b"221 ", timeout=10):
    """Send bytes in one write; return everything received until read_until."""
    with socket.create_connection((mx.addr, mx.port), timeout=timeout) as s:
        got = s.recv(4096)  # greeting
        s.sendall(data)
        deadline = time.monotonic() + timeout
        while read_until not in got and time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    return got


# -- DNS ---------------------------------------------------------------------------

LONG_KEY = "v=DKIM1; k=rsa; p=" + "A" * 600  # three TXT strings


def test_dns_serves_records(dns):
    dns.zone("example.test", f"""
        @            MX    10 mx1
        @            MX    20 mx2.example.test.
        mx1          A     127.0.0.2
        mx2          A     127.0.0.3
                     AAAA  ::1
        sel._domainkey TXT "{LONG_KEY}"
        _25._tcp.mx1 TLSA  3 1 1 {"ab" * 32}
    """)
    dns.zone("127.in-addr.arpa", [("2.0.0", "PTR", "mx1.example.test."),
                                 ("txt", "TXT", "x" * 300)])
    r = resolver_for(dns)
    mx = sorted((a.preference, a.exchange.to_text()) for a in r.resolve("example.test", "MX"))
    assert mx == [(10, "mx1.example.test."), (20, "mx2.example.test.")]
    assert [a.to_text() for a in r.resolve("mx2.example.test", "A")] == ["127.0.0.3"]
    assert [a.to_text() for a in r.resolve("mx2.example.test", "AAAA")] == ["::1"]
    [key] = r.resolve("sel._domainkey.example.test", "TXT", tcp=True)
    assert [len(s) for s in key.strings] == [255, 255, len(LONG_KEY) - 510]
    assert b"".join(key.strings).decode() == LONG_KEY
    [tlsa] = r.resolve("_25._tcp.mx1.example.test", "TLSA")
    assert (tlsa.usage, tlsa.selector, tlsa.mtype, tlsa.cert) == (3, 1, 1, b"\xab" * 32)
    assert [a.to_text() for a in r.resolve("2.0.0.127.in-addr.arpa", "PTR")] == ["mx1.example.test."]
    [t] = r.resolve("txt.127.in-addr.arpa", "TXT")
    assert b"".join(t.strings) == b"x" * 300
    # Straight over TCP too, and authoritative.
    resp = dns.query("example.test", "MX", tcp=True)
    assert resp.flags & flags.AA and resp.rcode() == rcode.NOERROR
    assert dns.dns_arg == f"127.0.0.1@{dns.port}"


def test_dns_nxdomain_nodata_and_refused(dns):
    dns.zone("example.test", "mx1 A 127.0.0.2")
    assert dns.query("nope.example.test", "A").rcode() == rcode.NXDOMAIN
    nodata = dns.query("example.test", "MX")
    assert nodata.rcode() == rcode.NOERROR and not nodata.answer
    assert dns.query("other.test", "A").rcode() == rcode.REFUSED


def test_dns_replace_and_remove_zone(dns):
    dns.zone("example.test", "@ MX 10 old")
    z = dns.zone("example.test", "@ MX 10 new")
    assert z.serial == 2
    [rr] = resolver_for(dns).resolve("example.test", "MX")
    assert rr.exchange.to_text() == "new.example.test."
    port = dns.port
    dns.remove_zone("example.test")
    assert dns.port == port
    assert dns.query("example.test", "MX").rcode() == rcode.REFUSED


def test_dns_bring_your_own_soa_and_null_mx(dns):
    dns.zone("nullmx.test", """
        @ 600 IN SOA a.nullmx.test. b.nullmx.test. 77 3600 900 604800 60
        @ IN NS a.nullmx.test.
        a A 127.0.0.1
        @ MX 0 .
    """)
    soa = dns.query("nullmx.test", "SOA").answer[0][0]
    assert soa.serial == 77
    [rr] = resolver_for(dns).resolve("nullmx.test", "MX")
    assert (rr.preference, rr.exchange.to_text()) == (0, ".")


def _validate(resp, qname, rdtype, dnskeys):
    rrset = resp.find_rrset(resp.answer, dnsname.from_text(qname), 1, rdtype)
    sigs = resp.find_rrset(resp.answer, dnsname.from_text(qname), 1,
                           rdatatype.RRSIG, rdtype)
    dnssec.validate(rrset, sigs, {dnskeys.name: dnskeys})


def test_dns_signed_zone(dns):
    z = dns.zone("example.test", "@ MX 10 mx1\nmx1 A 127.0.0.2", sign=True)
    assert z.signed and " DNSKEY 257 3 13 " in z.dnskey and " DS " in z.ds
    assert dns.trust_anchors() == [z.dnskey]

    resp = dns.query("example.test", "MX", dnssec=True)
    types = {rrset.rdtype for rrset in resp.answer}
    assert types == {rdatatype.MX, rdatatype.RRSIG}
    # Without DO there are no signatures.
    assert {r.rdtype for r in dns.query("example.test", "MX").answer} == {rdatatype.MX}

    # The signatures verify with the served DNSKEY set, whose KSK is the
    # anchor we hand out and matches the DS.
    keys_resp = dns.query("example.test", "DNSKEY", dnssec=True, tcp=True)
    keys = keys_resp.find_rrset(keys_resp.answer, dnsname.from_text("example.test."), 1,
                                rdatatype.DNSKEY)
    _validate(resp, "example.test.", rdatatype.MX, keys)
    _validate(keys_resp, "example.test.", rdatatype.DNSKEY, keys)
    ksk = [k for k in keys if k.flags == 257]
    assert len(ksk) == 1 and len(keys) == 2
    assert dnsrdata.from_text("IN", "DNSKEY", z.dnskey.split(" DNSKEY ")[1]) == ksk[0]
    assert z.ds.split(" DS ")[1].lower() == dnssec.make_ds("example.test.", ksk[0], "SHA256").to_text()

    # Re-signing keeps the keys, hence the anchor.
    anchor = z.dnskey
    dns.zone("example.test", "@ MX 10 mx2", sign=True)
    assert dns.zone("example.test", "@ MX 10 mx3", sign=True).dnskey == anchor
    path = dns.write_trust_anchor_file(os.path.join(dns.workdir, "anchors"))
    assert open(path).read() == anchor + "\n"


def test_dns_signed_expired_and_nsec3(dns):
    dns.zone("expired.test", "@ MX 10 mx1", sign=True, expired=True)
    dns.zone("nsec3.test", "@ MX 10 mx1", sign=True, nsec3=True)
    resp = dns.query("expired.test", "MX", dnssec=True)
    keys_resp = dns.query("expired.test", "DNSKEY", dnssec=True)
    keys = keys_resp.find_rrset(keys_resp.answer, dnsname.from_text("expired.test."), 1,
                                rdatatype.DNSKEY)
    with pytest.raises(dnssec.ValidationFailure):
        _validate(resp, "expired.test.", rdatatype.MX, keys)
    nx = dns.query("nope.nsec3.test", "A", dnssec=True)
    assert nx.rcode() == rcode.NXDOMAIN
    assert rdatatype.NSEC3 in {r.rdtype for r in nx.authority}
    assert len(dns.trust_anchors()) == 2


def test_dns_txt_helper():
    assert txt("abc") == '"abc"'
    assert txt('a"b\\c\x01') == '"a\\"b\\\\c\\001"'
    assert txt("x" * 256) == '"' + "x" * 255 + '" "x"'
    assert txt("") == '""'


def test_dns_two_servers(dns_server):
    a, b = dns_server(), dns_server()
    assert a.port != b.port
    a.zone("a.test", "@ A 127.0.0.5")
    assert b.query("a.test", "A").rcode() == rcode.REFUSED


# -- fake MX with swaks ------------------------------------------------------------------


def test_fake_mx_accepts_with_queue_id(fake_mx):
    mx = fake_mx()
    p = swaks(mx, "x@example.test", "a@b.test", "--header", "Subject: hello")
    assert p.returncode == 0, p.out
    [msg] = mx.wait_for(1)
    assert msg.mail_from == "a@b.test" and msg.rcpt_to == ["x@example.test"]
    assert msg.code == 250 and msg.accepted and not msg.tls
    assert len(msg.queue_id) == 10 and f"250 2.0.0 Ok: queued as {msg.queue_id}" in p.out
    assert msg.reply == f"250 2.0.0 Ok: queued as {msg.queue_id}"
    assert msg.message["Subject"] == "hello"
    assert msg.data.endswith(b"\r\n") and not msg.bare_lf
    [conn] = mx.wait_for_connections(1, closed=True)
    assert conn.helo == "client.test" and conn.esmtp
    assert b"MAIL FROM:<a@b.test>\r\n" in conn.received
    assert b"\r\n.\r\nQUIT\r\n" in conn.received
    assert conn.sent.startswith(b"220 mx.fake.test ESMTP")
    assert conn.closed_by == "client quit"
    assert conn.peer[0] == "127.0.0.1" and conn.local == ("127.0.0.2", mx.port)


def test_fake_mx_rcpt550(fake_mx):
    mx = fake_mx()
    p = swaks(mx, "rcpt550@example.test")
    assert p.returncode != 0
    assert ("550 5.1.1 <rcpt550@example.test>: Recipient address rejected: "
            "User unknown in virtual mailbox table") in p.out
    [t] = mx.wait_for_transactions(1)
    assert t.rcpt_to == [] and t.rcpt_replies[0][2].startswith("550 5.1.1")
    assert mx.messages == []


def test_fake_mx_data451(fake_mx):
    mx = fake_mx()
    p = swaks(mx, "data451@example.test")
    assert p.returncode != 0
    assert "451 4.3.0 Error: queue file write error" in p.out
    [t] = mx.wait_for_transactions(1, complete=True)
    assert t.complete and not t.accepted and t.code == 451 and t.queue_id is None
    assert mx.messages == []


def test_fake_mx_greylist_then_accept(fake_mx):
    mx = fake_mx()
    first = swaks(mx, "greylist@example.test")
    assert first.returncode != 0 and "450 4.7.1" in first.out and "Greylisted" in first.out
    second = swaks(mx, "greylist@example.test")
    assert second.returncode == 0, second.out
    assert len(mx.wait_for(1)) == 1
    # Another sender is a new pair: greylisted again.
    assert swaks(mx, "greylist@example.test", "other@b.test").returncode != 0


def test_fake_mx_greylist_delay(fake_mx):
    mx = fake_mx(greylist_delay=1.0)
    assert swaks(mx, "greylist@example.test").returncode != 0
    assert swaks(mx, "greylist@example.test").returncode != 0  # too soon
    time.sleep(1.1)
    assert swaks(mx, "greylist@example.test").returncode == 0


def test_fake_mx_dropdata(fake_mx):
    mx = fake_mx()
    p = swaks(mx, "dropdata@example.test", "a@b.test", "--body", "line\n" * 5000)
    assert p.returncode != 0
    assert "250 2.0.0" not in p.out
    [t] = mx.wait_for_transactions(1)
    mx.wait_for_connections(1, closed=True)
    assert t.dropped and not t.complete and t.reply is None
    assert 0 < len(t.data) < 5000 * 6
    assert mx.connections[0].closed_by == "server (dropdata)"
    assert mx.messages == []


def test_fake_mx_droplater_with_smtplib(fake_mx):
    mx = fake_mx()
    s = smtp_client(mx)
    body = b"Subject: lost\r\n\r\n" + b"x" * 1000 + b"\r\n"
    with pytest.raises(smtplib.SMTPServerDisconnected):
        s.sendmail("a@b.test", ["droplater@example.test"], body)
    s.close()
    [t] = mx.wait_for_transactions(1, complete=True)
    assert t.complete and t.dropped and t.reply is None and not t.accepted
    assert t.data == body
    assert mx.messages == []


def test_fake_mx_once_suffix(fake_mx):
    mx = fake_mx()
    assert "451 4.3.0" in swaks(mx, "data451once@example.test").out
    assert swaks(mx, "data451once@example.test").returncode == 0
    s = smtp_client(mx)
    with pytest.raises(smtplib.SMTPServerDisconnected):
        s.sendmail("a@b.test", ["droplateronce@example.test"], b"\r\nbody\r\n")
    s.close()
    s = smtp_client(mx)
    assert s.sendmail("a@b.test", ["droplateronce@example.test"], b"\r\nbody\r\n") == {}
    s.quit()
    assert [m.rcpt_to for m in mx.wait_for(2)] == [["data451once@example.test"],
                                                   ["droplateronce@example.test"]]


def test_fake_mx_starttls_with_swaks(fake_mx):
    mx = fake_mx(starttls=True)
    assert mx.ca_cert_path and os.path.exists(mx.ca_cert_path)
    p = swaks(mx, "x@example.test", "a@b.test", "--tls", "--tls-verify",
              "--tls-ca-path", mx.ca_cert_path)
    if "requires Net::SSLeay" in p.out:
        pytest.skip("swaks TLS needs Debian's libnet-ssleay-perl")
    assert p.returncode == 0, p.out
    [msg] = mx.wait_for(1)
    assert msg.tls
    conn = msg.conn
    assert conn.tls and conn.tls_version.startswith("TLSv1.") and conn.tls_cipher
    assert conn.helo == "client.test" and conn.starttls_injected == b""
    # Decrypted commands are recorded as received.
    assert b"STARTTLS\r\n" in conn.received and b"RCPT TO:<x@example.test>" in conn.received


def test_fake_mx_starttls_verification_fails_without_ca(fake_mx):
    mx = fake_mx(starttls=True)
    s = smtp_client(mx)
    with pytest.raises(ssl.SSLCertVerificationError):
        s.starttls(context=ssl.create_default_context())
    s.close()


def test_fake_mx_custom_tls_cert(fake_mx, tmp_path):
    cert, key = self_signed(tmp_path, "mx.fake.test")
    mx = fake_mx(starttls=True, tls_cert=(cert, key))
    assert mx.ca_cert_path is None
    s = smtp_client(mx)
    ctx = ssl.create_default_context(cafile=cert)
    ctx.check_hostname = False
    s.starttls(context=ctx)
    der = s.sock.getpeercert(binary_form=True)
    s.quit()
    assert tlsa_rdata(cert, 3, 0, 0).split()[3] == der.hex()
    assert len(tlsa_rdata(cert).split()[3]) == 64


# -- fake MX with smtplib and raw sockets -----------------------------------------------------


def test_fake_mx_smtplib_transactions(fake_mx):
    mx = fake_mx()
    s = smtp_client(mx)
    code, ehlo = s.ehlo()
    assert code == 250 and b"PIPELINING" in ehlo and b"SIZE 10240000" in ehlo
    assert s.noop()[0] == 250
    refused = s.sendmail("a@b.test", ["ok1@example.test", "rcpt452@example.test", "ok2@example.test"],
                         b"Subject: one\r\n\r\n.leading dot\r\n..two\r\n")
    assert refused == {"rcpt452@example.test": (452, b"4.5.3 Error: too many recipients")}
    assert s.rset()[0] == 250
    s.sendmail("b@b.test", ["ok3@example.test"], b"Subject: two\r\n\r\nx\r\n")
    s.quit()
    one, two = mx.wait_for(2)
    assert one.rcpt_to == ["ok1@example.test", "ok2@example.test"]
    assert one.data == b"Subject: one\r\n\r\n.leading dot\r\n..two\r\n"
    assert one.raw_data == b"Subject: one\r\n\r\n..leading dot\r\n...two\r\n"
    assert two.mail_from == "b@b.test" and two.conn is one.conn
    assert one.queue_id != two.queue_id
    assert len(mx.connections) == 1


def test_fake_mx_pipelined_commands(fake_mx):
    mx = fake_mx()
    got = send_raw(mx, b"EHLO c.test\r\nMAIL FROM:<a@b.test> SIZE=20\r\nRCPT TO:<r1@x.test>\r\n"
                       b"RCPT TO:<rcpt554@x.test>\r\nDATA\r\nline\r\n..dot\r\nbare\n.\r\n"
                       b"NOOP\r\nQUIT\r\n")
    lines = got.decode().split("\r\n")
    codes = [l[:4] for l in lines if l and l[3:4] == " "]
    assert codes == ["220 ", "250 ", "250 ", "250 ", "554 ", "354 ", "250 ", "250 ", "221 "]
    assert "554 5.7.1 <rcpt554@x.test>: Relay access denied" in lines
    [msg] = mx.wait_for(1)
    assert msg.data == b"line\r\n.dot\r\nbare\n" and msg.bare_lf
    assert msg.mail_params == "SIZE=20"


def test_fake_mx_sequence_errors(fake_mx):
    mx = fake_mx()
    got = send_raw(mx, b"MAIL FROM:<a@b.test>\r\nHELO c.test\r\nRCPT TO:<x@y.test>\r\nDATA\r\n"
                       b"MAIL FROM:<a@b.test>\r\nMAIL FROM:<a@b.test>\r\nDATA\r\nBDAT 10\r\n"
                       b"MAIL FROM:bad\r\nQUIT\r\n").decode()
    for reply in ("503 5.5.1 Error: send HELO/EHLO first", "250 mx.fake.test",
                  "503 5.5.1 Error: need MAIL command", "503 5.5.1 Error: need RCPT command",
                  "503 5.5.1 Error: nested MAIL command", "554 5.5.1 Error: no valid recipients",
                  "502 5.5.2 Error: command not recognized"):
        assert reply in got, got
    assert not mx.connections[0].esmtp


def test_fake_mx_starttls_injection_is_discarded(fake_mx):
    mx = fake_mx(starttls=True)
    with socket.create_connection((mx.addr, mx.port), timeout=10) as raw:
        f = raw.makefile("rb")
        f.readline()
        raw.sendall(b"EHLO c.test\r\n")
        while f.readline()[3:4] == b"-":
            pass
        raw.sendall(b"STARTTLS\r\nMAIL FROM:<evil@x.test>\r\n")
        assert f.readline().startswith(b"220 2.0.0")
        ctx = ssl.create_default_context(cafile=mx.ca_cert_path)
        with ctx.wrap_socket(raw, server_hostname="mx.fake.test") as t:
            t.sendall(b"MAIL FROM:<a@b.test>\r\nQUIT\r\n")
            replies = b""
            while b"221" not in replies:
                chunk = t.recv(4096)
                if not chunk:
                    break
                replies += chunk
    assert replies.startswith(b"503 5.5.1 Error: send HELO/EHLO first")
    conn = mx.wait_for_connections(1, closed=True)[0]
    assert conn.starttls_injected == b"MAIL FROM:<evil@x.test>\r\n"
    assert mx.transactions == []


def test_fake_mx_greetings_and_helo_only(fake_mx):
    with pytest.raises(smtplib.SMTPConnectError) as e:
        smtp_client(fake_mx(addr="127.0.0.3", greeting=421))
    assert e.value.smtp_code == 421
    mx554 = fake_mx(addr="127.0.0.4", greeting=554)
    got = send_raw(mx554, b"EHLO c.test\r\nQUIT\r\n").decode()
    assert got.startswith("554 5.3.2") and "503 5.5.0" in got and "221 2.0.0" in got

    old = fake_mx(addr="127.0.0.5", esmtp=False)
    s = smtp_client(old)
    assert s.sendmail("a@b.test", ["x@y.test"], b"\r\nhi\r\n") == {}
    s.quit()
    conn = old.wait_for(1)[0].conn
    assert not conn.esmtp and conn.helo == "client.test"
    assert [c.split()[0].upper() for c in conn.commands[:2]] == ["EHLO", "HELO"]


def test_fake_mx_extensions_and_size(fake_mx):
    mx = fake_mx(pipelining=False, smtputf8=False, eightbitmime=False, size=100,
                 enhancedstatuscodes=False, extra_ehlo=["DSN"])
    s = smtp_client(mx)
    s.ehlo()
    assert set(s.esmtp_features) == {"size", "vrfy", "dsn"}
    with pytest.raises(smtplib.SMTPSenderRefused) as e:
        s.sendmail("a@b.test", ["x@y.test"], b"x" * 200)  # SIZE=200 announced
    assert e.value.smtp_code == 552
    s.quit()
    got = send_raw(mx, b"EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<x@y.test>\r\nDATA\r\n" +
                   b"y" * 150 + b"\r\n.\r\nQUIT\r\n").decode()
    # No ENHANCEDSTATUSCODES advertised: none sent either.
    assert "\r\n552 Message size exceeds fixed limit\r\n" in got
    assert "\r\n250 Ok\r\n" in got and "221 Bye" in got


def test_fake_mx_auth(fake_mx):
    mx = fake_mx(auth={"user": "secret"})
    s = smtp_client(mx)
    with pytest.raises(smtplib.SMTPSenderRefused):
        s.sendmail("a@b.test", ["x@y.test"], b"\r\nhi\r\n")
    with pytest.raises(smtplib.SMTPAuthenticationError):
        s.login("user", "wrong")
    s.login("user", "secret")
    assert s.sendmail("a@b.test", ["x@y.test"], b"\r\nhi\r\n") == {}
    s.quit()
    assert mx.wait_for(1)[0].conn.auth_user == "user"
    # AUTH LOGIN with an initial response, and PLAIN with a prompt.
    got = send_raw(mx, b"EHLO c\r\nAUTH LOGIN " + base64.b64encode(b"user") + b"\r\n" +
                   base64.b64encode(b"secret") + b"\r\nQUIT\r\n").decode()
    assert "334 UGFzc3dvcmQ6" in got and "235 2.7.0" in got
    got = send_raw(mx, b"EHLO c\r\nAUTH PLAIN\r\n" + base64.b64encode(b"\0user\0secret") +
                   b"\r\nQUIT\r\n").decode()
    assert "334 \r\n" in got and "235 2.7.0" in got


def test_fake_mx_starttls_454_and_require_tls(fake_mx):
    broken = fake_mx(starttls="454")
    s = smtp_client(broken)
    s.ehlo()
    assert s.has_extn("starttls")
    assert s.docmd("STARTTLS")[0] == 454
    s.quit()
    strict = fake_mx(addr="127.0.0.3", starttls=True, require_tls=True)
    s = smtp_client(strict)
    with pytest.raises(smtplib.SMTPSenderRefused) as e:
        s.sendmail("a@b.test", ["x@y.test"], b"\r\nhi\r\n")
    assert e.value.smtp_code == 530
    s.starttls(context=ssl.create_default_context(cafile=strict.ca_cert_path))
    assert s.sendmail("a@b.test", ["x@y.test"], b"\r\nhi\r\n") == {}
    s.quit()


def test_fake_mx_several_addresses_share_a_port(fake_mx, mx_port):
    a = fake_mx()
    b = fake_mx(addr="127.0.0.3")
    assert a.port == b.port == mx_port
    for mx, to in ((a, "x@a.test"), (b, "y@b.test")):
        s = smtp_client(mx)
        s.sendmail("a@b.test", [to], b"\r\nhi\r\n")
        s.quit()
    assert a.wait_for(1)[0].rcpt_to == ["x@a.test"]
    assert b.wait_for(1)[0].rcpt_to == ["y@b.test"]


def test_fake_mx_rcpt421_closes_and_rcptdrop(fake_mx):
    mx = fake_mx()
    s = smtp_client(mx)
    s.ehlo()
    s.mail("a@b.test")
    assert s.rcpt("rcpt421@x.test")[0] == 421
    with pytest.raises(smtplib.SMTPServerDisconnected):
        s.noop()
    s.close()
    s = smtp_client(mx)
    s.ehlo()
    s.mail("a@b.test")
    with pytest.raises(smtplib.SMTPServerDisconnected):
        s.rcpt("rcptdrop@x.test")
    s.close()
    mx.wait_for_connections(2, closed=True)
    assert mx.connections[1].closed_by == "server (rcptdrop)"


def test_fake_mx_multiline_and_mail_stage(fake_mx):
    mx = fake_mx()
    s = smtp_client(mx)
    s.ehlo()
    assert s.mail("mail550@b.test") == (550, b"5.7.1 <mail550@b.test>: Sender address rejected: Access denied")
    s.mail("a@b.test")
    code, text = s.rcpt("rcpt550ml@x.test")
    assert code == 550 and text.count(b"\n") == 3
    s.rset()
    s.sendmail("a@b.test", ["data250ml@x.test"], b"\r\nhi\r\n")
    s.quit()
    [msg] = mx.wait_for(1)
    assert msg.reply.count("\r\n") == 2
    assert msg.reply.endswith(f"\r\n250 2.0.0 Ok: queued as {msg.queue_id}")
    assert "\r\n550-5.1.1 " in mx.connections[0].sent.decode()


def test_fake_mx_slow(fake_mx):
    mx = fake_mx()
    s = smtp_client(mx)
    s.ehlo()
    s.mail("a@b.test")
    t0 = time.monotonic()
    assert s.rcpt("slow1@x.test")[0] == 250
    t1 = time.monotonic()
    assert s.rset()[0] == 250  # the slowness ends with the transaction
    t2 = time.monotonic()
    s.quit()
    assert 1.0 <= t1 - t0 < 2.5 and t2 - t1 < 0.5
    s = smtp_client(mx)
    t0 = time.monotonic()
    s.sendmail("a@b.test", ["slowdata1@x.test"], b"\r\nhi\r\n")
    assert 1.0 <= time.monotonic() - t0 < 2.5
    s.quit()


def test_fake_mx_custom_reply(fake_mx):
    mx = fake_mx(custom={"odd": {"rcpt": "550-5.7.1 first\n550 5.7.1 second"},
                         "weird": {"data": "250 2.0.0 Ok {queue_id} <id@example>"}})
    s = smtp_client(mx)
    s.ehlo()
    s.mail("a@b.test")
    assert s.rcpt("odd@x.test") == (550, b"5.7.1 first\n5.7.1 second")
    s.rset()
    s.sendmail("a@b.test", ["weird@x.test"], b"\r\nhi\r\n")
    s.quit()
    [m] = mx.wait_for(1)
    assert m.reply == f"250 2.0.0 Ok {m.queue_id} <id@example>"


def test_fake_mx_behaviour_parse():
    assert Behaviour.parse("rcpt550+tag@x.test").code == 550
    b = Behaviour.parse("Data451MLonce@x.test")
    assert (b.kind, b.code, b.multiline, b.once) == ("data", 451, True, True)
    assert Behaviour.parse("slow@x").secs == 3.0 and Behaviour.parse("slow0.5@x").secs == 0.5
    assert Behaviour.parse("rcpt5500@x").kind is None
    assert Behaviour.parse("alice@x").kind is None


def test_fake_mx_wait_for_times_out_with_transcript(fake_mx):
    mx = fake_mx()
    send_raw(mx, b"EHLO c\r\nQUIT\r\n")
    with pytest.raises(AssertionError, match="C: EHLO c"):
        mx.wait_for(1, timeout=0.2)


def test_fake_mx_standalone_port_and_stop():
    mx = FakeMX(addr="127.0.0.6").start()
    try:
        s = smtplib.SMTP(mx.addr, mx.port, timeout=10)
        s.quit()
    finally:
        mx.stop()
    mx.stop()  # twice is fine
    with pytest.raises(OSError):
        socket.create_connection((mx.addr, mx.port), timeout=1)


# -- the daemon fixture, against a stub daemon --------------------------------------------

# Behaves like `posthaste serve` as far as the fixture can tell: listens on
# --smtp/--http, greets, answers /healthz, exits 0 on SIGTERM. STUB_MODE
# changes that: "early" exits 3 at once, "badexit" exits 7 on SIGTERM,
# "crash" exits 9 by itself once a file "crash-now" appears in its working
# directory. Other subcommands print their argv as JSON.
STUB = textwrap.dedent("""\
    import json, os, signal, socket, sys, threading, time
    from http.server import BaseHTTPRequestHandler, HTTPServer
    argv = sys.argv[1:]
    mode = os.environ.get("STUB_MODE", "")
    if not argv or argv[0] != "serve":
        print(json.dumps({"argv": argv}))
        sys.exit(0)
    if mode == "early":
        print("fatal: cannot open data dir", flush=True)
        sys.exit(3)
    opt = lambda name: argv[argv.index(name) + 1]
    def hostport(v):
        h, p = v.rsplit(":", 1)
        return h, int(p)
    class H(BaseHTTPRequestHandler):
        def do_GET(self):
            body = b'{"status":"ok"}'
            self.send_response(200 if self.path == "/healthz" else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        def log_message(self, *a):
            print("http", *a, flush=True)
    httpd = HTTPServer(hostport(opt("--http")), H)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    lsock = socket.create_server(hostport(opt("--smtp")))
    def smtp():
        while True:
            c, _ = lsock.accept()
            c.sendall(b"220 stub ESMTP\\r\\n")
            c.recv(100)
            c.sendall(b"221 bye\\r\\n")
            c.close()
    threading.Thread(target=smtp, daemon=True).start()
    print("stub listening data_dir=" + opt("--data-dir") + " args=" + " ".join(argv), flush=True)
    code = 7 if mode == "badexit" else 0
    signal.signal(signal.SIGTERM, lambda *a: (print("stub stopping", flush=True), os._exit(code)))
    while True:
        if mode == "crash" and os.path.exists("crash-now"):
            os._exit(9)
        time.sleep(0.05)
""")


@pytest.fixture
def stub_bin(tmp_path):
    path = tmp_path / "stub-posthaste"
    path.write_text(f"#!{sys.executable}\n" + STUB)
    path.chmod(0o755)
    return path


def test_daemon_fixture_machinery_with_stub(stub_bin, tmp_path):
    d = Posthaste(stub_bin, tmp_path / "d", args=["--hostname", "mx.test"],
                  config="key = value\n")
    try:
        d.start()
        assert d.running and d.smtp_port != d.http_port
        assert d.http("GET", "/healthz").json() == {"status": "ok"}
        assert d.http("GET", "/nope").status == 404
        s = d.smtp()
        s.quit()
        log = d.wait_for_log("stub listening")
        assert f"data_dir={d.data_dir}" in log and "-c " + d.config_path in log
        assert "--hostname mx.test" in log and open(d.config_path).read() == "key = value\n"
        ports = (d.smtp_port, d.http_port)
        assert d.stop() == 0
        assert not d.running and "stub stopping" in d.log_text()
        d.restart()
        assert (d.smtp_port, d.http_port) == ports and d.starts == 2
        assert "start #2" in d.log_text(current=True) and "start #1" not in d.log_text(current=True)
        assert d.kill() == -9
        assert d.crashed() is None  # we killed it: not a crash
        d.restart()
        out = d.cli("trace", "abc", check=True)
        assert json.loads(out.stdout)["argv"] == ["trace", "abc", "--data-dir", d.data_dir]
        assert d.cli_json("queue", "list")["argv"] == ["queue", "list", "--json", "--data-dir", d.data_dir]
        assert d.stop() == 0
        assert d.exit_codes == [0, -9, 0] and d.sanitizer_reports() == []
    finally:
        d.kill()


def test_daemon_fixture_reports_failures(stub_bin, tmp_path):
    early = Posthaste(stub_bin, tmp_path / "early", env={"STUB_MODE": "early"})
    with pytest.raises(DaemonError, match="(?s)exited with 3.*cannot open data dir"):
        early.start(timeout=10)

    bad = Posthaste(stub_bin, tmp_path / "bad", env={"STUB_MODE": "badexit"})
    bad.start()
    with pytest.raises(DaemonError, match="exited with 7 after SIGTERM"):
        bad.stop()

    crash = Posthaste(stub_bin, tmp_path / "crash", env={"STUB_MODE": "crash"})
    crash.start()
    assert crash.crashed() is None
    (tmp_path / "crash" / "crash-now").touch()
    deadline = time.monotonic() + 10
    while crash.crashed() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert crash.crashed() == 9
    crash.kill()

    asan = Posthaste(stub_bin, tmp_path / "asan")
    with open(asan.log_path, "w") as f:
        f.write("==1==ERROR: AddressSanitizer: heap-use-after-free\nok\n"
                "x.c:1:2: runtime error: signed integer overflow\n")
    assert len(asan.sanitizer_reports()) == 2


class TestPosthasteFixtureWithStub:
    """The `posthaste` fixture itself, pointed at the stub binary."""

    @pytest.fixture
    def posthaste_bin(self, stub_bin):
        return stub_bin

    def test_factory_options(self, posthaste, dns, mx_port):
        d = posthaste(dns=dns, mx_port=mx_port, hostname="mx.test", args=["--extra"])
        log = d.wait_for_log("stub listening")
        assert f"--dns {dns.dns_arg} --mx-port {mx_port} --hostname mx.test --extra" in log
        lazy = posthaste(start=False)
        assert not lazy.running
        lazy.start()
        assert lazy.running
        # Left running on purpose: the fixture stops both and checks exit 0.


# -- the real daemon -------------------------------------------------------------------------


def test_posthaste_self_check(posthaste, posthaste_bin):
    """The real binary starts, serves /healthz and SMTP, stops cleanly, restarts."""
    d = posthaste(hostname="posthaste.test")
    assert d.http("GET", "/healthz").status == 200
    s = d.smtp()
    assert s.ehlo()[0] == 250
    s.quit()
    d.stop()
    assert d.exit_codes == [0]
    d.restart()
    assert d.http("GET", "/healthz").status == 200
    d.kill()
    d.restart()  # after kill -9 it comes back on the same ports and data
    assert d.http("GET", "/healthz").status == 200
    v = subprocess.run([str(posthaste_bin), "--version"], capture_output=True, text=True, timeout=30)
    assert v.returncode == 0 and v.stdout.strip()


def test_fake_mx_certificate_names(fake_mx):
    mx = fake_mx(starttls=True, hostname="mx1.example.test", tls_names=["alt.example.test"])
    ctx = ssl.create_default_context(cafile=mx.ca_cert_path)
    for name in ("mx1.example.test", "alt.example.test", "127.0.0.2"):
        with socket.create_connection((mx.addr, mx.port), timeout=10) as raw:
            f = raw.makefile("rb")
            f.readline()
            raw.sendall(b"EHLO c.test\r\n")
            while f.readline()[3:4] == b"-":
                pass
            raw.sendall(b"STARTTLS\r\n")
            assert f.readline().startswith(b"220 ")
            with ctx.wrap_socket(raw, server_hostname=name) as t:
                t.sendall(b"QUIT\r\n")
                assert t.recv(100).startswith(b"221")
    assert tlsa_rdata(mx.cert_path).startswith("3 1 1 ")


def test_dns_and_fake_mx_together(dns, fake_mx, mx_port):
    """What the daemon will do: MX lookup in NSD, then SMTP to the fake MX."""
    dns.zone("example.test", """
        @    MX 10 mx1
        @    MX 20 mx2
        mx1  A  127.0.0.2
        mx2  A  127.0.0.3
    """)
    primary, backup = fake_mx(), fake_mx(addr="127.0.0.3")
    r = resolver_for(dns)
    for pref, host in sorted((a.preference, a.exchange) for a in r.resolve("example.test", "MX")):
        addr = r.resolve(host, "A")[0].to_text()
        s = smtplib.SMTP(addr, mx_port, local_hostname="client.test", timeout=10)
        s.sendmail("a@b.test", [f"pref{pref}@example.test"], b"\r\nhi\r\n")
        s.quit()
    assert primary.wait_for(1)[0].rcpt_to == ["pref10@example.test"]
    assert backup.wait_for(1)[0].rcpt_to == ["pref20@example.test"]
