"""netutil - small network and waiting helpers shared by the test fixtures.

Everything here stays on the loopback range (127.0.0.0/8) and every wait is
bounded: a helper that could block takes a timeout and raises when it runs
out, so a broken daemon fails a test instead of hanging the suite.

    free_port(addrs=("127.0.0.1",), udp=False) -> int
        A port that is free for TCP (and UDP when asked) on every address in
        addrs at the time of the call.
    wait_until(predicate, timeout, interval=0.02, what="condition") -> value
        Polls predicate() until it returns something truthy; returns it.
    tcp_accepts(addr, port, timeout=0.5) -> bool
        True when a TCP connection to addr:port succeeds.
"""

import errno
import socket
import time

# Ports below this are left alone even if the kernel offers them.
_PORT_MIN = 1024
_PORT_TRIES = 100


def _can_bind(addr, port, kind):
    """True when addr:port can be bound for the socket kind right now."""
    s = socket.socket(socket.AF_INET, kind)
    try:
        s.bind((addr, port))
        return True
    except OSError as e:
        if e.errno in (errno.EADDRINUSE, errno.EACCES):
            return False
        raise
    finally:
        s.close()


def free_port(addrs=("127.0.0.1",), udp=False):
    """Pick a port free for TCP (and UDP if udp) on every address in addrs.

    The kernel chooses a candidate (bind to port 0 on the first address), then
    the same number is tried on the other addresses and protocols; on any
    collision another candidate is drawn. There is an unavoidable window
    between this check and the real bind, so servers started on the port
    should still report a bind failure clearly.
    """
    if isinstance(addrs, str):
        addrs = (addrs,)
    kinds = [socket.SOCK_STREAM] + ([socket.SOCK_DGRAM] if udp else [])
    for _ in range(_PORT_TRIES):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind((addrs[0], 0))
            port = s.getsockname()[1]
        finally:
            s.close()
        if port < _PORT_MIN:
            continue
        if all(_can_bind(a, port, k) for a in addrs for k in kinds):
            return port
    raise RuntimeError(f"no free port on {addrs} after {_PORT_TRIES} tries")


def wait_until(predicate, timeout, interval=0.02, what="condition"):
    """Poll predicate() until truthy (returned) or raise TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def tcp_accepts(addr, port, timeout=0.5):
    """True when a TCP connect to addr:port succeeds (closed right away)."""
    try:
        with socket.create_connection((addr, port), timeout=timeout):
            return True
    except OSError:
        return False
