#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""run.py - one end-to-end scenario against a real confabd.

Usage: run.py --confabd EXE --confabctl EXE CASE

Each CASE (see CASES at the bottom) starts its own confabd on free loopback
ports with a temporary data directory, drives it with SIPp (the XML files next
to this script) or with raw sockets (what SIPp cannot do: several messages in
one TCP write, garbage, oversize datagrams), then stops it with SIGTERM and
checks that it exited 0 with no sanitizer report on stderr.

Exit 0 on success, 1 on failure (a missing program, sipp or confabd, is a
failure, never a skip). Every wait is bounded.
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DOMAIN = "confab.test"
SANITIZER_RE = re.compile(
    r"ERROR: AddressSanitizer|ERROR: LeakSanitizer|LeakSanitizer|"
    r"runtime error:|UndefinedBehaviorSanitizer")


class Failure(Exception):
    pass


# Every Daemon started, so that main() can kill a failed case's confabd (by
# its PID) before it removes the temporary directory.
DAEMONS = []


def check(cond, what):
    if not cond:
        raise Failure(what)
    print("ok: " + what, flush=True)


# ----------------------------------------------------------------- ports

def has_ipv6():
    """True when ::1 can be bound (some containers have no IPv6)."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as o:
            o.bind(("::1", 0))
        return True
    except OSError:
        return False


def free_port():
    """A port free for UDP and TCP on 127.0.0.1 (and ::1 when it exists):
    bind port 0 on TCP/IPv4, then check the same number on the others;
    bounded retries; racy only against processes that bind explicit ports
    in between."""
    v6 = has_ipv6()
    for _ in range(50):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.bind(("127.0.0.1", 0))
        port = t.getsockname()[1]
        others = []
        try:
            for fam, typ, host in (
                    (socket.AF_INET, socket.SOCK_DGRAM, "127.0.0.1"),
                    (socket.AF_INET6, socket.SOCK_STREAM, "::1"),
                    (socket.AF_INET6, socket.SOCK_DGRAM, "::1")):
                if fam == socket.AF_INET6 and not v6:
                    continue
                o = socket.socket(fam, typ)
                others.append(o)
                o.bind((host, port))
            return port
        except OSError:
            continue
        finally:
            for o in others:
                o.close()
            t.close()
    raise Failure("no free port on the loopback")


# ---------------------------------------------------------------- daemon

class Daemon:
    """A confabd of our own: config file and data dir in a temp dir."""

    def __init__(self, args, tmp, extra=None, ipv6=False):
        self.exe = args.confabd
        self.ctl = args.confabctl
        self.tmp = tmp
        os.makedirs(tmp, exist_ok=True)
        self.port = free_port()
        self.data = os.path.join(tmp, "var")
        os.mkdir(self.data)
        self.conf = os.path.join(tmp, "confab.conf")
        sections = {
            "general": {
                "data_dir": self.data,
                "domain": DOMAIN,
                "log_level": "info",
                "workers": "2",
            },
            "sip": {
                "listen": "udp:127.0.0.1:%d, tcp:127.0.0.1:%d" % (
                    self.port, self.port) + (
                    ", udp:[::1]:%d, tcp:[::1]:%d" % (self.port, self.port)
                    if ipv6 else ""),
            },
        }
        for sk, v in (extra or {}).items():
            s, k = sk.split(".", 1)
            sections.setdefault(s, {})[k] = v
        with open(self.conf, "w") as f:
            for s, kv in sections.items():
                f.write("[%s]\n" % s)
                for k, v in kv.items():
                    f.write("%s = %s\n" % (k, v))
                f.write("\n")
        self.out = open(os.path.join(tmp, "confabd.out"), "w+")
        self.err = open(os.path.join(tmp, "confabd.err"), "w+")
        self.proc = None

    def start(self):
        if not os.access(self.exe, os.X_OK):
            raise Failure("confabd not found: " + self.exe)
        self.proc = subprocess.Popen(
            [self.exe, "--config", self.conf], stdin=subprocess.DEVNULL,
            stdout=self.out, stderr=self.err, cwd=self.tmp)
        DAEMONS.append(self)
        # Ready when it prints its banner ("... listening on ..."), which
        # it does once it serves requests (bounded: 10 s).
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Failure("confabd exited at start (%d): %s"
                              % (self.proc.returncode, self.stderr()))
            if " listening on " in self.stderr():
                print("confabd pid %d on 127.0.0.1:%d"
                      % (self.proc.pid, self.port), flush=True)
                return self
            time.sleep(0.05)
        raise Failure("confabd printed no 'listening on' banner within 10 s")

    def signal_and_wait(self, sig, line):
        """Send sig by PID and wait (at most 10 s) until stderr has one more
        line containing `line` than before."""
        n = self.stderr().count(line)
        self.proc.send_signal(sig)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.stderr().count(line) > n:
                print("ok: confabd logged %r" % line, flush=True)
                return
            time.sleep(0.05)
        raise Failure("confabd did not log %r within 10 s" % line)

    def stderr(self):
        self.err.flush()
        with open(self.err.name, errors="replace") as f:
            return f.read()

    def ctl_run(self, *argv, timeout=10):
        if not os.access(self.ctl, os.X_OK):
            raise Failure("confabctl not found: " + self.ctl)
        return subprocess.run([self.ctl, "--config", self.conf] + list(argv),
                              stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=timeout)

    def status_json(self):
        r = self.ctl_run("status", "--json")
        check(r.returncode == 0, "confabctl status --json exits 0 (%d: %s)"
              % (r.returncode, r.stderr.strip()))
        try:
            return json.loads(r.stdout)
        except ValueError:
            raise Failure("confabctl status --json is not JSON: %r"
                          % r.stdout[:200])

    def stop(self):
        """SIGTERM by PID; it must exit 0 within 15 s with a clean
        stderr."""
        if self.proc is None:
            return
        p, self.proc = self.proc, None
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)
                raise Failure("confabd did not exit within 15 s of SIGTERM")
        err = self.stderr()
        m = SANITIZER_RE.search(err)
        check(m is None, "no sanitizer report on confabd's stderr"
              + ("" if m is None else
                 ":\n" + err[max(0, m.start() - 300):m.start() + 3000]))
        check(p.returncode == 0, "confabd exited 0 after SIGTERM (got %d)"
              % p.returncode)

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)


def counter(status, *words):
    """Sum of the numeric status fields whose dotted name contains every
    word (the counters may be nested objects)."""
    total, names = 0, []

    def walk(obj, path):
        nonlocal total
        if isinstance(obj, dict):
            for k, v in obj.items():
                walk(v, path + [str(k)])
        elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
            name = ".".join(path).lower()
            if all(w in name for w in words):
                total += obj
                names.append(name)

    walk(status, [])
    return total, names


# ------------------------------------------------------------------ sipp

def sipp(d, scenario, transport, extra=(), ipv6=False):
    exe = shutil.which("sipp")
    if exe is None:
        raise Failure("sipp not found (package sip-tester)")
    local = free_port()
    host = "::1" if ipv6 else "127.0.0.1"
    remote = ("[::1]:%d" if ipv6 else "127.0.0.1:%d") % d.port
    cmd = [exe, remote, "-sf", os.path.join(HERE, scenario),
           "-key", "domain", DOMAIN, "-i", host, "-p", str(local),
           "-t", transport, "-m", "1", "-l", "1", "-timeout", "30s",
           "-timeout_error", "-nostdin", "-trace_err", "-error_file",
           os.path.join(d.tmp, "sipp.err")] + list(extra)
    print("$ " + " ".join(cmd), flush=True)
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=60, cwd=d.tmp)
    if r.returncode != 0:
        sys.stdout.write(r.stdout[-3000:] + r.stderr[-3000:])
        try:
            with open(os.path.join(d.tmp, "sipp.err"),
                      errors="replace") as f:
                sys.stdout.write(f.read()[-3000:])
        except OSError:
            pass
    check(r.returncode == 0, "sipp %s over %s%s exits 0 (got %d)"
          % (scenario, transport, " IPv6" if ipv6 else "", r.returncode))


# ------------------------------------------------------------ raw sockets

def request(method, port, transport="UDP", branch=None, call_id=None,
            cseq=1, ruri=None, extra="", body="", cseq_text=None):
    branch = branch or "z9hG4bK-raw-%d-%d" % (os.getpid(), time.monotonic_ns())
    call_id = call_id or "raw-%d-%d@127.0.0.1" % (os.getpid(),
                                                  time.monotonic_ns())
    ruri = ruri or "sip:127.0.0.1:%d" % port
    # From a domain we do not serve: the proxy challenges (407) only the
    # requests of our own users, and these raw requests test other rules
    msg = ("%s %s SIP/2.0\r\n"
           "Via: SIP/2.0/%s 127.0.0.1:9;branch=%s;rport\r\n"
           "Max-Forwards: 70\r\n"
           "From: <sip:raw@client.invalid>;tag=raw%d\r\n"
           "To: <%s>\r\n"
           "Call-ID: %s\r\n"
           "CSeq: %s\r\n"
           "%s"
           "Content-Length: %d\r\n\r\n%s"
           % (method, ruri, transport, branch, os.getpid(), ruri,
              call_id, cseq_text or "%d %s" % (cseq, method), extra,
              len(body.encode()), body))
    return msg.encode()


class Stream:
    """A TCP connection that splits what it reads into SIP messages."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.s.settimeout(10)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def read_more(self):
        data = self.s.recv(65536)
        if not data:
            raise EOFError
        self.buf += data

    def read_msg(self):
        while True:
            head_end = self.buf.find(b"\r\n\r\n")
            if head_end >= 0:
                head = self.buf[:head_end].decode(errors="replace")
                m = re.search(r"(?im)^(content-length|l)\s*:\s*(\d+)", head)
                n = int(m.group(2)) if m else 0
                if len(self.buf) >= head_end + 4 + n:
                    msg = self.buf[:head_end + 4 + n]
                    self.buf = self.buf[head_end + 4 + n:]
                    return msg.decode(errors="replace")
            self.read_more()

    def read_exact(self, n):
        while len(self.buf) < n:
            self.read_more()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def closed_by_peer(self):
        """True when the peer closes within 10 s (what it sent first,
        e.g. a 400, is dropped)."""
        try:
            while True:
                self.read_more()
        except EOFError:
            return True
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False

    def close(self):
        self.s.close()


