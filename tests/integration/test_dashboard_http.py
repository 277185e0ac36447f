"""The dashboard's server side over plain HTTP (issue 6): pages and assets,
sign-in sessions and their cookie, CSRF and origin checks, sign-in
throttling and limits, the queue and statistics endpoints the pages use,
and tenant isolation on all of it. The pages themselves are driven in a
real browser by test_dashboard.py.
"""

import http.client
import json
import os
import re
import sqlite3
import ssl
import time

import pytest

from phclient import account, db
from test_delivery import RCPT_DOMAIN, status, submit, wait_events, world  # noqa: F401

LOGIN_BODY_MAX = 4096  # DASH_LOGIN_BODY_MAX
SLOW_RETRY = "mta_retry_schedule = 1h\nmta_greylist_retry = 1h\n"


def login(d, body, headers=None, raw=None):
    hdrs = {"Content-Type": "application/json"}
    hdrs.update(headers or {})
    return d.http("POST", "/auth/login", body=raw if raw is not None else body, headers=hdrs)


def cookie_of(r):
    """The ph_session value and the whole Set-Cookie header."""
    sc = r.headers.get("Set-Cookie", "")
    m = re.match(r"ph_session=([^;]*)", sc)
    assert m, f"no session cookie in {sc!r}"
    return m.group(1), sc


class Session:
    """A signed-in browser, as far as the server can tell."""

    def __init__(self, d, acct):
        r = login(d, {"username": acct["smtp_username"], "password": acct["smtp_password"]})
        assert r.status == 200, r.body
        self.d = d
        self.token, self.set_cookie = cookie_of(r)
        self.csrf = r.json()["csrf_token"]
        self.origin = d.http_url

    def req(self, method, path, body=None, csrf=True, headers=None):
        hdrs = {"Cookie": f"ph_session={self.token}", "Origin": self.origin}
        if csrf:
            hdrs["X-CSRF-Token"] = self.csrf
        hdrs.update(headers or {})
        return self.d.http(method, path, body=body, headers=hdrs)


# -- pages and assets ---------------------------------------------------------


def test_pages_and_assets_are_served_with_types_and_caching(posthaste):
    d = posthaste()
    for path in ["/", "/login", "/activity", "/statistics", "/queue", "/domains",
                 "/messages/abc123"]:
        r = d.http("GET", path)
        assert r.status == 200, (path, r.status)
        assert r.headers["Content-Type"] == "text/html; charset=utf-8"
        assert r.headers["Cache-Control"] == "no-cache"
        csp = r.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert r.headers["X-Frame-Options"] == "DENY"
    page = d.http("GET", "/").body.decode()
    assets = re.findall(r'(?:src|href)="(/assets/[^"]+)"', page)
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
    for a in assets:
        r = d.http("GET", a)
        assert r.status == 200 and len(r.body) > 0, a
        assert r.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        want = "text/javascript" if a.endswith(".js") else "text/css"
        assert r.headers["Content-Type"].startswith(want), (a, r.headers["Content-Type"])
        # The ETag answers a revalidation with 304 and no body.
        r2 = d.http("GET", a, headers={"If-None-Match": r.headers["ETag"]})
        assert r2.status == 304 and r2.body == b""
    head = d.http("HEAD", assets[0])
    assert head.status == 200 and head.body == b""
    assert d.http("GET", "/assets/nothing-here.js").status == 404
    assert d.http("GET", "/assets/../posthaste.db").status == 404
    assert d.http("GET", "/messages/a/b").status == 404
    assert d.http("POST", "/").status == 405


# -- signing in ------------------------------------------------------------------


