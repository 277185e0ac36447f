"""dnsfix - a real authoritative DNS server (NSD) for the integration tests.

DnsServer runs `nsd -d` as a child process on 127.0.0.1 and a free UDP+TCP
port, with a configuration, zone files, keys and logs all inside one work
directory. Zones are written from record lines; they can be DNSSEC-signed
(ldns-keygen + ldns-signzone, KSK + ZSK, algorithm 13 ECDSAP256SHA256) and
the trust anchor handed to a validating resolver such as the daemon's
libunbound.

    dns = DnsServer(workdir)            # not started yet
    dns.start()                         # waits until NSD answers
    z = dns.zone("example.test", '''
        @       MX  10 mx1
        mx1     A   127.0.0.2
        sel._domainkey TXT "v=DKIM1; k=rsa; p=<longer than 255 bytes>"
    ''', sign=True)                     # (re)writes the zone, restarts NSD
    dns.port, dns.addr, dns.dns_arg     # 53xx, "127.0.0.1", "127.0.0.1@53xx"
    z.dnskey                            # "example.test. IN DNSKEY 257 3 13 ..."
    z.ds                                # "example.test. IN DS 1234 13 2 ..."
    dns.trust_anchors()                 # DNSKEY lines of every signed zone
    dns.query("example.test", "MX", dnssec=True)   # dnspython Message
    dns.stop()

Zone records: a multi-line string or a list of lines / tuples
(owner, type, rdata) or (owner, ttl, type, rdata). Owners are relative to
the zone unless they end in a dot; "@" is the apex. An SOA, an apex NS
("ns.<zone>.") and its A record (127.0.0.1) are added unless the records
bring their own. TXT data longer than 255 bytes is split into 255-byte
strings: give it as a tuple with unquoted rdata, or as a line whose rdata
is one quoted string; see txt() for building rdata by hand.

Signing options of zone(): sign=True, nsec3=True (NSEC3 instead of NSEC),
expired=True (signatures already expired: answers validate as bogus). Keys
are made once per zone and kept, so the trust anchor stays the same when a
signed zone is rewritten.

reload() restarts NSD on the same port and waits until every zone answers
with its current SOA serial, so a test sees its new records immediately.
"""

import datetime
import os
import re
import signal
import subprocess
import textwrap
import time

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

from netutil import free_port

NSD = "/usr/sbin/nsd"
NSD_CHECKZONE = "/usr/sbin/nsd-checkzone"
LDNS_KEYGEN = "/usr/bin/ldns-keygen"
LDNS_SIGNZONE = "/usr/bin/ldns-signzone"

START_TIMEOUT = 15.0  # seconds for NSD to answer after start
STOP_TIMEOUT = 5.0  # seconds for NSD to exit after SIGTERM
TOOL_TIMEOUT = 30.0  # seconds for keygen / signzone / checkzone
DEFAULT_TTL = 5  # seconds; see zone()
TXT_CHUNK_MAX = 255  # RFC 1035 3.3.14: one <character-string> is <= 255 bytes

_CLASS_OR_TTL = re.compile(r"^(IN|CH|HS|\d+[smhdwSMHDW]?)$")
_RRTYPE = re.compile(r"^(TYPE\d+|[A-Z][A-Z0-9-]*)$")


def txt(value):
    """Zone-file rdata for a TXT record: quoted strings of <= 255 bytes each.

    value is str (UTF-8) or bytes. Quotes, backslashes and bytes outside
    printable ASCII are escaped (\\" \\\\ \\DDD), RFC 1035 5.1.
    """
    data = value.encode() if isinstance(value, str) else bytes(value)
    chunks = [data[i:i + TXT_CHUNK_MAX] for i in range(0, len(data), TXT_CHUNK_MAX)]
    return " ".join('"' + _escape(c) + '"' for c in (chunks or [b""]))


def _escape(chunk):
    out = []
    for b in chunk:
        if b in (0x22, 0x5C):  # " and backslash
            out.append("\\" + chr(b))
        elif 0x20 <= b < 0x7F:
            out.append(chr(b))
        else:
            out.append("\\%03d" % b)
    return "".join(out)


