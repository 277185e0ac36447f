"""The HTTP API, the evidence hand-over and `posthaste trace` (issue 5).

Messages are sent through the API (and SMTP), delivered to fake MXes, and
read back through every endpoint; what the API says is compared with what
the fake MX actually saw.
"""

import email
import email.policy
import json
import time

import pytest

from phclient import account, stored_messages
from test_delivery import RCPT_DOMAIN, SENDER_DOMAIN, status, submit, wait_events, world  # noqa: F401


def api(d, method, path, key, body=None, headers=None):
    return d.http(method, path, body=body, token=key, headers=headers)


def send(d, key, **fields):
    body = {"from": f"Shop <shop@{SENDER_DOMAIN}>", "to": [f"alice@{RCPT_DOMAIN}"],
            "subject": "Your receipt", "text": "Thanks for your order."}
    body.update(fields)
    return api(d, "POST", "/api/v1/messages", key, body)


def wait_status(d, key, pid, rcpt, want, timeout=30):
    deadline = time.monotonic() + timeout
    got = None
    while time.monotonic() < deadline:
        r = api(d, "GET", f"/api/v1/messages/{pid}", key)
        got = {x["recipient"]: x["status"] for x in r.json()["recipients"]}
        if got.get(rcpt) == want:
            return
        time.sleep(0.1)
    raise AssertionError(f"{rcpt}: {got}")


def test_send_deliver_and_read_back_everything(world):
    d = world.start()
    key = d.acct["api_key"]
    r = send(d, key, to=[f"Alice Ä <alice@{RCPT_DOMAIN}>"], cc=[f"carl@{RCPT_DOMAIN}"],
             bcc=[f"audit@{RCPT_DOMAIN}"], subject="Ihre Bestellung №42",
             html="<p>Thanks</p>", headers={"X-Campaign": "spring"},
             attachments=[{"filename": "r.txt", "content_type": "text/plain",
                           "content": "aGVsbG8="}])
    assert r.status == 201, r
    out = r.json()
    pid = out["id"]
    assert {x["recipient"] for x in out["recipients"]} == {
        f"alice@{RCPT_DOMAIN}", f"carl@{RCPT_DOMAIN}", f"audit@{RCPT_DOMAIN}"}
    assert out["message_id"].startswith(f"<{pid}@")
    msgs = world.mx.wait_for(1, timeout=20)
    m = msgs[0]
    assert sorted(m.rcpt_to) == sorted(x["recipient"] for x in out["recipients"])
    parsed = email.message_from_bytes(m.data, policy=email.policy.default)
    assert str(parsed["Subject"]) == "Ihre Bestellung №42"
    assert parsed["Bcc"] is None and b"audit@" not in m.data.split(b"\r\n\r\n")[0]
    assert parsed["X-Campaign"] == "spring"
    assert parsed.get_content_type() == "multipart/mixed"
    for rcpt in out["recipients"]:
        wait_status(d, key, pid, rcpt["recipient"], "delivered")

    ev = api(d, "GET", f"/api/v1/messages/{pid}/events", key).json()["events"]
    mine = [e for e in ev if e["recipient"] == f"alice@{RCPT_DOMAIN}"]
    assert [e["type"] for e in mine] == ["received", "delivered"]
    assert mine[0]["source"] == "api"
    assert mine[1]["remote_queue_id"] == m.queue_id
    assert mine[1]["remote_ip"] == "127.0.0.2" and mine[1]["mx_host"] == f"mx.{RCPT_DOMAIN}"

    tr = api(d, "GET", f"/api/v1/messages/{pid}/transcript", key).json()["transcripts"]
    assert any(t["id"] == mine[1]["transcript_id"] for t in tr)
    text = [t for t in tr if t["id"] == mine[1]["transcript_id"]][0]["text"]
    assert f"> RCPT TO:<alice@{RCPT_DOMAIN}>" in text
    assert f"< 250 2.0.0 Ok: queued as {m.queue_id}" in text

    evd = api(d, "GET", f"/api/v1/messages/{pid}/evidence?recipient=alice@{RCPT_DOMAIN}",
              key).json()
    (e,) = evd["recipients"]
    assert e["status"] == "delivered" and e["remote_queue_id"] == m.queue_id
    assert e["receiving_mx"] == f"mx.{RCPT_DOMAIN}" and e["receiving_ip"] == "127.0.0.2"
    assert e["response"] == f"Ok: queued as {m.queue_id}" and e["smtp_code"] == 250
    assert e["sending_host"] == "out.posthaste.test" and e["sending_ip"].startswith("127.")
    assert evd["message_id_header"] == out["message_id"]
    assert evd["return_path"] == f"shop@{SENDER_DOMAIN}"
    assert evd["accepted_at"].endswith("Z") and e["delivered_at"].endswith("Z")
    assert any(m.queue_id in s for s in e["next_steps"])
    t = api(d, "GET", f"/api/v1/messages/{pid}/evidence", key,
            headers={"Accept": "text/plain"})
    assert t.headers["Content-Type"].startswith("text/plain")
    assert m.queue_id in t.text and "250 2.0.0 Ok: queued as" in t.text
    assert "junk" in t.text and "Safelist" in t.text


