#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""trunk.py - failure routes to our own users, trunks and the dial plan
(issue 4 points 3 and 4) end to end with SIPp.

Usage: trunk.py --confabd EXE --confabctl EXE CASE

Each CASE starts its own confabd on free loopback ports (run.py's Daemon,
proxy.py's helpers) with alice, bob and carol provisioned (password pw).
SIPp plays the callees (registered UASes, or the trunk) and alice, who
calls through confab with digest authentication (407). Every wait is
bounded; SIPp processes are stopped by PID.
"""

import argparse
import os
import shutil
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
    uac_run(d, "proxy_uac_invite.xml")
    uas_wait(busy, "proxy_uas_busy.xml")
    uas_wait(carol, "proxy_uas_invite.xml (carol, the forward target)")
    msgs = read(os.path.join(d.tmp, "proxy_uas_invite-%d.msg" % p2))
    check("INVITE sip:carol@127.0.0.1:%d SIP/2.0" % p2 in msgs,
          "carol's device got the INVITE at its registered Contact")
    check(("History-Info: <sip:bob@%s?Reason=SIP%%3Bcause%%3D486>;index=1, "
           "<sip:carol@%s>;index=1.1;mp=1" % (DOMAIN, DOMAIN)) in msgs,
          "History-Info names bob (cause 486), then carol's AOR")
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
