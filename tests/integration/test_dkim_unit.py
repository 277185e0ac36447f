"""test_dkim_unit - posthaste's DKIM signatures checked by dkimpy.

Run:  cd tests/integration && /usr/bin/python3 -m pytest -q test_dkim_unit.py

The C signer is reached through the cmocka binary test_dkim: with
PH_DKIM_SIGN_DIR=DIR it also writes DIR/<name>.eml (a sample message with
an RSA and an Ed25519 DKIM-Signature prepended, d=example.com, s=rsa2026 and
s=ed2026, h= over-signed) and the TXT values DIR/rsa.txt and
DIR/ed25519.txt. dkimpy (Debian's python3-dkim) then verifies both
signatures of every sample, with a dnsfunc that answers from those files,
and must reject each one after tampering: one body byte changed, or a
second From: added (which only over-signing catches).

The binary is POSTHASTE_BUILD/test_dkim, else next to POSTHASTE_BIN, else
<repo>/build/test_dkim. A missing binary skips, unless
POSTHASTE_REQUIRE_BIN=1.
"""

import os
import re
import subprocess
from pathlib import Path

import pytest

dkim = pytest.importorskip("dkim")

REPO_ROOT = Path(__file__).resolve().parents[2]
DOMAIN = b"example.com"
SELECTORS = {b"rsa-sha256": b"rsa2026", b"ed25519-sha256": b"ed2026"}
TXT_FILES = {b"rsa2026": "rsa.txt", b"ed2026": "ed25519.txt"}
SAMPLES = ("plain", "eightbit", "longheaders", "trailingblank", "crlfonly",
           "crlfmany", "empty", "noblank", "repeated", "oversign", "whitespace",
           "nofinalcrlf", "mime")


def test_dkim_binary():
    """Where the test_dkim binary is expected."""
    if os.environ.get("POSTHASTE_BUILD"):
        return Path(os.environ["POSTHASTE_BUILD"]) / "test_dkim"
    if os.environ.get("POSTHASTE_BIN"):
        return Path(os.environ["POSTHASTE_BIN"]).parent / "test_dkim"
    return REPO_ROOT / "build" / "test_dkim"


test_dkim_binary.__test__ = False  # a helper, not a test


@pytest.fixture(scope="module")
def signing_run(tmp_path_factory):
    """Run test_dkim once to write the signed samples; their directory."""
    binary = test_dkim_binary()
    if not binary.exists():
        if os.environ.get("POSTHASTE_REQUIRE_BIN") == "1":
            pytest.fail(f"{binary} is missing")
        pytest.skip(f"{binary} is missing (build it, or set POSTHASTE_BUILD)")
    out = tmp_path_factory.mktemp("dkim")
    env = dict(os.environ, PH_DKIM_SIGN_DIR=str(out))
    proc = subprocess.run([str(binary)], env=env, capture_output=True, timeout=300)
    # A failing unit test fails test_unit_tests_pass below; the samples are
    # still checked on their own, so dkimpy's verdict is seen either way.
    assert (out / "ed25519.txt").exists(), (proc.stdout + proc.stderr).decode(errors="replace")
    return out, proc


@pytest.fixture(scope="module")
def signed(signing_run):
    """The directory of the signed samples and TXT values."""
    return signing_run[0]


@pytest.fixture(scope="module")
def dnsfunc(signed):
    """A dkimpy dnsfunc answering SELECTOR._domainkey.example.com. only."""
    records = {}
    for selector, name in TXT_FILES.items():
        records[selector + b"._domainkey." + DOMAIN + b"."] = (signed / name).read_bytes()

    def lookup(name, timeout=5):
        return records.get(name)

    return lookup


def load(signed, name):
    return (signed / f"{name}.eml").read_bytes()


def split(msg):
    """(header section with its last CRLF, the rest from the empty line)."""
    end = msg.find(b"\r\n\r\n")
    if end < 0:
        return msg, b""
    return msg[:end + 2], msg[end + 2:]


def verdict(msg, idx, dnsfunc):
    """dkimpy's verdict on one signature: True, or the reason it failed."""
    try:
        return dkim.DKIM(msg).verify(idx=idx, dnsfunc=dnsfunc) or "signature mismatch"
    except dkim.DKIMException as e:  # ValidationError for a body hash mismatch
        return str(e)


