"""tlsfix - a throw-away certificate authority for the integration tests.

Everything is made with the openssl command line (ECDSA P-256 keys, fast to
generate), inside one work directory:

    ca = TestCA(workdir)                    # makes ca.key / ca.pem
    ca.ca_cert_path                         # PEM of the CA, for verifiers
    cert, key = ca.issue("mx1.example.test", ips=["127.0.0.2"])
    cert, key = self_signed(workdir, "mx1.example.test")   # not from the CA
    tlsa_rdata(cert, usage=3, selector=1, mtype=1)
        # "3 1 1 <sha256 of the SubjectPublicKeyInfo>" for a TLSA record

issue() puts the names and addresses into subjectAltName (the CN is the
first name), so both host-name and IP verification work.
"""

import hashlib
import os
import re
import subprocess

OPENSSL = "/usr/bin/openssl"
TOOL_TIMEOUT = 30.0
CERT_DAYS = 30


def _openssl(*args, cwd=None, input=None):
    p = subprocess.run([OPENSSL, *args], cwd=cwd, capture_output=True,
                       input=input, timeout=TOOL_TIMEOUT)
    if p.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed:\n"
                           f"{p.stdout.decode(errors='replace')}{p.stderr.decode(errors='replace')}")
    return p.stdout


def _safe(name):
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def _san(names, ips):
    return ",".join([f"DNS:{n}" for n in names] + [f"IP:{i}" for i in ips])


class TestCA:
    """A CA whose certificate tests hand to TLS verifiers (module doc)."""

    __test__ = False  # not a pytest test class despite the name

    def __init__(self, workdir, name="posthaste test CA"):
        self.workdir = str(workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self.key_path = os.path.join(self.workdir, "ca.key")
        self.ca_cert_path = os.path.join(self.workdir, "ca.pem")
        _openssl("req", "-x509", "-new", "-newkey", "ec",
                 "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                 "-keyout", self.key_path, "-out", self.ca_cert_path,
                 "-days", str(CERT_DAYS), "-subj", f"/CN={name}",
                 "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        self._issued = {}

    def issue(self, *names, ips=()):
        """(cert_path, key_path) for a server certificate; cached per names+ips."""
        names = tuple(names)
        ips = tuple(ips)
        if not names and not ips:
            raise ValueError("issue() needs at least one name or address")
        cached = self._issued.get((names, ips))
        if cached:
            return cached
        base = os.path.join(self.workdir, _safe("_".join(names + ips)))
        key, csr, cert, ext = base + ".key", base + ".csr", base + ".pem", base + ".ext"
        cn = (names or ips)[0]
        _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                 "-nodes", "-keyout", key, "-out", csr, "-subj", f"/CN={cn}")
        with open(ext, "w") as f:
            f.write("basicConstraints=critical,CA:FALSE\n"
                    "keyUsage=critical,digitalSignature\n"
                    "extendedKeyUsage=serverAuth\n"
                    f"subjectAltName={_san(names, ips)}\n")
        _openssl("x509", "-req", "-in", csr, "-CA", self.ca_cert_path, "-CAkey", self.key_path,
                 "-CAcreateserial", "-out", cert, "-days", str(CERT_DAYS), "-extfile", ext)
        self._issued[(names, ips)] = (cert, key)
        return cert, key


def self_signed(workdir, name, ips=()):
    """(cert_path, key_path) of a self-signed certificate (fails verification)."""
    os.makedirs(str(workdir), exist_ok=True)
    base = os.path.join(str(workdir), "selfsigned_" + _safe(name))
    cert, key = base + ".pem", base + ".key"
    _openssl("req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", key, "-out", cert, "-days", str(CERT_DAYS),
             "-subj", f"/CN={name}", "-addext", f"subjectAltName={_san([name], ips)}")
    return cert, key


def tlsa_rdata(cert_path, usage=3, selector=1, mtype=1):
    """TLSA rdata "U S M hex" for a PEM certificate (RFC 6698 2.1).

    selector 0 = whole certificate, 1 = SubjectPublicKeyInfo;
    mtype 0 = exact data, 1 = SHA-256, 2 = SHA-512.
    """
    if selector == 0:
        data = _openssl("x509", "-in", cert_path, "-outform", "DER")
    elif selector == 1:
        pem = _openssl("x509", "-in", cert_path, "-pubkey", "-noout")
        data = _openssl("pkey", "-pubin", "-outform", "DER", input=pem)
    else:
        raise ValueError(f"TLSA selector {selector}")
    digest = {0: lambda d: d, 1: lambda d: hashlib.sha256(d).digest(),
              2: lambda d: hashlib.sha512(d).digest()}[mtype](data)
    return f"{usage} {selector} {mtype} {digest.hex()}"
