"""Sender domains (issue 7): `domain add` prints the records, nsd serves
them, `domain verify` checks them through posthaste's own resolver; only
verified domains may send; their mail is DKIM-signed twice (RSA-SHA256 and
Ed25519-SHA256) and verifies with dkimpy against the keys in DNS.
"""

import email
import json
import time

import dkim
import dns.resolver
import pytest

from phclient import RawSMTP, account, db, queued_id
from test_delivery import RCPT_DOMAIN, wait_events, zone_mx

DOMAIN = "shop.example.test"
HOST = "out.posthaste.test"


def publish(dnssrv, records, skip=()):
    """Serve domain add's records (those not in skip) from nsd."""
    recs = [("@", "MX", "10 mx.shop.example.test."), ("mx", "A", "127.0.0.3")]
    for r in records:
        if r["purpose"] in skip or r["name"] in skip:
            continue
        owner = r["name"][: -len(DOMAIN)].rstrip(".") or "@"
        recs.append((owner, r["type"], r["value"]))
    return dnssrv.zone(DOMAIN, recs)


@pytest.fixture
def shop(dns, fake_mx, mx_port, posthaste):
    zone_mx(dns, RCPT_DOMAIN, (10, "mx", "127.0.0.2"))
    mx = fake_mx("127.0.0.2", hostname="mx.example.net")
    d = posthaste(start=False, dns=dns, mx_port=mx_port, hostname=HOST)
    acct = account(d, "shop", trust=["127.0.0.0/8"], allow_unverified=False)
    added = d.cli_json("domain", "add", DOMAIN, "--account", "shop", "--ip", "127.0.0.1",
                       "--hostname", HOST)
    d.start()
    return d, acct, added, mx, dns


def verify(d, dnssrv):
    p = d.cli("domain", "verify", DOMAIN, "--dns", dnssrv.dns_arg, "--hostname", HOST, "--json")
    return p.returncode, json.loads(p.stdout)


def send_smtp(d, body, sender=f"orders@{DOMAIN}"):
    c = RawSMTP(d.smtp_port)
    c.cmd("EHLO app.test")
    code, lines = c.cmd(f"MAIL FROM:<{sender}>")
    if code != 250:
        return code, lines
    assert c.cmd(f"RCPT TO:<alice@{RCPT_DOMAIN}>")[0] == 250
    assert c.cmd("DATA")[0] == 354
    c.send(body + b".\r\n")
    return c.reply()


def test_add_prints_every_record(shop):
    d, _, added, _, _ = shop
    kinds = [(r["purpose"], r["type"]) for r in added["records"]]
    assert kinds.count(("dkim", "TXT")) == 2
    assert ("spf", "TXT") in kinds and ("dmarc", "TXT") in kinds
    assert ("return_path", "MX") in kinds and ("return_path", "TXT") in kinds
    dk = [r for r in added["records"] if r["purpose"] == "dkim"]
    assert {r["value"].split(";")[1].strip() for r in dk} == {"k=rsa", "k=ed25519"}
    assert all(r["name"].endswith(f"._domainkey.{DOMAIN}") for r in dk)
    spf = [r for r in added["records"] if r["purpose"] == "spf"][0]
    assert spf["value"] == "v=spf1 ip4:127.0.0.1 ~all"
    # adding it again is refused
    again = d.cli("domain", "add", DOMAIN, "--account", "shop", "--ip", "127.0.0.1")
    assert again.returncode != 0 and "already" in again.stderr


def test_unverified_domain_is_refused_at_smtp_and_api(shop):
    d, acct, added, _, dnssrv = shop
    code, lines = send_smtp(d, b"From: orders@shop.example.test\r\nSubject: x\r\n\r\nx\r\n")
    assert code == 550 and lines[0].startswith("5.7.1") and DOMAIN in lines[0]
    r = d.http("POST", "/api/v1/messages", token=acct["api_key"],
               body={"from": f"orders@{DOMAIN}", "to": [f"a@{RCPT_DOMAIN}"], "subject": "s",
                     "text": "t"})
    assert r.status == 403 and r.json()["error"]["code"] == "sender_not_verified"
    # a verified domain, but the From: header names another domain
    publish(dnssrv, added["records"])
    assert verify(d, dnssrv)[0] == 0
    code, lines = send_smtp(d, b"From: ceo@other.example\r\nSubject: x\r\n\r\nx\r\n")
    assert code == 550 and "From:" in lines[0]


