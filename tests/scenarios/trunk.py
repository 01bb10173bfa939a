#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""trunk.py - failure routes to our own users, trunks and the dial plan
(issue 4 points 3 and 4) end to end with SIPp.

Usage: trunk.py --confabd EXE --confabctl EXE CASE

Each CASE starts its own confabd on free loopback ports (run.py's Daemon,
proxy.py's helpers) with alice, bob and carol provisioned (password pw).
SIPp plays the callees (registered UASes, or the trunk) and alice, who
calls through confab with digest authentication (407). Every wait is
bounded; SIPp processes are stopped by PID. Each case that makes calls
checks their CDRs at the end (tests/scenarios/cdrcheck.py).
"""

import argparse
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import proxy  # noqa: E402
import run  # noqa: E402
from proxy import (ctl, read, register, uac_run, uas_start,  # noqa: E402
                   uas_wait)
from run import DOMAIN, Daemon, Failure, check, free_port  # noqa: E402
from cdrcheck import cdrs, expect_cdr  # noqa: E402  (issue 4 point 6)

ALICE = "sip:alice@%s" % DOMAIN
BOB = "sip:bob@%s" % DOMAIN


def call_id_of(log):
    """The Call-ID of the INVITEs in a SIPp message log (its path)."""
    m = re.search(r"(?mi)^Call-ID:\s*(\S+)", read(log))
    check(m is not None, "a Call-ID in the caller's trace")
    return m.group(1)


def answered_cdr(d, log, callee, port, ruri=None):
    """The one CDR of alice's answered call (the caller's trace in log),
    to callee (the To URI), answered by the SIPp UAS on port; alice hung
    up. The INVITE challenged by our 407 is not an attempt."""
    return expect_cdr(d, count=1, call_id=call_id_of(log),
                      disposition="answered", code=200, caller=ALICE,
                      callee=callee, request_uri=ruri or callee,
                      contact=lambda v: bool(v) and ":%d" % port in v,
                      ended_by="caller")


def daemon(args, tmp, extra=None, lines=(), users=("alice", "bob", "carol")):
    """confabd with the proxy's test settings, `extra` {"s.k": v} and raw
    `lines` appended to the file (repeated keys: trunk, dialplan)."""
    conf = {"general.log_level": "debug", "registrar.authenticate": "no",
            "security.allow": "127.0.0.0/8"}
    conf.update(extra or {})
    d = Daemon(args, tmp, conf)
    if lines:
        with open(d.conf, "a") as f:
            f.write("[proxy]\n" + "".join(ln + "\n" for ln in lines))
    d.start()
    for u in users:
        ctl(d, "user", "add", "%s@%s" % (u, DOMAIN), "--password", "pw")
    return d


# ------------------------------------------------------------------ cases

def case_forward_local(args, tmp):
    """bob busy (a SIPp UAS answering 486); [proxy] forward_busy is
    carol@our domain, registered from a second SIPp UAS: the failure
    route goes through the location service, carol rings and answers,
    alice has her call (BYE through confab), and carol's INVITE carries
    her Contact as Request-URI and History-Info naming her AOR."""
    p1, p2 = free_port(), free_port()
    d = daemon(args, tmp, {"proxy.forward_busy": "sip:carol@%s" % DOMAIN})
    busy = uas_start(d, "proxy_uas_busy.xml", p1)
    carol = uas_start(d, "proxy_uas_invite.xml", p2)
    register(d, "bob", p1)
    register(d, "carol", p2)
    log = uac_run(d, "proxy_uac_invite.xml")
    uas_wait(busy, "proxy_uas_busy.xml")
    uas_wait(carol, "proxy_uas_invite.xml (carol, the forward target)")
    msgs = read(os.path.join(d.tmp, "proxy_uas_invite-%d.msg" % p2))
    check("INVITE sip:carol@127.0.0.1:%d SIP/2.0" % p2 in msgs,
          "carol's device got the INVITE at its registered Contact")
    check(("History-Info: <sip:bob@%s?Reason=SIP%%3Bcause%%3D486>;index=1, "
           "<sip:carol@%s>;index=1.1;mp=1" % (DOMAIN, DOMAIN)) in msgs,
          "History-Info names bob (cause 486), then carol's AOR")
    # one attempt: bob's 486 stays in confab, carol's 200 answers it
    answered_cdr(d, log, BOB, p2)
    d.stop()



def case_forward_dns(args, tmp):
    """bob busy; forward_busy is sip:vm@vm.example.test:PORT, a host name
    of another domain: located by RFC 3263 when the route is taken (an A
    record from dnsmasq), the SIPp UAS there rings and answers, with the
    History-Info naming the configured URI."""
    dport, p1, p2 = free_port(), free_port(), free_port()
    dns = proxy.dnsmasq_start(tmp, dport, [
        "--host-record=vm.example.test,127.0.0.1"])
    vm = "sip:vm@vm.example.test:%d" % p2
    d = daemon(args, tmp, {"dns.server": "127.0.0.1:%d" % dport,
                           "proxy.forward_busy": vm})
    busy = uas_start(d, "proxy_uas_busy.xml", p1)
    vms = uas_start(d, "proxy_uas_invite.xml", p2)
    register(d, "bob", p1)
    log = uac_run(d, "proxy_uac_invite.xml")
    uas_wait(busy, "proxy_uas_busy.xml")
    uas_wait(vms, "proxy_uas_invite.xml (vm.example.test)")
    msgs = read(os.path.join(d.tmp, "proxy_uas_invite-%d.msg" % p2))
    check("INVITE %s SIP/2.0" % vm in msgs, "the route's INVITE: " + vm)
    check("<%s>;index=1.1;mp=1" % vm in msgs, "History-Info names it")
    check("vm.example.test" in read(os.path.join(tmp, "dnsmasq.log")),
          "confab asked DNS for the route's host")
    answered_cdr(d, log, BOB, p2)
    d.stop()
    dns.terminate()
    dns.wait(timeout=5)


# ------------------------------------------------------ trunks, dial plan

NUMBER = "+4930123456"


def trunk_lines(tport, creds=True):
    """A trunk at a SIPp UAS on tport and one rule for international
    numbers: strip the '+', prefix 00."""
    return ["trunk = carrier sip:127.0.0.1:%d;transport=udp%s"
            % (tport, " username=acct password=s3cret" if creds else ""),
            r"dialplan = ^\+[0-9]{6,}$ carrier strip=1 prefix=00"]


def digest_ok(invite, method, password):
    """The Proxy-Authorization of a traced INVITE verifies (MD5,
    qop=auth) with password: computed here, independently of confab."""
    m = re.search(r"Proxy-Authorization: Digest (.*)", invite)
    check(m is not None, "the INVITE carries Proxy-Authorization")
    params = dict((k.lower(), v.strip('"')) for k, v in
                  re.findall(r'([\w-]+)=("[^"]*"|[^,\s]+)', m.group(1)))
    for k in ("username", "realm", "nonce", "uri", "response", "cnonce",
              "nc", "qop"):
        check(k in params, "Proxy-Authorization has %s" % k)

    def h(s):
        return hashlib.md5(s.encode()).hexdigest()
    ha1 = h("%s:%s:%s" % (params["username"], params["realm"], password))
    ha2 = h("%s:%s" % (method, params["uri"]))
    want = h(":".join((ha1, params["nonce"], params["nc"], params["cnonce"],
                       params["qop"], ha2)))
    check(params["response"] == want,
          "the digest response verifies (%s)" % params["response"])
    check(params.get("opaque") == "op4que", "the opaque is returned")
    return params


def case_trunk_407(args, tmp):
    """alice calls +4930123456: the dial plan sends it to the trunk (a
    SIPp UAS) as 004930123456; the trunk challenges (407), confab answers
    with the trunk's credentials (MD5, qop=auth: the response is verified
    here) and the CSeq one higher, the trunk rings and answers, alice's
    call completes (the ACK renumbered for the trunk) and she hangs up
    through confab."""
    tport = free_port()
    d = daemon(args, tmp, lines=trunk_lines(tport))
    trunk = uas_start(d, "trunk_uas_407.xml", tport)
    caller = uac_run(d, "proxy_uac_invite.xml", callee=NUMBER)
    uas_wait(trunk, "trunk_uas_407.xml")
    msgs = read(os.path.join(d.tmp, "trunk_uas_407-%d.msg" % tport))
    parts = msgs.split("-----------------")
    invites = [m for m in parts if "INVITE sip:" in m and "received" in m]
    acks = [m for m in parts if "\nACK sip:" in m and "received" in m]
    # RFC 3261 §22.2: the resubmitted INVITE has the CSeq one higher (the
    # caller's second INVITE is CSeq 2: 2 and 3 at the trunk); the ACK of
    # the 2xx is renumbered to match; the caller sees its own number
    check(len(invites) == 2 and "CSeq: 2 INVITE" in invites[0]
          and "CSeq: 3 INVITE" in invites[1],
          "the trunk's INVITEs have CSeq 2, then 3")
    check(len(acks) == 2 and "CSeq: 2 ACK" in acks[0]
          and "CSeq: 3 ACK" in acks[1],
          "the ACKs at the trunk: 2 (of the 407), 3 (of the 200)")
    up = read(caller)
    check(re.search(r"SIP/2.0 200 OK.*?CSeq: 2 INVITE", up, re.S)
          is not None, "the caller's 200 carries its own CSeq 2")
    check(len(invites) == 2, "the trunk got two INVITEs (got %d)"
          % len(invites))
    check("Proxy-Authorization" not in invites[0],
          "the first carries no credentials (alice's are not passed on)")
    p = digest_ok(invites[1], "INVITE", "s3cret")
    check(p["uri"] == "sip:004930123456@127.0.0.1:%d;transport=udp" % tport,
          "the digest-uri is the Request-URI sent: " + p["uri"])
    check("trunk carrier: 407 answered with its credentials" in d.stderr(),
          "confab logged the answered challenge")
    # the trunk's 407 answered by confab is no attempt of its own: one
    # CDR, with the number alice dialled
    answered_cdr(d, caller, "sip:%s@%s" % (NUMBER, DOMAIN), tport)
    d.stop()


def case_trunk_rewrite(args, tmp):
    """The rewritten number is visible at the trunk: +4930123456 with
    strip=1 prefix=00 reaches it as sip:004930123456@ its address (a
    trunk without credentials: a plain SIPp UAS)."""
    tport = free_port()
    d = daemon(args, tmp, lines=trunk_lines(tport, creds=False))
    trunk = uas_start(d, "proxy_uas_invite.xml", tport)
    log = uac_run(d, "proxy_uac_invite.xml", callee=NUMBER)
    uas_wait(trunk, "proxy_uas_invite.xml (the trunk)")
    msgs = read(os.path.join(d.tmp, "proxy_uas_invite-%d.msg" % tport))
    want = "INVITE sip:004930123456@127.0.0.1:%d;transport=udp SIP/2.0" % tport
    check(want in msgs, "the trunk's Request-URI: " + want)
    check("To: <sip:%s@%s>" % (NUMBER, DOMAIN) in msgs,
          "the To header is unchanged")
    # the CDR keeps the number as dialled (Request-URI as received)
    answered_cdr(d, log, "sip:%s@%s" % (NUMBER, DOMAIN), tport)
    d.stop()


def case_trunk_no_rule(args, tmp):
    """A number no rule matches and no user has: 404, as before; one
    that matches goes to the trunk even with no such user."""
    tport = free_port()
    d = daemon(args, tmp, {"proxy.authenticate": "no"},
               lines=trunk_lines(tport, creds=False))
    u = run.udp_socket()
    for user, want in (("12345", "SIP/2.0 404"), ("+12", "SIP/2.0 404")):
        cid = "norule-%s@127.0.0.1" % user
        inv = run.request("INVITE", d.port, ruri="sip:%s@%s" % (user, DOMAIN),
                          call_id=cid)
        u.sendto(inv, ("127.0.0.1", d.port))
        r = run.udp_recv(u)
        for _ in range(8):  # 100s, the first 404's retransmissions
            if (not run.status_line(r).startswith("SIP/2.0 100") and
                    run.header(r, "Call-ID") == cid):
                break
            r = run.udp_recv(u)
        check(run.status_line(r).startswith(want),
              "INVITE %s: %s" % (user, run.status_line(r)))
        expect_cdr(d, call_id=cid, disposition="failed", code=404,
                   caller="sip:raw@client.invalid",
                   callee="sip:%s@%s" % (user, DOMAIN), ended_by="callee",
                   contact=lambda v: not v)
    check(len(cdrs(d)) == 2, "a CDR per INVITE (2)")
    u.close()
    check("dial plan" not in d.stderr(), "no dial plan rule was taken")
    d.stop()


def case_trunk_bad_config(args, tmp):
    """A bad regex, a rule naming no trunk, a trunk without URI: confabd
    refuses to start (and --check-config fails) with each problem and its
    line; a good file passes --check-config."""
    conf = os.path.join(tmp, "confab.conf")
    body = ("[general]\ndomain = %s\ndata_dir = %s\n[sip]\n"
            "listen = udp:127.0.0.1:%d\n[proxy]\n"
            "trunk = carrier sip:127.0.0.1:5099\n"          # line 7
            "dialplan = ^(00[0-9]+$ carrier\n"              # line 8
            "dialplan = ^9[0-9]+$ nosuch strip=1\n"         # line 9
            "trunk = lonely\n"                              # line 10
            % (DOMAIN, tmp, free_port()))
    with open(conf, "w") as f:
        f.write(body)
    wants = (conf + ":8: [proxy] dialplan: bad regex '^(00[0-9]+$'",
             conf + ":9: [proxy] dialplan '^9[0-9]+$': no trunk named nosuch",
             conf + ":10: [proxy] trunk lonely has no URI")
    for extra in (["--check-config"], ["--foreground"]):
        r = subprocess.run([args.confabd, "--config", conf] + extra,
                           stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=20)
        out = r.stdout + r.stderr
        print(out)
        check(r.returncode != 0, "confabd %s refuses the file (rc %d)"
              % (" ".join(extra), r.returncode))
        for w in wants:
            check(w in out, "confabd %s says: %s" % (" ".join(extra), w))
        check("listening on" not in out, "nothing was started")
    with open(conf, "w") as f:
        f.write(body.replace("^(00", "^(00)").replace("nosuch", "carrier")
                .replace("trunk = lonely\n", ""))
    r = subprocess.run([args.confabd, "--config", conf, "--check-config"],
                       stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=20)
    check(r.returncode == 0, "the fixed file passes --check-config (%s)"
          % (r.stdout + r.stderr).strip())


def case_trunk_reload(args, tmp):
    """The dial plan is live: a SIGHUP with prefix=011 instead of 00
    changes the number the trunk (a raw UDP socket here) gets; a SIGHUP
    with a bad regex is refused with its line and the rules stay."""
    trunk = run.udp_socket()
    tport = trunk.getsockname()[1]
    d = daemon(args, tmp, {"proxy.authenticate": "no"},
               lines=trunk_lines(tport, creds=False))
    u = run.udp_socket()

    def number_at_trunk(n):
        cid = "reload-%d@127.0.0.1" % n
        u.sendto(run.request("INVITE", d.port, call_id=cid,
                             ruri="sip:%s@%s" % (NUMBER, DOMAIN)),
                 ("127.0.0.1", d.port))
        for _ in range(8):  # retransmissions of earlier INVITEs
            r = run.udp_recv(trunk)
            if run.header(r, "Call-ID") == cid:
                return run.status_line(r)
        raise Failure("the trunk got no INVITE for " + cid)

    line = number_at_trunk(1)
    check(line.startswith("INVITE sip:004930123456@"), "before: " + line)
    conf = read(d.conf)
    with open(d.conf, "w") as f:
        f.write(conf.replace("prefix=00", "prefix=011"))
    d.signal_and_wait(signal.SIGHUP, "configuration reloaded")
    line = number_at_trunk(2)
    check(line.startswith("INVITE sip:0114930123456@"), "after: " + line)
    with open(d.conf, "w") as f:
        f.write(conf.replace("^\\+[0-9]{6,}$", "^\\+[0-9]{6,$"))
    d.signal_and_wait(signal.SIGHUP, "reload failed")
    check(re.search(r"reload: .*confab\.conf:\d+: \[proxy\] dialplan: "
                    r"bad regex", d.stderr()) is not None,
          "the bad regex is logged with its line")
    line = number_at_trunk(3)
    check(line.startswith("INVITE sip:0114930123456@"),
          "the rules stay: " + line)
    u.close()
    trunk.close()
    with open(d.conf, "w") as f:  # the good file, for the offline list
        f.write(conf.replace("prefix=00", "prefix=011"))
    d.stop()
    # the trunk never answered: each call ended with the 503 of the stop
    rows = cdrs(d)  # offline
    check(len(rows) == 3, "three CDRs (got %d)" % len(rows))
    for n in (1, 2, 3):
        expect_cdr(d, call_id="reload-%d@127.0.0.1" % n,
                   disposition="failed", code=503, ended_by="shutdown",
                   request_uri="sip:%s@%s" % (NUMBER, DOMAIN))


def case_trunk_dns(args, tmp):
    """A trunk by host name (carrier.example.test, an A record served by
    dnsmasq on a loopback port): the dial plan's target is located by
    RFC 3263 per call, then the call goes on as in trunk_407 (its 407
    answered with the trunk's credentials)."""
    dport, tport = free_port(), free_port()
    dns = proxy.dnsmasq_start(tmp, dport, [
        "--host-record=carrier.example.test,127.0.0.1"])
    d = daemon(args, tmp, {"dns.server": "127.0.0.1:%d" % dport}, lines=[
        "trunk = carrier sip:carrier.example.test:%d;transport=udp "
        "username=acct password=s3cret" % tport,
        r"dialplan = ^\+[0-9]{6,}$ carrier strip=1 prefix=00"])
    trunk = uas_start(d, "trunk_uas_407.xml", tport)
    log = uac_run(d, "proxy_uac_invite.xml", callee=NUMBER)
    uas_wait(trunk, "trunk_uas_407.xml (carrier.example.test)")
    msgs = read(os.path.join(d.tmp, "trunk_uas_407-%d.msg" % tport))
    want = ("INVITE sip:004930123456@carrier.example.test:%d;transport=udp "
            "SIP/2.0" % tport)
    check(want in msgs, "the trunk's Request-URI keeps its name: " + want)
    check("carrier.example.test" in read(os.path.join(tmp, "dnsmasq.log")),
          "confab asked DNS for the trunk")
    answered_cdr(d, log, "sip:%s@%s" % (NUMBER, DOMAIN), tport)
    d.stop()
    dns.terminate()
    dns.wait(timeout=5)


# ------------------------------------------------- other domains: A/AAAA

def case_foreign_numeric(args, tmp):
    """alice calls carol@127.0.0.1:PORT, a host that is not ours: no DNS
    (a numeric host), forwarded there; the call completes."""
    cport = free_port()
    d = daemon(args, tmp)
    carol = uas_start(d, "proxy_uas_invite.xml", cport)
    log = uac_run(d, "proxy_uac_invite_dns.xml", callee="carol",
                  extra=["-key", "callee_domain", "127.0.0.1:%d" % cport])
    uas_wait(carol, "proxy_uas_invite.xml (carol elsewhere)")
    msgs = read(os.path.join(d.tmp, "proxy_uas_invite-%d.msg" % cport))
    check("INVITE sip:carol@127.0.0.1:%d SIP/2.0" % cport in msgs,
          "carol got the INVITE with its Request-URI unchanged")
    answered_cdr(d, log, "sip:carol@127.0.0.1:%d" % cport, cport)
    d.stop()


def case_foreign_a(args, tmp):
    """alice calls carol@live.example.test:PORT: an explicit port, so
    only A/AAAA are asked (RFC 3263 §4.2), from dnsmasq on a loopback
    port; the call completes at the address DNS gave."""
    dport, cport = free_port(), free_port()
    dns = proxy.dnsmasq_start(tmp, dport, [
        "--host-record=live.example.test,127.0.0.1"])
    d = daemon(args, tmp, {"dns.server": "127.0.0.1:%d" % dport})
    carol = uas_start(d, "proxy_uas_invite.xml", cport)
    log = uac_run(d, "proxy_uac_invite_dns.xml", callee="carol",
                  extra=["-key", "callee_domain",
                         "live.example.test:%d" % cport])
    uas_wait(carol, "proxy_uas_invite.xml (carol at live.example.test)")
    qlog = read(os.path.join(tmp, "dnsmasq.log"))
    check("live.example.test" in qlog, "confab asked DNS for the name")
    check("NAPTR" not in qlog and "SRV" not in qlog and "type=35" not in qlog,
          "an explicit port: no NAPTR or SRV query")
    answered_cdr(d, log, "sip:carol@live.example.test:%d" % cport, cport)
    d.stop()
    dns.terminate()
    dns.wait(timeout=5)


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
    tmp = tempfile.mkdtemp(prefix="confab-trunk-")
    try:
        CASES[args.case](args, tmp)
    except (Failure, OSError, EOFError, subprocess.TimeoutExpired) as e:
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
        if args.keep:
            print("kept " + tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print("PASS: " + args.case)
    return 0


if __name__ == "__main__":
    sys.exit(main())
