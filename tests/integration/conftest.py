"""conftest - shared fixtures for posthaste's integration tests.

Run:  cd tests/integration && /usr/bin/python3 -m pytest -q

Fixtures (all factories clean up after the test):

  dns_server(port=None) -> dnsfix.DnsServer, started      (function scope)
  dns                   -> one started DnsServer           (function scope)
  fake_mx(addr="127.0.0.2", port=mx_port, tls_names=(), **options)
                        -> fakemx.FakeMX, started. options as in fakemx's
                           doc; starttls=True without tls_cert gets a
                           certificate from test_ca for hostname (default
                           mx.fake.test; pass the MX name the DNS gives),
                           tls_names and addr; mx.ca_cert_path is then set,
                           mx.cert_path is there for tlsfix.tlsa_rdata()
  mx_port               -> a port free on 127.0.0.1-127.0.0.9, the default
                           port of every fake_mx in the test (--mx-port)
  test_ca               -> tlsfix.TestCA                   (session scope)
  posthaste_bin         -> path of the binary (POSTHASTE_BIN or build/posthaste)
  posthaste(args=(), config=None, env=None, dns=None, mx_port=None,
            hostname=None, start=True, **kw) -> daemon.Posthaste, started
                           dns= adds --dns ADDR@PORT, mx_port= --mx-port N,
                           hostname= --hostname NAME. Skips the test when the
                           binary is missing unless POSTHASTE_REQUIRE_BIN=1.

Failure reports: every fixture registers its logs (NSD's log, the fake
MXes' transcripts, the daemon's output); when a test fails they are added to
its report as sections. A daemon still running at teardown is stopped with
SIGTERM and must exit 0 without sanitizer reports, and a daemon that died by
itself fails the test, unless the test already failed.

Time limits: every wait in the fixtures is bounded, and each test's body
runs under an alarm (POSTHASTE_TEST_TIMEOUT seconds, default 300, or
@pytest.mark.timeout(N)) that raises TimeLimitExceeded in the test.
"""

import os
import shutil
import signal
import tempfile
from pathlib import Path

import pytest

from daemon import Posthaste
from dnsfix import DnsServer
from fakemx import FakeMX
from netutil import free_port
from tlsfix import TestCA

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BIN = REPO_ROOT / "build" / "posthaste"
TEST_TIMEOUT = float(os.environ.get("POSTHASTE_TEST_TIMEOUT", "300"))
LOG_SECTION_MAX = 60000  # characters of each log put into a failure report
# Fake MXes use these loopback addresses; mx_port is free on all of them.
MX_ADDRS = tuple(f"127.0.0.{i}" for i in range(1, 10))


# -- hooks ---------------------------------------------------------------------