def test_sign_in_with_password_or_api_key_and_cookie_attributes(posthaste):
    d = posthaste()
    acct = account(d)
    s = Session(d, acct)
    attrs = [a.strip() for a in s.set_cookie.split(";")]
    assert "HttpOnly" in attrs and "SameSite=Strict" in attrs and "Path=/" in attrs
    assert "Secure" not in attrs  # plain HTTP: a Secure cookie would never come back
    assert len(s.token) == 64 and len(s.csrf) == 64
    r = s.req("GET", "/auth/session", csrf=False)
    assert r.status == 200 and r.json()["account"] == "acme"
    assert r.json()["csrf_token"] == s.csrf
    # The store keeps a hash of the token only: a copy of it opens nothing.
    con = db(d)
    try:
        rows = con.execute("SELECT token_hash FROM web_sessions").fetchall()
    finally:
        con.close()
    assert rows and all(s.token not in r[0] for r in rows)
    r = login(d, {"api_key": acct["api_key"]})
    assert r.status == 200 and r.json()["account"] == "acme"
    assert d.http("GET", "/auth/session").status == 401
    assert d.http("GET", "/auth/session", headers={"Cookie": "ph_session=" + "0" * 64}).status == 401


def test_sign_out_needs_the_csrf_token_and_ends_the_session(posthaste):
    d = posthaste()
    s = Session(d, account(d))
    assert s.req("POST", "/auth/logout", csrf=False).status == 403
    assert s.req("GET", "/api/v1/messages", csrf=False).status == 200
    r = s.req("POST", "/auth/logout")
    assert r.status == 200
    assert "Max-Age=0" in r.headers["Set-Cookie"]
    # The old cookie, replayed, is dead.
    assert s.req("GET", "/auth/session", csrf=False).status == 401
    assert s.req("GET", "/api/v1/messages", csrf=False).status == 401


@pytest.mark.parametrize("body,code", [
    ({"username": "x"}, 400),
    ({"username": "x", "password": "y", "api_key": "z"}, 400),
    ({"username": "x", "password": "y", "remember": "yes"}, 400),
    ({"username": "x", "password": 5}, 400),
    ({"username": "", "password": "y"}, 400),
    ({"username": "x" * 256, "password": "y"}, 400),
    ([], 400),
])
def test_sign_in_rejects_malformed_bodies(posthaste, body, code):
    d = posthaste()
    r = login(d, body)
    assert r.status == code and r.json()["error"]["code"] == "invalid_request", r.body


