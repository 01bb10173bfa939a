#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""flows.py - requests to a GRUU (RFC 5627) and over an RFC 5626 outbound
flow reach the right baresip instance, through confab's proxy.

Usage: flows.py --confabd EXE --confabctl EXE CASE

Each CASE starts its own confabd on free loopback ports (tests/lib/
sipptest.py), users provisioned with confabctl, and baresip 1.0 instances
(tests/interop/interop.py's config and control helpers) with a hard time
limit, stopped by PID. A missing baresip fails the test; nothing skips.
Each call's CDR is checked at the end (tests/scenarios/cdrcheck.py).
"""

import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
import sipptest as st  # noqa: E402
import interop  # noqa: E402
from sipptest import DOMAIN, check  # noqa: E402
from interop import start_peer, wait_for  # noqa: E402
from cdrcheck import expect_cdr  # noqa: E402  (CDRs, issue 4 point 6)

USERS = {"alice": "pwalice", "bob": "pwbob"}


class Baresip(interop.Baresip):
    """interop.Baresip with its own account line: transport and extra
    account parameters (sipnat=outbound, ...)."""

    def __init__(self, d, tmp, user, password, name=None, transport="udp",
                 params="", answermode="auto", secs=60):
        self.name = name or user
        self.ctrl = st.free_port()
        self.cdir, self.sip = interop.baresip_dir(
            tmp, user, password, d, transport, 120, name=self.name,
            answermode=answermode, ctrl=self.ctrl)
        # uuid.so (before account.so): the instance id that outbound and
        # GRUU need (+sip.instance), kept in the config dir
        conf = os.path.join(self.cdir, "config")
        with open(conf) as f:
            text = f.read()
        with open(conf, "w") as f:
            f.write(text.replace("module_tmp account.so",
                                 "module_tmp uuid.so\nmodule_tmp account.so"))
        with open(os.path.join(self.cdir, "accounts"), "w") as f:
            f.write('<sip:%s@%s;transport=%s>;auth_pass=%s;'
                    'outbound="sip:127.0.0.1:%d;transport=%s";regint=120;'
                    'pubint=0;answermode=%s;mwi=no%s\n'
                    % (user, DOMAIN, transport, password, d.port, transport,
                       answermode, params))
        self.log = os.path.join(tmp, "baresip-%s.log" % self.name)
        self.p = start_peer("baresip-" + self.name,
                            ["baresip", "-f", self.cdir, "-s", "-t",
                             str(secs)], self.log)


def daemon(args, tmp):
    d = st.Daemon(args, tmp, {"general.log_level": "debug",
                              "security.allow": "127.0.0.0/8"})
    d.start()
    for u, pw in USERS.items():
        st.ctl(d, "user", "add", "%s@%s" % (u, DOMAIN), "--password", pw)
    return d


def invites(text):
    return interop.invites(text)


def uri_is(want):
    """A CDR field check: the URI want, with the ;transport= baresip
    adds to the URIs it dials."""
    return lambda v: bool(v) and re.sub(r";transport=\w+", "", v) == want


def invite_call_id(text):
    """The Call-ID of the first INVITE in a baresip trace."""
    m = re.search(r"(?ms)^INVITE sip:.*?^Call-ID:\s*(\S+)", text)
    check(m is not None, "a Call-ID in the callee's INVITE")
    return m.group(1)


def stop_all(peers):
    for b in peers:
        if b:
            b.stop()
    for b in peers:
        if b:
            b.tail()


def case_gruu(args, tmp):
    """bob registered from two baresip instances (each its own
    +sip.instance, so confab hands each a public GRUU, RFC 5627); alice
    (baresip) dials the GRUU of the second one: only that instance gets
    the INVITE and answers; the first one never rings. bob-2 uses its
    GRUU as its Contact: the ACK and BYE to it reach bob-2 too."""
    d = daemon(args, tmp)
    a = b1 = b2 = None
    try:
        b1 = Baresip(d, tmp, "bob", USERS["bob"], name="bob-1",
                     params=";sipnat=outbound")
        b1.registered()
        b2 = Baresip(d, tmp, "bob", USERS["bob"], name="bob-2",
                     params=";sipnat=outbound")
        b2.registered()
        a = Baresip(d, tmp, "alice", USERS["alice"])
        a.registered()
        out = st.ctl(d, "location", "show", "sip:bob@" + DOMAIN)
        print(out)
        # its 200 to REGISTER lists every binding of bob, each with its
        # pub-gruu: take the one of bob-2's own Contact (its port)
        gr = None
        for m in re.finditer(r"<sip:[^>]*:%d[^>]*>[^,\r\n]*" % b2.sip,
                             b2.text()):
            g = re.search(r'pub-gruu="([^"]+)"', m.group(0))
            if g:
                gr = g.group(1)
        check(gr is not None and ";gr=urn:uuid:" in gr,
              "bob-2's binding got a public GRUU: %s" % gr)
        a.cmd("dial", gr)
        wait_for(lambda: "Call established" in a.text(), 15,
                 "alice: 'Call established'")
        wait_for(lambda: "Call established" in b2.text(), 5,
                 "bob-2: 'Call established'")
        check(invites(b2.text()) >= 1, "bob-2 got the INVITE for its GRUU")
        check(invites(b1.text()) == 0, "bob-1 got no INVITE")
        # bob-2 answers with its GRUU as Contact (RFC 5627 §8): the ACK
        # and BYE have it as Request-URI and still reach bob-2
        wait_for(lambda: re.search(r"(?m)^ACK sip:", b2.text()), 5,
                 "bob-2: the ACK of its 200 (sent to its GRUU)")
        a.hangup()
        wait_for(lambda: re.search(r"(?m)^BYE sip:", b2.text()), 10,
                 "bob-2: alice's BYE")
        cid = invite_call_id(b2.text())
    finally:
        stop_all([a, b1, b2])
    # the GRUU is the callee and the Request-URI; bob-2 answered with it
    # as its Contact
    uuid = gr.split(";gr=", 1)[1]
    expect_cdr(d, count=1, call_id=cid, disposition="answered", code=200,
               caller="sip:alice@" + DOMAIN, callee=uri_is(gr),
               request_uri=uri_is(gr),
               contact=lambda v: bool(v) and uuid in v, ended_by="caller")
    d.stop()


def case_outbound_tcp(args, tmp):
    """RFC 5626: bob's baresip registers over TCP with sipnat=outbound
    (+sip.instance, reg-id); alice (baresip, UDP) calls bob: confab sends
    the INVITE over bob's own flow, the TCP connection his REGISTER came
    on (the same local port of bob's side in his trace; confab's log
    names that port, not bob's listening one), and the call is
    established and ended."""
    d = daemon(args, tmp)
    a = b = None
    try:
        b = Baresip(d, tmp, "bob", USERS["bob"], transport="tcp",
                    params=";sipnat=outbound")
        b.registered()
        a = Baresip(d, tmp, "alice", USERS["alice"])
        a.registered()
        out = st.ctl(d, "location", "show", "sip:bob@" + DOMAIN)
        m = re.search(r"from tcp:127\.0\.0\.1:(\d+).*reg-id 1", out)
        check(m is not None, "bob's binding is an outbound flow over TCP")
        flow = int(m.group(1))
        check(flow != b.sip, "from the connection's port %d (bob listens "
              "on %d)" % (flow, b.sip))
        a.cmd("dial", "sip:bob@" + DOMAIN)
        wait_for(lambda: "Call established" in a.text(), 15,
                 "alice: 'Call established'")
        wait_for(lambda: "Call established" in b.text(), 5,
                 "bob: 'Call established'")
        check(re.search(r"TCP 127\.0\.0\.1:%d -> 127\.0\.0\.1:%d\s*"
                        r"\n\s*INVITE sip:" % (d.port, flow),
                        b.text()) is not None,
              "bob got the INVITE on his flow (TCP to his port %d)" % flow)
        check("INVITE branch 1 to TCP 127.0.0.1:%d" % flow in d.stderr(),
              "confab sent the INVITE over that connection")
        a.hangup()
        wait_for(lambda: interop.call_ended(b.text()), 10,
                 "bob: call terminated (BYE over the flow)")
        cid = invite_call_id(b.text())
    finally:
        stop_all([a, b])
    expect_cdr(d, count=1, call_id=cid, disposition="answered", code=200,
               caller="sip:alice@" + DOMAIN,
               callee=uri_is("sip:bob@" + DOMAIN),
               # bob answers with his GRUU as Contact (RFC 5627 §8)
               contact=lambda v: bool(v) and v.startswith(
                   "sip:bob@%s;gr=urn:uuid:" % DOMAIN),
               ended_by="caller")
    d.stop()


CASES = {name[5:]: fn for name, fn in globals().items()
         if name.startswith("case_")}


def main():
    try:
        return st.main(CASES, __doc__, prefix="confab-flows-")
    finally:
        for _, p in interop.PEERS:  # by PID, if a case left one running
            if p.poll() is None:
                p.kill()
                p.wait(timeout=5)


if __name__ == "__main__":
    sys.exit(main())
