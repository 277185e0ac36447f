"""The web dashboard (issue 6) in a real browser, against a real daemon.

Each test starts the `world` of test_delivery (nsd, fake MXes, posthaste),
sends one message to a recipient the fake MX accepts, one it rejects with
550 and one it defers with 451 (with a one-hour retry schedule, so the
deferred one waits for "Retry now"), then runs a scenario of
tests/browser/dashboard.mjs (playwright-core driving the system's Chromium)
and checks the daemon's side of it from here: what the fake MX saw, the
attempts and statuses in the store, and the refusals of cross-site requests.
test_domains_page adds sender domains with `posthaste domain add` and serves
their records from nsd (one domain without its DKIM keys, until the browser's
"Check now").

Screenshots of every page go to $PH_ARTIFACTS, or build/test-artifacts/
dashboard/ in the repository. The browser driver's packages are installed
with `npm ci` in tests/browser when node_modules is missing (a failure to do
so fails the tests); Chromium is /usr/bin/chromium or $CHROMIUM.

test_dist_is_built_from_sources rebuilds web/ into a temporary directory and
compares it byte for byte with the committed web/dist.
"""

import filecmp
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from phclient import db
from test_delivery import RCPT_DOMAIN, status, submit, wait_events, world  # noqa: F401
from test_domains import HOST, wait_domain

REPO = Path(__file__).resolve().parents[2]
BROWSER_DIR = REPO / "tests" / "browser"
WEB_DIR = REPO / "web"
ARTIFACTS = Path(os.environ.get("PH_ARTIFACTS") or REPO / "build" / "test-artifacts" / "dashboard")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
NODE = shutil.which("node") or "/usr/bin/node"
NPM = shutil.which("npm") or "/usr/bin/npm"
DRIVER_TIMEOUT = 90  # seconds for one scenario, browser start included
NPM_TIMEOUT = 300

DELIVERED = f"alice@{RCPT_DOMAIN}"
BOUNCED = f"rcpt550@{RCPT_DOMAIN}"
DEFERRED = f"rcpt451@{RCPT_DOMAIN}"
SUBJECT = "order 1234"
SLOW_RETRY = "mta_retry_schedule = 1h\n"


# -- set-up ------------------------------------------------------------------------------


def npm_ci(where):
    """Install a folder's locked packages; fail (not skip) when that cannot be done."""
    try:
        p = subprocess.run([NPM, "ci", "--no-audit", "--no-fund"], cwd=where, capture_output=True,
                           text=True, timeout=NPM_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as e:
        pytest.fail(f"npm ci in {where} failed: {e}", pytrace=False)
    if p.returncode != 0:
        pytest.fail(f"npm ci in {where} exited {p.returncode}:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}",
                    pytrace=False)


def installed(where):
    """Whether every package that where/package.json names is in node_modules."""
    pkg = json.loads((where / "package.json").read_text())
    names = list(pkg.get("dependencies", {})) + list(pkg.get("devDependencies", {}))
    return all((where / "node_modules" / n / "package.json").is_file() for n in names)


@pytest.fixture(scope="session")
def browser_ready():
    """tests/browser's node_modules (npm ci when missing) and Chromium."""
    if not installed(BROWSER_DIR):
        npm_ci(BROWSER_DIR)
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set CHROMIUM)",
                    pytrace=False)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return True


def drive(scenario, params):
    """Run one browser scenario; return the RESULT objects it printed."""
    env = dict(os.environ, PH_DASH=json.dumps(dict(params, artifacts=str(ARTIFACTS))),
               CHROMIUM=CHROMIUM)
    try:
        p = subprocess.run([NODE, "dashboard.mjs", scenario], cwd=BROWSER_DIR, env=env,
                           capture_output=True, text=True, timeout=DRIVER_TIMEOUT)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"browser scenario {scenario} ran longer than {DRIVER_TIMEOUT}s\n"
                    f"{e.stdout or ''}\n{e.stderr or ''}", pytrace=False)
    if p.returncode != 0:
        pytest.fail(f"browser scenario {scenario} failed (screenshots in {ARTIFACTS}):\n"
                    f"{p.stderr.strip()}\n{p.stdout.strip()}", pytrace=False)
    return [json.loads(line[7:]) for line in p.stdout.splitlines() if line.startswith("RESULT ")]