def status_line(msg):
    return msg.split("\r\n", 1)[0]


def header(msg, name):
    m = re.search(r"(?im)^%s\s*:\s*(.*)$" % re.escape(name), msg)
    return m.group(1).strip() if m else None


def udp_socket():
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    u.settimeout(10)
    return u


def udp_recv(u):
    data, _ = u.recvfrom(70000)
    return data.decode(errors="replace")


def ring(u, port, user):
    """Send an INVITE to sip:USER@DOMAIN over UDP; return it and the first
    response that is not 100 Trying."""
    inv = request("INVITE", port, ruri="sip:%s@%s" % (user, DOMAIN))
    u.sendto(inv, ("127.0.0.1", port))
    r = udp_recv(u)
    for _ in range(3):  # skip 100 Trying (and its copy)
        if not status_line(r).startswith("SIP/2.0 100"):
            break
        r = udp_recv(u)
    return inv, r


def cancel(u, port, inv):
    """CANCEL a ringing INVITE (ring()): the CANCEL must get 200 and the
    INVITE 487, which is ACKed with the INVITE's branch (§17.1.1.3)."""
    text = inv.decode()
    ruri = text.split(" ", 2)[1]
    branch = re.search(r"branch=([^;\r\n]+)", text).group(1)
    cid = header(text, "Call-ID")
    u.sendto(request("CANCEL", port, branch=branch, call_id=cid, ruri=ruri),
             ("127.0.0.1", port))
    got = {}
    for _ in range(6):
        r = udp_recv(u)
        got[(status_line(r).split(" ")[1], header(r, "CSeq"))] = r
        if ("200", "1 CANCEL") in got and ("487", "1 INVITE") in got:
            break
    check(("200", "1 CANCEL") in got, "CANCEL answered 200")
    check(("487", "1 INVITE") in got, "INVITE answered 487")
    ack = request("ACK", port, branch=branch, call_id=cid, ruri=ruri).replace(
        b"To: <%s>" % ruri.encode(),
        b"To: " + header(got[("487", "1 INVITE")], "To").encode())
    u.sendto(ack, ("127.0.0.1", port))


