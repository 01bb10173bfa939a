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
import base64
import hashlib
import json
import ssl
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

    def __init__(self, args, tmp, extra=None, ipv6=False, tls=False,
                 ws=False, wss=False):
        self.exe = args.confabd
        self.ctl = args.confabctl
        self.tmp = tmp
        os.makedirs(tmp, exist_ok=True)
        self.port = free_port()
        self.tls_port = free_port() if tls else None
        self.ws_port = free_port() if ws else None
        self.wss_port = free_port() if wss else None
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
                    if ipv6 else "") + (
                    ", tls:127.0.0.1:%d" % self.tls_port if tls else "") + (
                    ", ws:127.0.0.1:%d" % self.ws_port if ws else "") + (
                    ", wss:127.0.0.1:%d" % self.wss_port if wss else ""),
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
            cseq=1, ruri=None, extra="", body="", cseq_text=None,
            contact=True):
    # an INVITE carries a Contact (RFC 3261 §8.1.1.8; the proxy refuses
    # one without): added unless extra has one or contact is False
    if (contact and method == "INVITE"
            and not re.search(r"(?im)^(contact|m)\s*:", extra)):
        extra = "Contact: <sip:raw@127.0.0.1:9>\r\n" + extra
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


class TlsStream(Stream):
    """A TLS connection (no certificate check: the cases that check
    certificates use openssl s_client) split into SIP messages."""

    def __init__(self, port):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.s = ctx.wrap_socket(raw, server_hostname="confab.test")
        self.s.settimeout(10)
        self.buf = b""


class WsClient:
    """A raw-socket WebSocket client (RFC 6455; no pip packages): the
    opening handshake with the "sip" subprotocol (RFC 7118), masked frames
    out, unmasked frames in."""

    GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    def __init__(self, port, proto="sip", head=None, tls=False):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        if tls:  # wss: the same over TLS (no certificate check here)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            self.s = ctx.wrap_socket(self.s, server_hostname="confab.test")
        self.buf = b""
        self.key = base64.b64encode(os.urandom(16))
        if head is None:
            head = (b"GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                    b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                    b"Sec-WebSocket-Key: %s\r\n"
                    b"Sec-WebSocket-Version: 13\r\n" % (port, self.key)
                    + (b"Sec-WebSocket-Protocol: %s\r\n" % proto.encode()
                       if proto else b"") + b"\r\n")
        self.s.sendall(head)
        while b"\r\n\r\n" not in self.buf:
            self.more()
        end = self.buf.index(b"\r\n\r\n") + 4
        self.head, self.buf = self.buf[:end].decode(), self.buf[end:]
        self.status = self.head.split("\r\n", 1)[0]

    def accept_ok(self):
        want = base64.b64encode(hashlib.sha1(self.key + self.GUID).digest())
        return ("Sec-WebSocket-Accept: %s\r\n" % want.decode()) in self.head

    def more(self):
        data = self.s.recv(65536)
        if not data:
            raise EOFError("closed by the server")
        self.buf += data

    def send(self, payload, op=1, fin=True, mask=True):
        n = len(payload)
        hdr = bytes([(0x80 if fin else 0) | op])
        m = 0x80 if mask else 0
        if n < 126:
            hdr += bytes([m | n])
        elif n < 65536:
            hdr += bytes([m | 126]) + n.to_bytes(2, "big")
        else:
            hdr += bytes([m | 127]) + n.to_bytes(8, "big")
        if mask:
            key = os.urandom(4)
            hdr += key
            payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        self.s.sendall(hdr + payload)

    def recv(self):
        """(opcode, payload) of the next frame (servers do not mask)."""
        while True:
            if len(self.buf) >= 2:
                n, h = self.buf[1] & 0x7f, 2
                if n == 126 and len(self.buf) >= 4:
                    n, h = int.from_bytes(self.buf[2:4], "big"), 4
                elif n == 127 and len(self.buf) >= 10:
                    n, h = int.from_bytes(self.buf[2:10], "big"), 10
                if n < 126 or h > 2:
                    if len(self.buf) >= h + n:
                        op, pl = self.buf[0] & 0x0f, self.buf[h:h + n]
                        self.buf = self.buf[h + n:]
                        return op, pl
            self.more()

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


