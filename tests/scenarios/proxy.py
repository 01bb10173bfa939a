#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""proxy.py - the proxy (issue 4) end to end with SIPp on both sides.

Usage: proxy.py --confabd EXE --confabctl EXE CASE

Each CASE starts its own confabd on free loopback ports (tests/scenarios/
run.py's Daemon) with alice and bob provisioned (password pw), registers
bob with the Contact of a SIPp UAS started in the background, then runs a
SIPp UAC as alice that calls (or messages) bob through confab with digest
authentication (407). The UAS and the UAC must both exit 0; confabd must
stop cleanly. Every wait is bounded; SIPp processes are stopped by PID.

The REGISTER of the callee is sent by this script (registrar.authenticate
= no for it: the registrar's own digest path has its SIPp cases in
tests/interop); the caller's INVITE/MESSAGE is challenged by the proxy.
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run  # noqa: E402
from run import (DOMAIN, Daemon, Failure, check, free_port,  # noqa: E402
                 header, status_line, udp_socket, udp_recv)
from cdrcheck import cdrs, expect_cdr  # noqa: E402  (issue 4 point 6)

PEERS = []  # Popen of every SIPp started in the background


def ctl(d, *argv):
    r = d.ctl_run(*argv, timeout=20)
    check(r.returncode == 0, "confabctl %s exits 0 (%d: %s)"
          % (" ".join(argv), r.returncode, (r.stdout + r.stderr)[:300]))
    return r.stdout


def daemon(args, tmp, extra=None):
    conf = {"general.log_level": "debug", "registrar.authenticate": "no",
            "security.allow": "127.0.0.0/8"}
    conf.update(extra or {})
    d = Daemon(args, tmp, conf)
    d.start()
    for u in ("alice", "bob"):
        ctl(d, "user", "add", "%s@%s" % (u, DOMAIN), "--password", "pw")
    return d


def register(d, user, port, transport="udp"):
    """REGISTER user's Contact at 127.0.0.1:port (one UDP exchange)."""
    u = udp_socket()
    lp = u.getsockname()[1]
    tp = "" if transport == "udp" else ";transport=" + transport
    msg = ("REGISTER sip:%s SIP/2.0\r\n"
           "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-reg-%d-%d;rport\r\n"
           "Max-Forwards: 70\r\n"
           "From: <sip:%s@%s>;tag=r%d\r\n"
           "To: <sip:%s@%s>\r\n"
           "Call-ID: reg-%d-%d@127.0.0.1\r\n"
           "CSeq: 1 REGISTER\r\n"
           "Contact: <sip:%s@127.0.0.1:%d%s>\r\n"
           "Expires: 300\r\n"
           "Content-Length: 0\r\n\r\n"
           % (DOMAIN, lp, os.getpid(), port, user, DOMAIN, port, user,
              DOMAIN, os.getpid(), port, user, port, tp))
    u.sendto(msg.encode(), ("127.0.0.1", d.port))
    r = udp_recv(u)
    u.close()
    check(status_line(r).startswith("SIP/2.0 200"),
          "REGISTER %s at port %d: %s" % (user, port, status_line(r)))


def sipp_cmd(d, scenario, port, transport, extra=()):
    exe = shutil.which("sipp")
    if exe is None:
        raise Failure("sipp not found (package sip-tester)")
    tag = "%s-%d" % (os.path.splitext(scenario)[0], port)
    return [exe, "127.0.0.1:%d" % d.port, "-sf", os.path.join(HERE, scenario),
            "-key", "domain", DOMAIN, "-i", "127.0.0.1", "-p", str(port),
            "-t", transport, "-m", "1", "-l", "1", "-timeout", "30s",
            "-timeout_error", "-nostdin", "-trace_err", "-error_file",
            os.path.join(d.tmp, tag + ".err"), "-trace_msg",
            "-message_file", os.path.join(d.tmp, tag + ".msg")] + list(extra)


def uas_start(d, scenario, port, transport="u1", extra=()):
    cmd = sipp_cmd(d, scenario, port, transport, list(extra))
    print("$ " + " ".join(cmd) + " &", flush=True)
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         cwd=d.tmp)
    PEERS.append(p)
    time.sleep(0.3)  # bound: SIPp binds its port at once
    check(p.poll() is None, "SIPp UAS %s runs" % scenario)
    return p