# ------------------------------------------------------------------ cases

# SIPp cases: name -> (scenario XML, SIPp transports, configuration keys).
SIPP_CASES = {
    "options_udp": ("options.xml", ("u1",), None),
    "options_tcp": ("options.xml", ("t1",), None),
    "invite_cancel_udp": ("invite_cancel.xml", ("u1",), None),
    "invite_cancel_tcp": ("invite_cancel.xml", ("t1",), None),
    "invite_timeout": ("invite_timeout.xml", ("u1",),
                       {"test.ring_timeout": "2"}),
    "bad_request": ("bad_request.xml", ("u1", "t1"), None),
    "unknown": ("unknown.xml", ("u1", "t1"), None),
}


def sipp_case(scenario, transports, extra):
    def run(args, tmp):
        d = Daemon(args, tmp, extra).start()
        for tp in transports:
            sipp(d, scenario, tp)
        d.stop()
    return run


def case_ipv6(args, tmp):
    """OPTIONS and INVITE/CANCEL over UDP and TCP on ::1."""
    check(has_ipv6(), "this machine has an IPv6 loopback (::1)")
    d = Daemon(args, tmp, ipv6=True).start()
    for tp in ("u1", "t1"):
        sipp(d, "options.xml", tp, ipv6=True)
        sipp(d, "invite_cancel.xml", tp, ipv6=True)
    d.stop()