# ------------------------------------------------------------------ TLS

def s_client(port, *opts, cafile=None, servername=None):
    """openssl s_client against 127.0.0.1:port, stdin closed (it ends after
    the handshake); returns (exit status, output)."""
    exe = shutil.which("openssl")
    if exe is None:
        raise Failure("openssl not found (package openssl)")
    cmd = [exe, "s_client", "-connect", "127.0.0.1:%d" % port] + list(opts)
    if cafile:
        cmd += ["-CAfile", cafile, "-verify_return_error"]
    if servername:
        cmd += ["-servername", servername]
    print("$ " + " ".join(cmd), flush=True)
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=20)
    return r.returncode, r.stdout + r.stderr


def tls_failures(d, want=None):
    """tls_handshake_failures; with want, polled (at most 5 s) until it
    reaches want: a refused client may read the alert before the worker
    that sent it has counted it."""
    deadline = time.monotonic() + 5
    while True:
        n = counter(d.status_json(), "tls_handshake_failures")[0]
        if want is None or n >= want or time.monotonic() > deadline:
            return n
        time.sleep(0.05)


def case_tls_refused(args, tmp):
    """TLS 1.2 minimum: openssl s_client -tls1 and -tls1_1, with the
    client's own floor lowered (-cipher 'DEFAULT:@SECLEVEL=0', else
    Debian's OpenSSL refuses them itself and the test proves nothing), are
    refused by confabd, each counted and logged once with the peer
    address; TLS 1.2 and 1.3 clients verifying the self-signed certificate
    made at first start get through; garbage on the TLS port closes that
    connection only."""
    d = Daemon(args, tmp, tls=True).start()
    crt = os.path.join(d.data, "tls", DOMAIN + ".crt")
    check("made a self-signed certificate for %s: %s" % (DOMAIN, crt)
          in d.stderr(), "the self-signed certificate's path is logged")
    check(os.path.exists(crt), "self-signed certificate made: " + crt)
    good = TlsStream(d.tls_port)
    good.send(request("OPTIONS", d.tls_port, "TLS", cseq=1))
    r = good.read_msg()
    check(status_line(r).startswith("SIP/2.0 200")
          and "SIP/2.0/TLS" in header(r, "Via"),
          "OPTIONS over TLS answered 200 on the same connection")
    before = tls_failures(d)
    for opt in ("-tls1", "-tls1_1"):
        rc, out = s_client(d.tls_port, opt, "-cipher", "DEFAULT:@SECLEVEL=0")
        check(rc != 0 and "Cipher is (NONE)" in out
              and ("alert protocol version" in out
                   or "unsupported protocol" in out
                   or "wrong version number" in out),
              "s_client %s with SECLEVEL=0 refused by the server (rc %d)"
              % (opt, rc))
    check(tls_failures(d, before + 2) == before + 2,
          "both refusals counted in tls_handshake_failures")
    check(d.stderr().count("tls: handshake from 127.0.0.1:") >= 2,
          "each refusal logged with the peer address")
    for opt, proto in (("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")):
        rc, out = s_client(d.tls_port, opt, cafile=crt, servername=DOMAIN)
        check(rc == 0 and "New, %s, Cipher is" % proto in out
              and "Verify return code: 0 (ok)" in out,
              "s_client %s verifies the self-signed certificate" % opt)
    bad = Stream(d.tls_port)
    bad.send(b"OPTIONS sip:x SIP/2.0\r\n\r\n" + b"\x00\xff" * 64)
    check(bad.closed_by_peer(), "garbage handshake: connection closed")
    bad.close()
    check(tls_failures(d) == before + 3, "garbage handshake counted")
    good.send(request("OPTIONS", d.tls_port, "TLS", cseq=2))
    r = good.read_msg()
    check(status_line(r).startswith("SIP/2.0 200")
          and header(r, "CSeq") == "2 OPTIONS",
          "the established TLS connection still answered")
    good.close()
    d.stop()


