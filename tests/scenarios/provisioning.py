#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""provisioning.py - confabctl end to end: offline, online, several domains.

Usage: provisioning.py --confabd EXE --confabctl EXE [--users N]

1. Offline (no daemon): confabctl opens the store of the configuration
   itself: domains and users added, every bad input refused with one line
   and exit 1, a bad CSV named by its line.
2. Online: confabd started on the same configuration serves what was
   provisioned offline (a digest REGISTER succeeds), the changes made
   through the daemon take effect at once (new user, new password, new
   domain with its own realm and algorithm order, removed user), user show
   lists the binding, and `user import` of N generated rows (100,000 by
   default; the time is printed, not asserted) is followed by `user list`
   counting them and a REGISTER of the last imported user.
3. Offline again: the store holds what the daemon was told.

Uses run.py's Daemon (free loopback ports, temporary data directory). Exit 0
on success, 1 on failure. Every wait is bounded.
"""

import argparse
import hashlib
import json
import os
import re
import shutil
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (Daemon, check, Failure)
from run import Daemon, Failure, check  # noqa: E402

DOMAIN = run.DOMAIN


def ctl(d, *argv, timeout=60):
    r = d.ctl_run(*argv, timeout=timeout)
    print("$ confabctl %s -> %d" % (" ".join(argv), r.returncode), flush=True)
    return r


def ctl_ok(d, *argv, timeout=60):
    r = ctl(d, *argv, timeout=timeout)
    check(r.returncode == 0, "confabctl %s exits 0 (%d: %s)"
          % (" ".join(argv), r.returncode, r.stderr.strip()))
    return r


def ctl_json(d, *argv, timeout=60):
    r = ctl_ok(d, "--json", *argv, timeout=timeout)
    try:
        return json.loads(r.stdout)
    except ValueError:
        raise Failure("not JSON: %r" % r.stdout[:200])


def ctl_bad(d, want, *argv, rc=1):
    r = ctl(d, *argv)
    err = r.stderr.strip()
    check(r.returncode == rc, "confabctl %s exits %d (got %d)"
          % (" ".join(argv), rc, r.returncode))
    check(len(err.splitlines()) == 1 and want in err,
          "one line on stderr containing %r: %r" % (want, err))


# ----------------------------------------------------------- REGISTER


def params(value):
    out = {}
    for m in re.finditer(r'([\w-]+)\s*=\s*("([^"]*)"|[^,\s]+)', value):
        out[m.group(1).lower()] = (m.group(3) if m.group(3) is not None
                                   else m.group(2))
    return out


def challenges(msg):
    return [params(m.group(1)) for m in
            re.finditer(r"(?im)^WWW-Authenticate\s*:\s*Digest\s+(.*)$", msg)]


HASH = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256,
        "SHA-512-256": lambda b: hashlib.new("sha512_256", b)}


def register(port, user, domain, password, expires=600, alg=None):
    """REGISTER user@domain over UDP; answer the first challenge (or the
    one for alg) with password (None: do not answer). Returns (final status
    code, challenges seen, last response)."""
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    u.settimeout(5)
    lport = u.getsockname()[1]
    call_id = "prov-%d-%d@127.0.0.1" % (os.getpid(), time.monotonic_ns())
    ruri = "sip:%s" % domain

    def send(cseq, auth=""):
        msg = ("REGISTER %s SIP/2.0\r\n"
               "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-%d-%d;rport\r\n"
               "Max-Forwards: 70\r\n"
               "From: <sip:%s@%s>;tag=p%d\r\n"
               "To: <sip:%s@%s>\r\n"
               "Call-ID: %s\r\n"
               "CSeq: %d REGISTER\r\n"
               "Contact: <sip:%s@127.0.0.1:%d>\r\n"
               "Expires: %d\r\n"
               "%s"
               "Content-Length: 0\r\n\r\n"
               % (ruri, lport, os.getpid(), time.monotonic_ns(), user,
                  domain, os.getpid(), user, domain, call_id, cseq, user,
                  lport, expires, auth))
        u.sendto(msg.encode(), ("127.0.0.1", port))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            data = u.recv(65536).decode(errors="replace")
            code = int(data.split(" ", 2)[1])
            if code >= 200:
                return code, data
        raise Failure("no final response to REGISTER")

    try:
        code, resp = send(1)
        chs = challenges(resp)
        if code != 401 or password is None:
            return code, chs, resp
        ch = chs[0]
        if alg:
            ch = [c for c in chs if c.get("algorithm", "MD5") == alg][0]
        a = ch.get("algorithm", "MD5")
        h = HASH[a]

        def H(s):
            return h(s.encode()).hexdigest()

        nc, cnonce = "00000001", "c%d" % os.getpid()
        ha1 = H("%s:%s:%s" % (user, ch["realm"], password))
        ha2 = H("REGISTER:%s" % ruri)
        rsp = H("%s:%s:%s:%s:auth:%s" % (ha1, ch["nonce"], nc, cnonce, ha2))
        auth = ('Authorization: Digest username="%s", realm="%s", '
                'nonce="%s", uri="%s", response="%s", algorithm=%s, '
                'qop=auth, nc=%s, cnonce="%s"%s\r\n'
                % (user, ch["realm"], ch["nonce"], ruri, rsp, a, nc, cnonce,
                   ', opaque="%s"' % ch["opaque"] if "opaque" in ch else ""))
        code, resp = send(2, auth)
        return code, chs, resp
    finally:
        u.close()


# --------------------------------------------------------------- phases


def offline(d, tmp):
    st = ctl_json(d, "store", "show")
    check(st["uri"].endswith("/var/confab.db") and not st["online"],
          "offline: store show names the data dir's store: " + st["uri"])
    r = ctl_ok(d, "domain", "list")
    check(DOMAIN in r.stdout and "(configuration)" in r.stdout,
          "the configured domain is in the store")
    ctl_ok(d, "domain", "add", "example.org", "--realm", "Example Realm",
           "--digest-algs", "SHA-256,MD5")
    ctl_ok(d, "user", "add", "alice@" + DOMAIN, "--password", "alice-pw")
    ctl_ok(d, "user", "add", "sip:bob@example.org", "--password", "bob-pw")

    ctl_bad(d, "exists", "user", "add", "alice@" + DOMAIN, "--password", "x")
    ctl_bad(d, "unknown domain 'nowhere.test'", "user", "add",
            "carol@nowhere.test", "--password", "x")
    ctl_bad(d, "empty password", "user", "add", "carol@" + DOMAIN,
            "--password", "")
    ctl_bad(d, "missing --password", "user", "add", "carol@" + DOMAIN)
    ctl_bad(d, "malformed AOR", "user", "add", "carol", "--password", "x")
    ctl_bad(d, "malformed AOR", "user", "add", "sip:carol@a.test:5060",
            "--password", "x")
    ctl_bad(d, "unknown user", "user", "passwd", "carol@" + DOMAIN,
            "--password", "x")
    ctl_bad(d, "domain example.org exists", "domain", "add", "example.org")
    ctl_bad(d, "bad --digest-algs", "domain", "add", "x.test",
            "--digest-algs", "SHA-1")
    ctl_bad(d, "unknown command", "frob", rc=2)
    ctl_bad(d, "usage: confabctl user add", "user", "add", rc=2)
    ctl_bad(d, "confabd is not running", "status")

    bad = os.path.join(tmp, "bad.csv")
    with open(bad, "w") as f:
        f.write("aor,password\nc1@%s,pw\nc2@nowhere.test,pw\n" % DOMAIN)
    ctl_bad(d, "bad.csv:3: unknown domain 'nowhere.test'", "user", "import",
            bad)
    ctl_bad(d, "cannot read", "user", "import", os.path.join(tmp, "no.csv"))
    users = ctl_json(d, "user", "list")
    check(users["count"] == 2, "the failed import added nobody (%d users)"
          % users["count"])
    r = ctl_ok(d, "location", "show")
    check("bindings: 0" in r.stdout, "offline location show: none yet")


def online(d, tmp, n):
    port = d.port
    st = ctl_json(d, "store", "show")
    check(st["online"], "store show through the daemon")

    code, chs, _ = register(port, "alice", DOMAIN, "alice-pw")
    check(code == 200, "alice (added offline) registers (got %d)" % code)
    check(chs[0].get("algorithm", "MD5") == "MD5",
          "the default domain offers MD5 first")
    show = ctl_json(d, "user", "show", "alice@" + DOMAIN)
    check(len(show["bindings"]) == 1, "user show lists alice's binding")
    r = ctl_ok(d, "user", "show", "alice@" + DOMAIN)
    check("bindings: 1" in r.stdout and "127.0.0.1" in r.stdout,
          "user show prints it:\n" + r.stdout)
    for aor in ("alice@" + DOMAIN, "sip:alice@" + DOMAIN):
        loc = ctl_json(d, "location", "show", aor)
        check(len(loc["bindings"]) == 1, "location show %s (registrar)"
              % aor)

    # several domains: example.org has its own realm and algorithm order
    code, chs, _ = register(port, "bob", "example.org", "bob-pw")
    check(code == 200, "bob@example.org registers (got %d)" % code)
    check(chs[0]["realm"] == "Example Realm", "realm of example.org")
    check(chs[0].get("algorithm") == "SHA-256",
          "example.org offers SHA-256 first")
    code, chs, _ = register(port, "bob", DOMAIN, "bob-pw")
    check(code != 200, "bob is not a user of %s (got %d)" % (DOMAIN, code))

    # the configured domain can be set to prefer SHA-256, and back
    ctl_ok(d, "domain", "set", DOMAIN, "--digest-algs", "SHA-256,MD5")
    code, chs, _ = register(port, "alice", DOMAIN, "alice-pw",
                            alg="SHA-256")
    check(code == 200 and chs[0].get("algorithm") == "SHA-256"
          and len(chs) == 2, "after domain set, SHA-256 is offered first "
          "(and only with MD5), and works (got %d)" % code)
    ctl_ok(d, "domain", "set", DOMAIN, "--digest-algs", "default")
    code, chs, _ = register(port, "alice", DOMAIN, "alice-pw")
    check(code == 200 and chs[0].get("algorithm", "MD5") == "MD5",
          "back to the default order (got %d)" % code)

    # changes through the daemon take effect at once
    ctl_ok(d, "user", "add", "carol@" + DOMAIN, "--password", "carol-pw")
    code, _, _ = register(port, "carol", DOMAIN, "carol-pw")
    check(code == 200, "carol, added online, registers (got %d)" % code)
    ctl_ok(d, "user", "passwd", "carol@" + DOMAIN, "--password", "new-pw")
    code, _, _ = register(port, "carol", DOMAIN, "carol-pw")
    check(code != 200, "the old password is refused (got %d)" % code)
    code, _, _ = register(port, "carol", DOMAIN, "new-pw")
    check(code == 200, "the new one works (got %d)" % code)
    ctl_ok(d, "domain", "add", "third.test")
    ctl_ok(d, "user", "add", "dave@third.test", "--password", "dave-pw")
    code, chs, _ = register(port, "dave", "third.test", "dave-pw")
    check(code == 200 and chs[0]["realm"] == "third.test",
          "a domain added online is served (got %d)" % code)
    ctl_ok(d, "user", "remove", "dave@third.test")
    code, _, _ = register(port, "dave", "third.test", "dave-pw")
    check(code != 200, "a removed user is refused (got %d)" % code)
    ctl_bad(d, "exists", "user", "add", "alice@" + DOMAIN, "--password", "x")
    ctl_bad(d, "unknown domain", "user", "add", "x@nowhere.test",
            "--password", "x")

    # bulk import through the running daemon
    csv = os.path.join(tmp, "users.csv")
    with open(csv, "w") as f:
        f.write("aor,password\n")
        for i in range(n):
            f.write("u%06d@%s,pw%d\n" % (i, DOMAIN, i))
    t0 = time.monotonic()
    r = ctl_ok(d, "user", "import", csv, timeout=300)
    took = time.monotonic() - t0
    print("user import of %d rows took %.2f s (confabctl: %s)"
          % (n, took, r.stdout.strip().replace("\n", "; ")), flush=True)
    check("imported %d users" % n in r.stdout, "import reports the count")
    users = ctl_json(d, "user", "list", DOMAIN, timeout=120)
    check(users["count"] == n + 2, "user list %s counts %d (got %d)"
          % (DOMAIN, n + 2, users["count"]))
    r = ctl_ok(d, "user", "list", timeout=120)
    lines = r.stdout.splitlines()
    check(len(lines) == n + 3, "user list prints one line per user (%d)"
          % len(lines))
    last = "u%06d" % (n - 1)
    code, _, _ = register(port, last, DOMAIN, "pw%d" % (n - 1))
    check(code == 200, "an imported user registers at once (got %d)" % code)
    r = ctl(d, "user", "import", csv, timeout=300)
    check(r.returncode == 1 and "users.csv:2: user u000000@" in r.stderr,
          "importing again is refused at its first row: "
          + r.stderr.strip())
    return last


def offline_again(d, n, last):
    users = ctl_json(d, "user", "list", timeout=120)
    check(users["count"] == n + 3, "offline: the store has every user (%d)"
          % users["count"])
    ctl_bad(d, "unknown user dave@third.test", "user", "show",
            "dave@third.test")
    r = ctl_ok(d, "location", "show", "sip:bob@example.org")
    check("bindings: 1" in r.stdout,
          "offline location show: bob's binding was written behind:\n"
          + r.stdout)
    show = ctl_json(d, "user", "show", last + "@" + DOMAIN)
    check(len(show["bindings"]) == 1, "and the imported user's")
    ctl_ok(d, "domain", "remove", "third.test")
    ctl_bad(d, "unknown domain 'third.test'", "user", "list", "third.test")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--confabd", required=True)
    ap.add_argument("--confabctl", required=True)
    ap.add_argument("--users", type=int, default=100000)
    args = ap.parse_args()
    args.confabd = os.path.abspath(args.confabd)
    args.confabctl = os.path.abspath(args.confabctl)
    tmp = tempfile.mkdtemp(prefix="confab-prov-")
    d = None
    try:
        d = Daemon(args, tmp)
        offline(d, tmp)
        d.start()
        last = online(d, tmp, args.users)
        d.stop()
        offline_again(d, args.users, last)
    except (Failure, OSError, EOFError, KeyError, IndexError,
            ValueError, run.subprocess.TimeoutExpired) as e:
        print("FAIL: %s: %s" % (type(e).__name__, e), flush=True)
        if d is not None and d.proc is not None:
            print("--- confabd stderr (tail)\n%s" % d.stderr()[-4000:])
        return 1
    finally:
        if d is not None:
            d.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    print("PASS: provisioning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
