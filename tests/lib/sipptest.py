# SPDX-License-Identifier: BSD-3-Clause
"""sipptest.py - shared helpers for test modules that drive confabd with
SIPp (and other peers) on loopback.

Import it from a test module with

    sys.path.insert(0, os.path.join(HERE, "..", "lib"))
    import sipptest as st

It builds on tests/scenarios/run.py (Daemon, check, free_port, ...),
which it re-exports. Everything is bounded: each SIPp run has a
wall-clock limit, every background process is recorded in PEERS and
stopped by its PID (never by name) at the end of the case (main()).

- daemon(args, tmp, extra)         a confabd with alice and bob (password pw)
- register(d, user, port, ...)     REGISTER a Contact for user (one UDP
                                   exchange), with optional +sip.instance/reg-id
- Sipp(d, scenario_dir)            one SIPp scenario directory:
    .uas(scenario, port, ...)      start a UAS in the background, PID kept
    .uac(scenario, ...)            run a UAC to completion (exit 0 checked)
    .uac_start(scenario, ...)      a UAC in the background
    .wait(p, what)                 wait for a background SIPp, exit 0 checked
- raw(d) / first_final(u)          raw UDP requests and their final response
- main(cases, doc)                 the argparse/cleanup runner of a module
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

LIB = os.path.dirname(os.path.abspath(__file__))
SCEN = os.path.join(LIB, "..", "scenarios")
sys.path.insert(0, SCEN)
import run  # noqa: E402
from run import (DOMAIN, Daemon, Failure, check, counter,  # noqa: E402,F401
                 free_port, header, request, status_line, udp_recv,
                 udp_socket)

# run.py's helpers are re-exported (test modules import them from here)
__all__ = ["DOMAIN", "Daemon", "Failure", "check", "counter", "free_port",
           "header", "request", "status_line", "udp_recv", "udp_socket",
           "PEERS", "SIPP_LIMIT", "ctl", "daemon", "register", "read",
           "sipp_exe", "Sipp", "final", "status_counter", "log_has", "main"]

PEERS = []  # Popen of every background process (stopped by PID at the end)
SIPP_LIMIT = 60  # seconds a SIPp UAC may run; a UAS waits 40 s more


def ctl(d, *argv):
    r = d.ctl_run(*argv, timeout=20)
    check(r.returncode == 0, "confabctl %s exits 0 (%d: %s)"
          % (" ".join(argv), r.returncode, (r.stdout + r.stderr)[:300]))
    return r.stdout


def daemon(args, tmp, extra=None, users=("alice", "bob")):
    """A confabd (debug log, registrar without digest) with users added;
    extra: {"section.key": value}."""
    conf = {"general.log_level": "debug", "registrar.authenticate": "no",
            "security.allow": "127.0.0.0/8"}
    conf.update(extra or {})
    d = Daemon(args, tmp, conf)
    d.start()
    for u in users:
        ctl(d, "user", "add", "%s@%s" % (u, DOMAIN), "--password", "pw")
    return d


def register(d, user, port, transport="udp", instance=None, reg_id=None,
             q=None, expires=300):
    """REGISTER user's Contact sip:user@127.0.0.1:port (one UDP exchange
    with the registrar); instance adds +sip.instance (and reg-id) so the
    registrar may hand out GRUUs. Returns the 200's text."""
    u = udp_socket()
    lp = u.getsockname()[1]
    tp = "" if transport == "udp" else ";transport=" + transport
    params = ""
    if q is not None:
        params += ";q=%s" % q
    if instance:
        params += ';+sip.instance="<%s>"' % instance
    if reg_id is not None:
        params += ";reg-id=%d" % reg_id
    stamp = "%d-%d-%d" % (os.getpid(), port, time.monotonic_ns())
    msg = ("REGISTER sip:%s SIP/2.0\r\n"
           "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-reg-%s;rport\r\n"
           "Max-Forwards: 70\r\n"
           "From: <sip:%s@%s>;tag=r%d\r\n"
           "To: <sip:%s@%s>\r\n"
           "Call-ID: reg-%s@127.0.0.1\r\n"
           "CSeq: 1 REGISTER\r\n"
           "Supported: gruu, path, outbound\r\n"
           "Contact: <sip:%s@127.0.0.1:%d%s>%s\r\n"
           "Expires: %d\r\n"
           "Content-Length: 0\r\n\r\n"
           % (DOMAIN, lp, stamp, user, DOMAIN, port, user, DOMAIN, stamp,
              user, port, tp, params, expires))
    u.sendto(msg.encode(), ("127.0.0.1", d.port))
    r = udp_recv(u)
    u.close()
    check(status_line(r).startswith("SIP/2.0 200"),
          "REGISTER %s at port %d: %s" % (user, port, status_line(r)))
    return r


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def sipp_exe():
    exe = shutil.which("sipp")
    if exe is None:
        raise Failure("sipp not found (package sip-tester)")
    return exe