def make_cert(tmp, cn):
    """A throw-away self-signed certificate and key for cn (openssl req)."""
    crt = os.path.join(tmp, cn + ".crt")
    key = os.path.join(tmp, cn + ".key")
    r = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj",
         "/CN=" + cn, "-addext", "subjectAltName=DNS:" + cn,
         "-keyout", key, "-out", crt], stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=20)
    check(r.returncode == 0, "openssl req made a certificate for " + cn)
    return crt, key


def served_cn(port):
    rc, out = s_client(port, servername=DOMAIN)
    m = re.search(r"subject=.*CN\s*=\s*([^,\s/]+)", out)
    return m.group(1) if m else None


def case_tls_reload(args, tmp):
    """Certificates reloaded without a restart: `confabctl tls reload`
    and SIGHUP serve the new certificate to the next connection, while an
    established connection keeps working; a bad key is refused and the
    certificate in use stays."""
    one = make_cert(tmp, "one.test")
    two = make_cert(tmp, "two.test")
    live_crt = os.path.join(tmp, "live.crt")
    live_key = os.path.join(tmp, "live.key")
    shutil.copy(one[0], live_crt)
    shutil.copy(one[1], live_key)
    d = Daemon(args, tmp, tls=True,
               extra={"tls.certificate": live_crt,
                      "tls.private_key": live_key}).start()
    check(served_cn(d.tls_port) == "one.test", "one.test served at start")
    old = TlsStream(d.tls_port)
    old.send(request("OPTIONS", d.tls_port, "TLS", cseq=1))
    check(status_line(old.read_msg()).startswith("SIP/2.0 200"),
          "an established connection answered")

    shutil.copy(two[0], live_crt)
    shutil.copy(two[1], live_key)
    r = d.ctl_run("tls", "reload")
    check(r.returncode == 0, "confabctl tls reload exits 0 (%d: %s)"
          % (r.returncode, r.stderr.strip()))
    check(served_cn(d.tls_port) == "two.test",
          "after confabctl tls reload the next connection gets two.test")
    old.send(request("OPTIONS", d.tls_port, "TLS", cseq=2))
    check(status_line(old.read_msg()).startswith("SIP/2.0 200"),
          "the established connection still answered after the reload")

    shutil.copy(one[0], live_crt)
    shutil.copy(one[1], live_key)
    d.signal_and_wait(signal.SIGHUP, "configuration reloaded")
    check(served_cn(d.tls_port) == "one.test",
          "after SIGHUP the next connection gets one.test")

    shutil.copy(two[1], live_key)  # a key that does not match
    r = d.ctl_run("tls", "reload")
    check(r.returncode != 0, "a mismatched key: confabctl tls reload fails")
    check("tls: private key %s" % live_key in d.stderr(),
          "the bad file is named in the log")
    check(served_cn(d.tls_port) == "one.test",
          "and the certificate in use stays")
    old.send(request("OPTIONS", d.tls_port, "TLS", cseq=3))
    check(status_line(old.read_msg()).startswith("SIP/2.0 200"),
          "the established connection still answered at the end")
    old.close()
    d.stop()


