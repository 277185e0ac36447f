"""posthaste queue list|flush|delete (DESIGN.md's command line): the CLI
leaves a command in the store, the running daemon carries it out."""

import time

from test_delivery import RCPT_DOMAIN, status, submit, timeline, wait_events, world  # noqa: F401


def wait_status(d, pid, rcpt, want, timeout=20):
    deadline = time.monotonic() + timeout
    got = None
    while time.monotonic() < deadline:
        got = status(d, pid, rcpt)
        if got == want:
            return
        time.sleep(0.1)
    raise AssertionError(f"{rcpt}: {got}, want {want}")


def test_flush_retries_now_and_delete_takes_out(world):
    d = world.start(config="mta_retry_schedule = 1h\nmta_greylist_retry = 1h\n")
    a = f"rcpt451once@{RCPT_DOMAIN}"
    b = f"rcpt450once@{RCPT_DOMAIN}"
    c = f"rcpt451@{RCPT_DOMAIN}"
    pa, pb, pc = submit(d, [a]), submit(d, [b]), submit(d, [c])
    for pid, r in ((pa, a), (pb, b), (pc, c)):
        wait_events(d, pid, r, ["deferred"])
    queued = {x["id"] for x in d.cli_json("queue", "list")}
    assert queued == {pa, pb, pc}
    # flush one message: only it is retried (and now accepted)
    p = d.cli("queue", "flush", pa)
    assert p.returncode == 0, p.stderr
    wait_status(d, pa, a, "delivered")
    time.sleep(1)
    assert status(d, pb, b) == "deferred"
    # flush everything
    assert d.cli("queue", "flush").returncode == 0
    wait_status(d, pb, b, "delivered")
    # delete: the recipient leaves the queue with a "deleted" event
    assert d.cli("queue", "delete", pc).returncode == 0
    wait_status(d, pc, c, "deleted")
    assert [t for _, t, _ in timeline(d, pc)][-1] == "deleted"
    assert d.cli_json("queue", "list") == []
    d.wait_for_log("mta delete id=" + pc + " recipients=1")


def test_queue_command_errors(world):
    d = world.start()
    assert d.cli("queue", "delete").returncode == 2
    p = d.cli("queue", "delete", "nosuchmessage00000")
    assert p.returncode == 1 and "no message" in p.stderr
    assert d.cli("queue", "frobnicate").returncode == 2