def _split_record(line):
    """(owner or None, type or None, rdata) of a zone-file line, best effort.

    owner is None for a line that starts with blanks (owner inherited).
    Good enough to spot SOA/NS/TXT; the line itself is written unchanged.
    """
    if not line.strip() or line.lstrip().startswith((";", "$")):
        return None, None, ""
    inherited = line[0] in " \t"
    tokens = line.split()
    i = 0 if inherited else 1
    owner = None if inherited else tokens[0]
    while i < len(tokens) and _CLASS_OR_TTL.match(tokens[i].upper()):
        i += 1
    if i >= len(tokens) or not _RRTYPE.match(tokens[i].upper()):
        return owner, None, ""
    rdata = line.split(None, i + 1)[i + 1] if len(tokens) > i + 1 else ""
    return owner, tokens[i].upper(), rdata


def _fix_long_txt(line):
    """Split a TXT line whose rdata is one quoted string longer than 255."""
    _, rtype, rdata = _split_record(line)
    m = re.fullmatch(r'"((?:[^"\\]|\\.)*)"\s*', rdata) if rtype == "TXT" else None
    if not m:
        return line
    # Unescape, then re-chunk on bytes so no escape is cut in half.
    raw = re.sub(rb"\\(\d{3}|.)",
                 lambda e: bytes([int(e.group(1))]) if e.group(1).isdigit() else e.group(1),
                 m.group(1).encode())
    if len(raw) <= TXT_CHUNK_MAX:
        return line
    return line[:len(line) - len(rdata)] + txt(raw)


def _run(cmd, cwd=None):
    """Run a helper tool; raise with its output when it fails."""
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=TOOL_TIMEOUT)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout}{p.stderr}")
    return p.stdout


def _ts(dt):
    return dt.strftime("%Y%m%d%H%M%S")


class Zone:
    """One zone served by a DnsServer (see zone())."""

    def __init__(self, name):
        self.name = name  # without the trailing dot
        self.serial = 0
        self.path = None  # the file NSD loads (the signed one when signed)
        self.signed = False
        self.ksk = None  # key basenames, kept across re-signing
        self.zsk = None
        self.dnskey = None  # "name. IN DNSKEY 257 3 13 ..." of the KSK
        self.ds = None  # "name. IN DS tag 13 2 hex" of the KSK
        self.own_soa = False  # the records brought their own SOA

    def __repr__(self):
        return f"<Zone {self.name} serial={self.serial} signed={self.signed}>"