def uac_run(d, scenario, transport="u1", caller="alice", callee="bob",
            extra=()):
    port = free_port()
    inf = os.path.join(d.tmp, "uac-%d.csv" % port)
    with open(inf, "w") as f:
        f.write("SEQUENTIAL\n%s;pw;%s;[authentication username=%s "
                "password=pw]\n" % (caller, callee, caller))
    cmd = sipp_cmd(d, scenario, port, transport,
                   ["-inf", inf, "-d", "200"] + list(extra))
    print("$ " + " ".join(cmd), flush=True)
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=60, cwd=d.tmp)
    if r.returncode != 0:
        sys.stdout.write(r.stdout[-2000:] + r.stderr[-2000:])
        msgs = os.path.join(d.tmp, "%s-%d.msg"
                            % (os.path.splitext(scenario)[0], port))
        if os.path.exists(msgs):
            with open(msgs, errors="replace") as f:
                sys.stdout.write(f.read()[-6000:])
    check(r.returncode == 0, "SIPp UAC %s over %s exits 0 (got %d)"
          % (scenario, transport, r.returncode))
    return os.path.join(d.tmp, "%s-%d.msg" % (os.path.splitext(scenario)[0],
                                               port))


def uas_wait(p, what):
    try:
        out, _ = p.communicate(timeout=40)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait(timeout=5)
        raise Failure("SIPp UAS %s did not end within 40 s" % what)
    if p.returncode != 0:
        sys.stdout.write(out.decode(errors="replace")[-3000:])
    check(p.returncode == 0, "SIPp UAS %s exits 0 (got %d)"
          % (what, p.returncode))


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


# ------------------------------------------------------------------ cases

def call(args, tmp, uac_tp, uas_tp="udp"):
    d = daemon(args, tmp)
    uport = free_port()
    uas = uas_start(d, "proxy_uas_invite.xml", uport,
                    "u1" if uas_tp == "udp" else "t1")
    register(d, "bob", uport, uas_tp)
    log = uac_run(d, "proxy_uac_invite.xml", uac_tp)
    uas_wait(uas, "proxy_uas_invite.xml")
    msgs = read(log)
    check("Record-Route:" in msgs or "record-route:" in msgs.lower(),
          "the caller saw a Record-Route")
    expect_cdr(d, count=1, disposition="answered", code=200)
    return d, msgs


def case_call_udp(args, tmp):
    """alice calls bob over UDP: 407, INVITE with credentials, 180, 200,
    ACK and BYE by the Record-Route set, 200."""
    d, _ = call(args, tmp, "u1")
    d.stop()


def case_call_tcp_to_udp(args, tmp):
    """The caller over TCP, the callee over UDP: two Record-Route entries
    (one per transport), the ACK and BYE still reach the callee."""
    d, msgs = call(args, tmp, "t1")
    check("transport=tcp;lr" in msgs, "a Record-Route entry for TCP")
    d.stop()


def case_callee_hangs_up_tcp(args, tmp):
    """The caller over TCP, the callee over UDP hangs up: its BYE follows
    the two Record-Route entries and reaches the caller over TCP (the
    caller's Contact names no transport: our second entry does)."""
    d = daemon(args, tmp)
    uport = free_port()
    # A late ACK makes the UAS retransmit its 200 and the caller ACKs each
    # copy: SIPp would abort the call on the second ACK arriving during its
    # pause (its unexpected-message rule) and never send the BYE.
    uas = uas_start(d, "proxy_uas_invite_bye.xml", uport,
                    extra=["-default_behaviors", "all,-abortunexp"])
    register(d, "bob", uport)
    uac_run(d, "proxy_uac_invite_recvbye.xml", "t1")
    uas_wait(uas, "proxy_uas_invite_bye.xml")
    expect_cdr(d, count=1, disposition="answered", ended_by="callee")
    d.stop()