class TimeLimitExceeded(Exception):
    """Raised inside a test that ran longer than its time limit."""


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    """Run the test body under SIGALRM so a hang fails instead of blocking."""
    marker = item.get_closest_marker("timeout")
    seconds = float(marker.args[0]) if marker else TEST_TIMEOUT

    def on_alarm(signum, frame):
        raise TimeLimitExceeded(f"{item.nodeid} ran longer than {seconds:g}s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item (item.rep_setup, rep_call, ...)
    and, when setup or the test failed, attach the fixtures' logs.

    The logs go into the report itself rather than being printed by a
    finalizer: output printed during teardown is not shown for a test whose
    call phase failed.
    """
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
    if rep.failed:
        for title, source in getattr(item, "_posthaste_logs", []):
            try:
                text = source()
            except Exception as e:  # noqa: BLE001 - a report must not crash
                text = f"(could not read: {e!r})"
            if len(text) > LOG_SECTION_MAX:
                text = f"[... {len(text) - LOG_SECTION_MAX} chars cut]\n" + text[-LOG_SECTION_MAX:]
            rep.sections.append((title, text))


def _add_log(request, title, source):
    """Register a log to attach to the report if the test fails."""
    node = request.node
    if not hasattr(node, "_posthaste_logs"):
        node._posthaste_logs = []
    node._posthaste_logs.append((title, source))


def _test_failed(request):
    return any(getattr(request.node, "rep_" + w, None) is not None and
               getattr(request.node, "rep_" + w).failed for w in ("setup", "call"))


# -- DNS -------------------------------------------------------------------------


@pytest.fixture
def dns_server(request, tmp_path_factory):
    """Factory: dns_server(port=None) -> a started DnsServer (dnsfix)."""
    servers = []

    def make(port=None):
        d = DnsServer(tmp_path_factory.mktemp("nsd"), port=port)
        servers.append(d)
        _add_log(request, f"nsd log ({d.workdir})", d.log_text)
        return d.start()

    yield make
    for d in servers:
        d.stop()


@pytest.fixture
def dns(dns_server):
    """One started NSD (see dnsfix.DnsServer); add zones with dns.zone()."""
    return dns_server()


# -- TLS and fake MXes ----------------------------------------------------------------


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory):
    """A test certificate authority (tlsfix.TestCA), one per session."""
    return TestCA(tmp_path_factory.mktemp("ca"))


@pytest.fixture
def mx_port():
    """A TCP port free on 127.0.0.1-127.0.0.9: all fake MXes of a test share it."""
    return free_port(MX_ADDRS)


@pytest.fixture
def fake_mx(request, mx_port, test_ca):
    """Factory: fake_mx(addr="127.0.0.2", port=mx_port, tls_names=(), **options)
    -> started FakeMX (options: see fakemx's module doc)."""
    servers = []

    def make(addr="127.0.0.2", port=None, **options):
        hostname = options.setdefault("hostname", "mx.fake.test")
        tls_names = list(options.pop("tls_names", ()))
        issued = False
        if options.get("starttls") and not options.get("tls_cert"):
            options["tls_cert"] = test_ca.issue(hostname, *tls_names, ips=[addr])
            issued = True
        mx = FakeMX(addr=addr, port=port or mx_port, **options)
        if issued:
            mx.ca_cert_path = test_ca.ca_cert_path
        servers.append(mx)
        _add_log(request, f"fake MX {addr}:{mx.port} transcript", mx.transcript)
        return mx.start()

    yield make
    for mx in servers:
        mx.stop()


# -- the daemon -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def daemon_tmp_base(request, tmp_path_factory):
    """Parent of the daemons' work directories.

    Run as root, the daemon drops privileges (to its run_user, or nobody)
    after creating its data directory, so every directory above that must
    be traversable by that user. pytest's own temporary directories are
    0700, hence a separate 0711 directory under /tmp (or
    $POSTHASTE_TEST_TMP), removed at the end of a session without failures.
    """
    if os.geteuid() != 0:
        yield tmp_path_factory.mktemp("daemons")
        return
    base = Path(tempfile.mkdtemp(prefix="posthaste-it-", dir=os.environ.get("POSTHASTE_TEST_TMP")))
    base.chmod(0o711)
    yield base
    if request.session.testsfailed == 0:
        shutil.rmtree(base, ignore_errors=True)
    else:
        print(f"\nposthaste daemon work directories kept in {base}")


@pytest.fixture(scope="session")
def posthaste_bin():
    """Path of the binary under test: $POSTHASTE_BIN or <repo>/build/posthaste."""
    return Path(os.environ.get("POSTHASTE_BIN", DEFAULT_BIN))


@pytest.fixture
def posthaste(request, daemon_tmp_base, posthaste_bin):
    """Factory: posthaste(args=(), config=None, env=None, dns=None,
    mx_port=None, hostname=None, start=True, **kw) -> daemon.Posthaste.

    kw goes to Posthaste (smtp_port, http_port, data_dir). With start=False
    the instance is returned unstarted (call .start()).
    """
    instances = []

    def make(args=(), config=None, env=None, dns=None, mx_port=None, hostname=None,
             start=True, **kw):
        if not (posthaste_bin.is_file() and os.access(posthaste_bin, os.X_OK)):
            msg = (f"posthaste binary not built: {posthaste_bin} "
                   "(build it with cmake, or set POSTHASTE_BIN)")
            if os.environ.get("POSTHASTE_REQUIRE_BIN") == "1":
                pytest.fail(msg)
            pytest.skip(msg)
        extra = []
        if dns is not None:
            extra += ["--dns", dns.dns_arg]
        if mx_port is not None:
            extra += ["--mx-port", str(mx_port)]
        if hostname is not None:
            extra += ["--hostname", hostname]
        workdir = Path(tempfile.mkdtemp(prefix="posthaste", dir=daemon_tmp_base))
        workdir.chmod(0o711)  # see daemon_tmp_base
        d = Posthaste(posthaste_bin, workdir, args=extra + list(args), config=config,
                      env=env, **kw)
        instances.append(d)
        _add_log(request, f"posthaste log ({d.log_path})", d.log_text)
        if start:
            d.start()
        return d

    yield make

    problems = []
    for d in instances:
        crashed = d.crashed()
        if crashed is not None:
            problems.append(f"posthaste exited by itself with {crashed}")
            d.kill()
            continue
        if d.running:
            try:
                d.stop(check=False)
            except AssertionError as e:  # did not exit in time
                problems.append(str(e).splitlines()[0])
                continue
            rc = d.exit_codes[-1]
            if rc != 0:
                problems.append(f"posthaste exited with {rc} after SIGTERM at teardown")
        reports = d.sanitizer_reports()
        if reports:
            problems.append("sanitizer reports:\n  " + "\n  ".join(reports[:20]))
    if problems and not _test_failed(request):
        pytest.fail("\n".join(problems) + "\n" + "\n".join(d.log_tail() for d in instances),
                    pytrace=False)