def case_retransmission(args, tmp):
    """The same OPTIONS twice (same branch and Call-ID): OPTIONS to the
    server is answered statelessly, so the copy is answered again, byte for
    byte the same (same To tag, RFC 3261 §8.2.7). A request answered inside
    a transaction (MESSAGE to an unknown user, 404) has its copy absorbed
    and the last response resent; the same for an INVITE, whose copy gets
    the last provisional again (RFC 3261 §17.2.1, §17.2.2)."""
    d = Daemon(args, tmp).start()
    before, _ = counter(d.status_json(), "retrans")
    u = udp_socket()
    req = request("OPTIONS", d.port)
    u.sendto(req, ("127.0.0.1", d.port))
    r1 = udp_recv(u)
    check(status_line(r1).startswith("SIP/2.0 200"),
          "first OPTIONS copy answered 200: " + status_line(r1))
    u.sendto(req, ("127.0.0.1", d.port))
    r2 = udp_recv(u)
    check(r2 == r1, "second copy answered with the same 200 (To: %s)"
          % header(r2, "To"))
    check(";tag=" in (header(r1, "To") or ""), "the 200 has a To tag")

    msg = request("MESSAGE", d.port,
                  ruri="sip:nobody@%s:%d" % ("127.0.0.1", d.port))
    u.sendto(msg, ("127.0.0.1", d.port))
    m1 = udp_recv(u)
    check(status_line(m1).startswith("SIP/2.0 404"),
          "MESSAGE to an unknown user answered 404: " + status_line(m1))
    u.sendto(msg, ("127.0.0.1", d.port))
    m2 = udp_recv(u)
    check(m2 == m1, "MESSAGE copy absorbed: the same 404 resent")

    inv, first = ring(u, d.port, "ring")
    check(status_line(first).startswith("SIP/2.0 180"),
          "INVITE to ring answered 180: " + status_line(first))
    u.sendto(inv, ("127.0.0.1", d.port))
    again = udp_recv(u)
    check(again == first, "INVITE copy answered with the same 180")
    cancel(u, d.port, inv)

    after, names = counter(d.status_json(), "retrans")
    check(bool(names), "status has a retransmission counter")
    check(after >= before + 2, "retransmission counter rose by 2 or more "
          "(%s: %d -> %d)" % (",".join(names), before, after))
    u.close()
    d.stop()


