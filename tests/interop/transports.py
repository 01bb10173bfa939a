#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""transports.py - calls that cross transports and address families (issue
5) with real clients: TLS callers, UDP callees, IPv6 and IPv4 sides.

Usage: transports.py --confabd EXE --confabctl EXE CASE

Built on interop.py (its daemon, Baresip, linphonec recipe, ctl) and
tests/scenarios/proxy.py (its SIPp call scenarios). Each CASE starts its own
confabd on free loopback ports. Where a call changes transport or address
family, confab must Record-Route twice (RFC 3261 §16.6 item 4, RFC 5658
style): the entry on top names the listener the callee's side reaches, the
one below the listener the caller's side reaches; each side's in-dialog
requests then follow their own entry. The callee's INVITE is read from the
callee's SIP trace (baresip -s, SIPp -trace_msg).

Exit 0 on success, 1 on failure. A missing program fails, never skips.
Every wait is bounded; peers are stopped by PID.
"""

import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIOS = os.path.join(os.path.dirname(HERE), "scenarios")
sys.path.insert(0, SCENARIOS)
sys.path.insert(0, HERE)
import run  # noqa: E402  (tests/scenarios/run.py)
import interop  # noqa: E402
from run import (DOMAIN, Daemon, Failure, check, free_port,  # noqa: E402
                 status_line, udp_recv)
from interop import Baresip, add_users, ctl, read, wait_for  # noqa: E402

PEERS = interop.PEERS   # every peer started: killed by PID at the end


def daemon(args, tmp, users, extra=None, ipv6=False):
    """confabd with a TLS listener (its self-signed certificate) and, when
    ipv6, UDP and TCP on [::1] too; users provisioned."""
    conf = {"general.log_level": "debug"}
    conf.update(extra or {})
    d = Daemon(args, tmp, conf, tls=True, ipv6=ipv6)
    d.start()
    add_users(d, users)
    return d


def first_invite(trace):
    """The first INVITE request in a SIP trace, as text (headers only)."""
    m = re.search(r"(?ms)^INVITE sip:.*?\r?\n\r?\n", trace)
    return m.group(0) if m else ""


def record_routes(msg):
    """The Record-Route values of msg, top first (one per header line or
    comma-separated)."""
    out = []
    for h in re.findall(r"(?im)^(?:Record-Route|rr):\s*(.*?)\s*$", msg):
        out += [v.strip() for v in re.findall(r"<[^>]*>[^,]*", h)]
    return out


def check_two_rr(invite, top, below, what):
    """Two Record-Route entries: top contains every string of top, the
    other every string of below."""
    rr = record_routes(invite)
    check(len(rr) == 2 and all(s in rr[0] for s in top)
          and all(s in rr[1] for s in below),
          "%s: the INVITE reaching the callee has two Record-Routes, %s on "
          "top and %s below: %s" % (what, top, below, rr))
    return rr


# ----------------------------------------------------------- TLS callers

def client_cert(tmp, name):
    """A self-signed certificate and key for a client's TLS listener at
    127.0.0.1 (subjectAltName IP:127.0.0.1, which confabd checks when it
    connects there): (certificate file, file with certificate and key)."""
    exe = shutil.which("openssl")
    if exe is None:
        raise Failure("openssl not found (package openssl)")
    crt = os.path.join(tmp, name + ".crt")
    key = os.path.join(tmp, name + ".key")
    r = subprocess.run([exe, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days",
                        "2", "-subj", "/CN=127.0.0.1", "-addext",
                        "subjectAltName=IP:127.0.0.1", "-keyout", key,
                        "-out", crt], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 0, "openssl made a certificate for %s%s"
          % (name, "" if r.returncode == 0 else ": " + r.stderr[-300:]))
    pem = os.path.join(tmp, name + ".pem")
    with open(pem, "w") as f:
        f.write(read(crt) + read(key))
    return crt, pem


def case_tls_baresip_call_udp(args, tmp):
    """alice on baresip (account ;transport=tls, trusting confabd's
    certificate) registers over TLS and calls bob on baresip over UDP: the
    call is established; bob's INVITE carries two Record-Routes (the UDP
    listener on top, the TLS one with transport=tls below); bob hangs up
    and his BYE, following them, reaches alice over TLS. Her entry names
    her flow (a flow token, src/mod/proxy/flow.h), so the BYE goes over
    her own connection; here her listener also has a certificate (which
    confabd trusts through [tls] ca_file), as a UA that takes connections
    would. tls_baresip_nocert_call_udp is the same call without it."""
    crt, pem = client_cert(tmp, "alice")
    d = daemon(args, tmp, {"alice": "pwalice", "bob": "pwbob"},
               {"tls.ca_file": crt})
    a = Baresip(d, tmp, "alice", "pwalice", secs=60, transport="tls",
                config="sip_certificate %s\n" % pem)
    b = Baresip(d, tmp, "bob", "pwbob", secs=60)
    try:
        a.registered()
        b.registered()
        out = ctl(d, "location", "show", "sip:alice@" + DOMAIN).stdout
        check(re.search(r"transport=tls", out, re.I),
              "alice is bound over TLS:\n" + out)
        a.cmd("dial", "sip:bob@" + DOMAIN)
        wait_for(lambda: "Call established" in a.text(), 15,
                 "alice: 'Call established'")
        wait_for(lambda: "Call established" in b.text(), 5,
                 "bob: 'Call established'")
        check(True, "TLS caller to UDP callee: established on both sides")
        check_two_rr(first_invite(b.text()),
                     ["127.0.0.1:%d;" % d.port],
                     ["127.0.0.1:%d;" % d.tls_port, "transport=tls"],
                     "TLS to UDP")
        b.hangup()
        wait_for(lambda: re.search(r"BYE sip:[^\n]*SIP/2\.0", a.text()), 10,
                 "alice: bob's BYE over TLS")
        wait_for(lambda: interop.call_ended(a.text()), 10,
                 "alice: call closed")
        wait_for(lambda: re.search(r"SIP/2\.0 200 OK\r?\n(?:[^\n]*\n){0,8}?"
                                   r"CSeq: *\d+ BYE", b.text()), 10,
                 "bob: the 200 to his BYE")
        check(True, "bob's BYE reached alice over TLS, the call ended")
    finally:
        a.stop()
        b.stop()
        a.tail()
        b.tail()
    d.stop()


def case_tls_baresip_nocert_call_udp(args, tmp):
    """issue 5: alice on baresip over TLS with NO certificate of her own
    (as most phones: no TLS listener anyone could connect to) calls bob on
    baresip over UDP. bob's INVITE carries two Record-Routes, the one below
    naming alice's TLS flow in its user part (RFC 5626 §5.3 flow token,
    src/mod/proxy/flow.h); bob hangs up and his BYE reaches alice over her
    own TLS connection: confabd opens no connection (and no handshake)
    towards her Contact, which would fail."""
    d = daemon(args, tmp, {"alice": "pwalice", "bob": "pwbob"})
    a = Baresip(d, tmp, "alice", "pwalice", secs=60, transport="tls")
    b = Baresip(d, tmp, "bob", "pwbob", secs=60)
    try:
        a.registered()
        b.registered()
        check("sip_certificate" not in read(os.path.join(a.cdir, "config")),
              "alice's baresip has no certificate of its own")
        a.cmd("dial", "sip:bob@" + DOMAIN)
        wait_for(lambda: "Call established" in a.text(), 15,
                 "alice: 'Call established'")
        wait_for(lambda: "Call established" in b.text(), 5,
                 "bob: 'Call established'")
        rr = check_two_rr(first_invite(b.text()),
                          ["127.0.0.1:%d;" % d.port],
                          ["127.0.0.1:%d;" % d.tls_port, "transport=tls"],
                          "TLS (no certificate) to UDP")
        check("cfw_" not in rr[0], "bob's (UDP) entry names no flow: "
              + rr[0])
        check(re.match(r"<sip:cfw_tls_127\.0\.0\.1_\d+_[0-9a-f]{16}@"
                       r"127\.0\.0\.1:%d;transport=tls;lr>" % d.tls_port,
                       rr[1]),
              "alice's entry names her TLS flow: " + rr[1])
        b.hangup()
        wait_for(lambda: re.search(r"BYE sip:[^\n]*SIP/2\.0", a.text()), 10,
                 "alice: bob's BYE over her own TLS connection")
        wait_for(lambda: interop.call_ended(a.text()), 10,
                 "alice: call closed")
        wait_for(lambda: re.search(r"SIP/2\.0 200 OK\r?\n(?:[^\n]*\n){0,8}?"
                                   r"CSeq: *\d+ BYE", b.text()), 10,
                 "bob: the 200 to his BYE")
        check(True, "bob's BYE reached alice over her TLS flow, the call "
              "ended")
    finally:
        a.stop()
        b.stop()
        a.tail()
        b.tail()
    d.stop()


def linphonerc_tls(ld, d, user, password):
    """A linphonerc for user over TLS only: its account's proxy and route
    are confabd's TLS listener; the server certificate is checked against
    confabd's self-signed one (root_ca), its name not (it is issued to the
    domain, reached at 127.0.0.1)."""
    rtp = free_port()
    crt = os.path.join(d.data, "tls", DOMAIN + ".crt")
    with open(os.path.join(ld, "linphonerc"), "w") as f:
        f.write("""[sip]
