#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""tls_call.py - a call from a baresip on TLS to a baresip on UDP through
confab (issue 5), the in-dialog requests of each side going back over the
way it reached us.

Usage: tls_call.py --confabd EXE --confabctl EXE CASE

Reuses interop.py's helpers (daemon, baresip configuration, ctrl_tcp).
baresip has no TLS server certificate here, so a request to alice's
Contact over a new TLS connection would fail its handshake: bob's BYE
must reach her over the connection she registered and called on, which
confab's Record-Route names (a flow token, src/mod/proxy/flow.c).
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "scenarios"))
import interop as I  # noqa: E402
import run  # noqa: E402
from run import DOMAIN, Failure, check  # noqa: E402


class Baresip(I.Baresip):
    """interop.py's Baresip on a transport of our choice."""

    def __init__(self, d, tmp, user, password, transport, secs=60):
        self.name = user
        self.ctrl = I.free_port()
        self.cdir, self.sip = I.baresip_dir(tmp, user, password, d,
                                            transport, 120, name=user,
                                            ctrl=self.ctrl)
        self.log = os.path.join(tmp, "baresip-%s.log" % user)
        self.p = I.start_peer("baresip-" + user,
                              ["baresip", "-f", self.cdir, "-s", "-t",
                               str(secs)], self.log)


def case_call_tls_to_udp(args, tmp):
    """alice (baresip, account ;transport=tls) calls bob (baresip, UDP):
    established on both sides; bob's INVITE has two Record-Routes, the
    second naming confab's TLS listener and alice's flow; bob hangs up and
    alice's call ends: the BYE went over her own TLS connection."""
    d = I.daemon(args, tmp, users={"alice": "pwalice", "bob": "pwbob"},
                 tls=True)
    a = Baresip(d, tmp, "alice", "pwalice", "tls")
    b = Baresip(d, tmp, "bob", "pwbob", "udp")
    try:
        a.registered()
        b.registered()
        a.cmd("dial", "sip:bob@" + DOMAIN)
        I.wait_for(lambda: "Call established" in a.text(), 15,
                   "alice: 'Call established'")
        I.wait_for(lambda: "Call established" in b.text(), 5,
                   "bob: 'Call established'")
        rr = re.findall(r"Record-Route: (<[^>]*>)", b.text())
        print("bob saw Record-Route: %s" % rr[:4], flush=True)
        check(len(rr) >= 2 and "transport=udp" not in rr[0] and
              re.match(r"<sip:cf-7f000001-[0-9a-f]{4}@127\.0\.0\.1:%d;"
                       r"transport=tls;lr>" % d.tls_port, rr[1]),
              "two Record-Routes, the second alice's TLS flow")
        time.sleep(1)
        b.cmd("hangup")
        I.wait_for(lambda: I.call_ended(b.text()), 10,
                   "bob: call terminated")
        I.wait_for(lambda: I.call_ended(a.text()), 10,
                   "alice: call terminated (BYE over her TLS flow)")
        check("BYE sip:" in a.text(), "alice got bob's BYE")
        check(re.search(r"proxy: BYE branch 1 to TLS 127\.0\.0\.1:\d+",
                        d.stderr()),
              "confab sent the BYE over TLS")
        check("handshake to" not in d.stderr(),
              "no TLS connection was opened towards alice")
    finally:
        a.stop()
        b.stop()
        a.tail()
        b.tail()
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
    tmp = tempfile.mkdtemp(prefix="confab-tlscall-")
    try:
        CASES[args.case](args, tmp)
    except (Failure, OSError, EOFError, subprocess.TimeoutExpired) as e:
        print("FAIL: %s: %s" % (type(e).__name__, e), flush=True)
        for dd in run.DAEMONS:
            print("--- confabd %s stderr (tail)\n%s"
                  % (dd.tmp, dd.stderr()[-4000:]))
        return 1
    finally:
        for _, p in I.PEERS:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=5)
        for dd in run.DAEMONS:
            dd.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    print("PASS: " + args.case)
    return 0


if __name__ == "__main__":
    sys.exit(main())