def case_fork_answer_cancel(args, tmp):
    """bob registered from two SIPp UASes: both get the INVITE (parallel
    fork); one answers 200, the other, ringing, gets CANCEL and answers
    487, which stays in confab; the caller has one call."""
    d = daemon(args, tmp)
    p1, p2 = free_port(), free_port()
    ans = uas_start(d, "proxy_uas_invite.xml", p1)
    ring = uas_start(d, "proxy_uas_ring.xml", p2)
    register(d, "bob", p1)
    register(d, "bob", p2)
    uac_run(d, "proxy_uac_invite.xml",
            extra=["-default_behaviors", "all,-abortunexp"])
    uas_wait(ans, "proxy_uas_invite.xml")
    uas_wait(ring, "proxy_uas_ring.xml")
    expect_cdr(d, count=1, disposition="answered",
               contact=lambda v: ":%d;" % p1 in v)
    d.stop()


def case_fork_6xx(args, tmp):
    """bob on two UASes: one declines (603), the other rings: the 603
    reaches the caller at once and the ringing one gets CANCEL (§16.7
    step 5 and 10)."""
    d = daemon(args, tmp)
    p1, p2 = free_port(), free_port()
    dec = uas_start(d, "proxy_uas_decline.xml", p1)
    ring = uas_start(d, "proxy_uas_ring.xml", p2)
    register(d, "bob", p1)
    register(d, "bob", p2)
    uac_run(d, "proxy_uac_decline.xml",
            extra=["-default_behaviors", "all,-abortunexp"])
    uas_wait(dec, "proxy_uas_decline.xml")
    uas_wait(ring, "proxy_uas_ring.xml")
    expect_cdr(d, count=1, disposition="busy", code=603)
    d.stop()


def one_callee(args, tmp, uas_xml, uac_xml, cdr=None):
    """bob registered from one SIPp UAS playing uas_xml; alice plays
    uac_xml through confab; both scenarios must end well; cdr: the
    fields of its CDR (expect_cdr), {} for none (not a call)."""
    d = daemon(args, tmp)
    uport = free_port()
    uas = uas_start(d, uas_xml, uport)
    register(d, "bob", uport)
    uac_run(d, uac_xml)
    uas_wait(uas, uas_xml)
    if cdr == {}:
        check(cdrs(d) == [], "no CDR: not a call")
    elif cdr:
        expect_cdr(d, count=1, **cdr)
    d.stop()


def case_message(args, tmp):
    """alice sends bob a MESSAGE: 407, then relayed, bob's 200 back."""
    one_callee(args, tmp, "proxy_uas_message.xml", "proxy_uac_message.xml",
               cdr={})


def case_cancel(args, tmp):
    """bob rings, alice cancels: 200 for the CANCEL, CANCEL to bob, 487
    to alice."""
    one_callee(args, tmp, "proxy_uas_ring.xml", "proxy_uac_cancel.xml",
               cdr={"disposition": "cancelled", "code": 487})


def case_busy(args, tmp):
    """bob is busy: his 486 reaches alice (ACKed hop by hop)."""
    one_callee(args, tmp, "proxy_uas_busy.xml", "proxy_uac_busy.xml",
               cdr={"disposition": "busy", "code": 486})