def verify_all(msg, dnsfunc):
    """dkimpy's verdict on each of the two signatures."""
    return [verdict(msg, i, dnsfunc) for i in (0, 1)]


def sig_tags(msg, idx):
    """The tags of the idx-th DKIM-Signature, white space removed."""
    fields = re.findall(rb"^DKIM-Signature:(.*?\r\n)(?=[^ \t])", msg, re.M | re.S | re.I)
    value = re.sub(rb"\s+", b"", fields[idx])
    return dict(t.split(b"=", 1) for t in value.split(b";") if t)


def test_unit_tests_pass(signing_run):
    """The cmocka run that wrote the samples passed all its own tests."""
    proc = signing_run[1]
    assert proc.returncode == 0, (proc.stdout + proc.stderr).decode(errors="replace")


def test_txt_records(signed):
    assert (signed / "rsa.txt").read_bytes().startswith(b"v=DKIM1; k=rsa; p=MII")
    assert (signed / "ed25519.txt").read_bytes().startswith(b"v=DKIM1; k=ed25519; p=")


def test_every_sample_written(signed):
    assert sorted(p.stem for p in signed.glob("*.eml")) == sorted(SAMPLES)


@pytest.mark.parametrize("name", SAMPLES)
def test_signatures_verify(signed, dnsfunc, name):
    msg = load(signed, name)
    assert msg.count(b"DKIM-Signature:") == 2
    for idx, alg in enumerate((b"rsa-sha256", b"ed25519-sha256")):
        tags = sig_tags(msg, idx)
        assert tags[b"a"] == alg
        assert tags[b"s"] == SELECTORS[alg]
        assert tags[b"d"] == DOMAIN
        assert tags[b"c"] == b"relaxed/relaxed"
        # over-signed: every name listed once more than it occurs
        names = [h.lower() for h in tags[b"h"].split(b":")]
        assert names.count(b"from") == 2
    assert verify_all(msg, dnsfunc) == [True, True]
    # dkim.verify() checks the first signature only
    assert dkim.verify(msg, dnsfunc=dnsfunc)


@pytest.mark.parametrize("name", SAMPLES)
def test_body_byte_changed_fails(signed, dnsfunc, name):
    head, body = split(load(signed, name))
    m = re.search(rb"[A-Za-z0-9]", body)
    if m:
        i = m.start()
        body = body[:i] + (b"X" if body[i:i + 1] != b"X" else b"Y") + body[i + 1:]
    elif body:
        body = body[:2] + b"x" + body[2:]  # CRLF-only: add a byte after the empty line
    else:
        body = b"\r\nx"  # no body at all: give it one
    for result in verify_all(head + body, dnsfunc):
        assert result is not True and "body hash mismatch" in result


@pytest.mark.parametrize("where", ("top", "bottom"))
@pytest.mark.parametrize("name", ("plain", "repeated", "oversign"))
def test_second_from_fails(signed, dnsfunc, name, where):
    head, body = split(load(signed, name))
    extra = b"From: Mallory <mallory@evil.example>\r\n"
    if where == "top":
        # after the two signatures, above the real From:
        fields = re.match(rb"(DKIM-Signature:.*?\r\n(?=[^ \t])){2}", head, re.S).end()
        head = head[:fields] + extra + head[fields:]
    else:
        head = head + extra
    assert verify_all(head + body, dnsfunc) == ["signature mismatch"] * 2


@pytest.mark.parametrize("name", ("plain", "oversign"))
def test_unsigned_header_added_still_verifies(signed, dnsfunc, name):
    """The control for the test above: a header we do not sign may be added."""
    head, body = split(load(signed, name))
    head += b"X-Added-In-Transit: yes\r\nReceived: from relay by mx\r\n"
    assert verify_all(head + body, dnsfunc) == [True, True]


def test_swapped_keys_fail(signed):
    """Each selector answering with the other key: neither signature verifies."""
    msg = load(signed, "plain")
    swapped = {b"rsa2026._domainkey.example.com.": (signed / "ed25519.txt").read_bytes(),
               b"ed2026._domainkey.example.com.": (signed / "rsa.txt").read_bytes()}

    def lookup(name, timeout=5):
        return swapped.get(name)

    for idx in (0, 1):
        try:
            ok = dkim.DKIM(msg).verify(idx=idx, dnsfunc=lookup)
        except Exception:  # dkimpy or PyNaCl refusing the wrong kind of key
            ok = False
        assert not ok