sip_port=0
sip_tcp_port=0
sip_tls_port=%d
bind_address=127.0.0.1
register_only_when_network_is_up=0
root_ca=%s
verify_server_certs=1
verify_server_cn=0
default_proxy=0
[proxy_0]
reg_proxy=<sip:127.0.0.1:%d;transport=tls>
reg_route=<sip:127.0.0.1:%d;transport=tls;lr>
reg_identity=sip:%s@%s
reg_expires=600
reg_sendregister=1
publish=0
[auth_info_0]
username=%s
passwd=%s
realm=%s
domain=%s
[rtp]
audio_rtp_port=%d-%d
[video]
enabled=0
capture=0
display=0
[sound]
echocancellation=0
[storage]
backend=sqlite3
uri=%s/user.db
""" % (free_port(), crt, d.tls_port, d.tls_port, user, DOMAIN, user,
            password, DOMAIN, DOMAIN, rtp, rtp + 20, ld))


def case_tls_linphonec_call_udp(args, tmp):
    """linphonec (carol) registers over TLS and calls bob on baresip over
    UDP: `status register` says registered (bound with transport=tls),
    the call is connected on both sides, bob's INVITE carries two
    Record-Routes (UDP on top, TLS below), and linphonec's `terminate`
    (a BYE over TLS) ends bob's call."""
    d = daemon(args, tmp, {"carol": "pwcarol", "bob": "pwbob"})
    b = Baresip(d, tmp, "bob", "pwbob", secs=60)
    ld = os.path.join(tmp, "linphone")
    os.makedirs(ld)
    linphonerc_tls(ld, d, "carol", "pwcarol")
    fifo = os.path.join(ld, "in.fifo")
    os.mkfifo(fifo)
    env = dict(os.environ, HOME=ld, XDG_DATA_HOME=ld + "/.local/share",
               XDG_CONFIG_HOME=ld + "/.config")
    log = os.path.join(tmp, "linphonec.log")
    if shutil.which("linphonec") is None:
        raise Failure("linphonec not found (package linphone-cli)")
    wfd = os.open(fifo, os.O_RDWR)
    p = interop.start_peer("linphonec",
                           ["timeout", "50", "linphonec", "-c",
                            os.path.join(ld, "linphonerc"), "-d", "0"],
                           log, env=env, stdin=wfd)

    def say(cmd):
        os.write(wfd, (cmd + "\n").encode())
    try:
        b.registered()
        time.sleep(1.5)
        say("soundcard use files")

        def registered():
            say("status register")
            time.sleep(0.5)
            return re.search(r"registered, identity=sip:carol@"
                             + re.escape(DOMAIN), read(log))
        wait_for(registered, 15, "linphonec: status register registered")
        out = ctl(d, "location", "show", "sip:carol@" + DOMAIN).stdout
        check(re.search(r"transport=tls", out, re.I),
              "carol is bound over TLS:\n" + out)
        say("call sip:bob@" + DOMAIN)
        wait_for(lambda: re.search(r"Call \d+ with .* connected", read(log)),
                 15, "linphonec: 'Call N with ... connected.'")
        wait_for(lambda: "Call established" in b.text(), 5,
                 "bob: 'Call established'")
        check(True, "linphonec over TLS to baresip over UDP: connected")
        check_two_rr(first_invite(b.text()),
                     ["127.0.0.1:%d;" % d.port],
                     ["127.0.0.1:%d;" % d.tls_port, "transport=tls"],
                     "linphonec TLS to UDP")
        say("terminate")
        wait_for(lambda: interop.call_ended(b.text()), 10,
                 "bob: call terminated (linphonec's BYE over TLS)")
        check(True, "linphonec's BYE reached bob")
        st = d.status_json()
        check(run.counter(st, "tls_handshakes")[0] >= 1
              and run.counter(st, "tls_handshake_failures")[0] == 0,
              "confabd counted linphonec's TLS handshake, no failure")
        say("quit")
    finally:
        interop.stop_peer(p)
        os.close(wfd)
        b.stop()
        print("--- linphonec log (tail)\n" + read(log)[-3000:], flush=True)
        b.tail()
    d.stop()