@pytest.mark.parametrize("body, needle", [
    ("{not json", "invalid JSON"),
    ({"from": "a@example.test", "to": "b@example.net", "subject": "s", "text": "t"}, "to"),
    ({"from": "a@example.test", "to": ["b@example.net"], "subject": "s", "text": "t",
      "colour": "red"}, "colour"),
    ({"from": "a@example.test", "to": ["b@example.net"], "subject": "s\r\nBcc: x@evil.test",
      "text": "t"}, "subject"),
    ({"from": "a@example.test", "to": ["b@example.net"], "subject": "s", "text": "t",
      "headers": {"X-A": "1\nBcc: x@evil.test"}}, "X-A"),
    ({"from": "a@example.test", "to": ["b@example.net\r\n"], "subject": "s", "text": "t"}, "to"),
    ({"from": "a@example.test", "to": ["not an address"], "subject": "s", "text": "t"}, "to"),
    ({"from": "a@example.test", "to": ["b@example.net"], "subject": 5, "text": "t"}, "subject"),
    ({"from": "a@example.test", "to": ["b@example.net"], "subject": "s", "text": "t",
      "attachments": [{"filename": "x", "content": "!!!"}]}, "attachments"),
])
def test_bad_requests_are_400_and_queue_nothing(world, body, needle):
    d = world.start()
    r = api(d, "POST", "/api/v1/messages", d.acct["api_key"], body)
    assert r.status == 400, r
    err = r.json()["error"]
    assert err["code"] in ("invalid_json", "invalid_message") and needle in err["message"]
    assert stored_messages(d) == []


def test_oversized_body_is_refused(world):
    d = world.start(config="smtp_max_message_size = 64k\n")
    r = send(d, d.acct["api_key"], text="x" * (100 * 1024))
    assert r.status in (400, 413)
    if r.status == 400:
        assert "too large" in r.json()["error"]["message"]
    assert stored_messages(d) == []


def test_auth_and_tenant_isolation(world):
    d = world.start()
    a = d.acct["api_key"]
    b = account(d, "other")["api_key"]
    assert api(d, "GET", "/api/v1/messages", None).status == 401
    assert api(d, "GET", "/api/v1/messages", "ph_aaaaaaaaaaaa_" + "b" * 32).status == 401
    assert api(d, "GET", "/api/v1/messages", "garbage").status == 401
    pid = send(d, a).json()["id"]
    for suffix in ("", "/events", "/transcript", "/evidence"):
        r = api(d, "GET", f"/api/v1/messages/{pid}{suffix}", b)
        assert r.status == 404 and r.json()["error"]["code"] == "not_found", suffix
        assert api(d, "GET", f"/api/v1/messages/{pid}{suffix}", a).status == 200
    assert api(d, "GET", "/api/v1/messages", b).json()["data"] == []
    assert api(d, "GET", f"/api/v1/messages?recipient=alice@{RCPT_DOMAIN}", b).json()["data"] == []
    assert len(api(d, "GET", "/api/v1/messages", a).json()["data"]) == 1
    st = api(d, "GET", "/api/v1/stats", b).json()
    assert st["total"]["delivered"] + st["total"]["queued"] == 0