class Dash:
    """A daemon with one message to three recipients, each in its final
    state for now: delivered, bounced, deferred (attempt 1 of many)."""

    def __init__(self, world, config=""):
        self.d = d = world.start(config=SLOW_RETRY + config)
        self.world = world
        self.pid = submit(d, [DELIVERED, BOUNCED, DEFERRED])
        self.queue_id = world.mx.wait_for(1, timeout=20)[0].queue_id
        wait_events(d, self.pid, DELIVERED, ["delivered"])
        wait_events(d, self.pid, BOUNCED, ["bounced"])
        wait_events(d, self.pid, DEFERRED, ["deferred"])
        self.key = d.acct["api_key"]

    def params(self, **extra):
        p = dict(base_url=self.d.http_url, username=self.d.acct["smtp_username"],
                 password=self.d.acct["smtp_password"], api_key=self.key, message=self.pid,
                 subject=SUBJECT, delivered=DELIVERED, bounced=BOUNCED, deferred=DEFERRED,
                 queue_id=self.queue_id, mx_host=f"mx.{RCPT_DOMAIN}", remote_ip="127.0.0.2",
                 domain=RCPT_DOMAIN)
        p.update(extra)
        return p

    def attempts(self, rcpt):
        """Delivery attempts of rcpt: its events other than 'received' and 'deleted'."""
        con = db(self.d)
        try:
            rows = con.execute(
                "SELECT e.type FROM events e JOIN recipients r ON r.id = e.recipient_id"
                " JOIN messages m ON m.id = e.message_id WHERE m.public_id = ? AND r.rcpt = ?",
                (self.pid, rcpt)).fetchall()
        finally:
            con.close()
        return sum(1 for (t,) in rows if t in ("delivered", "bounced", "deferred"))

    def api_recipient(self, rcpt):
        r = self.d.http("GET", f"/api/v1/messages/{self.pid}", token=self.key)
        assert r.status == 200, r
        return [x for x in r.json()["recipients"] if x["recipient"] == rcpt][0]


@pytest.fixture
def dash(world, browser_ready):  # noqa: F811 - world is the imported fixture
    """Factory: dash(config="") -> Dash (started daemon, message sent and settled)."""
    return lambda config="": Dash(world, config)


def wait_until(what, fn, timeout=20):
    deadline = time.monotonic() + timeout
    got = None
    while time.monotonic() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what} (last: {got!r})")


# -- scenarios -------------------------------------------------------------------------


def test_delivered_search_timeline_transcript_and_evidence(dash):
    w = dash()
    (res,) = drive("delivered", w.params())
    reply = f"250 2.0.0 Ok: queued as {w.queue_id}"
    clip = res["clipboard"]
    assert reply in clip and w.queue_id in clip, clip
    # The clipboard holds exactly the text evidence the API gives.
    text = w.d.http("GET", f"/api/v1/messages/{w.pid}/evidence?recipient={DELIVERED}&format=text",
                    token=w.key)
    assert text.status == 200 and text.text == clip
    assert Path(res["download"]).read_text() == clip
    assert res["suggested"] == f"evidence-{w.pid}-{DELIVERED}.txt"


def test_bounced_and_deferred_pages(dash):
    w = dash()
    drive("bounced_deferred", w.params())


def test_queue_retry_now_makes_another_attempt(dash):
    w = dash()
    assert w.attempts(DEFERRED) == 1
    assert w.api_recipient(DEFERRED)["attempts"] == 1
    drive("queue_retry", w.params())
    wait_until("a second attempt", lambda: w.attempts(DEFERRED) == 2)
    wait_until("attempts = 2 in the API", lambda: w.api_recipient(DEFERRED)["attempts"] == 2)
    assert status(w.d, w.pid, DEFERRED) == "deferred"  # 451 again, next try in an hour


def test_queue_delete_with_confirmation(dash):
    w = dash()
    assert status(w.d, w.pid, DEFERRED) == "deferred"
    drive("queue_delete", w.params())
    wait_until("status deleted", lambda: status(w.d, w.pid, DEFERRED) == "deleted")
    assert w.attempts(DEFERRED) == 1
    assert w.api_recipient(DEFERRED)["status"] == "deleted"
    r = w.d.http("GET", "/api/v1/queue", token=w.key)
    assert r.status == 200 and not [x for x in r.json()["data"] if x["recipient"] == DEFERRED]


def test_activity_paging_and_filters(dash):
    w = dash()
    for i in range(55):
        submit(w.d, [f"page{i}@{RCPT_DOMAIN}"])
    drive("paging", w.params())


STAT_CARDS = {"Delivered": "delivered", "Bounced": "bounced", "Deferred": "deferred"}
STATUSES = ("queued", "deferred", "delivered", "bounced", "expired", "suppressed", "deleted")


def stats_total(w, domain=None):
    """The API's totals (last 7 days), for every domain or one."""
    r = w.d.http("GET", "/api/v1/stats?bucket=hour" + (f"&domain={domain}" if domain else ""), token=w.key)
    assert r.status == 200, r
    return r.json()["total"]