# ------------------------------------------------------- IPv6 and IPv4

def sipp_cmd(d, scenario, host, port, transport="u1", extra=()):
    """SIPp on host (127.0.0.1 or ::1) at port, to confabd on the same
    family; its message trace in d.tmp/SCENARIO-PORT.msg."""
    exe = shutil.which("sipp")
    if exe is None:
        raise Failure("sipp not found (package sip-tester)")
    remote = ("[::1]:%d" if ":" in host else "127.0.0.1:%d") % d.port
    tag = "%s-%d" % (os.path.splitext(scenario)[0], port)
    return [exe, remote, "-sf", os.path.join(SCENARIOS, scenario),
            "-key", "domain", DOMAIN, "-i", host, "-p", str(port),
            "-t", transport, "-m", "1", "-l", "1", "-timeout", "30s",
            "-timeout_error", "-nostdin", "-trace_err", "-error_file",
            os.path.join(d.tmp, tag + ".err"), "-trace_msg",
            "-message_file", os.path.join(d.tmp, tag + ".msg")] + list(extra)


def register_contact(d, user, host, port):
    """REGISTER user (registrar.authenticate = no) with the Contact
    sip:user@host:port, sent from the same family."""
    v6 = ":" in host
    hp = "[%s]:%d" % (host, port) if v6 else "%s:%d" % (host, port)
    fam = run.socket.AF_INET6 if v6 else run.socket.AF_INET
    u = run.socket.socket(fam, run.socket.SOCK_DGRAM)
    u.bind((host, 0))
    lp = u.getsockname()[1]
    me = "[%s]:%d" % (host, lp) if v6 else "%s:%d" % (host, lp)
    msg = ("REGISTER sip:%s SIP/2.0\r\n"
           "Via: SIP/2.0/UDP %s;branch=z9hG4bK-reg-%d;rport\r\n"
           "Max-Forwards: 70\r\n"
           "From: <sip:%s@%s>;tag=r%d\r\n"
           "To: <sip:%s@%s>\r\n"
           "Call-ID: reg-%d-%d@confab-tests\r\n"
           "CSeq: 1 REGISTER\r\n"
           "Contact: <sip:%s@%s>\r\n"
           "Expires: 300\r\n"
           "Content-Length: 0\r\n\r\n"
           % (DOMAIN, me, port, user, DOMAIN, port, user, DOMAIN,
              os.getpid(), port, user, hp))
    u.sendto(msg.encode(), (host, d.port))
    r = udp_recv(u)
    u.close()
    check(status_line(r).startswith("SIP/2.0 200"),
          "REGISTER %s at %s: %s" % (user, hp, status_line(r)))


