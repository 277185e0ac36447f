"""daemon - run the posthaste binary under test as a child process.

    d = Posthaste(bin_path, workdir, args=["--dns", "127.0.0.1@5353"])
    d.start()                 # waits for SMTP 220 + GET /healthz 200
    d.smtp_port, d.http_port, d.data_dir, d.workdir, d.log_path
    d.smtp()                  # smtplib.SMTP connected to the daemon
    d.http("GET", "/api/v1/messages", token=key)   # -> Response
    d.cli("account", "create", "acme", "--json")   # -> CompletedProcess
    d.stop()                  # SIGTERM, waits, asserts exit code 0
    d.kill(); d.restart()     # SIGKILL; stop (if running) and start again
    d.log_text()              # everything the daemon printed, all runs

Command line: <bin> serve --data-dir DATA --smtp 127.0.0.1:P --http
127.0.0.1:Q [-c CONFIG] [args...]. Both listen ports are chosen free once
and kept across restarts; the data directory too. stdout and stderr are
appended to one log file with a marker line per start. The environment is
passed through (ASan/UBSan options reach the daemon); env= adds to it.

Every wait is bounded: start-up by POSTHASTE_START_TIMEOUT (default 30 s,
sanitizer builds are slow), shutdown by POSTHASTE_STOP_TIMEOUT (20 s).
"""

import http.client
import json
import os
import signal
import smtplib
import socket
import subprocess
import time

from netutil import free_port

START_TIMEOUT = float(os.environ.get("POSTHASTE_START_TIMEOUT", "30"))
STOP_TIMEOUT = float(os.environ.get("POSTHASTE_STOP_TIMEOUT", "20"))
CLI_TIMEOUT = 60.0
ADDR = "127.0.0.1"

# Lines that a sanitizer prints when it finds a bug.
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                     "runtime error:", "WARNING: ThreadSanitizer",
                     "ERROR: MemorySanitizer")


class DaemonError(AssertionError):
    """The daemon did not start, stop or exit as expected (log attached)."""


class Response:
    """An HTTP response read whole: status, reason, headers, body."""

    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers  # http.client.HTTPMessage (case-insensitive)
        self.body = body

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<Response {self.status} {self.text[:200]!r}>"