def wait_port(port, proc, what):
    """Wait (at most 10 s) until 127.0.0.1:port accepts."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise Failure("%s exited at start (%d)" % (what, proc.returncode))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise Failure("%s did not listen on %d within 10 s" % (what, port))


def case_tls_sipp_stunnel(args, tmp):
    """Debian's SIPp has no TLS: SIPp over TCP (-t t1, one connection)
    into stunnel4 in client mode, which verifies confabd's self-signed
    certificate (CA file, host name, SNI) and carries the traffic over
    TLS: one OPTIONS, then 200 more at 100/s, all answered 200."""
    exe = shutil.which("stunnel4") or shutil.which("stunnel")
    if exe is None:
        raise Failure("stunnel4 not found (package stunnel4)")
    d = Daemon(args, tmp, tls=True,
               extra={"general.log_level": "notice"}).start()
    crt = os.path.join(d.data, "tls", DOMAIN + ".crt")
    sport = free_port()
    conf = os.path.join(tmp, "stunnel.conf")
    with open(conf, "w") as f:
        f.write("foreground = yes\npid =\nsyslog = no\ndebug = 4\n"
                "[sip]\nclient = yes\naccept = 127.0.0.1:%d\n"
                "connect = 127.0.0.1:%d\nCAfile = %s\nverifyChain = yes\n"
                "checkHost = %s\nsni = %s\n"
                % (sport, d.tls_port, crt, DOMAIN, DOMAIN))
    log = open(os.path.join(tmp, "stunnel.log"), "w+")
    st = subprocess.Popen([exe, conf], stdin=subprocess.DEVNULL,
                          stdout=log, stderr=subprocess.STDOUT, cwd=tmp)
    try:
        wait_port(sport, st, "stunnel")
        for extra in ((), ("-m", "200", "-r", "100", "-l", "20")):
            cmd = [shutil.which("sipp") or "sipp", "127.0.0.1:%d" % sport,
                   "-sf", os.path.join(HERE, "options_tls.xml"),
                   "-key", "domain", DOMAIN, "-i", "127.0.0.1",
                   "-p", str(free_port()), "-t", "t1", "-m", "1", "-l", "1",
                   "-timeout", "30s", "-timeout_error", "-nostdin",
                   "-trace_err", "-error_file",
                   os.path.join(tmp, "sipp.err")]
            if extra:
                i = cmd.index("-m")
                del cmd[i:i + 4]
                cmd += list(extra)
            print("$ " + " ".join(cmd), flush=True)
            r = subprocess.run(cmd, stdin=subprocess.DEVNULL,
                               capture_output=True, text=True, timeout=60,
                               cwd=tmp)
            if r.returncode != 0:
                sys.stdout.write(r.stdout[-3000:] + r.stderr[-3000:])
            check(r.returncode == 0, "sipp options_tls.xml %s through "
                  "stunnel exits 0 (got %d)"
                  % (" ".join(extra) or "-m 1", r.returncode))
        status = d.status_json()
        check(counter(status, "tls_handshakes")[0] >= 1,
              "confabd counted the TLS handshake")
        check(counter(status, "tls_handshake_failures")[0] == 0,
              "and no failure")
        check(counter(status, "rx_msgs")[0] >= 201,
              "201 OPTIONS received over TLS")
    finally:
        st.send_signal(signal.SIGTERM)
        try:
            st.wait(timeout=10)
        except subprocess.TimeoutExpired:
            st.kill()
            st.wait(timeout=5)
        log.seek(0)
        out = log.read()
        if "certificate verify" in out.lower() or "error" in out.lower():
            sys.stdout.write("--- stunnel log\n" + out[-2000:])
    d.stop()


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


def case_websocket(args, tmp):
    """SIP over WebSocket (RFC 7118) on a ws: listener: the upgrade with the
    sip subprotocol, OPTIONS answered over the same connection with a Via
    WS, ping/pong; an unmasked frame closes with 1002, plain HTTP and a
    wrong subprotocol get 400; each bad case closes its own connection
    only and is counted."""
    d = Daemon(args, tmp, ws=True).start()
    w = WsClient(d.ws_port)
    check(w.status.startswith("HTTP/1.1 101"), "upgrade answered 101: "
          + w.status)
    check(w.accept_ok(), "Sec-WebSocket-Accept is right")
    check("Sec-WebSocket-Protocol: sip\r\n" in w.head,
          "the sip subprotocol chosen")
    opts = request("OPTIONS", d.port, "WS", cseq=1).replace(
        b"127.0.0.1:9;", b"df7jal23ls0d.invalid;")
    w.send(opts)
    op, r = w.recv()
    r = r.decode(errors="replace")
    check(op == 1 and status_line(r).startswith("SIP/2.0 200"),
          "OPTIONS over WS answered 200 in a text frame")
    check(header(r, "Via").startswith("SIP/2.0/WS df7jal23ls0d.invalid;")
          and "received=127.0.0.1" in header(r, "Via"),
          "the response's Via is WS, with received: " + header(r, "Via"))
    w.send(b"hello", op=9)
    check(w.recv() == (10, b"hello"), "ping answered pong")

    bad = WsClient(d.ws_port)
    bad.send(b"not masked", mask=False)
    op, pl = bad.recv()
    check(op == 8 and int.from_bytes(pl[:2], "big") == 1002,
          "unmasked frame: close 1002")
    plain = WsClient(d.ws_port, head=b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    check(plain.status.startswith("HTTP/1.1 400"),
          "plain HTTP without upgrade: " + plain.status)
    wrong = WsClient(d.ws_port, proto="chat")
    check(wrong.status.startswith("HTTP/1.1 400"),
          "wrong subprotocol: " + wrong.status)
    for c in (bad, plain, wrong):
        try:
            while True:
                c.more()
        except (EOFError, ConnectionResetError):
            pass
        c.close()
    check(True, "confabd closed each bad connection")

    w.send(request("OPTIONS", d.port, "WS", cseq=2))
    op, r = w.recv()
    check(status_line(r.decode()).startswith("SIP/2.0 200"),
          "the good connection is still answered")
    st = d.status_json()
    for name, want in (("ws_upgrades", 2), ("ws_refused", 2),
                       ("ws_protocol_errors", 1), ("ws_pongs", 1)):
        got, _ = counter(st, name)
        check(got == want, "status %s = %d (got %d)" % (name, want, got))
    w.send(b"\x03\xe8", op=8)
    op, pl = w.recv()
    check(op == 8 and pl[:2] == b"\x03\xe8", "close 1000 echoed")
    w.close()
    d.stop()


def case_websocket_tls(args, tmp):
    """SIP over secure WebSocket (wss, RFC 7118 over TLS with the
    self-signed certificate of the defaults): upgrade, OPTIONS answered
    with a Via WSS, ping/pong, an unmasked frame closed 1002, plain HTTP
    400; others unaffected."""
    d = Daemon(args, tmp, wss=True).start()
    w = WsClient(d.wss_port, tls=True)
    check(w.status.startswith("HTTP/1.1 101") and w.accept_ok(),
          "wss upgrade answered 101: " + w.status)
    opts = request("OPTIONS", d.port, "WSS", cseq=1).replace(
        b"127.0.0.1:9;", b"df7jal23ls0d.invalid;")
    w.send(opts)
    op, r = w.recv()
    r = r.decode(errors="replace")
    check(op == 1 and status_line(r).startswith("SIP/2.0 200"),
          "OPTIONS over WSS answered 200")
    check(header(r, "Via").startswith("SIP/2.0/WSS df7jal23ls0d.invalid;"),
          "the response's Via is WSS: " + header(r, "Via"))
    w.send(b"p" * 125, op=9)
    check(w.recv() == (10, b"p" * 125), "ping answered pong over TLS")
    bad = WsClient(d.wss_port, tls=True)
    bad.send(b"x", mask=False)
    op, pl = bad.recv()
    check(op == 8 and int.from_bytes(pl[:2], "big") == 1002,
          "unmasked frame over wss: close 1002")
    bad.close()
    plain = WsClient(d.wss_port, tls=True,
                     head=b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    check(plain.status.startswith("HTTP/1.1 400"),
          "plain HTTPS without upgrade: " + plain.status)
    plain.close()
    w.send(request("OPTIONS", d.port, "WSS", cseq=2))
    op, r = w.recv()
    check(status_line(r.decode()).startswith("SIP/2.0 200"),
          "the good wss connection is still answered")
    w.close()
    st = d.status_json()
    for name, want in (("ws_upgrades", 2), ("ws_refused", 1),
                       ("ws_protocol_errors", 1)):
        got, _ = counter(st, name)
        check(got == want, "status %s = %d (got %d)" % (name, want, got))
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