def test_sign_in_needs_json_and_our_own_origin(posthaste):
    d = posthaste()
    acct = account(d)
    good = {"username": acct["smtp_username"], "password": acct["smtp_password"]}
    # A form on another site can only send form encodings: refused.
    r = d.http("POST", "/auth/login", body="username=a&password=b",
               headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 415 and "Set-Cookie" not in r.headers
    r = login(d, good, headers={"Origin": "http://evil.example"})
    assert r.status == 403 and r.json()["error"]["code"] == "csrf"
    r = login(d, good, headers={"Sec-Fetch-Site": "cross-site"})
    assert r.status == 403 and "Set-Cookie" not in r.headers
    r = login(d, good, headers={"Origin": d.http_url, "Sec-Fetch-Site": "same-origin"})
    assert r.status == 200


def test_sign_in_body_limit(posthaste):
    d = posthaste()
    acct = account(d)
    base = json.dumps({"username": acct["smtp_username"], "password": acct["smtp_password"]})
    for size, want in [(LOGIN_BODY_MAX - 1, 200), (LOGIN_BODY_MAX, 200), (LOGIN_BODY_MAX + 1, 413)]:
        raw = base[:-1] + " " * (size - len(base)) + "}"  # JSON white space
        assert len(raw) == size
        r = login(d, None, raw=raw)
        assert r.status == want, (size, r.status, r.body)


def test_failed_sign_ins_are_throttled(posthaste):
    d = posthaste()
    acct = account(d)
    wrong = {"username": acct["smtp_username"], "password": "not-it"}
    good = {"username": acct["smtp_username"], "password": acct["smtp_password"]}
    r = login(d, wrong)
    assert r.status == 401 and r.json()["error"]["code"] == "unauthorized"
    # Right away, even the right password is not heard: 429 and when to come back.
    r = login(d, good)
    assert r.status == 429 and r.json()["error"]["code"] == "too_many_attempts"
    assert r.reason == "Too Many Requests"
    assert int(r.headers["Retry-After"]) >= 1
    time.sleep(0.3)  # THROTTLE_BASE_MS after one failure
    assert login(d, wrong).status == 401
    time.sleep(0.3)  # two failures: 500 ms now
    assert login(d, good).status == 429
    time.sleep(0.3)
    assert login(d, good).status == 200
    # A success forgets the failures.
    assert login(d, wrong).status == 401
    time.sleep(0.3)
    assert login(d, good).status == 200
    d.wait_for_log("http sign-in failed ip=127.0.0.1")


def test_idle_sessions_expire(posthaste):
    d = posthaste(config="dashboard_session_idle = 1s\n")
    s = Session(d, account(d))
    assert s.req("GET", "/api/v1/messages", csrf=False).status == 200
    time.sleep(1.3)
    assert s.req("GET", "/api/v1/messages", csrf=False).status == 401
    assert s.req("GET", "/auth/session", csrf=False).status == 401


def test_sessions_end_at_their_lifetime_even_when_used(posthaste):
    d = posthaste(config="dashboard_session_lifetime = 2s\n")
    s = Session(d, account(d))
    assert "Max-Age=2" in s.set_cookie
    for _ in range(4):  # in use the whole time
        assert s.req("GET", "/auth/session", csrf=False).status == 200
        time.sleep(0.4)
    time.sleep(0.6)
    assert s.req("GET", "/auth/session", csrf=False).status == 401


def test_sessions_survive_a_restart(posthaste):
    d = posthaste()
    s = Session(d, account(d))
    d.stop()
    d.start()
    assert s.req("GET", "/auth/session", csrf=False).status == 200


# -- the queue, through the session --------------------------------------------


@pytest.fixture
def deferred(world):
    """A daemon with one delivered and one deferred recipient (no retry
    for an hour), and a signed-in session."""
    d = world.start(config=SLOW_RETRY)
    pid = submit(d, [f"alice@{RCPT_DOMAIN}", f"rcpt451@{RCPT_DOMAIN}"])
    wait_events(d, pid, f"rcpt451@{RCPT_DOMAIN}", ["deferred"])
    wait_events(d, pid, f"alice@{RCPT_DOMAIN}", ["delivered"])
    return d, pid, Session(d, d.acct)


def attempts(d, pid, rcpt):
    con = db(d)
    try:
        return con.execute(
            "SELECT r.attempts FROM recipients r JOIN messages m ON m.id = r.message_id"
            " WHERE m.public_id = ? AND r.rcpt = ?", (pid, rcpt)).fetchone()[0]
    finally:
        con.close()


def test_queue_lists_deferred_with_the_last_reply(deferred):
    d, pid, s = deferred
    r = s.req("GET", "/api/v1/queue", csrf=False)
    assert r.status == 200
    (row,) = r.json()["data"]
    assert row["message"] == pid and row["recipient"] == f"rcpt451@{RCPT_DOMAIN}"
    assert row["status"] == "deferred" and row["attempts"] == 1
    assert row["subject"] == "order 1234" and row["next_attempt_at"]
    assert row["last"]["smtp_code"] == 451 and row["last"]["enhanced_code"] == "4.3.0"
    assert "Temporary lookup failure" in row["last"]["response"]
    assert row["last"]["mx_host"] == f"mx.{RCPT_DOMAIN}" and row["last"]["remote_ip"] == "127.0.0.2"
    assert s.req("GET", "/api/v1/queue?status=queued", csrf=False).json()["data"] == []
    assert s.req("GET", "/api/v1/queue?status=delivered", csrf=False).status == 400
    assert s.req("GET", "/api/v1/queue?limit=0", csrf=False).status == 400
    assert s.req("GET", "/api/v1/queue?limit=501", csrf=False).status == 400
    assert s.req("GET", "/api/v1/queue?page=2", csrf=False).status == 400


def test_queue_paging_with_the_cursor(world):
    d = world.start(config=SLOW_RETRY)
    pids = [submit(d, [f"rcpt451@{RCPT_DOMAIN}", f"rcpt452@{RCPT_DOMAIN}"]) for _ in range(3)]
    for p in pids:
        wait_events(d, p, f"rcpt452@{RCPT_DOMAIN}", ["deferred"])
    s = Session(d, d.acct)
    seen, cursor = [], None
    while True:
        r = s.req("GET", "/api/v1/queue?limit=4" + (f"&cursor={cursor}" if cursor else ""),
                  csrf=False).json()
        seen += [(x["message"], x["recipient"]) for x in r["data"]]
        cursor = r["next_cursor"]
        if cursor is None:
            break
    want = [(p, f"rcpt45{k}@{RCPT_DOMAIN}") for p in reversed(pids) for k in (2, 1)]
    assert seen == want  # newest first, each once


def test_retry_now_makes_an_attempt_at_once(deferred):
    d, pid, s = deferred
    rcpt = f"rcpt451@{RCPT_DOMAIN}"
    r = s.req("POST", f"/api/v1/queue/{pid}/retry?recipient={rcpt}")
    assert r.status == 202 and r.json() == {"recipients": 1}
    deadline = time.monotonic() + 20
    while attempts(d, pid, rcpt) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert attempts(d, pid, rcpt) == 2
    assert status(d, pid, rcpt) == "deferred"


def test_delete_takes_one_recipient_out(deferred):
    d, pid, s = deferred
    rcpt = f"rcpt451@{RCPT_DOMAIN}"
    r = s.req("DELETE", f"/api/v1/queue/{pid}?recipient={rcpt}")
    assert r.status == 200 and r.json() == {"recipients": 1}
    assert status(d, pid, rcpt) == "deleted"
    assert status(d, pid, f"alice@{RCPT_DOMAIN}") == "delivered"
    assert s.req("GET", "/api/v1/queue", csrf=False).json()["data"] == []
    # Again: nothing left to act on, and it says so.
    assert s.req("DELETE", f"/api/v1/queue/{pid}?recipient={rcpt}").json() == {"recipients": 0}


def test_state_changes_need_the_csrf_token_and_our_origin(deferred):
    d, pid, s = deferred
    path = f"/api/v1/queue/{pid}/retry"
    for kw in [dict(csrf=False),
               dict(headers={"X-CSRF-Token": "0" * 64}),
               dict(headers={"Origin": "http://evil.example"}),
               dict(headers={"Origin": "null"}),
               dict(headers={"Sec-Fetch-Site": "cross-site"}),
               dict(headers={"Sec-Fetch-Site": "same-site"})]:
        r = s.req("POST", path, **kw)
        assert r.status == 403 and r.json()["error"]["code"] == "csrf", (kw, r.body)
        r = s.req("DELETE", f"/api/v1/queue/{pid}", **kw)
        assert r.status == 403, kw
    assert attempts(d, pid, f"rcpt451@{RCPT_DOMAIN}") == 1
    assert status(d, pid, f"rcpt451@{RCPT_DOMAIN}") == "deferred"
    # A bearer key is no cookie: no CSRF token is needed (nor possible).
    r = d.http("POST", path, token=d.acct["api_key"])
    assert r.status == 202


def test_other_accounts_see_and_touch_nothing(deferred):
    d, pid, s = deferred
    other = account(d, name="globex")
    o = Session(d, other)
    assert o.req("GET", "/api/v1/queue", csrf=False).json()["data"] == []
    assert o.req("GET", f"/api/v1/messages/{pid}", csrf=False).status == 404
    for method, path in [("POST", f"/api/v1/queue/{pid}/retry"),
                         ("DELETE", f"/api/v1/queue/{pid}"),
                         ("DELETE", f"/api/v1/queue/{pid}?recipient=rcpt451@{RCPT_DOMAIN}")]:
        r = o.req(method, path)
        assert r.status == 404, (method, path, r.body)
        r = d.http(method, path, token=other["api_key"])
        assert r.status == 404
    stats = o.req("GET", "/api/v1/stats?bucket=hour", csrf=False).json()
    assert stats["series"] == [] and stats["total"]["deferred"] == 0
    assert status(d, pid, f"rcpt451@{RCPT_DOMAIN}") == "deferred"
    assert attempts(d, pid, f"rcpt451@{RCPT_DOMAIN}") == 1


def test_queue_commands_reject_bad_ids_and_methods(deferred):
    d, pid, s = deferred
    assert s.req("POST", "/api/v1/queue/NOT-AN-ID/retry").status == 404
    assert s.req("POST", f"/api/v1/queue/{pid}/retry?recipient=nobody@{RCPT_DOMAIN}").status == 404
    assert s.req("GET", f"/api/v1/queue/{pid}/retry", csrf=False).status == 405
    assert s.req("POST", f"/api/v1/queue/{pid}").status == 405
    assert s.req("POST", f"/api/v1/queue/{pid}/retry?when=now").status == 400


# -- statistics over time ----------------------------------------------------------


def test_stats_series_by_hour_and_day(world):
    d = world.start(config=SLOW_RETRY)
    pid = submit(d, [f"alice@{RCPT_DOMAIN}", f"rcpt550@{RCPT_DOMAIN}", f"rcpt451@{RCPT_DOMAIN}"])
    wait_events(d, pid, f"rcpt451@{RCPT_DOMAIN}", ["deferred"])
    wait_events(d, pid, f"rcpt550@{RCPT_DOMAIN}", ["bounced"])
    wait_events(d, pid, f"alice@{RCPT_DOMAIN}", ["delivered"])
    key = d.acct["api_key"]
    for bucket, secs in [("hour", 3600), ("day", 86400)]:
        r = d.http("GET", f"/api/v1/stats?bucket={bucket}&domain={RCPT_DOMAIN}", token=key)
        assert r.status == 200
        out = r.json()
        assert out["bucket_seconds"] == secs
        (pt,) = out["series"]
        assert (pt["received"], pt["delivered"], pt["bounced"], pt["deferred"]) == (3, 1, 1, 1)
        assert pt["acceptance_rate"] == 0.5
        at = time.mktime(time.strptime(pt["at"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
        assert at % secs == 0 and time.time() - secs < at <= time.time()
    assert d.http("GET", "/api/v1/stats?bucket=week", token=key).status == 400
    # A range that holds nothing has no points.
    r = d.http("GET", "/api/v1/stats?bucket=hour&until=2020-01-01T00:00:00Z", token=key)
    assert r.json()["series"] == []


# -- HTTPS ---------------------------------------------------------------------------


def test_https_listener_sets_secure_cookies(posthaste):
    from netutil import free_port
    port = free_port(("127.0.0.1",))
    d = posthaste(config=f"https_listen = 127.0.0.1:{port}\n")
    acct = account(d)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    body = json.dumps({"username": acct["smtp_username"], "password": acct["smtp_password"]})

    def req(method, path, body=None, headers=None):
        c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, r.headers, r.read()
        finally:
            c.close()

    d.wait_for_log(f"http=127.0.0.1:{d.http_port} https=127.0.0.1:{port} ")
    st, hdrs, _ = req("GET", "/")
    assert st == 200 and hdrs["Content-Type"].startswith("text/html")
    # Over TLS the origin is https://: the http:// one is another origin.
    st, hdrs, _ = req("POST", "/auth/login", body, {"Content-Type": "application/json",
                                                     "Origin": f"http://127.0.0.1:{port}"})
    assert st == 403
    st, hdrs, out = req("POST", "/auth/login", body, {"Content-Type": "application/json",
                                                       "Origin": f"https://127.0.0.1:{port}"})
    assert st == 200, out
    sc = hdrs["Set-Cookie"]
    assert "; Secure" in sc and "HttpOnly" in sc and "SameSite=Strict" in sc
    token = re.match(r"ph_session=([^;]*)", sc).group(1)
    st, _, out = req("GET", "/auth/session", headers={"Cookie": f"ph_session={token}"})
    assert st == 200 and json.loads(out)["account"] == "acme"


def test_stats_rollup_matches_the_rows_through_status_changes_and_an_upgrade(world):
    """Statistics read the hourly rollup (whole-hour ranges) or count the rows
    (any other range): both must agree after inserts, status changes and a
    delete, and a store from before the rollup is counted once at start."""
    d = world.start(config=SLOW_RETRY)
    pid = submit(d, [f"alice@{RCPT_DOMAIN}", f"rcpt550@{RCPT_DOMAIN}", f"rcpt451@{RCPT_DOMAIN}",
                     f"rcpt452@{RCPT_DOMAIN}"])
    for r, ev in [("rcpt451", "deferred"), ("rcpt452", "deferred"), ("rcpt550", "bounced"),
                  ("alice", "delivered")]:
        wait_events(d, pid, f"{r}@{RCPT_DOMAIN}", [ev])
    key = d.acct["api_key"]
    assert d.http("DELETE", f"/api/v1/queue/{pid}?recipient=rcpt452@{RCPT_DOMAIN}",
                  token=key).status == 200

    def both():
        rollup = d.http("GET", "/api/v1/stats", token=key).json()
        rows = d.http("GET", "/api/v1/stats?since=1", token=key).json()  # not on an hour
        return rollup, rows

    rollup, rows = both()
    assert rollup["total"] == rows["total"] and rollup["by_domain"] == rows["by_domain"]
    net = rollup["by_domain"][RCPT_DOMAIN]
    assert (net["delivered"], net["bounced"], net["deferred"], net["deleted"]) == (1, 1, 1, 1)
    # The sender's domain got the DSN for the bounce: counted as delivered.
    assert rollup["total"]["delivered"] == 2
    d.stop()
    con = sqlite3.connect(os.path.join(d.data_dir, "posthaste.db"))
    try:
        con.execute("DROP TABLE stats_hourly")
        con.execute("DELETE FROM meta WHERE key = 'stats_hourly'")
        con.commit()
    finally:
        con.close()
    d.start()
    again, _ = both()
    assert again["total"] == rollup["total"] and again["by_domain"] == rollup["by_domain"]
    d.stop()
    d.start()  # counted once, not again at every start
    third, _ = both()
    assert third["by_domain"] == rollup["by_domain"]


def test_dashboard_origin_behind_a_tls_proxy(posthaste):
    """A proxy terminates TLS for https://mail.example.test and forwards plain
    HTTP: that origin, and only it, may sign in, and the cookie is Secure."""
    d = posthaste(config="dashboard_origin = https://mail.example.test\n")
    acct = account(d)
    good = {"username": acct["smtp_username"], "password": acct["smtp_password"]}
    r = login(d, good, headers={"Origin": d.http_url})
    assert r.status == 403 and r.json()["error"]["code"] == "csrf"
    r = login(d, good, headers={"Origin": "https://mail.example.test"})
    assert r.status == 200
    token, sc = cookie_of(r)
    assert "; Secure" in sc
    csrf = r.json()["csrf_token"]
    hdrs = {"Cookie": f"ph_session={token}", "X-CSRF-Token": csrf}
    assert d.http("POST", "/auth/logout", headers=dict(hdrs, Origin=d.http_url)).status == 403
    assert d.http("POST", "/auth/logout",
                  headers=dict(hdrs, Origin="https://mail.example.test")).status == 200