def case_tcp_pipelining(args, tmp):
    """Two OPTIONS in one write get two 200s; one split in three writes
    gets one; a CRLF CRLF ping gets a CRLF pong (RFC 5626 §3.5.1)."""
    d = Daemon(args, tmp).start()
    s = Stream(d.port)
    a = request("OPTIONS", d.port, "TCP", cseq=1)
    b = request("OPTIONS", d.port, "TCP", cseq=2)
    s.send(a + b)
    # Two transactions (two Call-IDs, possibly two workers): the answers
    # may come in either order; each must be a 200 for its own CSeq.
    got = {}
    for _ in range(2):
        r = s.read_msg()
        got[header(r, "CSeq")] = status_line(r)
    for cseq in ("1 OPTIONS", "2 OPTIONS"):
        check((got.get(cseq) or "").startswith("SIP/2.0 200"),
              "pipelined OPTIONS (CSeq %s) answered 200: %s" % (cseq, got))
    c = request("OPTIONS", d.port, "TCP", cseq=3, body="")
    cut1, cut2 = 10, len(c) - 5
    for part in (c[:cut1], c[cut1:cut2], c[cut2:]):
        s.send(part)
        time.sleep(0.2)
    r3 = s.read_msg()
    check(status_line(r3).startswith("SIP/2.0 200")
          and header(r3, "CSeq") == "3 OPTIONS",
          "OPTIONS split over three writes answered 200")
    s.send(b"\r\n\r\n")
    check(s.read_exact(2) == b"\r\n", "CRLF CRLF ping answered CRLF pong")
    s.send(request("OPTIONS", d.port, "TCP", cseq=4))
    r4 = s.read_msg()
    check(status_line(r4).startswith("SIP/2.0 200")
          and header(r4, "CSeq") == "4 OPTIONS",
          "connection still works after the keep-alive")
    s.close()
    d.stop()


def case_tcp_garbage(args, tmp):
    """Garbage on one TCP connection closes that connection only."""
    d = Daemon(args, tmp).start()
    good = Stream(d.port)
    good.send(request("OPTIONS", d.port, "TCP", cseq=1))
    check(status_line(good.read_msg()).startswith("SIP/2.0 200"),
          "good connection answered before")
    bad = Stream(d.port)
    bad.send(b"\x16\x03\x01\x00\xa5 this is not SIP at all\r\n\r\n"
             + b"\x00\xff" * 64 + b"\r\n\r\n")
    check(bad.closed_by_peer(), "connection with garbage closed by confabd")
    bad.close()
    good.send(request("OPTIONS", d.port, "TCP", cseq=2))
    r = good.read_msg()
    check(status_line(r).startswith("SIP/2.0 200")
          and header(r, "CSeq") == "2 OPTIONS",
          "other connection still answered after")
    good.close()
    d.stop()


def case_reload(args, tmp):
    """SIGHUP re-reads the file: a live key (the test extension's name)
    takes effect; a file with a bad key is refused and the daemon keeps
    its configuration and keeps answering."""
    d = Daemon(args, tmp).start()
    u = udp_socket()
    with open(d.conf, "a") as f:
        f.write("[test]\nring_extension = bell\n")
    d.signal_and_wait(signal.SIGHUP, "configuration reloaded")
    inv, r = ring(u, d.port, "bell")
    check(status_line(r).startswith("SIP/2.0 180"),
          "after SIGHUP, sip:bell rings: " + status_line(r))
    cancel(u, d.port, inv)
    _, r = ring(u, d.port, "ring")
    check(status_line(r).startswith("SIP/2.0 404"),
          "and sip:ring is unknown (404): " + status_line(r))
    with open(d.conf, "a") as f:
        f.write("no_such_key = 1\n")
    d.signal_and_wait(signal.SIGHUP, "reload failed")
    inv, r = ring(u, d.port, "bell")
    check(status_line(r).startswith("SIP/2.0 180"),
          "a bad file on SIGHUP changes nothing: sip:bell still rings")
    cancel(u, d.port, inv)
    u.close()
    d.stop()


def case_shutdown(args, tmp):
    """SIGTERM with a call ringing: the INVITE gets a final response before
    confabd exits 0, with nothing leaked (ASan checks at exit)."""
    d = Daemon(args, tmp).start()
    u = udp_socket()
    inv, r = ring(u, d.port, "ring")
    check(status_line(r).startswith("SIP/2.0 180"), "INVITE to ring rings")
    d.proc.send_signal(signal.SIGTERM)
    final = udp_recv(u)
    for _ in range(3):
        if not status_line(final).startswith("SIP/2.0 1"):
            break
        final = udp_recv(u)
    code = int(status_line(final).split(" ")[1])
    check(400 <= code < 700 and header(final, "CSeq") == "1 INVITE",
          "the ringing INVITE got a final response: " + status_line(final))
    u.close()
    d.stop()


