#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""rules.py - RFC 3261 §16 rules of the proxy end to end: bad input
(issue 4 point 7) and the §16.7 response rules with SIPp on both sides.

Usage: rules.py --confabd EXE --confabctl EXE CASE

Each CASE starts its own confabd on free loopback ports with alice and bob
provisioned (tests/lib/sipptest.py), bob registered with the Contacts of
SIPp UASes started in the background (stopped by PID), and a SIPp UAC (or
raw UDP requests) as the caller. The proxy does not challenge here
([proxy] authenticate = no: digest has its cases in proxy.py); every wait
is bounded; confabd must stop cleanly (no sanitizer report, exit 0).
Every case that makes a call ends by checking its CDR (cdrcheck.py, issue
4 point 6): disposition, final code, caller, callee, the answering branch
and the Call-ID.
"""

import os
import re
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import sipptest as st  # noqa: E402
from sipptest import (DOMAIN, check, free_port, header,  # noqa: E402
                      request, status_line, udp_recv, udp_socket)
from cdrcheck import cdrs, expect_cdr  # noqa: E402  (issue 4 point 6)

NOAUTH = {"proxy.authenticate": "no"}
ALICE = "sip:alice@%s" % DOMAIN
BOB = "sip:bob@%s" % DOMAIN
RAW = "sip:raw@client.invalid"  # the From of run.request()


def call_id_of(msgs):
    """The Call-ID of the INVITE in a SIPp message trace."""
    m = re.search(r"(?mi)^Call-ID:\s*(\S+)", msgs)
    check(m is not None, "a Call-ID in the SIPp trace")
    return m.group(1)


def at_port(port):
    """A CDR field check: a Contact at 127.0.0.1:port."""
    return lambda v: bool(v) and ("127.0.0.1:%d" % port) in v


def no_cdr(d, cid, what):
    """An INVITE refused before it is a call (docs/cdr.md): no CDR."""
    got = [r for r in cdrs(d) if r["call_id"] == cid]
    check(got == [], "%s: no CDR (refused before it is a call): %s"
          % (what, [(r["disposition"], r["code"]) for r in got]))


def d_start(args, tmp, extra=None):
    conf = dict(NOAUTH)
    conf.update(extra or {})
    return st.daemon(args, tmp, conf)


# ------------------------------------------------------------ bad input

CONTACT = "Contact: <sip:raw@127.0.0.1:9>\r\n"


def ask(d, u, ruri, extra, method="INVITE"):
    """One raw request from a socket of its own (an INVITE's final is
    retransmitted until ACKed: the next request must not see it); its
    final response and the Call-ID it had."""
    msg = request(method, d.port, ruri=ruri, extra=extra, contact=False)
    cid = header(msg.decode(), "Call-ID")
    s = udp_socket()
    try:
        s.sendto(msg, ("127.0.0.1", d.port))
        return st.final(s), cid
    finally:
        s.close()


def loop_hash(*fields):
    """route.c's loop hash (64-bit FNV-1a over each field, then 0xff)
    of Request-URI, Call-ID, From tag, To tag, CSeq number and method."""
    h = 0xcbf29ce484222325
    for f in fields:
        for c in f.encode():
            h = ((h ^ c) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
        h = ((h ^ 0xff) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def case_bad_input(args, tmp):
    """Each bad request gets a clear response with a reason, a log line
    with its Call-ID and a counter in `confabctl status`: an INVITE with
    no Contact, a wildcard, a tel: or two Contacts (400), a Route that
    does not parse (400 Bad Route), a Route to an http: URI (416), an
    unknown user (404); and the §16.3 checks: Max-Forwards 0 (483), a
    loop (our Via with the request's own hash: 482),
    Proxy-Require of an unknown option (420), a mailto: Request-URI
    (416). CDRs (docs/cdr.md): a request refused by these checks is not
    a call yet and has none; the unknown user's 404 and the spiral's 480
    come after the INVITE became a call: a CDR each (failed 404,
    no_answer 480)."""
    d = d_start(args, tmp)
    u = udp_socket()
    bob = "sip:bob@%s" % DOMAIN
    cases = [
        ("no Contact", bob, "", "400 Missing Contact", "bad_contact"),
        ("Contact *", bob, "Contact: *\r\n", "400 Bad Contact",
         "bad_contact"),
        ("tel: Contact", bob, "Contact: <tel:+4930123>\r\n",
         "400 Bad Contact", "bad_contact"),
        ("two Contacts", bob,
         "Contact: <sip:a@127.0.0.1:9>, <sip:b@127.0.0.1:9>\r\n",
         "400 More Than One Contact", "bad_contact"),
        ("broken Route", bob, CONTACT + "Route: <sip:127.0.0.1:1;lr\r\n",
         "400 Bad Route", "bad_route"),
        ("http: Route", bob, CONTACT + "Route: <http://example.com/x>\r\n",
         "416 Unsupported URI Scheme In Route", "bad_route"),
        ("unknown user", "sip:nobody@%s" % DOMAIN, CONTACT,
         "404 Not Found", "unknown_user"),
    ]
    for what, ruri, extra, want, cname in cases:
        before = st.status_counter(d, "proxy", cname)
        r, cid = ask(d, u, ruri, extra)
        check(status_line(r) == "SIP/2.0 " + want,
              "%s: %s (want %s)" % (what, status_line(r), want))
        check(st.log_has(d, r"call-id=%s: proxy: refused"
                         % cid.replace(".", r"\.")),
              "%s: a log line with the Call-ID %s" % (what, cid))
        after = st.status_counter(d, "proxy", cname)
        check(after == before + 1, "%s: counter proxy.%s %d -> %d"
              % (what, cname, before, after))
        if cname == "unknown_user":
            expect_cdr(d, call_id=cid, disposition="failed", code=404,
                       caller=RAW, callee=ruri, request_uri=ruri,
                       contact=lambda v: not v, ended_by="callee")
        else:
            no_cdr(d, cid, what)
    # §16.3 items 3 and 5 (counters: hops; 420 is logged)
    msg = request("INVITE", d.port, ruri=bob, extra=CONTACT).replace(
        b"Max-Forwards: 70", b"Max-Forwards: 0")
    s = udp_socket()
    s.sendto(msg, ("127.0.0.1", d.port))
    r = st.final(s)
    s.close()
    check(status_line(r).startswith("SIP/2.0 483"),
          "Max-Forwards 0: " + status_line(r))
    no_cdr(d, header(msg.decode(), "Call-ID"), "Max-Forwards 0")
    check(st.status_counter(d, "proxy", "hops") >= 1, "counter proxy.hops")
    r, cid = ask(d, u, bob, CONTACT + "Proxy-Require: no-such-thing\r\n")
    check(status_line(r).startswith("SIP/2.0 420"),
          "Proxy-Require unknown: " + status_line(r))
    check(header(r, "Unsupported") == "no-such-thing",
          "420 lists it in Unsupported: %s" % header(r, "Unsupported"))
    no_cdr(d, cid, "Proxy-Require unknown")
    # §16.3 item 4: the request comes back with our Via and the hash it
    # has now (route.c proxy_loop_hash, recomputed here): 482; with
    # another hash it is a spiral and goes on (bob has no binding: 480)
    def via_back(h, n):
        cid = "loop-%d-%d@127.0.0.1" % (os.getpid(), n)
        text = request("INVITE", d.port, ruri=bob, extra=CONTACT,
                       call_id=cid).decode()
        h = h or loop_hash(bob, cid, "raw%d" % os.getpid(), "", "1",
                           "INVITE")
        lines = text.split("\r\n")
        # ours below the sender's Via, as if we had forwarded it before
        lines.insert(2, "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKcf%s.1"
                     % (d.port, h))
        s = udp_socket()
        s.sendto("\r\n".join(lines).encode(), ("127.0.0.1", d.port))
        r = st.final(s)
        s.close()
        return status_line(r), cid

    got, cid = via_back(None, 1)
    check(got.startswith("SIP/2.0 482"),
          "a request with our Via and its own hash: " + got)
    check(st.status_counter(d, "proxy", "loops") == 1, "counter proxy.loops")
    no_cdr(d, cid, "a loop")
    got, cid = via_back("0123456789abcdef", 2)
    check(got.startswith("SIP/2.0 480"),
          "our Via with another hash (a spiral) goes on: " + got)
    expect_cdr(d, call_id=cid, disposition="no_answer", code=480,
               caller=RAW, callee=bob, contact=lambda v: not v)
    # §16.3 item 2: a scheme we do not understand
    r, cid = ask(d, u, "mailto:bob@%s" % DOMAIN, CONTACT)
    check(status_line(r).startswith("SIP/2.0 416"),
          "mailto: Request-URI: " + status_line(r))
    no_cdr(d, cid, "mailto: Request-URI")
    check(len(cdrs(d)) == 2, "two CDRs in all: the 404 and the 480")
    out = st.ctl(d, "status")
    check("proxy:" in out and "bad_contact" in out,
          "confabctl status prints the proxy counters")
    u.close()
    d.stop()


def case_branch_limit(args, tmp):
    """[proxy] max_branches = 2 and bob on three contacts (two at q=1.0,
    one at q=0.5): the two best get the INVITE, the third never does; the
    cut is logged with the Call-ID and counted (over_max_branches)."""
    d = d_start(args, tmp, {"proxy.max_branches": "2"})
    socks = []
    for q in ("1.0", "1.0", "0.5"):
        s = udp_socket()
        s.settimeout(0.2)
        socks.append(s)
        st.register(d, "bob", s.getsockname()[1], q=q)
    u = udp_socket()
    inv = request("INVITE", d.port, ruri="sip:bob@%s" % DOMAIN,
                  extra=CONTACT)
    cid = header(inv.decode(), "Call-ID")
    u.sendto(inv, ("127.0.0.1", d.port))
    got = [0, 0, 0]
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        for i, s in enumerate(socks):
            try:
                data = s.recv(70000).decode(errors="replace")
            except socket.timeout:
                continue
            if data.startswith("INVITE "):
                got[i] += 1
    check(got[0] > 0 and got[1] > 0, "the two q=1.0 contacts got the "
          "INVITE (%s)" % got)
    check(got[2] == 0, "the q=0.5 contact over the limit did not (%s)"
          % got)
    check(st.log_has(d, r"%s.*max_branches" % cid.replace(".", r"\.")),
          "the cut is logged with the Call-ID")
    check(st.status_counter(d, "proxy", "over_max_branches") == 1,
          "counter proxy.over_max_branches is 1")
    expect_cdr(d, count=1, call_id=cid, disposition="open", caller=RAW,
               callee=BOB, answer="", end="")
    for s in socks:
        s.close()
    u.close()
    d.stop()
    # still ringing at the stop: the 503 confabd sends ends it (offline)
    expect_cdr(d, count=1, call_id=cid, disposition="failed", code=503,
               ended_by="shutdown", contact=lambda v: not v)


# ------------------------------------------------- a callee in Python

class RawUas:
    """A callee on a UDP socket of its own, for the exchanges a SIPp UAS
    cannot play (answering an INVITE after a CANCEL came, with the
    INVITE's Vias). Every read is bounded (10 s)."""

    def __init__(self):
        self.s = udp_socket()
        self.port = self.s.getsockname()[1]
        self.tag = "rawuas%d" % self.port
        self.got = []  # every message received, in order

    def recv(self, method, limit=20):
        """The next request of this method (other messages are kept in
        got and skipped), and the address it came from."""
        for _ in range(limit):
            data, addr = self.s.recvfrom(70000)
            text = data.decode(errors="replace")
            self.got.append(text)
            if text.startswith(method + " "):
                return text, addr
        raise st.Failure("no %s within %d messages" % (method, limit))

    def reply(self, req, addr, code, reason, extra=""):
        """A response to req: its Vias, From, To (+ our tag), Call-ID,
        CSeq and (1xx/2xx of INVITE) Record-Route, with a Contact."""
        lines = req.split("\r\n\r\n", 1)[0].split("\r\n")
        keep = [ln for ln in lines[1:] if re.match(
            r"(?i)(via|from|call-id|cseq|record-route)\s*:", ln)]
        to = [ln for ln in lines[1:] if re.match(r"(?i)to\s*:", ln)][0]
        if ";tag=" not in to and code > 100:
            to += ";tag=" + self.tag
        msg = ("SIP/2.0 %d %s\r\n%s\r\n%s\r\n"
               "Contact: <sip:bob@127.0.0.1:%d>\r\n%s"
               "Content-Length: 0\r\n\r\n"
               % (code, reason, "\r\n".join(keep), to, self.port, extra))
        self.s.sendto(msg.encode(), addr)

    def close(self):
        self.s.close()


# ------------------------------------------------------ §16.7 with SIPp

def final_of(text, code):
    """The response with this code in a SIPp trace (its text), or ""."""
    for m in re.finditer(r"(?ms)^SIP/2\.0 %d .*?\r?\n\r?\n" % code, text):
        return m.group(0)
    return ""


def with_code(d, scenario, code):
    """A copy of a scenario next to this file with @CODE@ replaced (SIPp
    checks response codes when it loads a scenario: no keyword there)."""
    out = os.path.join(d.tmp, "%s-%d.xml" % (scenario[:-4], code))
    with open(os.path.join(HERE, scenario)) as f:
        text = f.read().replace("@CODE@", str(code))
    with open(out, "w") as f:
        f.write(text)
    return out


def uas_final(sp, code, hdr="X-Rules: final", delay=0):
    """A SIPp UAS (rules_uas_final.xml) registered as bob that answers
    100 (marked uas-100), then `code` after `delay` ms."""
    port = free_port()
    p = sp.uas(with_code(sp.d, "rules_uas_final.xml", code), port,
               extra=["-key", "hdr", hdr, "-d", str(delay)])
    st.register(sp.d, "bob", port)
    return p


FINAL_DISPOSITION = {486: "busy", 500: "failed", 401: "failed",
                     408: "no_answer"}


def unanswered_cdr(d, msgs, code):
    """The one CDR of alice's unanswered call to bob: final code (what
    the caller got), its disposition, no answer, no branch."""
    expect_cdr(d, count=1, call_id=call_id_of(msgs),
               disposition=FINAL_DISPOSITION[code], code=code,
               caller=ALICE, callee=BOB, answer="", ended_by="callee",
               contact=lambda v: not v)


def forked_final(args, tmp, answers, want):
    """bob on one SIPp UAS per (code, hdr, delay) of answers; alice's
    INVITE must end with `want` (§16.7 step 6); each UAS gets its ACK;
    the CDR has `want`. Returns the caller's message trace."""
    d = d_start(args, tmp)
    sp = st.Sipp(d, HERE)
    peers = [uas_final(sp, c, h, dl) for c, h, dl in answers]
    uac = with_code(d, "rules_uac_final.xml", want)
    port = sp.uac(uac)
    for p in peers:
        sp.wait(p)
    msgs = sp.msgs(uac, port)
    check(final_of(msgs, want) != "", "the caller got %d" % want)
    check("uas-100" not in msgs, "the callee's 100 was not forwarded")
    unanswered_cdr(d, msgs, want)
    d.stop()
    return msgs


def case_best_4xx_over_5xx(args, tmp):
    """§16.7 step 6: bob on two UASes, one answers 503 at once, the other
    486 later: the caller gets 486 (the lowest class), not the 503."""
    msgs = forked_final(args, tmp, [(503, "X-Rules: a", 0),
                                    (486, "X-Rules: b", 300)], 486)
    check(final_of(msgs, 503) == "", "no 503 reached the caller")


def case_503_as_500(args, tmp):
    """§16.7 step 6: the only final is a 503 of the callee: the caller
    gets 500, not 503 (a 503 would tell it that confab is unavailable)."""
    msgs = forked_final(args, tmp, [(503, "Retry-After: 30", 0)], 500)
    check(final_of(msgs, 503) == "", "no 503 reached the caller")


def case_auth_aggregate(args, tmp):
    """§16.7 step 7: one branch answers 401 (WWW-Authenticate, realm
    one.test), the other 407 (Proxy-Authenticate, realm two.test) later:
    the caller gets the 401 with both challenges."""
    msgs = forked_final(args, tmp, [
        (401, 'WWW-Authenticate: Digest realm="one.test", nonce="n1"', 0),
        (407, 'Proxy-Authenticate: Digest realm="two.test", nonce="n2"',
         300)], 401)
    r = final_of(msgs, 401)
    check('WWW-Authenticate: Digest realm="one.test"' in r,
          "the 401 has the first branch's WWW-Authenticate")
    check('Proxy-Authenticate: Digest realm="two.test"' in r,
          "the 401 has the second branch's Proxy-Authenticate")


def case_two_2xx(args, tmp):
    """§16.7 step 5: bob on two UASes that both answer 200 (no
    provisional): both 2xx reach the caller, which ACKs each by its own
    Record-Route set and Contact; both callees get their ACK and hang up
    through confab."""
    d = d_start(args, tmp)
    sp = st.Sipp(d, HERE)
    peers = []
    for _ in range(2):
        port = free_port()
        peers.append(sp.uas("rules_uas_200bye.xml", port))
        st.register(d, "bob", port)
    port = sp.uac("rules_uac_two200.xml")
    for p in peers:
        sp.wait(p)
    msgs = sp.msgs("rules_uac_two200.xml", port)
    tags = set(re.findall(r"(?m)^To:.*;tag=(\S+Rules2\S*)", msgs))
    check(len(tags) == 2, "the caller saw two dialogs (To tags %s)"
          % sorted(tags))
    # docs/cdr.md (Not done): one CDR, of the first 2xx (either UAS);
    # the first callee's BYE ends it
    ports = [p.port for p in peers]
    expect_cdr(d, count=1, call_id=call_id_of(msgs), disposition="answered",
               code=200, caller=ALICE, callee=BOB, ended_by="callee",
               contact=lambda v: any(at_port(p)(v) for p in ports))
    d.stop()


def case_no_final_408(args, tmp):
    """§16.7 step 6: bob's only contact never answers (a UDP socket that
    reads nothing): the branch's Timer B ends it (T1 50 ms: 3.2 s) and
    the caller gets 408 Request Timeout of ours."""
    d = d_start(args, tmp, {"sip.t1": "50"})
    sink = udp_socket()
    st.register(d, "bob", sink.getsockname()[1])
    sp = st.Sipp(d, HERE)
    uac = with_code(d, "rules_uac_final.xml", 408)
    port = sp.uac(uac)
    msgs = sp.msgs(uac, port)
    check(final_of(msgs, 408) != "", "the caller got 408")
    unanswered_cdr(d, msgs, 408)
    sink.close()
    d.stop()


def case_provisionals(args, tmp):
    """§16.7 step 5: the callee's 180 and 183 reach the caller (each
    required by its scenario) and its own 100 does not (confab sends its
    own 100: §16.2)."""
    d = d_start(args, tmp)
    sp = st.Sipp(d, HERE)
    uport = free_port()
    uas = sp.uas("rules_uas_prov.xml", uport)
    st.register(d, "bob", uport)
    port = sp.uac("rules_uac_prov.xml")
    sp.wait(uas)
    msgs = sp.msgs("rules_uac_prov.xml", port)
    check("X-Rules: uas-180" in msgs and "X-Rules: uas-183" in msgs,
          "the callee's 180 and 183 came through")
    check("uas-100" not in msgs, "the callee's 100 did not")
    expect_cdr(d, count=1, call_id=call_id_of(msgs), disposition="answered",
               code=200, caller=ALICE, callee=BOB, contact=at_port(uport),
               ended_by="caller")
    d.stop()


def case_cancel_crosses_200(args, tmp):
    """A CANCEL crossing a 200 (§16.10, RFC 6026): bob rings; alice
    cancels; confab answers the CANCEL 200 and the INVITE 487 and sends
    bob a CANCEL, which reaches him after he answered 200 (the callee
    here answers the INVITE 200 when the CANCEL arrives, then the CANCEL
    200). That 200 still goes upstream: alice ACKs it and hangs up (BYE
    through confab to bob). The CDR, cancelled at the 487, becomes that
    of the answered call."""
    d = d_start(args, tmp)
    bob = RawUas()
    st.register(d, "bob", bob.port)
    sp = st.Sipp(d, HERE)
    p = sp.uac_start("rules_uac_cross.xml")
    inv, addr = bob.recv("INVITE")
    bob.reply(inv, addr, 180, "Ringing")
    can, caddr = bob.recv("CANCEL")
    bob.reply(inv, addr, 200, "OK")      # the 200 that crosses
    bob.reply(can, caddr, 200, "OK")
    ack, _ = bob.recv("ACK")
    check(ack.startswith("ACK sip:bob@127.0.0.1:%d" % bob.port),
          "bob got the ACK of his 200 at his Contact")
    bye, baddr = bob.recv("BYE")
    bob.reply(bye, baddr, 200, "OK")
    sp.wait(p, "rules_uac_cross.xml (caller)")
    msgs = sp.msgs("rules_uac_cross.xml", p.port)
    check(final_of(msgs, 487) != "", "alice got 487 for her INVITE")
    check(re.search(r"(?m)^To:.*tag=%s" % bob.tag, msgs) is not None,
          "and then bob's 200")
    # the 200 that crossed the CANCEL answered the call after all: one
    # CDR, answered by bob, ended by alice's BYE (docs/cdr.md)
    expect_cdr(d, count=1, call_id=call_id_of(msgs), disposition="answered",
               code=200, caller=ALICE, callee=BOB, contact=at_port(bob.port),
               answer=lambda v: bool(v), ended_by="caller")
    check(st.log_has(d, r"a 200 crossed the CANCEL: answered"),
          "the revived call is logged")
    bob.close()
    d.stop()


def in_dialog(method, resp, sock, cseq, call_id, from_tag):
    """An ACK or BYE of the caller of case_retransmissions: to the
    Contact of resp, by its Record-Route set."""
    contact = re.search(r"<([^>]+)>", header(resp, "Contact")).group(1)
    rr = header(resp, "Record-Route")
    return ("%s %s SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-rt-%s-%d;rport\r\n"
            "Route: %s\r\n"
            "Max-Forwards: 70\r\n"
            "From: <sip:alice@%s>;tag=%s\r\n"
            "To: %s\r\n"
            "Call-ID: %s\r\n"
            "CSeq: %d %s\r\n"
            "Content-Length: 0\r\n\r\n"
            % (method, contact, sock.getsockname()[1], method, cseq, rr,
               DOMAIN, from_tag, header(resp, "To"), call_id, cseq,
               method)).encode()


def case_retransmissions(args, tmp):
    """Retransmissions across the proxy (§17.2.1, RFC 6026): alice (raw
    UDP) sends her INVITE again once it rings: confab absorbs it (bob's
    UAS sees one INVITE; confab repeats its 180); bob's 200 is
    retransmitted until the ACK, which alice holds back 3 s: every copy
    reaches her, forwarded statelessly; then ACK and BYE through
    confab."""
    d = d_start(args, tmp)
    sp = st.Sipp(d, HERE)
    uport = free_port()
    uas = sp.uas("rules_uas_retrans.xml", uport)
    st.register(d, "bob", uport)
    before = st.status_counter(d, "retransmissions_absorbed")
    u = udp_socket()
    lp = u.getsockname()[1]
    cid = "rt-%d-%d@127.0.0.1" % (os.getpid(), lp)
    inv = ("INVITE sip:bob@%s SIP/2.0\r\n"
           "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-rt-inv-%d;rport\r\n"
           "Max-Forwards: 70\r\n"
           "From: <sip:alice@%s>;tag=rt%d\r\n"
           "To: <sip:bob@%s>\r\n"
           "Call-ID: %s\r\n"
           "CSeq: 1 INVITE\r\n"
           "Contact: <sip:alice@127.0.0.1:%d>\r\n"
           "Content-Length: 0\r\n\r\n"
           % (DOMAIN, lp, lp, DOMAIN, lp, DOMAIN, cid, lp)).encode()
    u.sendto(inv, ("127.0.0.1", d.port))
    r = udp_recv(u)
    for _ in range(4):
        if status_line(r).startswith("SIP/2.0 180"):
            break
        r = udp_recv(u)
    check(status_line(r).startswith("SIP/2.0 180"), "alice: 180")
    u.sendto(inv, ("127.0.0.1", d.port))  # the retransmission
    oks, other = [], []
    u.settimeout(0.3)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        try:
            r = udp_recv(u)
        except socket.timeout:
            continue
        if status_line(r).startswith("SIP/2.0 200"):
            oks.append(r)
        else:
            other.append(status_line(r))
    u.settimeout(10)
    check(len(oks) >= 3, "bob's 200 and its retransmissions reached "
          "alice (%d copies)" % len(oks))
    check("SIP/2.0 180 Ringing" in other,
          "confab answered the INVITE retransmission with its 180 (%s)"
          % other)
    # §13.2.2.4: the caller ACKs every 2xx retransmission it gets. One
    # that comes well after our ACK (not one crossing it) means the ACK
    # did not reach bob: send it again before the BYE, bounded. (Two
    # loaded CI runs lost the first ACK here: counted and printed below,
    # investigation open in the stop-8 note.)
    ack = in_dialog("ACK", oks[0], u, 1, cid, "rt%d" % lp)
    u.sendto(ack, ("127.0.0.1", d.port))
    acks, sent_at = 1, time.monotonic()
    u.settimeout(0.5)
    quiet_until = time.monotonic() + 2.5
    while time.monotonic() < quiet_until and acks < 4:
        try:
            r = udp_recv(u)
        except socket.timeout:
            continue
        if (status_line(r).startswith("SIP/2.0 200") and
                time.monotonic() - sent_at > 0.3):
            u.sendto(ack, ("127.0.0.1", d.port))
            acks, sent_at = acks + 1, time.monotonic()
            quiet_until = sent_at + 2.5
    u.settimeout(10)
    print("ACKs sent: %d" % acks, flush=True)
    u.sendto(in_dialog("BYE", oks[0], u, 2, cid, "rt%d" % lp),
             ("127.0.0.1", d.port))
    for _ in range(10):
        r = udp_recv(u)
        if header(r, "CSeq") == "2 BYE":
            break
    check(status_line(r).startswith("SIP/2.0 200") and
          header(r, "CSeq") == "2 BYE", "BYE answered 200")
    sp.wait(uas)
    msgs = sp.msgs("rules_uas_retrans.xml", uport)
    n = len(re.findall(r"received \[\d+\] bytes :\s*INVITE ", msgs))
    check(n == 1, "bob's UAS received one INVITE (%d)" % n)
    after = st.status_counter(d, "retransmissions_absorbed")
    check(after > before, "confab counted absorbed retransmissions "
          "(%d -> %d)" % (before, after))
    expect_cdr(d, count=1, call_id=cid, disposition="answered", code=200,
               caller=ALICE, callee=BOB, contact=at_port(uport),
               ended_by="caller")
    u.close()
    d.stop()


def case_dialog(args, tmp):
    """100rel and in-dialog requests through confab (issue 4 point 1): a
    reliable 183 (Require: 100rel, RSeq) reaches the caller, whose PRACK
    follows the Record-Route set to the callee (RAck checked there);
    after the 200/ACK, UPDATE, INFO and REFER from the caller, NOTIFY
    from the callee and a re-INVITE (200, ACK) from the caller are routed
    by their Route headers; BYE ends it."""
    d = d_start(args, tmp)
    sp = st.Sipp(d, HERE)
    uport = free_port()
    uas = sp.uas("rules_uas_dialog.xml", uport)
    st.register(d, "bob", uport)
    port = sp.uac("rules_uac_dialog.xml")
    sp.wait(uas)
    bob = sp.msgs("rules_uas_dialog.xml", uport)
    check(len(re.findall(r"(?m)^INVITE sip:", bob)) == 2,
          "the re-INVITE reached bob too")
    check(len(re.findall(r"(?m)^ACK sip:", bob)) == 2,
          "and the ACK of its 200")
    for m in ("PRACK", "UPDATE", "INFO", "REFER", "BYE"):
        check(re.search(r"(?m)^%s sip:127\.0\.0\.1:%d" % (m, uport), bob)
              is not None and re.search(
                  r"(?ms)^%s sip:[^\n]*\n(?:[^\n]+\n)*?Via: SIP/2\.0/UDP "
                  r"127\.0\.0\.1:%d;branch=z9hG4bKcf" % (m, d.port), bob)
              is not None, "%s reached bob through confab" % m)
    alice = sp.msgs("rules_uac_dialog.xml", port)
    check(re.search(r"(?m)^NOTIFY sip:alice@127\.0\.0\.1:%d" % port, alice)
          is not None, "bob's NOTIFY reached alice")
    expect_cdr(d, count=1, call_id=call_id_of(alice),
               disposition="answered", code=200, caller=ALICE, callee=BOB,
               contact=at_port(uport), ended_by="caller")
    d.stop()


def routed_call(args, tmp, ruri, route):
    """alice calls with Request-URI ruri and the Route set route (where
    @UAS@ is the port of bob's UAS, @PX@ confab's); returns the INVITE
    bob's UAS got (Route headers and Request-URI checked by the case)."""
    d = d_start(args, tmp)
    sp = st.Sipp(d, HERE)
    uport = free_port()
    uas = sp.uas("rules_uas_prov.xml", uport)

    def fill(x):
        return x.replace("@UAS@", str(uport)).replace("@PX@", str(d.port))

    port = sp.uac("rules_uac_route.xml",
                  extra=["-key", "ruri", fill(ruri), "-key", "route",
                         fill(route)])
    sp.wait(uas)
    bob = sp.msgs("rules_uas_prov.xml", uport)
    m = re.search(r"(?s)received \[\d+\] bytes :\s*(INVITE .*?\r?\n\r?\n)",
                  bob)
    check(m is not None, "bob's UAS got the INVITE")
    expect_cdr(d, count=1,
               call_id=call_id_of(sp.msgs("rules_uac_route.xml", port)),
               disposition="answered", code=200, caller=ALICE, callee=BOB,
               request_uri=fill(ruri), contact=at_port(uport),
               ended_by="caller")
    d.stop()
    return m.group(1), uport


def routes_of(msg):
    return [v.strip() for h in re.findall(r"(?m)^Route:\s*(.*?)\r?$", msg)
            for v in h.split(",")]


def case_strict_router(args, tmp):
    """§16.4 and §16.6 item 6, strict routers. (1) The previous hop was a
    strict router: our address is the Request-URI and the target the
    last Route: bob gets that target as his Request-URI, no Route. (2)
    The next hop is a strict router (a Route without lr): it gets its own
    URI as the Request-URI, the rest of the set, and the Request-URI we
    got as the last Route."""
    inv, uport = routed_call(args, os.path.join(tmp, "1"),
                             "sip:127.0.0.1:@PX@",
                             "<sip:bob@127.0.0.1:@UAS@>")
    check(inv.startswith("INVITE sip:bob@127.0.0.1:%d SIP/2.0" % uport),
          "(1) the last Route became the Request-URI: "
          + inv.split("\r\n")[0])
    check(routes_of(inv) == [], "(1) and left the Route set: %s"
          % routes_of(inv))
    inv, uport = routed_call(args, os.path.join(tmp, "2"),
                             "sip:bob@far.example.test",
                             "<sip:127.0.0.1:@PX@;lr>, "
                             "<sip:127.0.0.1:@UAS@>, <sip:192.0.2.1;lr>")
    check(inv.startswith("INVITE sip:127.0.0.1:%d SIP/2.0" % uport),
          "(2) the strict next hop is the Request-URI: "
          + inv.split("\r\n")[0])
    check(routes_of(inv) == ["<sip:192.0.2.1;lr>",
                             "<sip:bob@far.example.test>"],
          "(2) the Request-URI is the last Route: %s" % routes_of(inv))


def case_preloaded_route(args, tmp):
    """§16.4 loose routing: a preloaded Route set (confab, then bob's UAS,
    then a third hop, all with lr): confab removes its own entry and
    sends the INVITE to the next one with the Request-URI unchanged and
    the rest of the set."""
    inv, uport = routed_call(args, tmp, "sip:bob@far.example.test",
                             "<sip:127.0.0.1:@PX@;lr>, "
                             "<sip:127.0.0.1:@UAS@;lr>, "
                             "<sip:192.0.2.1:5060;lr>")
    check(inv.startswith("INVITE sip:bob@far.example.test SIP/2.0"),
          "the Request-URI is unchanged: " + inv.split("\r\n")[0])
    check(routes_of(inv) == ["<sip:127.0.0.1:%d;lr>" % uport,
                             "<sip:192.0.2.1:5060;lr>"],
          "confab's entry left the Route set: %s" % routes_of(inv))


CASES = {name[5:]: fn for name, fn in globals().items()
         if name.startswith("case_")}

if __name__ == "__main__":
    sys.exit(st.main(CASES, __doc__, prefix="confab-rules-"))