def cards(total):
    """What the page's totals cards show for the API's totals."""
    out = {label: str(total.get(k, 0)) for label, k in STAT_CARDS.items()}
    out["Received"] = str(sum(total.get(k, 0) for k in STATUSES))
    return out


def test_statistics_page(dash):
    w = dash()
    # The bounce's DSN to the sender's domain is delivered too: 2 delivered in all.
    wait_until("the DSN delivered", lambda: stats_total(w).get("delivered") == 2)
    everything = stats_total(w)
    at_domain = stats_total(w, RCPT_DOMAIN)
    assert {k: at_domain.get(k, 0) for k in STAT_CARDS.values()} == \
        {"delivered": 1, "bounced": 1, "deferred": 1}, at_domain
    assert stats_total(w, RCPT_DOMAIN.upper()) == at_domain  # case-insensitive
    assert cards(everything) != cards(at_domain)
    drive("statistics", w.params(totals_all=cards(everything), totals_domain=cards(at_domain)))


def test_every_page_and_sign_out(dash):
    w = dash()
    drive("tour", w.params())


def test_sign_in_with_api_key_and_wrong_password(dash):
    w = dash()
    drive("api_key", w.params())
    drive("wrong_password", w.params())


def test_expired_session_goes_to_login(dash):
    w = dash("dashboard_session_idle = 2s\n")
    drive("expired", w.params(wait_seconds=3))


# -- sender domains -----------------------------------------------------------------------

GOOD_DOMAIN = "shop.example.test"  # every record published: verified
BAD_DOMAIN = "news.example.test"  # DKIM keys missing from DNS at first: not verified


def add_domain(d, name):
    """`posthaste domain add` for the dashboard's account: the keys' selectors and records."""
    return d.cli_json("domain", "add", name, "--account", d.acct["account"], "--ip", "127.0.0.1",
                      "--hostname", HOST)


def publish_domain(dnssrv, name, records, skip=()):
    """Serve domain add's records (those whose purpose is not in skip) in name's zone."""
    recs = [("@", "MX", f"10 mx.{name}."), ("mx", "A", "127.0.0.3")]
    for r in records:
        if r["purpose"] not in skip:
            recs.append((r["name"][: -len(name)].rstrip(".") or "@", r["type"], r["value"]))
    return dnssrv.zone(name, recs)


def verify_domain(d, dnssrv, name):
    p = d.cli("domain", "verify", name, "--dns", dnssrv.dns_arg, "--hostname", HOST, "--json")
    return p.returncode, json.loads(p.stdout)


def test_domains_page(dash):
    w = dash()
    d, dnssrv = w.d, w.world.dns
    good = add_domain(d, GOOD_DOMAIN)
    bad = add_domain(d, BAD_DOMAIN)
    publish_domain(dnssrv, GOOD_DOMAIN, good["records"])
    publish_domain(dnssrv, BAD_DOMAIN, bad["records"], skip=("dkim",))
    rc, out = verify_domain(d, dnssrv, GOOD_DOMAIN)
    assert rc == 0 and out["verified"] is True, out
    rc, out = verify_domain(d, dnssrv, BAD_DOMAIN)
    assert rc == 1 and out["verified"] is False, out
    before = wait_domain(d, w.key, BAD_DOMAIN, False)
    assert [c for c in before["checks"] if c["check"] == "dkim" and c["result"] == "fail"], before

    params = w.params(good_domain=GOOD_DOMAIN, bad_domain=BAD_DOMAIN,
                      good_selectors=good["selectors"], bad_selectors=bad["selectors"],
                      added_domain="new.example.test")
    drive("domains", params)
    # The form added a third domain, with its records (shown on the page).
    r = d.http("GET", "/api/v1/domains/new.example.test", token=w.key)
    assert r.status == 200 and r.json()["verified"] is False, r

    # The missing DKIM keys are published; "Check now" finds them.
    publish_domain(dnssrv, BAD_DOMAIN, bad["records"])
    drive("domains_check", params)
    after = wait_domain(d, w.key, BAD_DOMAIN, True, timeout=5)
    assert after["checked_at"] != before["checked_at"]
    assert all(c["result"] == "pass" for c in after["checks"]), after["checks"]