def case_tcp_limits(args, tmp):
    """[sip] tcp_max_per_ip: a connection past the limit is closed (its
    request unanswered) while the others keep working; [sip]
    tcp_idle_timeout: an idle connection is closed by confabd. Two daemons,
    so that the idle timer cannot pass for the limit."""
    d = Daemon(args, os.path.join(tmp, "limit"),
               {"sip.tcp_max_per_ip": "2"}).start()
    a, b = Stream(d.port), Stream(d.port)
    for n, s in enumerate((a, b), 1):
        s.send(request("OPTIONS", d.port, "TCP", cseq=n))
        check(status_line(s.read_msg()).startswith("SIP/2.0 200"),
              "connection %d of 2 answered 200" % n)
    c = Stream(d.port)
    try:
        c.send(request("OPTIONS", d.port, "TCP", cseq=3))
    except OSError:
        pass  # closed already
    check(c.closed_by_peer() and not c.buf,
          "a third connection from 127.0.0.1 is closed unanswered")
    c.close()
    a.send(request("OPTIONS", d.port, "TCP", cseq=4))
    check(status_line(a.read_msg()).startswith("SIP/2.0 200"),
          "the first connection still works")
    a.close()
    b.close()
    d.stop()

    d = Daemon(args, os.path.join(tmp, "idle"),
               {"sip.tcp_idle_timeout": "1"}).start()
    a = Stream(d.port)
    a.send(request("OPTIONS", d.port, "TCP"))
    check(status_line(a.read_msg()).startswith("SIP/2.0 200"),
          "a connection answered 200")
    check(a.closed_by_peer(), "then closed when idle past tcp_idle_timeout")
    a.close()
    d.stop()


def case_bad_cseq(args, tmp):
    """A CSeq that is not a number, or overflows 32 bits (RFC 4475
    §3.1.2.5), gets 400 whose reason phrase names CSeq, over UDP and TCP
    (RFC 3261 §8.1.1.5, §21.4.1)."""
    d = Daemon(args, tmp).start()
    bad = ("one OPTIONS", "36893488147419103232 OPTIONS")
    u = udp_socket()
    for text in bad:
        u.sendto(request("OPTIONS", d.port, cseq_text=text),
                 ("127.0.0.1", d.port))
        r = udp_recv(u)
        check(re.match(r"SIP/2\.0 400 .*cseq", status_line(r), re.I)
              is not None, "UDP CSeq %r answered 400 naming CSeq: %s"
              % (text, status_line(r)))
    u.close()
    for text in bad:
        s = Stream(d.port)
        s.send(request("OPTIONS", d.port, "TCP", cseq_text=text))
        r = s.read_msg()
        check(re.match(r"SIP/2\.0 400 .*cseq", status_line(r), re.I)
              is not None, "TCP CSeq %r answered 400 naming CSeq: %s"
              % (text, status_line(r)))
        s.close()
    d.stop()


def case_oversize_udp(args, tmp):
    """A datagram over the size limit gets 513 (RFC 3261 §21.5.11)."""
    d = Daemon(args, tmp, {"sip.max_message_size": "4096"}).start()
    u = udp_socket()
    big = request("OPTIONS", d.port, extra="X-Pad: %s\r\n" % ("p" * 6000))
    u.sendto(big, ("127.0.0.1", d.port))
    r = udp_recv(u)
    check(status_line(r).startswith("SIP/2.0 513"),
          "oversize OPTIONS answered 513: " + status_line(r))
    u.sendto(request("OPTIONS", d.port), ("127.0.0.1", d.port))
    r = udp_recv(u)
    check(status_line(r).startswith("SIP/2.0 200"),
          "a normal OPTIONS after it answered 200")
    u.close()
    d.stop()