def case_forward_busy(args, tmp):
    """failure route (issue 4 point 3): bob answers 486; [proxy]
    forward_busy points at a second SIPp UAS (a foreign numeric URI),
    which rings and answers; alice has her call, with BYE through confab;
    the forwarded INVITE carries History-Info (RFC 7044) and Diversion."""
    p1, p2 = free_port(), free_port()
    d = daemon(args, tmp, {
        "proxy.forward_busy": "sip:carol@127.0.0.1:%d" % p2,
        "proxy.forward_headers": "both"})
    busy = uas_start(d, "proxy_uas_busy.xml", p1)
    carol = uas_start(d, "proxy_uas_invite.xml", p2)
    register(d, "bob", p1)
    uac_run(d, "proxy_uac_invite.xml")
    uas_wait(busy, "proxy_uas_busy.xml")
    uas_wait(carol, "proxy_uas_invite.xml (forward target)")
    msgs = read(os.path.join(d.tmp, "proxy_uas_invite-%d.msg" % p2))
    check("INVITE sip:carol@127.0.0.1:%d SIP/2.0" % p2 in msgs,
          "carol got the forwarded INVITE")
    check(("History-Info: <sip:bob@%s?Reason=SIP%%3Bcause%%3D486>;index=1, "
           "<sip:carol@127.0.0.1:%d>;index=1.1;mp=1" % (DOMAIN, p2)) in msgs,
          "the forwarded INVITE has History-Info with cause 486")
    check("Diversion: <sip:bob@%s>;reason=user-busy;counter=1" % DOMAIN
          in msgs, "the forwarded INVITE has Diversion")
    expect_cdr(d, count=1, disposition="answered",
               contact=lambda v: ":%d;" % p2 in v)
    d.stop()


def case_forward_user(args, tmp):
    """a user's own failure route, set online by `confabctl user forward`:
    bob busy, his --busy URI (a second SIPp UAS) answers; History-Info."""
    p1, p2 = free_port(), free_port()
    d = daemon(args, tmp)
    ctl(d, "user", "forward", "bob@%s" % DOMAIN, "--busy",
        "sip:carol@127.0.0.1:%d" % p2)
    busy = uas_start(d, "proxy_uas_busy.xml", p1)
    carol = uas_start(d, "proxy_uas_invite.xml", p2)
    register(d, "bob", p1)
    uac_run(d, "proxy_uac_invite.xml")
    uas_wait(busy, "proxy_uas_busy.xml")
    uas_wait(carol, "proxy_uas_invite.xml (bob's forward target)")
    msgs = read(os.path.join(d.tmp, "proxy_uas_invite-%d.msg" % p2))
    check(("History-Info: <sip:bob@%s?Reason=SIP%%3Bcause%%3D486>;index=1, "
           "<sip:carol@127.0.0.1:%d>;index=1.1;mp=1" % (DOMAIN, p2)) in msgs,
          "the forwarded INVITE has History-Info with cause 486")
    check("Diversion:" not in msgs, "no Diversion by default")
    expect_cdr(d, count=1, disposition="answered",
               contact=lambda v: ":%d;" % p2 in v)
    out = ctl(d, "user", "forward", "bob@%s" % DOMAIN, "--clear")
    check("cleared" in out, "--clear says so: %s" % out.strip())
    r = d.ctl_run("user", "forward", "nobody@%s" % DOMAIN, "--busy",
                  "sip:x@127.0.0.1", timeout=20)
    check(r.returncode != 0, "an unknown user is refused")
    r = d.ctl_run("user", "forward", "bob@%s" % DOMAIN, "--busy",
                  "tel:+1234", timeout=20)
    check(r.returncode != 0, "a tel: URI is refused")
    d.stop()


def case_offline(args, tmp):
    """bob provisioned but not registered: 480; nobody: 404."""
    d = daemon(args, tmp, {"proxy.authenticate": "no"})
    u = udp_socket()
    for user, want in (("bob", "SIP/2.0 480"), ("nobody", "SIP/2.0 404")):
        inv = run.request("INVITE", d.port,
                          ruri="sip:%s@%s" % (user, DOMAIN))
        u.sendto(inv, ("127.0.0.1", d.port))
        r = udp_recv(u)
        for _ in range(3):
            if not status_line(r).startswith("SIP/2.0 100"):
                break
            r = udp_recv(u)
        check(status_line(r).startswith(want),
              "INVITE %s: %s" % (user, status_line(r)))
    u.close()
    check([(c["disposition"], c["code"]) for c in cdrs(d)] ==
          [("no_answer", 480), ("failed", 404)], "CDRs: no_answer 480, "
          "failed 404")
    d.stop()