class DnsServer:
    """NSD on 127.0.0.1 serving zones written by the tests (module doc)."""

    def __init__(self, workdir, addr="127.0.0.1", port=None):
        self.workdir = str(workdir)
        self.addr = addr
        self.port = port
        self._fixed_port = port is not None
        self.zones = {}
        self.proc = None
        self.conf_path = os.path.join(self.workdir, "nsd.conf")
        self.log_path = os.path.join(self.workdir, "nsd.log")
        self.out_path = os.path.join(self.workdir, "nsd.out")
        self.keys_dir = os.path.join(self.workdir, "keys")
        os.makedirs(self.keys_dir, exist_ok=True)

    # -- public API -----------------------------------------------------

    @property
    def dns_arg(self):
        """The daemon's --dns value: ADDR@PORT."""
        return f"{self.addr}@{self.port}"

    def start(self):
        """Start NSD and wait until it answers for every zone."""
        for attempt in range(3):
            if self.port is None:
                self.port = free_port(self.addr, udp=True)
            self._write_conf()
            self._spawn()
            try:
                self._wait_ready()
                return self
            except _BindError:
                # Lost a race for the port: draw another unless it was given.
                if self._fixed_port or attempt == 2:
                    raise
                self.port = None
        return self

    def stop(self):
        """Stop NSD (SIGTERM, then SIGKILL); safe to call twice."""
        p, self.proc = self.proc, None
        if p is None or p.poll() is not None:
            return
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=STOP_TIMEOUT)

    def reload(self):
        """Restart NSD on the same port so it loads every zone file anew."""
        self.stop()
        self._write_conf()
        self._spawn()
        self._wait_ready()

    def zone(self, name, records="", sign=False, nsec3=False, expired=False,
             ttl=DEFAULT_TTL, reload=True):
        """Add or replace zone `name` and (by default) reload NSD.

        records: see the module doc. Returns the Zone. sign/nsec3/expired
        choose DNSSEC signing. ttl is the zone's default TTL and negative
        TTL, short by default so that a resolver sees a zone changed during
        a test within seconds. With reload=False only the files are
        written; call reload() after the last zone.
        """
        name = name.rstrip(".").lower()
        z = self.zones.get(name) or Zone(name)
        z.serial += 1
        text = self._zone_text(z, records, ttl)
        plain = os.path.join(self.workdir, f"{name}.zone")
        with open(plain, "w") as f:
            f.write(text)
        _run([NSD_CHECKZONE, name, plain])
        if sign:
            self._sign(z, plain, nsec3, expired)
        else:
            z.path, z.signed = plain, False
        self.zones[name] = z
        if reload and self.proc is not None:
            self.reload()
        return z

    def remove_zone(self, name, reload=True):
        """Stop serving zone `name`."""
        self.zones.pop(name.rstrip(".").lower(), None)
        if reload and self.proc is not None:
            self.reload()

    def trust_anchors(self):
        """DNSKEY lines (KSK) of every signed zone, for a validating resolver."""
        return [z.dnskey for z in self.zones.values() if z.signed]

    def write_trust_anchor_file(self, path):
        """Write trust_anchors() one per line (unbound's trust-anchor-file)."""
        with open(path, "w") as f:
            f.write("".join(a + "\n" for a in self.trust_anchors()))
        return str(path)

    def query(self, qname, rdtype="A", dnssec=False, tcp=False, timeout=2.0):
        """Ask NSD directly; returns the dnspython response Message.

        Over UDP a large answer may come back truncated (TC): use tcp=True.
        """
        q = dns.message.make_query(qname, rdtype, want_dnssec=dnssec)
        send = dns.query.tcp if tcp else dns.query.udp
        return send(q, self.addr, port=self.port, timeout=timeout)

    def log_text(self):
        """NSD's log file plus anything it printed."""
        out = []
        for p in (self.log_path, self.out_path):
            if os.path.exists(p):
                with open(p, errors="replace") as f:
                    out.append(f.read())
        return "".join(out)

    # -- internals ------------------------------------------------------

    def _zone_text(self, z, records, ttl):
        """Zone file text: defaults (SOA, NS) plus the caller's records."""
        apex = {"@", z.name, z.name + "."}
        lines = []
        if isinstance(records, str):
            # Dedent: leading blanks mean "same owner as the line above" in
            # a zone file, and a triple-quoted string in a test is indented.
            items = textwrap.dedent(records).splitlines()
        else:
            items = list(records)
        for item in items:
            if isinstance(item, (tuple, list)):
                if len(item) == 3:
                    owner, rtype, rdata = item
                    rttl = ""
                else:
                    owner, rttl, rtype, rdata = item
                if rtype.upper() == "TXT" and not str(rdata).lstrip().startswith('"'):
                    rdata = txt(rdata)
                lines.append(f"{owner} {rttl} IN {rtype.upper()} {rdata}")
            elif item.strip():
                lines.append(_fix_long_txt(item.rstrip()))
        types_at_apex = set()
        for line in lines:
            owner, rtype, _ = _split_record(line)
            if owner is not None and owner.lower() in apex and rtype:
                types_at_apex.add(rtype)
        head = [f"$ORIGIN {z.name}.", f"$TTL {ttl}"]
        if "SOA" not in types_at_apex:
            # RFC 2308: the last field is the negative-caching TTL.
            head.append(f"@ IN SOA ns.{z.name}. hostmaster.{z.name}. "
                        f"{z.serial} 3600 900 604800 {ttl}")
        if "NS" not in types_at_apex:
            head.append(f"@ IN NS ns.{z.name}.")
            head.append("ns IN A 127.0.0.1")
        z.own_soa = "SOA" in types_at_apex
        return "\n".join(head + lines) + "\n"

    def _sign(self, z, plain, nsec3, expired):
        """Sign with the zone's KSK+ZSK (made on first use), algorithm 13."""
        if z.ksk is None:
            z.ksk = _run([LDNS_KEYGEN, "-a", "ECDSAP256SHA256", "-k", z.name],
                         cwd=self.keys_dir).strip()
            z.zsk = _run([LDNS_KEYGEN, "-a", "ECDSAP256SHA256", z.name],
                         cwd=self.keys_dir).strip()
            z.dnskey = self._key_line(z.ksk + ".key")
            z.ds = self._key_line(z.ksk + ".ds")
        now = datetime.datetime.now(datetime.timezone.utc)
        if expired:
            inception, expiration = now - datetime.timedelta(days=20), now - datetime.timedelta(days=10)
        else:
            # An hour back covers clock skew between signing and validating.
            inception, expiration = now - datetime.timedelta(hours=1), now + datetime.timedelta(days=30)
        signed = plain + ".signed"
        cmd = [LDNS_SIGNZONE, "-o", z.name + ".", "-f", signed,
               "-i", _ts(inception), "-e", _ts(expiration)]
        if nsec3:
            cmd += ["-n", "-t", "0"]  # RFC 9276: no extra iterations, no salt
        cmd += [plain, os.path.join(self.keys_dir, z.ksk), os.path.join(self.keys_dir, z.zsk)]
        _run(cmd)
        z.path, z.signed = signed, True

    def _key_line(self, filename):
        """A key/DS file's record with ldns's trailing ';{...}' comment cut."""
        with open(os.path.join(self.keys_dir, filename)) as f:
            line = f.read().split(";", 1)[0]
        return " ".join(line.split())

    def _write_conf(self):
        w = self.workdir
        conf = [
            "server:",
            f"    ip-address: {self.addr}@{self.port}",
            f"    port: {self.port}",
            '    username: ""',
            '    chroot: ""',
            '    database: ""',
            f'    zonelistfile: "{w}/zone.list"',
            f'    xfrdfile: "{w}/xfrd.state"',
            f'    pidfile: "{w}/nsd.pid"',
            f'    logfile: "{self.log_path}"',
            f'    zonesdir: "{w}"',
            "    server-count: 1",
            "    do-ip4: yes",
            "    do-ip6: no",
            "    verbosity: 2",
            "remote-control:",
            "    control-enable: no",
        ]
        for z in self.zones.values():
            conf += ["zone:", f"    name: {z.name}", f'    zonefile: "{z.path}"']
        with open(self.conf_path, "w") as f:
            f.write("\n".join(conf) + "\n")
        # zone.list holds zones added at run time; a stale one could bring
        # back a removed zone, so start from nothing each time.
        for stale in ("zone.list", "xfrd.state"):
            try:
                os.unlink(os.path.join(w, stale))
            except FileNotFoundError:
                pass

    def _spawn(self):
        with open(self.log_path, "a") as f:
            f.write(f"--- posthaste tests: starting nsd on {self.dns_arg} ---\n")
        out = open(self.out_path, "ab")
        try:
            self.proc = subprocess.Popen([NSD, "-d", "-c", self.conf_path],
                                         stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=self.workdir)
        finally:
            out.close()

    def _zone_ready(self, z, tcp=False):
        try:
            r = self.query(z.name, "SOA", tcp=tcp, timeout=0.5)
        except Exception:
            return False
        if r.rcode() != dns.rcode.NOERROR or not (r.flags & dns.flags.AA):
            return False
        if z.own_soa:
            return True
        return any(rr.serial == z.serial for rrset in r.answer for rr in rrset
                   if rrset.rdtype == dns.rdatatype.SOA)

    def _any_answer(self, tcp=False):
        try:
            self.query(".", "SOA", tcp=tcp, timeout=0.5)  # REFUSED is an answer
            return True
        except Exception:
            return False

    def _wait_ready(self):
        """Wait until NSD answers every zone (UDP and TCP) or fail with its log."""
        deadline = time.monotonic() + START_TIMEOUT
        zones = list(self.zones.values())
        while True:
            if self.proc.poll() is not None:
                log = self.log_text()
                self.proc = None
                if "already in use" in log.split("--- posthaste tests: starting nsd")[-1]:
                    raise _BindError(log)
                raise RuntimeError(f"nsd exited early; log:\n{log}")
            # TCP first: a refused connection fails at once, whereas a UDP
            # query to a port nobody listens on yet waits for its timeout.
            if zones:
                ok = self._zone_ready(zones[0], tcp=True) and all(self._zone_ready(z) for z in zones)
            else:
                ok = self._any_answer(tcp=True) and self._any_answer()
            if ok:
                return
            if time.monotonic() >= deadline:
                log = self.log_text()
                self.stop()
                raise RuntimeError(f"nsd did not answer on {self.dns_arg} within "
                                   f"{START_TIMEOUT}s; log:\n{log}")
            time.sleep(0.02)


class _BindError(RuntimeError):
    """NSD could not bind its port (someone took it after free_port)."""
