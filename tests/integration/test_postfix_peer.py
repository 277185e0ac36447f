"""Delivery through a real Postfix (Debian's package, a private instance
started by the test on loopback) into a Maildir: the message arrives intact
and Postfix's own queue id is the one in our delivered event.
"""

import email
import email.policy
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time

import pytest

from test_delivery import submit, wait_events, zone_mx
from phclient import account

MASTER_CF = """\
{addr}:{port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


@pytest.fixture
def postfix_mx(daemon_tmp_base, mx_port):
    if shutil.which("postfix") is None:
        pytest.fail("postfix is not installed (scripts/deps installs it)")
    if os.geteuid() != 0:
        pytest.skip("a private Postfix instance needs root")
    run = tempfile.mkdtemp(prefix="postfix", dir=daemon_tmp_base)
    os.chmod(run, 0o755)
    etc, queue, data, mail, logd = (os.path.join(run, x)
                                    for x in ("etc", "queue", "data", "mail", "log"))
    for p in (etc, queue, data, mail, logd):
        os.makedirs(p)
    pf = pwd.getpwnam("postfix")
    os.chown(data, pf.pw_uid, pf.pw_gid)
    os.chown(mail, pf.pw_uid, pf.pw_gid)
    addr = "127.0.0.9"
    with open(os.path.join(etc, "main.cf"), "w") as f:
        f.write(f"""compatibility_level = 3.6
queue_directory = {queue}
data_directory = {data}
maillog_file = {logd}/maillog
maillog_file_prefixes = {logd}
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.postfix.test
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
virtual_mailbox_domains = postfix.test
virtual_mailbox_base = {mail}
virtual_mailbox_maps = texthash:{etc}/vmailbox
virtual_uid_maps = static:{pf.pw_uid}
virtual_gid_maps = static:{pf.pw_gid}
smtpd_tls_security_level = none
biff = no
""")
    with open(os.path.join(etc, "vmailbox"), "w") as f:
        f.write("bob@postfix.test postfix.test/bob/\n")
    with open(os.path.join(etc, "master.cf"), "w") as f:
        f.write(MASTER_CF.format(addr=addr, port=mx_port))
    chk = subprocess.run(["postfix", "-c", etc, "check"], capture_output=True, text=True)
    assert chk.returncode == 0, chk.stdout + chk.stderr
    proc = subprocess.Popen(["postfix", "-c", etc, "start-fg"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    import socket
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection((addr, mx_port), timeout=1).close()
            break
        except OSError:
            assert time.monotonic() < deadline, "postfix did not start"
            time.sleep(0.2)

    class P:
        pass
    p = P()
    p.addr, p.maildir, p.log = addr, os.path.join(mail, "postfix.test", "bob"), f"{logd}/maillog"
    yield p
    subprocess.run(["postfix", "-c", etc, "stop"], capture_output=True)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_delivery_into_postfix_maildir(dns, mx_port, posthaste, postfix_mx):
    zone_mx(dns, "postfix.test", (10, "mx", postfix_mx.addr))
    d = posthaste(start=False, dns=dns, mx_port=mx_port, hostname="out.posthaste.test")
    account(d, trust=["127.0.0.0/8"])
    d.start()
    body = ("Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\nFrom: app@sender.test\r\n"
            "Message-ID: <pf-1@sender.test>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            "Grüße aus posthaste.\r\n..leading dot line\r\n" + "x" * 990 + "\r\n").encode()
    # (submit() sends raw SMTP: "..leading" is the client's dot-stuffing of
    # ".leading"; posthaste must unstuff it and stuff it again towards Postfix)
    pid = submit(d, ["bob@postfix.test"], body=body, sender="app@sender.test")
    (ev,) = wait_events(d, pid, "bob@postfix.test", ["delivered"], timeout=30)
    deadline = time.monotonic() + 30
    files = []
    while time.monotonic() < deadline:
        files = glob.glob(os.path.join(postfix_mx.maildir, "new", "*"))
        if files:
            break
        time.sleep(0.2)
    assert len(files) == 1, "no message in the Maildir"
    with open(files[0], "rb") as f:
        raw = f.read()
    # Postfix stores LF line ends; compare the body after normalising.
    got = email.message_from_bytes(raw, policy=email.policy.default)
    assert got["Message-ID"] == "<pf-1@sender.test>"
    assert str(got["Subject"]) == "Grüße"
    text = got.get_content()
    assert text == "Grüße aus posthaste.\n.leading dot line\n" + "x" * 990 + "\n"
    # Postfix's queue id in its log is the one we recorded as evidence.
    with open(postfix_mx.log) as f:
        log = f.read()
    assert ev["remote_queue_id"] and f"{ev['remote_queue_id']}: " in log