def case_shutdown(args, tmp):
    """SIGTERM while bob rings: the caller gets 503, bob gets CANCEL, and
    confabd exits 0 with nothing leaked (ASan builds check at exit)."""
    d = daemon(args, tmp, {"proxy.authenticate": "no"})
    uport = free_port()
    uas = uas_start(d, "proxy_uas_ring.xml", uport)
    register(d, "bob", uport)
    u = udp_socket()
    inv = run.request("INVITE", d.port, ruri="sip:bob@%s" % DOMAIN)
    u.sendto(inv, ("127.0.0.1", d.port))
    r = udp_recv(u)
    for _ in range(3):
        if not status_line(r).startswith("SIP/2.0 100"):
            break
        r = udp_recv(u)
    check(status_line(r).startswith("SIP/2.0 180"),
          "bob rings: " + status_line(r))
    d.proc.send_signal(signal.SIGTERM)
    r = udp_recv(u)
    check(status_line(r).startswith("SIP/2.0 503"),
          "the caller gets 503 at shutdown: " + status_line(r))
    u.close()
    uas_wait(uas, "proxy_uas_ring.xml")
    d.stop()
    expect_cdr(d, count=1, code=503, ended_by="shutdown")  # offline


def dnsmasq_start(tmp, port, records):
    """dnsmasq on 127.0.0.1:port serving only `records` (dnsmasq options),
    in the foreground; stopped by PID (PEERS). None when not installed."""
    exe = shutil.which("dnsmasq") or (
        "/usr/sbin/dnsmasq" if os.path.exists("/usr/sbin/dnsmasq") else None)
    if exe is None:
        raise Failure("dnsmasq not found (package dnsmasq)")
    cmd = [exe, "--keep-in-foreground", "--conf-file=/dev/null",
           "--no-resolv", "--no-hosts", "--no-poll", "--pid-file=",
           "--listen-address=127.0.0.1", "--bind-interfaces",
           "--port=%d" % port, "--local=/example.test/", "--local-ttl=60",
           "--log-queries", "--log-facility=" + os.path.join(tmp,
                                                              "dnsmasq.log")]
    if os.getuid() == 0:
        cmd.append("--user=root")  # no switch to nobody (the log file)
    cmd += records
    print("$ " + " ".join(cmd) + " &", flush=True)
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    PEERS.append(p)
    time.sleep(0.3)  # bound: dnsmasq binds at once
    check(p.poll() is None, "dnsmasq runs (%s)"
          % (p.stdout.read().decode(errors="replace")[-500:]
             if p.poll() is not None else ""))
    return p


def case_dns_failover(args, tmp):
    """alice calls bob@example.test, another domain: confab asks dnsmasq
    (NAPTR SIP+D2U -> _sip._udp SRV with two targets -> A), tries the
    priority 10 server first (nobody listens there: Timer B, 408 of ours)
    and then the priority 20 one, a SIPp UAS that answers (RFC 3263 §4.3).
    """
    dport, dead, live = free_port(), free_port(), free_port()
    dns = dnsmasq_start(tmp, dport, [
        "--naptr-record=example.test,10,50,S,SIP+D2U,,_sip._udp.example.test",
        "--srv-host=_sip._udp.example.test,dead.example.test,%d,10,50" % dead,
        "--srv-host=_sip._udp.example.test,live.example.test,%d,20,50" % live,
        "--host-record=dead.example.test,127.0.0.1",
        "--host-record=live.example.test,127.0.0.1",
    ])
    # T1 50 ms: Timer B (64*T1) ends the dead server's branch in 3.2 s
    d = daemon(args, tmp, {"dns.server": "127.0.0.1:%d" % dport,
                           "sip.t1": "50"})
    uas = uas_start(d, "proxy_uas_invite.xml", live)
    uac_run(d, "proxy_uac_invite_dns.xml",
            extra=["-key", "callee_domain", "example.test",
                   "-default_behaviors", "all,-abortunexp",
                   "-recv_timeout", "32000"])
    uas_wait(uas, "proxy_uas_invite.xml")
    err = d.stderr()
    want_dead = "INVITE branch 1 to UDP 127.0.0.1:%d" % dead
    want_live = "INVITE branch 2 to UDP 127.0.0.1:%d" % live
    check(want_dead in err, "the priority 10 server was tried (%s)"
          % want_dead)
    check(want_live in err and err.index(want_dead) < err.index(want_live),
          "then the priority 20 one (%s)" % want_live)
    qlog = read(os.path.join(tmp, "dnsmasq.log"))
    check("NAPTR" in qlog or "type=35" in qlog,
          "confab asked for the NAPTR records")
    expect_cdr(d, count=1, disposition="answered",
               contact=lambda v: ":%d;" % live in v)
    d.stop()
    dns.terminate()
    dns.wait(timeout=5)