def family_call(args, tmp, caller_host, callee_host):
    """alice (SIPp UAC on caller_host) calls bob (SIPp UAS on callee_host,
    registered there) through confab: 407, INVITE with credentials, 180,
    200, ACK and BYE along the Record-Route set, 200; both SIPp exit 0.
    Returns (d, the INVITE bob got)."""
    check(run.has_ipv6(), "this machine has an IPv6 loopback (::1)")
    d = daemon(args, tmp, {"alice": "pw", "bob": "pw"},
               {"registrar.authenticate": "no"}, ipv6=True)
    uport = free_port()
    ucmd = sipp_cmd(d, "proxy_uas_invite.xml", callee_host, uport)
    print("$ " + " ".join(ucmd) + " &", flush=True)
    uas = subprocess.Popen(ucmd, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           cwd=d.tmp)
    PEERS.append(("sipp-uas", uas))
    time.sleep(0.3)  # bound: SIPp binds its port at once
    check(uas.poll() is None, "SIPp UAS runs on %s" % callee_host)
    register_contact(d, "bob", callee_host, uport)

    cport = free_port()
    inf = os.path.join(d.tmp, "uac-%d.csv" % cport)
    with open(inf, "w") as f:
        f.write("SEQUENTIAL\nalice;pw;bob;[authentication username=alice "
                "password=pw]\n")
    ccmd = sipp_cmd(d, "proxy_uac_invite.xml", caller_host, cport,
                    extra=["-inf", inf, "-d", "200", "-default_behaviors",
                           "all,-abortunexp", "-recv_timeout", "32000"])
    print("$ " + " ".join(ccmd), flush=True)
    r = subprocess.run(ccmd, stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=60, cwd=d.tmp)
    if r.returncode != 0:
        sys.stdout.write(r.stdout[-2000:] + r.stderr[-2000:])
        sys.stdout.write(read(os.path.join(
            d.tmp, "proxy_uac_invite-%d.msg" % cport))[-6000:])
    check(r.returncode == 0, "SIPp UAC on %s: the call and its BYE went "
          "through (exit %d)" % (caller_host, r.returncode))
    try:
        out, _ = uas.communicate(timeout=40)
    except subprocess.TimeoutExpired:
        raise Failure("SIPp UAS did not end within 40 s")
    if uas.returncode != 0:
        sys.stdout.write(out.decode(errors="replace")[-3000:])
    check(uas.returncode == 0, "SIPp UAS on %s: INVITE, ACK and BYE "
          "received (exit %d)" % (callee_host, uas.returncode))
    inv = first_invite(read(os.path.join(
        d.tmp, "proxy_uas_invite-%d.msg" % uport)))
    check(inv, "the UAS's trace has the INVITE")
    return d, inv