def test_verify_passes_then_fails_with_the_reason(shop):
    d, _, added, _, dnssrv = shop
    rc, out = verify(d, dnssrv)
    assert rc == 1 and out["verified"] is False
    publish(dnssrv, added["records"])
    rc, out = verify(d, dnssrv)
    assert rc == 0 and out["verified"] is True, out
    results = {(c["check"], c["result"]) for c in out["checks"]}
    assert ("dkim", "pass") in results and ("spf", "pass") in results
    assert ("dmarc", "pass") in results and ("return_path_mx", "pass") in results
    assert ("return_path_spf", "pass") in results
    rsa = [r for r in added["records"] if "k=rsa" in r["value"]][0]
    publish(dnssrv, added["records"], skip=(rsa["name"],))
    rc, out = verify(d, dnssrv)
    assert rc == 1 and out["verified"] is False
    failed = [c for c in out["checks"] if c["result"] == "fail"]
    assert len(failed) == 1 and failed[0]["check"] == "dkim"
    assert rsa["name"] in failed[0]["detail"]
    publish(dnssrv, added["records"], skip=("spf",))
    rc, out = verify(d, dnssrv)
    spf = [c for c in out["checks"] if c["check"] == "spf"][0]
    assert rc == 0 and spf["result"] == "fail" and "127.0.0.1" in spf["detail"]


BODIES = {
    "8bit": "Subject: Grüße\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\nGrüße aus dem Laden\r\n".encode(),
    "long_header": (b"Subject: " + b"word " * 60 + b"\r\n\tcontinued\r\nX-Long: " +
                    b"y" * 900 + b"\r\n\r\nbody\r\n"),
    "trailing_blank_lines": b"Subject: blank\r\n\r\nbody\r\n\r\n\r\n\r\n",
    "spaces": b"Subject:   spaced   out  \r\n\r\nline  with \t spaces  \r\n",
}


@pytest.mark.parametrize("name", sorted(BODIES))
def test_mail_is_signed_twice_and_verifies_with_dkimpy(shop, name):
    d, _, added, mx, dnssrv = shop
    publish(dnssrv, added["records"])
    assert verify(d, dnssrv)[0] == 0
    body = (b"From: Shop <orders@shop.example.test>\r\nTo: alice@example.net\r\n"
            b"Message-ID: <" + name.encode() + b"@shop.example.test>\r\n" + BODIES[name])
    code, lines = send_smtp(d, body)
    assert code == 250, lines
    pid = queued_id(lines)
    got = mx.wait_for(1, timeout=20)[0]
    msg = got.data
    assert msg.count(b"DKIM-Signature:") == 2
    # VERP return path on the bounce subdomain names message and recipient
    assert got.mail_from.startswith(f"bounce+{pid}-") and \
        got.mail_from.endswith(f"@bounce.{DOMAIN}"), got.mail_from

    def dnsfunc(qname, timeout=5):
        ans = dns.resolver.Resolver(configure=False)
        ans.nameservers = [dnssrv.addr]
        ans.port = dnssrv.port
        r = ans.resolve(qname.decode().rstrip("."), "TXT")
        return b"".join(b"".join(rr.strings) for rr in r)

    algs = set()
    for i in range(2):
        v = dkim.DKIM(msg)
        assert v.verify(idx=i, dnsfunc=dnsfunc), (i, name)
        algs.add(v.signature_fields[b"a"])
        assert v.signature_fields[b"d"] == DOMAIN.encode()
        assert b"c" in v.signature_fields and v.signature_fields[b"c"] == b"relaxed/relaxed"
    assert algs == {b"rsa-sha256", b"ed25519-sha256"}
    # over-signed: a From: added in transit breaks the signature
    tampered = b"From: evil@attacker.example\r\n" + msg
    assert not dkim.DKIM(tampered).verify(idx=0, dnsfunc=dnsfunc)
    # absent headers are over-signed too: a Reply-To added in transit breaks it
    hijack = b"Reply-To: evil@attacker.example\r\n" + msg
    assert not any(dkim.DKIM(hijack).verify(idx=i, dnsfunc=dnsfunc) for i in range(2))
    # while an unsigned header (not in h=) may be added
    assert dkim.DKIM(b"X-Added: fine\r\n" + msg).verify(idx=0, dnsfunc=dnsfunc)
    # the evidence names the signing domain and selectors
    wait_events(d, pid, f"alice@{RCPT_DOMAIN}", ["delivered"])
    ev = d.http("GET", f"/api/v1/messages/{pid}/evidence", token=shop[1]["api_key"]).json()
    assert ev["recipients"][0]["dkim"]["domain"] == DOMAIN
    assert ev["recipients"][0]["dkim"]["selectors"].count("ph") == 2


def wait_domain(d, key, name, verified, timeout=20):
    deadline = time.monotonic() + timeout
    got = None
    while time.monotonic() < deadline:
        got = d.http("GET", f"/api/v1/domains/{name}", token=key).json()
        if got.get("verified") is verified and got.get("checks"):
            return got
        time.sleep(0.2)
    raise AssertionError(got)


