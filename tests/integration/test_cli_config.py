"""posthaste's command line and configuration: misuse gives one clear line.

Issue 2: `posthaste serve --smtp 127.0.0.1:0` style misuse, a missing config
file or a bad value each give a clear one-line error and a non-zero exit;
--version and --help work; serve answers /healthz and exits 0 on SIGTERM.
"""

import subprocess

import pytest


def run(posthaste_bin, *args, timeout=20):
    return subprocess.run([str(posthaste_bin), *args], capture_output=True, text=True,
                          timeout=timeout)


def one_line_error(p):
    assert p.returncode != 0, p
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith("posthaste: "), p.stderr
    return lines[0]


def test_version_and_help(posthaste_bin):
    p = run(posthaste_bin, "--version")
    assert p.returncode == 0 and p.stdout.startswith("posthaste "), p
    h = run(posthaste_bin, "--help")
    assert h.returncode == 0
    for word in ("serve", "account create", "--data-dir", "--smtp", "--mx-port"):
        assert word in h.stdout


@pytest.mark.parametrize("args, needle", [
    (["--smtp", "127.0.0.1:0"], "smtp"),
    (["--smtp", "127.0.0.1:65536"], "smtp"),
    (["--smtp", "nonsense"], "smtp"),
    (["--http", "127.0.0.1"], "http"),
    (["--mx-port", "0"], "mx_port"),
    (["--mx-port", "x25"], "mx_port"),
    (["--dns", "127.0.0.1"], "dns"),
    (["--log-level", "loud"], "log_level"),
    (["--frobnicate"], "--frobnicate"),
    (["-c", "/nonexistent/posthaste.conf"], "/nonexistent/posthaste.conf"),
])
def test_serve_misuse_is_one_line(posthaste_bin, tmp_path, args, needle):
    p = run(posthaste_bin, "serve", "--data-dir", str(tmp_path / "d"), *args)
    line = one_line_error(p)
    assert needle in line, line


@pytest.mark.parametrize("text, needle", [
    ("smtp_max_recipients = 0\n", "smtp_max_recipients"),
    ("smtp_max_message_size = 10\n", "smtp_max_message_size"),
    ("smtp_idle_timeout = forever\n", "smtp_idle_timeout"),
    ("no_such_key = 1\n", "no_such_key"),
    ("# comment\n\nsmtp_listen 127.0.0.1:25\n", ":3:"),
    ("tls_cert = /etc/hostname\n", "tls_key"),
    ("dashboard_origin = mail.example.com\n", "dashboard_origin"),
    ("dashboard_origin = https://mail.example.com/\n", "dashboard_origin"),
    ("dashboard_origin = https://\n", "dashboard_origin"),
    ("dashboard_session_idle = 0s\n", "dashboard_session_idle"),
    ("dashboard_session_lifetime = 91d\n", "dashboard_session_lifetime"),
    ("https_listen = 127.0.0.1\n", "https_listen"),
])
def test_config_file_errors_name_the_key(posthaste_bin, tmp_path, text, needle):
    conf = tmp_path / "p.conf"
    conf.write_text(text)
    p = run(posthaste_bin, "serve", "-c", str(conf), "--data-dir", str(tmp_path / "d"))
    line = one_line_error(p)
    assert needle in line, line


def test_port_in_use_is_one_line(posthaste):
    d = posthaste()
    p = run(d.bin, "serve", "--data-dir", d.data_dir + "2",
            "--smtp", f"127.0.0.1:{d.smtp_port}", "--http", "127.0.0.1:1")
    line = one_line_error(p)
    assert "Address already in use" in line and str(d.smtp_port) in line


def test_flags_override_config_file(posthaste, tmp_path):
    # The config names a port that the flag overrides: serve must come up
    # on the flag's port (the fixture passes --smtp and --http).
    d = posthaste(config="smtp_listen = 127.0.0.1:1\nhttp_listen = 127.0.0.1:1\n"
                         "log_level = debug\n")
    r = d.http("GET", "/healthz")
    assert r.status == 200 and r.json()["status"] == "ok"
    d.stop()
    assert d.exit_codes[-1] == 0
    assert "daemon stopped" in d.log_text()


def test_unknown_http_path_is_json_404(posthaste):
    d = posthaste()
    r = d.http("GET", "/nope")
    assert r.status == 404
    assert r.json()["error"]["code"] == "not_found"


def test_drops_privileges_when_root(posthaste):
    import os
    if os.geteuid() != 0:
        pytest.skip("needs root")
    d = posthaste()
    assert "privileges dropped" in d.log_text()
    with open(f"/proc/{d.pid}/status") as f:
        uids = [l for l in f if l.startswith("Uid:")][0].split()[1:]
    assert all(u != "0" for u in uids), uids


def test_account_create_errors(posthaste):
    d = posthaste(start=False)
    ok = d.cli("account", "create", "acme", "--json", check=True)
    assert "api_key" in ok.stdout
    dup = d.cli("account", "create", "acme")
    assert dup.returncode != 0 and "already exists" in dup.stderr
    bad = d.cli("account", "create", "bad name!")
    assert bad.returncode != 0 and "bad account name" in bad.stderr
    net = d.cli("account", "create", "x", "--trust", "10.0.0.0/33")
    assert net.returncode != 0 and "10.0.0.0/33" in net.stderr