def case_check_config(args, tmp):
    """--check-config: a good file exits 0; a bad key is reported with
    its line number and exits 1."""
    if not os.access(args.confabd, os.X_OK):
        raise Failure("confabd not found: " + args.confabd)
    good = os.path.join(tmp, "good.conf")
    with open(good, "w") as f:
        f.write("[general]\ndomain = %s\n" % DOMAIN)
    r = subprocess.run([args.confabd, "--check-config", "--config", good],
                       stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=20)
    check(r.returncode == 0, "--check-config on a good file exits 0 "
          "(%d: %s)" % (r.returncode, r.stderr.strip()))
    bad = os.path.join(tmp, "bad.conf")
    with open(bad, "w") as f:
        f.write("; a comment\n[general]\ndomain = %s\n\nno_such_key = 1\n"
                % DOMAIN)
    r = subprocess.run([args.confabd, "--check-config", "--config", bad],
                       stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=20)
    out = r.stdout + r.stderr
    check(r.returncode == 1, "--check-config on a bad key exits 1 (got %d)"
          % r.returncode)
    check(re.search(r"\b5\b", out) is not None and "no_such_key" in out,
          "the report names line 5 and the key: " + out.strip())


def case_cli(args, tmp):
    """confabd --version and --help exit 0 and say what they should; an
    unknown option or confabctl command fails with a message."""
    def run(*argv):
        if not os.access(argv[0], os.X_OK):
            raise Failure("not found: " + argv[0])
        return subprocess.run(list(argv), stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=20)
    r = run(args.confabd, "--version")
    check(r.returncode == 0 and re.search(r"confabd \d+\.\d+", r.stdout),
          "confabd --version: " + r.stdout.strip())
    r = run(args.confabd, "--help")
    check(r.returncode == 0 and "--config" in r.stdout
          and "--check-config" in r.stdout, "confabd --help lists options")
    r = run(args.confabd, "--no-such-option")
    check(r.returncode != 0 and r.stderr.strip(),
          "confabd --no-such-option fails (%d): %s"
          % (r.returncode, r.stderr.strip()[:80]))
    r = run(args.confabctl, "--help")
    check(r.returncode == 0 and "status" in r.stdout,
          "confabctl --help lists the status command")
    r = run(args.confabctl, "frobnicate")
    check(r.returncode != 0 and "frobnicate" in r.stderr,
          "confabctl frobnicate fails naming it: " + r.stderr.strip())


def case_confabctl_status(args, tmp):
    """confabctl status prints counters while confabd runs, and fails
    clearly (non-zero, a message on stderr) when it does not."""
    d = Daemon(args, tmp).start()
    r = d.ctl_run("status")
    check(r.returncode == 0, "confabctl status exits 0 (%d: %s)"
          % (r.returncode, r.stderr.strip()))
    check(re.search(r"\d", r.stdout) is not None and len(r.stdout) > 20,
          "confabctl status prints counters:\n" + r.stdout)
    st = d.status_json()
    check(isinstance(st, dict) and len(st) > 0, "status --json is an object")
    d.stop()
    r = d.ctl_run("status")
    check(r.returncode != 0, "confabctl status fails when confabd is down "
          "(got %d)" % r.returncode)
    check(len(r.stderr.strip()) > 0, "and says why: " + r.stderr.strip())


CASES = {name[5:]: fn for name, fn in globals().items()
         if name.startswith("case_")}
CASES.update({name: sipp_case(*c) for name, c in SIPP_CASES.items()})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--confabd", required=True)
    ap.add_argument("--confabctl", required=True)
    ap.add_argument("case", choices=sorted(CASES))
    args = ap.parse_args()
    args.confabd = os.path.abspath(args.confabd)
    args.confabctl = os.path.abspath(args.confabctl)
    tmp = tempfile.mkdtemp(prefix="confab-scn-")
    try:
        CASES[args.case](args, tmp)
    except (Failure, OSError, EOFError, subprocess.TimeoutExpired) as e:
        print("FAIL: %s: %s" % (type(e).__name__, e), flush=True)
        for d in DAEMONS:
            print("--- confabd %s stderr (tail)\n%s"
                  % (d.tmp, d.stderr()[-4000:]))
        return 1
    finally:
        for d in DAEMONS:
            d.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    print("PASS: " + args.case)
    return 0


if __name__ == "__main__":
    sys.exit(main())