def test_domains_through_the_api_and_the_periodic_recheck(dns, mx_port, posthaste):
    name = "api.example.test"
    d = posthaste(start=False, dns=dns, mx_port=mx_port, hostname=HOST,
                  config="domain_recheck_interval = 1s\n")
    key = account(d, "api", allow_unverified=False)["api_key"]
    other = account(d, "other", allow_unverified=False)["api_key"]
    d.start()
    r = d.http("POST", "/api/v1/domains", token=key, body={"domain": name, "ips": ["127.0.0.1"]})
    assert r.status == 201, r
    records = r.json()["records"]
    assert {x["purpose"] for x in records} == {"dkim", "spf", "dmarc", "return_path"}
    assert d.http("POST", "/api/v1/domains", token=key,
                  body={"domain": name, "ips": ["127.0.0.1"]}).status == 409
    assert d.http("POST", "/api/v1/domains", token=key,
                  body={"domain": "bad domain", "ips": ["127.0.0.1"]}).status == 400
    assert d.http("POST", "/api/v1/domains", token=key,
                  body={"domain": "x.test", "ips": ["not-an-ip"]}).status == 400
    assert d.http("GET", f"/api/v1/domains/{name}", token=other).status == 404
    assert d.http("GET", "/api/v1/domains", token=other).json() == []
    lst = d.http("GET", "/api/v1/domains", token=key).json()
    assert [x["domain"] for x in lst] == [name] and lst[0]["verified"] is False
    dkim = lst[0]["dkim_keys"]
    assert sorted(k["algorithm"] for k in dkim) == ["ed25519-sha256", "rsa-sha256"]
    assert {k["selector"] for k in dkim} == {x["name"].split(".")[0] for x in records
                                             if x["purpose"] == "dkim"}
    assert lst[0]["keys"] == ",".join(f"{k['selector']}:{k['algorithm']}" for k in dkim)

    recs = [("@", "MX", "10 mx.api.example.test."), ("mx", "A", "127.0.0.3")]
    for x in records:
        recs.append((x["name"][: -len(name)].rstrip(".") or "@", x["type"], x["value"]))
    dns.zone(name, recs)
    assert d.http("POST", f"/api/v1/domains/{name}/verify", token=key).status == 202
    got = wait_domain(d, key, name, True)
    assert all(c["result"] == "pass" for c in got["checks"]), got["checks"]
    assert {k["state"] for k in got["dkim_keys"]} == {"active"}
    send = {"from": f"hello@{name}", "to": ["a@example.net"], "subject": "s", "text": "t"}
    assert d.http("POST", "/api/v1/messages", token=key, body=send).status == 201
    # the keys vanish from DNS: the periodic re-check takes the domain away
    dns.zone(name, recs[:2])
    wait_domain(d, key, name, False)
    r = d.http("POST", "/api/v1/messages", token=key, body=send)
    assert r.status == 403
    # log lines leave in batches (every 100 ms): wait for this one
    d.wait_for_log("domain recheck domain=api.example.test verified=no was=yes")


def test_key_rotation_publishes_before_signing(shop):
    d, _, added, mx, dnssrv = shop
    publish(dnssrv, added["records"])
    assert verify(d, dnssrv)[0] == 0
    old = set(added["selectors"])
    rot = d.cli_json("domain", "rotate", DOMAIN)
    new = set(rot["selectors"])
    assert len(new) == 2 and not (new & old)
    # not yet in DNS: the old keys keep signing, the domain stays verified
    rc, out = verify(d, dnssrv)
    assert rc == 0
    assert {c["result"] for c in out["checks"] if c["check"] == "dkim_pending"} == {"fail"}
    # published next to the old ones: the new keys take over
    publish(dnssrv, added["records"] + rot["records"])
    rc, out = verify(d, dnssrv)
    assert rc == 0 and any(c["check"] == "dkim_rotation" for c in out["checks"])
    code, lines = send_smtp(d, b"From: orders@shop.example.test\r\nSubject: r\r\n\r\nhi\r\n")
    assert code == 250
    msg = mx.wait_for(1, timeout=20)[0].data
    sels = set()
    for i in range(2):
        v = dkim.DKIM(msg)
        assert v.verify(idx=i, dnsfunc=lambda q, timeout=5: _txt(dnssrv, q))
        sels.add(v.signature_fields[b"s"].decode())
    assert sels == new
    # retire: the old keys may leave DNS, and the domain stays verified
    p = d.cli("domain", "retire", DOMAIN)
    assert p.returncode == 0 and "2 retiring keys" in p.stdout
    publish(dnssrv, [r for r in added["records"] if r["purpose"] != "dkim"] + rot["records"])
    assert verify(d, dnssrv)[0] == 0


def _txt(dnssrv, qname):
    res = dns.resolver.Resolver(configure=False)
    res.nameservers = [dnssrv.addr]
    res.port = dnssrv.port
    return b"".join(b"".join(rr.strings) for rr in res.resolve(qname.decode().rstrip("."), "TXT"))