def case_call_ipv6_to_ipv4(args, tmp):
    """A caller on ::1 calls a callee on 127.0.0.1: two Record-Routes, the
    IPv4 listener on top (the callee's side), the IPv6 one below."""
    d, inv = family_call(args, tmp, "::1", "127.0.0.1")
    check_two_rr(inv, ["127.0.0.1:%d;" % d.port], ["[::1]:%d;" % d.port],
                 "IPv6 to IPv4")
    d.stop()


def case_call_ipv4_to_ipv6(args, tmp):
    """A caller on 127.0.0.1 calls a callee on ::1: two Record-Routes, the
    IPv6 listener on top, the IPv4 one below."""
    d, inv = family_call(args, tmp, "127.0.0.1", "::1")
    check_two_rr(inv, ["[::1]:%d;" % d.port], ["127.0.0.1:%d;" % d.port],
                 "IPv4 to IPv6")
    d.stop()


# ------------------------------------------------------ WebSocket caller

def case_ws_caller_bye(args, tmp):
    ws_caller(args, tmp, gone=False)


def case_ws_caller_flow_gone(args, tmp):
    """The same call, but the caller's WebSocket connection closes after
    its ACK: bob's BYE is answered 430 Flow Failed by confab (RFC 5626
    §5.3), not sent anywhere else."""
    ws_caller(args, tmp, gone=True)