class Sipp:
    """SIPp runs of the scenarios in `sdir` against daemon d. Each run
    traces its messages to TMP/<scenario>-<port>.msg (msgs())."""

    def __init__(self, d, sdir):
        self.d = d
        self.sdir = sdir

    def cmd(self, scenario, port, transport, extra=()):
        tag = self.tag(scenario, port)
        return [sipp_exe(), "127.0.0.1:%d" % self.d.port,
                "-sf", os.path.join(self.sdir, scenario),
                "-key", "domain", DOMAIN, "-i", "127.0.0.1", "-p", str(port),
                "-t", transport, "-m", "1", "-l", "1", "-timeout", "30s",
                "-timeout_error", "-nostdin", "-trace_err", "-error_file",
                os.path.join(self.d.tmp, tag + ".err"), "-trace_msg",
                "-message_file", os.path.join(self.d.tmp, tag + ".msg")
                ] + list(extra)

    @staticmethod
    def tag(scenario, port):
        return "%s-%d" % (os.path.splitext(os.path.basename(scenario))[0],
                          port)

    def msgs(self, scenario, port):
        """What SIPp sent and received in that run (-trace_msg)."""
        return read(os.path.join(self.d.tmp,
                                 self.tag(scenario, port) + ".msg"))

    def uas(self, scenario, port, transport="u1", extra=()):
        """Start a SIPp UAS on 127.0.0.1:port in the background."""
        cmd = self.cmd(scenario, port, transport, extra)
        print("$ " + " ".join(cmd) + " &", flush=True)
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, cwd=self.d.tmp)
        p.scenario, p.port = scenario, port
        PEERS.append(p)
        time.sleep(0.3)  # bound: SIPp binds its port at once
        if p.poll() is not None:
            sys.stdout.write(p.stdout.read().decode(errors="replace")[-2000:])
        check(p.poll() is None, "SIPp %s runs" % scenario)
        return p

    def uac(self, scenario, transport="u1", caller="alice", callee="bob",
            extra=(), port=None, want_rc=0):
        """Run a SIPp UAC to its end (at most SIPP_LIMIT s); [field0]
        caller, [field1] pw, [field2] callee, [field3] credentials.
        Returns the port it used (msgs(scenario, port) has its trace)."""
        port = port or free_port()
        inf = os.path.join(self.d.tmp, "uac-%d.csv" % port)
        with open(inf, "w") as f:
            f.write("SEQUENTIAL\n%s;pw;%s;[authentication username=%s "
                    "password=pw]\n" % (caller, callee, caller))
        cmd = self.cmd(scenario, port, transport,
                       ["-inf", inf, "-d", "200"] + list(extra))
        print("$ " + " ".join(cmd), flush=True)
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True,
                           timeout=SIPP_LIMIT, cwd=self.d.tmp)
        if r.returncode != want_rc:
            sys.stdout.write(r.stdout[-2000:] + r.stderr[-2000:])
            sys.stdout.write(self.msgs(scenario, port)[-6000:])
        check(r.returncode == want_rc, "SIPp UAC %s over %s exits %d (got "
              "%d)" % (scenario, transport, want_rc, r.returncode))
        return port

    def uac_start(self, scenario, transport="u1", caller="alice",
                  callee="bob", extra=()):
        """A UAC in the background (when the test plays the other side
        itself); wait() ends it. Fields as uac()."""
        port = free_port()
        inf = os.path.join(self.d.tmp, "uac-%d.csv" % port)
        with open(inf, "w") as f:
            f.write("SEQUENTIAL\n%s;pw;%s;[authentication username=%s "
                    "password=pw]\n" % (caller, callee, caller))
        return self.uas(scenario, port, transport, ["-inf", inf] +
                        list(extra))

    def wait(self, p, what=None, timeout=40):
        """Wait (bounded) for a background UAS; it must exit 0."""
        what = what or p.scenario
        try:
            out, _ = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=5)
            raise Failure("SIPp %s did not end within %d s"
                          % (what, timeout))
        if p.returncode != 0:
            sys.stdout.write(out.decode(errors="replace")[-3000:])
            sys.stdout.write(self.msgs(p.scenario, p.port)[-4000:])
        check(p.returncode == 0, "SIPp %s exits 0 (got %d)"
              % (what, p.returncode))


def final(u, limit=6):
    """The first response on UDP socket u that is not 1xx (bounded)."""
    for _ in range(limit):
        r = udp_recv(u)
        if not status_line(r).startswith("SIP/2.0 1"):
            return r
    raise Failure("no final response in %d messages" % limit)


def status_counter(d, *words):
    """A counter of `confabctl status --json` whose dotted name contains
    every word (0 when none)."""
    return counter(d.status_json(), *words)[0]


def log_has(d, pattern, timeout=5):
    """Wait (bounded) until confabd's stderr matches the regex."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if re.search(pattern, d.stderr()):
            return True
        time.sleep(0.05)
    return False


def main(cases, doc, prefix="confab-test-"):
    """argparse (--confabd, --confabctl, --keep, CASE), run the case in a
    temp dir, stop every peer and daemon by PID, PASS/FAIL, exit code."""
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--confabd", required=True)
    ap.add_argument("--confabctl", required=True)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("case", choices=sorted(cases))
    args = ap.parse_args()
    args.confabd = os.path.abspath(args.confabd)
    args.confabctl = os.path.abspath(args.confabctl)
    tmp = tempfile.mkdtemp(prefix=prefix)
    try:
        cases[args.case](args, tmp)
    except (Failure, OSError, EOFError, subprocess.TimeoutExpired) as e:
        print("FAIL: %s: %s" % (type(e).__name__, e), flush=True)
        for dd in run.DAEMONS:
            print("--- confabd %s stderr (tail)\n%s"
                  % (dd.tmp, dd.stderr()[-6000:]))
        return 1
    finally:
        for p in PEERS:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=5)
        for dd in run.DAEMONS:
            dd.kill()
        if args.keep:
            print("kept " + tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print("PASS: " + args.case)
    return 0