# -- cross-site requests ------------------------------------------------------------------


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def http(d, method, path, body=None, headers=None):
    """(status, parsed JSON or text, headers) with urllib; 4xx/5xx are answers too."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(d.http_url + path, data=data, method=method, headers=headers or {})
    if data is not None:
        req.add_header("Content-Type", "application/json")
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(req, timeout=10) as r:
            status_, raw, hdrs = r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        status_, raw, hdrs = e.code, e.read(), e.headers
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = raw.decode("utf-8", "replace")
    return status_, parsed, hdrs


def test_cross_site_requests_are_refused(dash):
    w = dash()
    d = w.d
    origin = d.http_url
    st, body, hdrs = http(d, "POST", "/auth/login",
                          {"username": d.acct["smtp_username"], "password": d.acct["smtp_password"]},
                          {"Origin": origin})
    assert st == 200, body
    cookie = hdrs["Set-Cookie"].split(";", 1)[0]
    assert cookie.startswith("ph_session=")
    assert "HttpOnly" in hdrs["Set-Cookie"]
    csrf = body["csrf_token"]
    retry = f"/api/v1/queue/{w.pid}/retry?recipient={DEFERRED}"
    delete = f"/api/v1/queue/{w.pid}?recipient={DEFERRED}"

    refused = [
        ("POST", retry, {"Cookie": cookie, "X-CSRF-Token": csrf, "Origin": "http://evil.example"}),
        ("POST", retry, {"Cookie": cookie, "X-CSRF-Token": csrf, "Origin": "http://evil.example",
                         "Sec-Fetch-Site": "cross-site"}),
        ("POST", retry, {"Cookie": cookie, "Origin": origin}),
        ("POST", retry, {"Cookie": cookie}),
        ("POST", retry, {"Cookie": cookie, "X-CSRF-Token": "0" * len(csrf), "Origin": origin}),
        ("DELETE", delete, {"Cookie": cookie, "Origin": origin}),
        ("DELETE", delete, {"Cookie": cookie, "X-CSRF-Token": csrf, "Origin": "http://evil.example"}),
        ("POST", "/auth/logout", {"Cookie": cookie, "Origin": origin}),
    ]
    for method, path, headers in refused:
        st, body, _ = http(d, method, path, headers=headers)
        assert st == 403, (method, path, headers, st, body)
        assert body["error"]["code"] == "csrf", (method, path, headers, body)
    # Sign-in from another origin is refused too (login CSRF).
    st, body, hdrs = http(d, "POST", "/auth/login",
                          {"username": d.acct["smtp_username"], "password": d.acct["smtp_password"]},
                          {"Origin": "http://evil.example"})
    assert st == 403 and "Set-Cookie" not in hdrs, body

    # Pages on other origins, in the browser, with the user signed in.
    (res,) = drive("cross_site", w.params())
    assert res["responses"], res

    # Nothing changed ...
    assert w.attempts(DEFERRED) == 1
    assert status(d, w.pid, DEFERRED) == "deferred"
    st, body, _ = http(d, "GET", "/auth/session", headers={"Cookie": cookie})
    assert st == 200, body  # the session survived the refused logout
    # ... and the same request with the token from the same origin works.
    st, body, _ = http(d, "POST", retry, headers={"Cookie": cookie, "X-CSRF-Token": csrf,
                                                  "Origin": origin})
    assert st == 202 and body == {"recipients": 1}, body
    wait_until("the retry", lambda: w.attempts(DEFERRED) == 2)


# -- the committed build ---------------------------------------------------------------------


def test_dist_is_built_from_sources():
    """web/dist is exactly what `npm run build` makes from web/src (and the
    lockfile): nobody edited it by hand or forgot to rebuild."""
    if not installed(WEB_DIR):
        npm_ci(WEB_DIR)
    dist = WEB_DIR / "dist"
    assert (dist / "index.html").is_file(), "web/dist is missing: cd web && npm ci && npm run build"
    with tempfile.TemporaryDirectory(prefix="ph-web-") as out:
        p = subprocess.run([NODE, "build.mjs", "--outdir", out], cwd=WEB_DIR, capture_output=True,
                           text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        built = sorted(str(f.relative_to(out)) for f in Path(out).rglob("*") if f.is_file())
        have = sorted(str(f.relative_to(dist)) for f in dist.rglob("*") if f.is_file())
        assert built == have, (
            f"web/dist is stale: the build makes {built}, web/dist has {have}. "
            "Run: cd web && npm ci && npm run build")
        for name in built:
            assert filecmp.cmp(Path(out) / name, dist / name, shallow=False), \
                f"web/dist/{name} differs from the build: cd web && npm run build"
        assert not [n for n in built if n.endswith(".map")], built
        # A second build gives the same bytes (deterministic).
        p = subprocess.run([NODE, "build.mjs", "--outdir", out], cwd=WEB_DIR, capture_output=True,
                           text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        for name in built:
            assert filecmp.cmp(Path(out) / name, dist / name, shallow=False), name
