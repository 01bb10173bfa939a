#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""sips.py - sips: URIs and TLS hops through the proxy (RFC 5630, RFC 3261
§26.2), end to end with TLS clients and servers on loopback.

Usage: sips.py --confabd EXE --confabctl EXE CASE

Debian's SIPp has no TLS: the SIP user agents here are Python ssl sockets
(run.py's TlsStream, and a small TLS server for the RFC 3263 case). Each
CASE starts its own confabd (run.py's Daemon) with a TLS listener and its
self-signed certificate; every wait is bounded; helpers are stopped by PID.
Each INVITE's CDR is checked (tests/scenarios/cdrcheck.py).
"""

import argparse
import os
import re
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run  # noqa: E402
from run import (DOMAIN, Daemon, Failure, TlsStream, check,  # noqa: E402
                 free_port, header, status_line, udp_socket)
import proxy  # noqa: E402
from cdrcheck import expect_cdr  # noqa: E402  (issue 4 point 6)

ALICE_S = "sips:alice@%s" % DOMAIN  # msg()'s From


def unanswered(d, call_id, code, disposition, callee, count=None):
    """The CDR of one of alice's INVITEs that got code, not answered."""
    expect_cdr(d, count=count, call_id=call_id, disposition=disposition,
               code=code, caller=ALICE_S, callee=callee, request_uri=callee,
               answer="", contact=lambda v: not v, ended_by="callee")


def daemon(args, tmp, extra=None):
    conf = {"general.log_level": "debug", "registrar.authenticate": "no",
            "proxy.authenticate": "no", "security.allow": "127.0.0.0/8"}
    conf.update(extra or {})
    d = Daemon(args, tmp, conf, tls=True)
    d.start()
    for u in ("alice", "bob"):
        proxy.ctl(d, "user", "add", "%s@%s" % (u, DOMAIN), "--password",
                  "pw")
    return d


def msg(method, ruri, tp, lport, call_id, extra="", cseq=1, frm="alice"):
    return ("%s %s SIP/2.0\r\n"
            "Via: SIP/2.0/%s 127.0.0.1:%d;branch=z9hG4bK-%s-%d\r\n"
            "Max-Forwards: 70\r\n"
            "From: <sips:%s@%s>;tag=%s1\r\n"
            "To: <%s>\r\n"
            "Call-ID: %s\r\n"
            "CSeq: %d %s\r\n"
            "%s"
            "Content-Length: 0\r\n\r\n"
            % (method, ruri, tp, lport, method.lower(), time.monotonic_ns(),
               frm, DOMAIN, frm, ruri if method != "REGISTER" else
               "sip:%s@%s" % (frm, DOMAIN), call_id, cseq, method,
               extra)).encode()


def final(stream):
    """The first final response read from stream (bounded)."""
    for _ in range(5):
        r = stream.read_msg()
        if r.startswith("SIP/2.0 ") and not r.startswith("SIP/2.0 1"):
            return r
    raise Failure("no final response within 5 messages")


def answer(req, code, reason):
    """A response to req (its Vias, From, To with a tag, Call-ID, CSeq)."""
    lines = req.split("\r\n")
    keep = [ln for ln in lines if ln.split(":")[0].strip().lower() in
            ("via", "v", "from", "f", "call-id", "i", "cseq",
             "record-route")]
    out = []
    for ln in keep:
        if ln.lower().startswith(("to:", "t:")):
            continue
        out.append(ln)
    to = header(req, "To")
    return ("SIP/2.0 %d %s\r\n%s\r\nTo: %s;tag=callee\r\n"
            "Content-Length: 0\r\n\r\n"
            % (code, reason, "\r\n".join(out), to)).encode()


def register_tls(d, user):
    """REGISTER user over a TLS connection that stays open (its flow):
    Contact sips: at the connection's own address."""
    s = TlsStream(d.tls_port)
    lport = s.s.getsockname()[1]
    s.send(msg("REGISTER", "sips:" + DOMAIN, "TLS", lport,
               "reg-%s@sips" % user,
               "Contact: <sips:%s@127.0.0.1:%d>\r\n" % (user, lport),
               frm=user))
    r = final(s)
    check(status_line(r).startswith("SIP/2.0 200"),
          "REGISTER over TLS: " + status_line(r))
    return s, lport


def case_tls_callee(args, tmp):
    """bob registered over TLS; alice calls sips:bob over TLS: bob's flow
    gets the INVITE with two sips Record-Routes naming the two TLS flows
    and confab's TLS Via; bob's 486 reaches alice; bob gets the ACK."""
    d = daemon(args, tmp)
    bob, bport = register_tls(d, "bob")
    alice = TlsStream(d.tls_port)
    aport = alice.s.getsockname()[1]
    alice.send(msg("INVITE", "sips:bob@" + DOMAIN, "TLS", aport,
                   "sips-call@test",
                   "Contact: <sips:alice@127.0.0.1:%d>\r\n" % aport))
    inv = bob.read_msg()
    print(inv)
    check(inv.startswith("INVITE sips:bob@127.0.0.1:%d SIP/2.0" % bport),
          "bob's flow got the INVITE: " + status_line(inv))
    # two entries, each naming its side's flow (bob's, then alice's:
    # flow tokens, src/mod/proxy/flow.h)
    rr = re.findall(r"Record-Route: <sips:cfw_tls_127\.0\.0\.1_(\d+)_"
                    r"[0-9a-f]{16}@127\.0\.0\.1:%d;lr>" % d.tls_port, inv)
    check([int(x) for x in rr] == [bport, aport],
          "two sips Record-Routes naming bob's and alice's flows: %s" % rr)
    check("Via: SIP/2.0/TLS 127.0.0.1:%d;" % d.tls_port in inv,
          "confab's Via is TLS")
    bob.send(answer(inv, 486, "Busy Here"))
    r = final(alice)
    check(status_line(r).startswith("SIP/2.0 486"), "alice got " +
          status_line(r))
    ack = bob.read_msg()
    check(ack.startswith("ACK "), "bob got the ACK: " + status_line(ack))
    unanswered(d, "sips-call@test", 486, "busy", "sips:bob@" + DOMAIN,
               count=1)
    alice.close()
    bob.close()
    d.stop()


def case_plain_refused(args, tmp):
    """bob registered over UDP only: alice's sips INVITE (over TLS) gets
    480 Not Reachable Over TLS, logged with its Call-ID; nothing reaches
    bob. A sip INVITE to him still does."""
    d = daemon(args, tmp)
    u = udp_socket()
    bport = u.getsockname()[1]
    proxy.register(d, "bob", bport)
    alice = TlsStream(d.tls_port)
    aport = alice.s.getsockname()[1]
    alice.send(msg("INVITE", "sips:bob@" + DOMAIN, "TLS", aport,
                   "sips-refused@test",
                   "Contact: <sips:alice@127.0.0.1:%d>\r\n" % aport))
    r = final(alice)
    check(status_line(r) == "SIP/2.0 480 Not Reachable Over TLS",
          "sips to a UDP binding: " + status_line(r))
    u.settimeout(1.0)
    try:
        data = u.recv(65536)
        raise Failure("bob's UDP socket got: %r" % data[:80])
    except socket.timeout:
        print("ok: nothing sent to bob over UDP", flush=True)
    err = d.stderr()
    check("sips-refused@test" in err and "not a TLS hop" in err,
          "the refusal is logged with the Call-ID")
    # the same callee over sip: is fine
    alice.send(msg("INVITE", "sip:bob@" + DOMAIN, "TLS", aport,
                   "sip-ok@test",
                   "Contact: <sip:alice@127.0.0.1:%d;transport=tls>\r\n"
                   % aport))
    u.settimeout(5.0)
    data = u.recv(65536).decode(errors="replace")
    check(data.startswith("INVITE sip:bob@"), "sip INVITE reached bob: "
          + status_line(data))
    u.sendto(answer(data, 486, "Busy Here"), ("127.0.0.1", d.port))
    r = final(alice)
    check(status_line(r).startswith("SIP/2.0 486"), "alice got " +
          status_line(r))
    # the 480 came after the INVITE became a call: a CDR each
    unanswered(d, "sips-refused@test", 480, "no_answer",
               "sips:bob@" + DOMAIN)
    unanswered(d, "sip-ok@test", 486, "busy", "sip:bob@" + DOMAIN, count=2)
    alice.close()
    u.close()
    d.stop()


class TlsServer:
    """A TLS SIP server on 127.0.0.1:port in a thread: records the SNI
    name of each handshake and answers every INVITE 486."""

    def __init__(self, tmp, port, cn, serve=True):
        crt, key = run.make_cert(tmp, cn)
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(crt, key)
        self.sni = []
        self.got = []
        self.ctx.sni_callback = lambda s, name, c: self.sni.append(name)
        self.ls = socket.socket()
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind(("127.0.0.1", port))
        self.ls.listen(4)
        self.ls.settimeout(20)
        if serve:
            self.t = threading.Thread(target=self.serve, daemon=True)
            self.t.start()

    def accept(self):
        """One connection, its TLS handshake done, as a run.Stream."""
        raw, _ = self.ls.accept()
        s = run.Stream.__new__(run.Stream)
        s.s = self.ctx.wrap_socket(raw, server_side=True)
        s.s.settimeout(10)
        s.buf = b""
        return s

    def serve(self):
        try:
            raw, _ = self.ls.accept()
            s = run.Stream.__new__(run.Stream)
            s.s = self.ctx.wrap_socket(raw, server_side=True)
            s.s.settimeout(10)
            s.buf = b""
            for _ in range(3):
                m = s.read_msg()
                self.got.append(m)
                if m.startswith("INVITE "):
                    s.send(answer(m, 486, "Busy Here"))
                elif m.startswith("ACK "):
                    break
            s.close()
        except (OSError, EOFError, ssl.SSLError) as e:
            self.got.append("error: %s" % e)

    def wait(self):
        self.t.join(timeout=20)
        self.ls.close()


def case_dns_tls(args, tmp):
    """alice calls sips:bob@example.test, another domain: NAPTR offers
    SIP+D2U and SIPS+D2T; only the TLS one is used (_sips._tcp SRV to a
    TLS server here), never the UDP server, and the INVITE arrives over
    TLS (RFC 3263 with sips, RFC 5630) where it used to get 416. The first
    _sips._tcp target refuses connections: that transport error moves on
    to the next one at once (RFC 3263 §4.3), not after Timer B (32 s)."""
    dport, tport, dead = free_port(), free_port(), free_port()
    u = udp_socket()
    uport = u.getsockname()[1]
    dns = proxy.dnsmasq_start(tmp, dport, [
        "--naptr-record=example.test,10,50,S,SIP+D2U,,_sip._udp.example.test",
        "--naptr-record=example.test,20,50,S,SIPS+D2T,,"
        "_sips._tcp.example.test",
        "--srv-host=_sip._udp.example.test,plain.example.test,%d,10,50"
        % uport,
        "--srv-host=_sips._tcp.example.test,dead.example.test,%d,10,50"
        % dead,
        "--srv-host=_sips._tcp.example.test,tls.example.test,%d,20,50"
        % tport,
        "--host-record=dead.example.test,127.0.0.1",
        "--host-record=plain.example.test,127.0.0.1",
        "--host-record=tls.example.test,127.0.0.1",
    ])
    srv = TlsServer(tmp, tport, "example.test")
    d = daemon(args, tmp, {"dns.server": "127.0.0.1:%d" % dport,
                           "tls.verify_server": "no"})
    alice = TlsStream(d.tls_port)
    aport = alice.s.getsockname()[1]
    alice.send(msg("INVITE", "sips:bob@example.test", "TLS", aport,
                   "sips-dns@test",
                   "Contact: <sips:alice@127.0.0.1:%d>\r\n" % aport))
    r = final(alice)
    check(status_line(r).startswith("SIP/2.0 486"),
          "alice got the TLS server's 486: " + status_line(r))
    srv.wait()
    inv = srv.got[0] if srv.got else ""
    check(inv.startswith("INVITE sips:bob@example.test SIP/2.0"),
          "the TLS server got the INVITE: " + inv[:80])
    check(srv.sni == ["example.test"], "SNI named the domain, not the SRV "
          "target (RFC 5922): %r" % srv.sni)
    err = d.stderr()
    check("INVITE branch 1 to TLS 127.0.0.1:%d" % dead in err and
          "INVITE branch 2 to TLS 127.0.0.1:%d" % tport in err,
          "the refusing server first, then the live one")
    check("transport error" in err, "the refusal ended branch 1 at once")
    check("Record-Route: <sips:127.0.0.1:%d;lr>" % d.tls_port in inv,
          "with a sips Record-Route")
    u.settimeout(0.5)
    try:
        data = u.recv(65536)
        raise Failure("the UDP server got: %r" % data[:80])
    except socket.timeout:
        print("ok: the SIP+D2U server got nothing", flush=True)
    unanswered(d, "sips-dns@test", 486, "busy", "sips:bob@example.test",
               count=1)
    alice.close()
    u.close()
    d.stop()
    dns.terminate()
    dns.wait(timeout=5)


def reconnect(args, tmp, tls):
    """RFC 3261 §18.2.2: alice sends an INVITE over TCP (TLS) with the Via
    sent-by port of a server socket of hers, then closes the connection;
    bob's 486 comes back to confab, which opens a new connection to that
    port and sends the 486 there (it used to get EPIPE and drop it). The
    TLS client's certificate is its own: not verified (verify_server)."""
    d = daemon(args, tmp, {"tls.verify_server": "no"})
    u = udp_socket()
    bport = u.getsockname()[1]
    proxy.register(d, "bob", bport)
    lport = free_port()
    if tls:
        srv = TlsServer(tmp, lport, "alice.test", serve=False)
        alice = TlsStream(d.tls_port)
    else:
        srv = None
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", lport))
        ls.listen(2)
        ls.settimeout(10)
        alice = run.Stream(d.port)
    tp = "TLS" if tls else "TCP"
    scheme = "sips" if tls else "sip"
    alice.send(msg("INVITE", "sip:bob@" + DOMAIN, tp, lport,
                   "reconnect-%s@test" % tp.lower(),
                   "Contact: <%s:alice@127.0.0.1:%d;transport=%s>\r\n"
                   % (scheme, lport, tp.lower())))
    u.settimeout(5.0)
    inv = u.recv(65536).decode(errors="replace")
    check(inv.startswith("INVITE sip:bob@"), "bob got the INVITE: "
          + status_line(inv))
    alice.close()
    time.sleep(0.3)  # bound: confab reads the close at once
    u.sendto(answer(inv, 486, "Busy Here"), ("127.0.0.1", d.port))
    if tls:
        s = srv.accept()
    else:
        raw, _ = ls.accept()
        s = run.Stream.__new__(run.Stream)
        s.s = raw
        s.s.settimeout(10)
        s.buf = b""
    r = s.read_msg()
    check(status_line(r).startswith("SIP/2.0 486"),
          "the 486 came over a new %s connection to the sent-by port: %s"
          % (tp, status_line(r)))
    check("reconnect-%s@test" % tp.lower() in r, "for alice's call")
    check("response over a new %s connection to 127.0.0.1:%d" % (tp, lport)
          in d.stderr(), "and was logged")
    unanswered(d, "reconnect-%s@test" % tp.lower(), 486, "busy",
               "sip:bob@" + DOMAIN, count=1)
    s.close()
    if tls:
        srv.ls.close()
    else:
        ls.close()
    u.close()
    d.stop()


def case_reconnect_tcp(args, tmp):
    reconnect(args, tmp, False)


def case_reconnect_tls(args, tmp):
    reconnect(args, tmp, True)


def stun(tid, attrs=b"", fingerprint=True, bad_fp=False):
    """A STUN Binding request (RFC 8489 §5) built by hand: header,
    attributes, FINGERPRINT (CRC-32 xor 0x5354554e)."""
    body = attrs
    hdr = struct.pack("!HHI", 0x0001, len(body) + (8 if fingerprint else 0),
                      0x2112A442) + tid
    msg = hdr + body
    if fingerprint:
        crc = (zlib.crc32(msg) ^ 0x5354554E) & 0xFFFFFFFF
        if bad_fp:
            crc ^= 1
        msg += struct.pack("!HHI", 0x8028, 4, crc)
    return msg


def stun_attrs(data):
    """{type: value} of a STUN message, its FINGERPRINT checked."""
    check(len(data) >= 20 and data[4:8] == b"\x21\x12\xa4\x42",
          "a STUN message")
    n = struct.unpack("!H", data[2:4])[0]
    check(len(data) == 20 + n, "its length field is right")
    out, pos = {}, 20
    while pos < len(data):
        t, ln = struct.unpack("!HH", data[pos:pos + 4])
        if t == 0x8028:
            crc = (zlib.crc32(data[:pos]) ^ 0x5354554E) & 0xFFFFFFFF
            check(struct.unpack("!I", data[pos + 4:pos + 8])[0] == crc,
                  "its FINGERPRINT matches")
        out[t] = data[pos + 4:pos + 4 + ln]
        pos += 4 + ((ln + 3) & ~3)
    return out


def case_stun_keepalive(args, tmp):
    """RFC 5626 §4.4.2: a STUN Binding request on the SIP UDP port gets a
    success response from that port with XOR-MAPPED-ADDRESS = our address
    and a FINGERPRINT; a bad FINGERPRINT and a Binding response are dropped
    (no parse error); an unknown comprehension-required attribute gets 420.
    SIP on the same port goes on working; the counters say so."""
    d = daemon(args, tmp)
    u = udp_socket()
    u.settimeout(5)
    me = u.getsockname()
    tid = os.urandom(12)
    u.sendto(stun(tid), ("127.0.0.1", d.port))
    data, src = u.recvfrom(2048)
    check(src[1] == d.port, "the answer comes from the SIP port")
    check(data[:2] == b"\x01\x01" and data[8:20] == tid,
          "a Binding success response with our transaction ID")
    at = stun_attrs(data)
    xa = at.get(0x0020)
    check(xa is not None and len(xa) == 8 and xa[1] == 1,
          "with an IPv4 XOR-MAPPED-ADDRESS")
    port = struct.unpack("!H", xa[2:4])[0] ^ 0x2112
    ip = bytes(b ^ k for b, k in zip(xa[4:8], b"\x21\x12\xa4\x42"))
    check((socket.inet_ntoa(ip), port) == me,
          "mapped address %s:%d is ours %s:%d"
          % (socket.inet_ntoa(ip), port, me[0], me[1]))
    check(0x8028 in at, "and a FINGERPRINT")
    # a broken FINGERPRINT, a response: dropped; unknown attribute: 420
    u.sendto(stun(os.urandom(12), bad_fp=True), ("127.0.0.1", d.port))
    resp = bytearray(stun(os.urandom(12), fingerprint=False))
    resp[0:2] = b"\x01\x01"
    u.sendto(bytes(resp), ("127.0.0.1", d.port))
    tid3 = os.urandom(12)
    u.sendto(stun(tid3, attrs=struct.pack("!HH", 0x0031, 4) + b"abcd"),
             ("127.0.0.1", d.port))
    data, _ = u.recvfrom(2048)
    check(data[:2] == b"\x01\x11" and data[8:20] == tid3,
          "the unknown attribute got an error response (not the dropped "
          "ones before it)")
    at = stun_attrs(data)
    ec = at.get(0x0009, b"")
    check(len(ec) >= 4 and ec[2] * 100 + ec[3] == 420, "ERROR-CODE 420")
    check(at.get(0x000A) == b"\x00\x31", "UNKNOWN-ATTRIBUTES names it")
    # SIP still answered on the port
    u.sendto(run.request("OPTIONS", d.port), ("127.0.0.1", d.port))
    r = run.udp_recv(u)
    check(status_line(r).startswith("SIP/2.0 200"), "OPTIONS: "
          + status_line(r))
    st = d.status_json()
    for name, want in (("stun_bindings", 1), ("stun_errors", 3),
                       ("parse_errors", 0)):
        got, names = run.counter(st, name)
        check(got == want, "%s = %d (got %d: %s)" % (name, want, got,
                                                     names))
    u.close()
    d.stop()


def case_crlf_keepalive_tls(args, tmp):
    """RFC 5626 §4.4.1 over TLS: a double CRLF is answered by a single
    CRLF (a lone CRLF is not), and the connection goes on carrying SIP."""
    d = daemon(args, tmp)
    s = TlsStream(d.tls_port)
    s.send(b"\r\n\r\n")
    check(s.read_exact(2) == b"\r\n", "the double CRLF got a CRLF")
    s.send(b"\r\n")
    s.send(run.request("OPTIONS", d.tls_port, transport="TLS"))
    r = s.read_msg()
    check(status_line(r).startswith("SIP/2.0 200"),
          "then OPTIONS over the same connection: " + status_line(r))
    got, names = run.counter(d.status_json(), "keepalive_pongs")
    check(got == 1, "keepalive_pongs = 1 (got %d: %s)" % (got, names))
    s.close()
    d.stop()


def case_tls_verify(args, tmp):
    """RFC 5922 with [tls] verify_server = yes: sips:bob@example.test is
    resolved to a TLS server whose certificate (trusted through ca_file)
    names example.test: SNI example.test, the call goes through. The same
    server for sips:bob@bad.example.test does not prove that name: the
    handshake fails (a new connection: the one to example.test is not
    reused for another name), nothing is sent, and the branch ends at once
    with a transport error: alice gets 500 (our 503, RFC 3261 §16.7)."""
    dport, tport = free_port(), free_port()
    dns = proxy.dnsmasq_start(tmp, dport, [
        "--naptr-record=example.test,10,50,S,SIPS+D2T,,"
        "_sips._tcp.example.test",
        "--naptr-record=bad.example.test,10,50,S,SIPS+D2T,,"
        "_sips._tcp.bad.example.test",
        "--srv-host=_sips._tcp.example.test,tls.example.test,%d,10,50"
        % tport,
        "--srv-host=_sips._tcp.bad.example.test,tls.example.test,%d,10,50"
        % tport,
        "--host-record=tls.example.test,127.0.0.1",
    ])
    srv = TlsServer(tmp, tport, "example.test", serve=False)
    d = daemon(args, tmp, {"dns.server": "127.0.0.1:%d" % dport,
                           "tls.verify_server": "yes",
                           "tls.ca_file": os.path.join(tmp,
                                                       "example.test.crt")})
    alice = TlsStream(d.tls_port)
    aport = alice.s.getsockname()[1]
    alice.send(msg("INVITE", "sips:bob@example.test", "TLS", aport,
                   "verify-ok@test",
                   "Contact: <sips:alice@127.0.0.1:%d>\r\n" % aport))
    s = srv.accept()
    inv = s.read_msg()
    check(inv.startswith("INVITE sips:bob@example.test"),
          "the verified server got the INVITE")
    check(srv.sni == ["example.test"], "SNI example.test: %r" % srv.sni)
    s.send(answer(inv, 486, "Busy Here"))
    r = final(alice)
    check(status_line(r).startswith("SIP/2.0 486"), "alice got " +
          status_line(r))
    s.s.settimeout(5)
    check(s.read_msg().startswith("ACK "), "the server got the ACK")

    alice.send(msg("INVITE", "sips:bob@bad.example.test", "TLS", aport,
                   "verify-bad@test",
                   "Contact: <sips:alice@127.0.0.1:%d>\r\n" % aport))
    try:
        s2 = srv.accept()
        s2.s.settimeout(3)
        data = s2.read_msg()
        raise Failure("the server got a request for a name it does not "
                      "prove: " + data[:80])
    except (ssl.SSLError, OSError, EOFError) as e:
        print("ok: the handshake for bad.example.test failed (%s)" % e,
              flush=True)
    check("bad.example.test" in srv.sni, "SNI bad.example.test: %r"
          % srv.sni)
    r = final(alice)
    check(status_line(r).startswith("SIP/2.0 500"), "alice got 500: "
          + status_line(r))
    got, names = run.counter(d.status_json(), "tls_handshake_failures")
    check(got >= 1, "the failed handshake is counted (%d: %s)"
          % (got, names))
    unanswered(d, "verify-ok@test", 486, "busy", "sips:bob@example.test")
    unanswered(d, "verify-bad@test", 500, "failed",
               "sips:bob@bad.example.test", count=2)
    s.close()
    srv.ls.close()
    alice.close()
    d.stop()
    dns.terminate()
    dns.wait(timeout=5)


def stunnel_start(d, tmp):
    """stunnel4 in client mode on a free port in front of confabd's TLS
    listener, verifying its self-signed certificate (CA file, host name,
    SNI), as run.py's tls_sipp_stunnel does: Debian's SIPp has no TLS.
    Returns (Popen, port); stopped by PID (proxy.PEERS)."""
    exe = shutil.which("stunnel4") or shutil.which("stunnel")
    if exe is None:
        raise Failure("stunnel4 not found (package stunnel4)")
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
    proxy.PEERS.append(st)
    run.wait_port(sport, st, "stunnel")
    return st, sport


def sipp_tls(tmp, sport, xml, service):
    """SIPp (-t t1) into stunnel; started in the background."""
    cmd = [shutil.which("sipp") or "sipp", "127.0.0.1:%d" % sport,
           "-sf", os.path.join(HERE, xml), "-s", service,
           "-key", "domain", DOMAIN, "-i", "127.0.0.1",
           "-p", str(free_port()), "-t", "t1", "-m", "1", "-l", "1",
           "-timeout", "30s", "-timeout_error", "-nostdin",
           "-trace_err", "-error_file", os.path.join(tmp, xml + ".err")]
    print("$ " + " ".join(cmd), flush=True)
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         cwd=tmp)
    proxy.PEERS.append(p)
    return p


def sipp_wait(p, what):
    try:
        out = p.communicate(timeout=40)[0].decode(errors="replace")
    except subprocess.TimeoutExpired:
        p.kill()
        raise Failure("sipp %s did not end within 40 s" % what)
    if p.returncode != 0:
        sys.stdout.write(out[-3000:])
    check(p.returncode == 0, "sipp %s exits 0 (got %d)" % (what,
                                                           p.returncode))


def case_sipp_stunnel(args, tmp):
    """SIPp behind stunnel4 (TLS to confabd): a MESSAGE for
    sips:bob reaches bob's TLS flow and his 200 comes back to SIPp; a
    MESSAGE for sips:carol, bound over UDP only, gets 480 Not Reachable
    Over TLS (checked by SIPp) and nothing reaches carol."""
    d = daemon(args, tmp)
    proxy.ctl(d, "user", "add", "carol@" + DOMAIN, "--password", "pw")
    bob, bport = register_tls(d, "bob")
    u = udp_socket()
    proxy.register(d, "carol", u.getsockname()[1])
    st, sport = stunnel_start(d, tmp)
    p = sipp_tls(tmp, sport, "sips_message.xml", "bob")
    m = bob.read_msg()
    check(m.startswith("MESSAGE sips:bob@127.0.0.1:%d " % bport)
          and "hello over TLS only" in m,
          "bob's TLS flow got SIPp's MESSAGE: " + status_line(m))
    bob.send(answer(m, 200, "OK"))
    sipp_wait(p, "sips_message.xml")
    p = sipp_tls(tmp, sport, "sips_message_480.xml", "carol")
    sipp_wait(p, "sips_message_480.xml")
    u.settimeout(0.5)
    try:
        data = u.recv(65536)
        raise Failure("carol's UDP socket got: %r" % data[:80])
    except socket.timeout:
        print("ok: nothing sent to carol over UDP", flush=True)
    st.terminate()
    st.wait(timeout=10)
    bob.close()
    u.close()
    d.stop()


CASES = {name[5:]: fn for name, fn in globals().items()
         if name.startswith("case_")}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--confabd", required=True)
    ap.add_argument("--confabctl", required=True)
    ap.add_argument("case", choices=sorted(CASES))
    args = ap.parse_args()
    args.confabd = os.path.abspath(args.confabd)
    args.confabctl = os.path.abspath(args.confabctl)
    tmp = tempfile.mkdtemp(prefix="confab-sips-")
    try:
        CASES[args.case](args, tmp)
    except (Failure, OSError, EOFError, ssl.SSLError,
            subprocess.TimeoutExpired) as e:
        print("FAIL: %s: %s" % (type(e).__name__, e), flush=True)
        for dd in run.DAEMONS:
            print("--- confabd %s stderr (tail)\n%s"
                  % (dd.tmp, dd.stderr()[-6000:]))
        return 1
    finally:
        for p in proxy.PEERS:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=5)
        for dd in run.DAEMONS:
            dd.kill()
    print("PASS " + args.case)
    return 0


if __name__ == "__main__":
    sys.exit(main())