class Posthaste:
    """One daemon instance with its ports, data dir and log (module doc)."""

    def __init__(self, bin_path, workdir, args=(), config=None, env=None,
                 smtp_port=None, http_port=None, data_dir=None):
        self.bin = str(bin_path)
        self.workdir = str(workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self.data_dir = str(data_dir) if data_dir else os.path.join(self.workdir, "data")
        self.addr = ADDR
        self.smtp_port = smtp_port or free_port(ADDR)
        self.http_port = http_port or free_port(ADDR)
        while self.http_port == self.smtp_port:
            self.http_port = free_port(ADDR)
        self.args = [str(a) for a in args]
        self.env = dict(os.environ)
        self.env.update({k: str(v) for k, v in (env or {}).items()})
        self.log_path = os.path.join(self.workdir, "posthaste.log")
        self.config_path = None
        if config is not None:
            self.config_path = os.path.join(self.workdir, "posthaste.conf")
            text = config(self) if callable(config) else config
            with open(self.config_path, "w") as f:
                f.write(text)
        self.proc = None
        self.starts = 0
        self.exit_codes = []  # one per finished run, in order
        self._expected_exit = True  # False while running: an exit is a crash
        self._log_offset = 0  # where the current run's log starts

    # -- properties -------------------------------------------------------

    @property
    def http_url(self):
        return f"http://{self.addr}:{self.http_port}"

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def command(self):
        """The serve command line."""
        cmd = [self.bin, "serve", "--data-dir", self.data_dir,
               "--smtp", f"{self.addr}:{self.smtp_port}",
               "--http", f"{self.addr}:{self.http_port}"]
        if self.config_path:
            cmd += ["-c", self.config_path]
        return cmd + self.args

    # -- life cycle -------------------------------------------------------

    def start(self, wait=True, timeout=START_TIMEOUT):
        """Start the daemon; with wait, return only once it serves both ports."""
        if self.running:
            raise DaemonError("posthaste is already running")
        self.starts += 1
        cmd = self.command()
        with open(self.log_path, "ab") as log:
            self._log_offset = log.tell()
            log.write(f"=== posthaste tests: start #{self.starts}: {' '.join(cmd)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=self.env,
                                         cwd=self.workdir)
        self._expected_exit = False
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=START_TIMEOUT):
        """Wait for GET /healthz 200 and an SMTP 220 greeting, or fail with the log."""
        deadline = time.monotonic() + timeout
        http_ok = smtp_ok = False
        while True:
            rc = self.proc.poll()
            if rc is not None:
                self._finished(rc)
                raise DaemonError(f"posthaste exited with {rc} during start-up\n{self.log_tail()}")
            if not http_ok:
                http_ok = self._healthz_ok()
            if http_ok and not smtp_ok:
                smtp_ok = self._smtp_greets()
            if http_ok and smtp_ok:
                return
            if time.monotonic() >= deadline:
                self.kill()
                raise DaemonError(f"posthaste not ready within {timeout}s (healthz={http_ok} "
                                  f"smtp={smtp_ok})\n{self.log_tail()}")
            time.sleep(0.05)

    def stop(self, timeout=STOP_TIMEOUT, check=True):
        """SIGTERM and wait; with check, a non-zero exit code fails. Returns it."""
        if self.proc is None:
            return self.exit_codes[-1] if self.exit_codes else None
        self._expected_exit = True
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait(timeout=STOP_TIMEOUT)
            self._finished(rc)
            raise DaemonError(f"posthaste did not exit within {timeout}s of SIGTERM "
                              f"(killed)\n{self.log_tail()}")
        self._finished(rc)
        if check and rc != 0:
            raise DaemonError(f"posthaste exited with {rc} after SIGTERM\n{self.log_tail()}")
        if check and self.sanitizer_reports():
            raise DaemonError(f"sanitizer reports in the daemon log\n{self.log_tail()}")
        return rc

    def kill(self):
        """SIGKILL (a crash at an arbitrary moment) and reap. Returns the code."""
        if self.proc is None:
            return None
        self._expected_exit = True
        if self.proc.poll() is None:
            self.proc.kill()
        rc = self.proc.wait(timeout=STOP_TIMEOUT)
        self._finished(rc)
        return rc

    def restart(self, wait=True, check=True):
        """Stop cleanly if running (else just start), then start on the same ports/data."""
        if self.running:
            self.stop(check=check)
        elif self.proc is not None:
            self._finished(self.proc.wait(timeout=STOP_TIMEOUT))
        return self.start(wait=wait)

    def crashed(self):
        """Exit code if the daemon exited without being asked to, else None."""
        if self.proc is not None and not self._expected_exit:
            rc = self.proc.poll()
            if rc is not None:
                return rc
        return None

    def _finished(self, rc):
        if self.proc is not None:
            self.exit_codes.append(rc)
        self.proc = None

    # -- logs ---------------------------------------------------------------

    def log_text(self, current=False):
        """The daemon's output: all runs, or with current only the last start's."""
        try:
            with open(self.log_path, "rb") as f:
                if current:
                    f.seek(self._log_offset)
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, max_chars=60000):
        text = self.log_text()
        if len(text) > max_chars:
            text = f"[... {len(text) - max_chars} chars cut, full log: {self.log_path}]\n" + \
                   text[-max_chars:]
        return f"----- posthaste log ({self.log_path}) -----\n{text}"

    def sanitizer_reports(self):
        """Log lines where a sanitizer reported a bug."""
        return [l for l in self.log_text().splitlines()
                if any(m in l for m in SANITIZER_MARKERS)]

    def wait_for_log(self, needle, timeout=10.0, current=True):
        """Wait until the log contains needle (a string); returns the log."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.log_text(current=current)
            if needle in text:
                return text
            if time.monotonic() >= deadline:
                raise DaemonError(f"{needle!r} not in the daemon log after {timeout}s\n"
                                  f"{self.log_tail()}")
            time.sleep(0.05)

    # -- clients ------------------------------------------------------------

    def cli(self, *args, check=False, timeout=CLI_TIMEOUT, input=None, env=None):
        """Run `<bin> ARGS --data-dir DATA`; returns CompletedProcess (text)."""
        cmd = [self.bin, *[str(a) for a in args]]
        if "--data-dir" not in cmd:
            cmd += ["--data-dir", self.data_dir]
        e = dict(self.env)
        e.update(env or {})
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                           input=input, env=e, cwd=self.workdir)
        if check and p.returncode != 0:
            raise DaemonError(f"{' '.join(cmd)} exited with {p.returncode}\n"
                              f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}")
        return p

    def cli_json(self, *args, timeout=CLI_TIMEOUT):
        """cli(*args, "--json") that must succeed; returns the parsed stdout."""
        p = self.cli(*args, "--json", check=True, timeout=timeout)
        try:
            return json.loads(p.stdout)
        except ValueError as e:
            raise DaemonError(f"not JSON from {args}: {e}\nstdout:\n{p.stdout}") from None

    def http(self, method, path, body=None, headers=None, token=None, timeout=10.0):
        """One HTTP request to the API; dict/list bodies are sent as JSON."""
        hdrs = dict(headers or {})
        if token:
            hdrs["Authorization"] = f"Bearer {token}"
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            body = body.encode()
        c = http.client.HTTPConnection(self.addr, self.http_port, timeout=timeout)
        try:
            c.request(method, path, body=body, headers=hdrs)
            r = c.getresponse()
            return Response(r.status, r.reason, r.headers, r.read())
        finally:
            c.close()

    def smtp(self, timeout=10.0, local_hostname="client.test"):
        """smtplib.SMTP connected to the daemon's SMTP port (caller quits)."""
        return smtplib.SMTP(self.addr, self.smtp_port, local_hostname=local_hostname,
                            timeout=timeout)

    # -- readiness probes ---------------------------------------------------

    def _healthz_ok(self):
        try:
            return self.http("GET", "/healthz", timeout=1.0).status == 200
        except (OSError, http.client.HTTPException):
            return False

    def _smtp_greets(self):
        """Connect, read the 220 greeting and QUIT politely."""
        try:
            with socket.create_connection((self.addr, self.smtp_port), timeout=2.0) as s:
                f = s.makefile("rb")
                line = f.readline(1024)
                while line[3:4] == b"-":
                    line = f.readline(1024)
                if not line.startswith(b"220"):
                    return False
                s.sendall(b"QUIT\r\n")
                f.readline(1024)
                return True
        except OSError:
            return False