def ws_caller(args, tmp, gone):
    """A WebSocket caller (run.py's raw client: the browser cannot place a
    call before WebRTC media exists) calls bob, a SIPp UAS on UDP, through
    confab: 407, INVITE with credentials, 200 with two Record-Routes (the
    ws listener's entry for the caller's side), ACK; bob hangs up and his
    BYE, following the Record-Routes, reaches the caller over its own
    WebSocket connection (its Contact host is `*.invalid`); the caller's
    200 reaches bob."""
    d = Daemon(args, tmp, {"general.log_level": "debug",
                           "registrar.authenticate": "no"}, ws=True)
    d.start()
    add_users(d, {"alice": "pw", "bob": "pw"})
    uport = free_port()
    ucmd = sipp_cmd(d, "proxy_uas_invite_bye.xml", "127.0.0.1", uport,
                    extra=["-default_behaviors", "all,-abortunexp"])
    print("$ " + " ".join(ucmd) + " &", flush=True)
    uas = subprocess.Popen(ucmd, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           cwd=d.tmp)
    PEERS.append(("sipp-uas", uas))
    time.sleep(0.3)
    check(uas.poll() is None, "SIPp UAS runs")
    register_contact(d, "bob", "127.0.0.1", uport)

    w = run.WsClient(d.ws_port)
    check(w.status.startswith("HTTP/1.1 101"), "upgrade: " + w.status)
    host = "k8s7ws0caller.invalid"
    ctc = "<sip:alice@%s;transport=ws>" % host
    cid = "ws-caller-%d@%s" % (os.getpid(), host)
    sdp = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\n"
           "c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n")

    def invite(cseq, auth=None):
        return ("INVITE sip:bob@%s SIP/2.0\r\n"
                "Via: SIP/2.0/WS %s;branch=z9hG4bK-wsc%d\r\n"
                "Max-Forwards: 70\r\n"
                "From: <sip:alice@%s>;tag=wsc\r\n"
                "To: <sip:bob@%s>\r\n"
                "Call-ID: %s\r\n"
                "CSeq: %d INVITE\r\n"
                "Contact: %s\r\n%s"
                "Content-Type: application/sdp\r\n"
                "Content-Length: %d\r\n\r\n%s"
                % (DOMAIN, host, cseq, DOMAIN, DOMAIN, cid, cseq, ctc,
                   "Proxy-Authorization: %s\r\n" % auth if auth else "",
                   len(sdp), sdp))

    def recv_sip(secs=10):
        deadline = time.monotonic() + secs
        while time.monotonic() < deadline:
            op, pl = w.recv()
            if op in (1, 2):
                return pl.decode(errors="replace")
        raise Failure("nothing over the WebSocket in %d s" % secs)

    def ack(cseq, resp, ruri, routes):
        return ("ACK %s SIP/2.0\r\n"
                "Via: SIP/2.0/WS %s;branch=z9hG4bK-wsack%d\r\n"
                "%s"
                "Max-Forwards: 70\r\n"
                "From: <sip:alice@%s>;tag=wsc\r\n"
                "To: %s\r\n"
                "Call-ID: %s\r\n"
                "CSeq: %d ACK\r\n"
                "Content-Length: 0\r\n\r\n"
                % (ruri, host, cseq,
                   "".join("Route: %s\r\n" % r for r in routes),
                   DOMAIN, run.header(resp, "To"), cid, cseq))

    try:
        w.send(invite(1).encode())
        r = recv_sip()
        while status_line(r).split(" ")[1] == "100":
            r = recv_sip()
        check(status_line(r).startswith("SIP/2.0 407"),
              "INVITE over ws challenged: " + status_line(r))
        w.send(("ACK sip:bob@%s SIP/2.0\r\nVia: SIP/2.0/WS %s;"
                "branch=z9hG4bK-wsc1\r\nMax-Forwards: 70\r\nFrom: "
                "<sip:alice@%s>;tag=wsc\r\nTo: %s\r\nCall-ID: %s\r\n"
                "CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n"
                % (DOMAIN, host, DOMAIN, run.header(r, "To"), cid)).encode())
        chals = re.findall(r"(?im)^Proxy-Authenticate:\s*(.*?)\r?$", r)
        w.send(invite(2, interop.digest_auth(
            chals, "alice", "pw", "INVITE", "sip:bob@" + DOMAIN)).encode())
        r = recv_sip()
        while status_line(r).split(" ")[1] in ("100", "180", "183"):
            r = recv_sip()
        check(status_line(r).startswith("SIP/2.0 200"),
              "the call answered: " + status_line(r))
        rr = record_routes(r)
        check(len(rr) == 2 and ":%d;transport=ws;" % d.ws_port in rr[1]
              and "<sip:cfw_ws_127.0.0.1_" in rr[1],
              "two Record-Routes, the ws listener's for the caller's side, "
              "naming its flow (cfw_...): %s" % rr)
        contact = re.search(r"<([^>]*)>", run.header(r, "Contact")).group(1)
        w.send(ack(2, r, contact, list(reversed(rr))).encode())
        if gone:
            w.send(b"\x03\xe8", op=8)
            w.close()
            tf = os.path.join(d.tmp, "proxy_uas_invite_bye-%d.msg" % uport)
            wait_for(lambda: re.search(
                r"SIP/2\.0 430 Flow Failed\r?\n(?:[^\n]*\n){0,8}?"
                r"CSeq: *\d+ BYE", read(tf)), 15, "bob: a 430 to his BYE")
            check(True, "bob's BYE to the gone flow got 430 Flow Failed")
            interop.stop_peer(uas)  # it waited for a 200
            err = d.stderr()
            check("proxy: branch not sent: Broken pipe" in err
                  and "BYE branch" not in err,
                  "and was sent nowhere (confabd: 'branch not sent: Broken "
                  "pipe', no BYE branch)")
            d.stop()
            return
        r = recv_sip(10)
        check(r.startswith("BYE "), "bob's BYE reached the caller over its "
              "WebSocket: " + r.split("\r\n", 1)[0])
        resp = ["SIP/2.0 200 OK"]
        for name in ("Via", "From", "To", "Call-ID", "CSeq"):
            resp += ["%s: %s" % (name, v) for v in
                     re.findall(r"(?im)^%s:\s*(.*?)\r?$" % name, r)]
        w.send(("\r\n".join(resp) + "\r\nContent-Length: 0\r\n\r\n")
               .encode())
        out, _ = uas.communicate(timeout=20)
        if uas.returncode != 0:
            sys.stdout.write(out.decode(errors="replace")[-3000:])
        check(uas.returncode == 0, "bob got the 200 to his BYE (SIPp UAS "
              "exit %d)" % uas.returncode)
    finally:
        w.close()
    d.stop()


CASES = {name[5:]: fn for name, fn in globals().items()
         if name.startswith("case_")}


def main():
    return interop.main(CASES, "confab-tp-", __doc__)


if __name__ == "__main__":
    sys.exit(main())