def case_dns_unresolvable(args, tmp):
    """A name DNS does not know: 404 Unresolvable Destination; a DNS server
    that does not answer (nothing on its port): 503 DNS Lookup Failed.
    And `confabctl dns zone` prints the records for our listeners."""
    dport, gone = free_port(), free_port()
    dns = dnsmasq_start(tmp, dport, [
        "--host-record=live.example.test,127.0.0.1"])
    d = daemon(args, tmp, {"dns.server": "127.0.0.1:%d" % dport,
                           "proxy.authenticate": "no"})
    u = udp_socket()

    def invite(host):
        # a socket per INVITE: the first one's final is retransmitted
        # (no ACK here) and must not be read as the second one's
        s = udp_socket()
        inv = run.request("INVITE", d.port, ruri="sip:bob@%s" % host)
        s.sendto(inv, ("127.0.0.1", d.port))
        r = udp_recv(s)
        for _ in range(3):
            if not status_line(r).startswith("SIP/2.0 100"):
                break
            r = udp_recv(s)
        s.close()
        return status_line(r)

    st = invite("nowhere.example.test")
    check(st.startswith("SIP/2.0 404 Unresolvable"), "unknown name: " + st)
    # what to publish for our own listeners (confabctl dns zone)
    zone = ctl(d, "dns", "zone", "confab.test")
    print(zone)
    for want in ('confab.test. 3600 IN NAPTR 10 50 "S" "SIP+D2T" "" '
                 '_sip._tcp.confab.test.',
                 'IN NAPTR 20 50 "S" "SIP+D2U" "" _sip._udp.confab.test.',
                 "_sip._udp.confab.test. 3600 IN SRV 10 50 %d "
                 "sip.confab.test." % d.port,
                 "_sip._tcp.confab.test. 3600 IN SRV 10 50 %d" % d.port,
                 "sip.confab.test. 3600 IN A 127.0.0.1"):
        check(want in zone, "the zone has: " + want)
    r = d.ctl_run("dns", "zone", "bad domain!", timeout=20)
    check(r.returncode != 0, "dns zone refuses a bad domain name")
    dns.terminate()
    dns.wait(timeout=5)
    ctl_conf = read(d.conf).replace("127.0.0.1:%d" % dport,
                                    "127.0.0.1:%d" % gone)
    with open(d.conf, "w") as f:
        f.write(ctl_conf)
    d.proc.send_signal(signal.SIGHUP)
    time.sleep(0.3)  # bound: the reload is applied at once
    st = invite("other.example.test")
    check(st.startswith("SIP/2.0 503"), "no DNS server: " + st)
    u.close()
    d.stop()


CASES = {name[5:]: fn for name, fn in globals().items()
         if name.startswith("case_")}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--confabd", required=True)
    ap.add_argument("--confabctl", required=True)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("case", choices=sorted(CASES))
    args = ap.parse_args()
    args.confabd = os.path.abspath(args.confabd)
    args.confabctl = os.path.abspath(args.confabctl)
    tmp = tempfile.mkdtemp(prefix="confab-proxy-")
    try:
        CASES[args.case](args, tmp)
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


if __name__ == "__main__":
    sys.exit(main())