def test_search_filters_paging_and_inert_metacharacters(world):
    d = world.start()
    key = d.acct["api_key"]
    ids = []
    for i in range(5):
        ids.append(send(d, key, to=[f"u{i}@{RCPT_DOMAIN}"], subject=f"invoice {i} 100%").json()["id"])
    smtp_id = submit(d, [f"rcpt550@{RCPT_DOMAIN}"])
    wait_events(d, smtp_id, f"rcpt550@{RCPT_DOMAIN}", ["bounced"])
    for i in range(5):
        wait_status(d, key, ids[i], f"u{i}@{RCPT_DOMAIN}", "delivered")

    def search(qs):
        r = api(d, "GET", "/api/v1/messages?" + qs, key)
        assert r.status == 200, r
        return [m["id"] for m in r.json()["data"]]

    assert search(f"recipient=u3@{RCPT_DOMAIN}") == [ids[3]]
    assert search(f"recipient=U3@{RCPT_DOMAIN.upper()}") == [ids[3]]
    assert set(search(f"from=shop@{SENDER_DOMAIN}")) == set(ids)
    assert search("subject=invoice%202") == [ids[2]]
    assert set(search("subject=100%25")) == set(ids)
    assert search("status=bounced") == [smtp_id]
    assert search("message_id=order-1234@app.example.test") == [smtp_id]
    # newest first, and a cursor walks the rest
    seen, cursor = [], None
    while True:
        r = api(d, "GET", "/api/v1/messages?limit=2" + (f"&cursor={cursor}" if cursor else ""),
                key).json()
        seen += [m["id"] for m in r["data"]]
        cursor = r["next_cursor"]
        if not cursor:
            break
    everything = search("limit=500")
    assert seen == everything
    # the five API messages, the SMTP one, and the DSN its bounce produced
    assert len(everything) == 7 and everything[1:] == [smtp_id] + ids[::-1]
    assert api(d, "GET", f"/api/v1/messages/{everything[0]}", key).json()["source"] == "dsn"
    assert search("since=2000-01-01T00:00:00Z&until=2001-01-01T00:00:00Z") == []
    # SQL and LIKE metacharacters are data, in every parameter
    for p in ("recipient", "from", "subject", "message_id"):
        for v in ("'%20OR%201=1%20--", "%22)%20OR%20(%221", "%25", "_", "*"):
            if p == "subject" and v == "%25":
                continue  # the subjects do contain a literal '%' (checked above)
            got = search(f"{p}={v}")
            assert got == [], (p, v, got)
    assert api(d, "GET", "/api/v1/messages?status=x'%20OR%20'1", key).status == 400
    assert api(d, "GET", "/api/v1/messages?colour=red", key).status == 400
    assert api(d, "GET", "/api/v1/messages?limit=0", key).status == 400
    assert api(d, "GET", "/api/v1/messages?since=yesterday", key).status == 400

    wait_status(d, key, everything[0], f"app@{SENDER_DOMAIN}", "delivered")  # the DSN
    st = api(d, "GET", "/api/v1/stats", key).json()
    # five API messages and the DSN delivered, one bounce
    assert st["total"]["delivered"] == 6 and st["total"]["bounced"] == 1
    assert abs(st["total"]["acceptance_rate"] - 6 / 7) < 1e-9
    assert st["by_domain"][SENDER_DOMAIN]["delivered"] == 1
    assert st["by_domain"][RCPT_DOMAIN]["delivered"] == 5
    dom = api(d, "GET", f"/api/v1/stats?domain={RCPT_DOMAIN}", key).json()
    assert list(dom["by_domain"]) == [RCPT_DOMAIN]

    metrics = d.http("GET", "/metrics").text
    assert "posthaste_recipients_delivered_total 6" in metrics
    assert "posthaste_recipients_bounced_total 1" in metrics
    assert "posthaste_dsn_total 1" in metrics
    assert 'posthaste_delivery_latency_seconds_bucket{le="+Inf"} 6' in metrics


def test_trace_delivered_deferred_bounced(world):
    d = world.start(config="mta_retry_schedule = 1h\n")
    pid = submit(d, [f"alice@{RCPT_DOMAIN}", f"rcpt451@{RCPT_DOMAIN}", f"rcpt550@{RCPT_DOMAIN}"])
    wait_events(d, pid, f"alice@{RCPT_DOMAIN}", ["delivered"])
    wait_events(d, pid, f"rcpt451@{RCPT_DOMAIN}", ["deferred"])
    wait_events(d, pid, f"rcpt550@{RCPT_DOMAIN}", ["bounced"])
    qid = world.mx.messages[0].queue_id
    p = d.cli("trace", pid)
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert f"Message {pid}" in out and "<order-1234@app.example.test>" in out
    assert f"<alice@{RCPT_DOMAIN}>  delivered" in out
    assert f"<rcpt451@{RCPT_DOMAIN}>  deferred" in out and "next attempt" in out
    assert f"<rcpt550@{RCPT_DOMAIN}>  bounced" in out
    assert f"Ok: queued as {qid}" in out and f"Server's queue id:  {qid}" in out
    assert "451" in out and "550 5.1.1" in out
    p = d.cli("trace", f"rcpt550@{RCPT_DOMAIN}", "--json")
    assert p.returncode == 0
    (one,) = json.loads(p.stdout)
    assert {e["type"] for e in one["events"]} == {"received", "bounced"}
    assert one["evidence"]["recipients"][0]["status"] == "bounced"
    assert d.cli("trace", "nobody@nowhere.test").returncode == 1
