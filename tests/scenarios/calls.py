#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""calls.py - call tracking and CDRs in the proxy (issue 4 point 6).

Usage: calls.py --confabd EXE --confabctl EXE CASE

Each CASE starts its own confabd (tests/scenarios/run.py's Daemon, the
helpers of proxy.py) with SIPp on both sides and checks the call detail
records through `confabctl cdr list --json` and `cdr export --csv`, online
and offline. Every wait is bounded; processes are stopped by PID.
"""

import argparse
import csv
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run  # noqa: E402
import proxy  # noqa: E402
from cdrcheck import cdrs, expect_cdr  # noqa: E402
from proxy import (ctl, daemon, read, register, uac_run, uas_start,  # noqa
                   uas_wait)
from run import (DOMAIN, Failure, check, free_port, header,  # noqa: E402
                 ring, cancel, status_line, udp_recv, udp_socket)

ALICE = "sip:alice@" + DOMAIN
BOB = "sip:bob@" + DOMAIN


def call_id_of(msgs):
    """The Call-ID of the INVITE in a SIPp message log."""
    m = re.search(r"^Call-ID:\s*(\S+)", msgs, re.M | re.I)
    check(m, "a Call-ID in the SIPp log")
    return m.group(1)


def wait_for(pred, secs, what):
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    raise Failure("%s: not within %d s" % (what, secs))


# ------------------------------------------------------------------ cases

def case_call(args, tmp):
    """alice calls bob (SIPp both sides, 407, 200, BYE from alice): one
    CDR, answered 200, with caller, callee, Request-URI, the answering
    contact (the UAS's port), times in order and a duration; the same in
    the CSV export; and read offline once confabd is stopped."""
    d = daemon(args, tmp)
    uport = free_port()
    uas = uas_start(d, "proxy_uas_invite.xml", uport)
    register(d, "bob", uport)
    log = uac_run(d, "proxy_uac_invite.xml")
    uas_wait(uas, "proxy_uas_invite.xml")
    cid = call_id_of(read(log))
    c = expect_cdr(d, count=1, call_id=cid, disposition="answered",
                   code=200, caller=ALICE, callee=BOB, request_uri=BOB,
                   ended_by="caller",
                   contact=lambda v: ("127.0.0.1:%d" % uport) in v,
                   duration=lambda v: v > 0)
    check(c["answer"] and c["end"], "answer and end times set")
    r = d.ctl_run("cdr", "export", "--csv")
    check(r.returncode == 0, "cdr export --csv exits 0")
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    check(len(rows) == 1, "one CSV row (got %d):\n%s" % (len(rows),
                                                         r.stdout))
    row = rows[0]
    for k in ("call_id", "caller", "callee", "contact", "start", "answer",
              "end", "disposition", "ended_by"):
        check(row[k] == str(c[k]), "CSV %s = %r, list says %r"
              % (k, row[k], c[k]))
    check(row["request_uri"] == BOB and row["code"] == "200",
          "CSV request_uri and code")
    check(abs(float(row["duration"]) - c["duration"]) < 0.002,
          "CSV duration %s" % row["duration"])
    st = ctl(d, "call", "stats")
    check("0 active, 1 started" in st, "call stats: " + st)
    d.stop()
    # offline: the same record from the store
    expect_cdr(d, count=1, call_id=cid, disposition="answered")


def case_busy(args, tmp):
    """bob's UAS answers 486: CDR busy, 486, no answer time."""
    d = daemon(args, tmp)
    uport = free_port()
    uas = uas_start(d, "proxy_uas_busy.xml", uport)
    register(d, "bob", uport)
    log = uac_run(d, "proxy_uac_busy.xml")
    uas_wait(uas, "proxy_uas_busy.xml")
    expect_cdr(d, count=1, call_id=call_id_of(read(log)),
               disposition="busy", code=486, ended_by="callee",
               answer="", contact="")
    d.stop()


def case_cancelled(args, tmp):
    """bob rings, alice cancels: CDR cancelled, 487, ended by the
    caller."""
    d = daemon(args, tmp)
    uport = free_port()
    uas = uas_start(d, "proxy_uas_ring.xml", uport)
    register(d, "bob", uport)
    log = uac_run(d, "proxy_uac_cancel.xml")
    uas_wait(uas, "proxy_uas_ring.xml")
    expect_cdr(d, count=1, call_id=call_id_of(read(log)),
               disposition="cancelled", code=487, ended_by="caller",
               answer="")
    d.stop()


def case_max_duration(args, tmp):
    """max_call_duration = 1: the call is answered and neither side hangs
    up; after a second the proxy sends BYE to both (each SIPp scenario
    waits for it and answers 200: both must exit 0); the CDR says
    answered, ended_by max_duration, a duration of at least the limit."""
    d = daemon(args, tmp, {"proxy.max_call_duration": "1"})
    uport = free_port()
    uas = uas_start(d, "proxy_uas_invite.xml", uport)
    register(d, "bob", uport)
    log = uac_run(d, "proxy_uac_invite_recvbye.xml",
                  extra=["-default_behaviors", "all,-abortunexp"])
    uas_wait(uas, "proxy_uas_invite.xml (BYE from confab)")
    msgs = read(log)
    check(re.search(r"^BYE sip:alice@127\.0\.0\.1", msgs, re.M),
          "the caller got a BYE for its Contact")
    check('Reason: SIP;cause=200;text="Maximum call duration"' in msgs,
          "the BYE says why")
    expect_cdr(d, count=1, call_id=call_id_of(msgs), disposition="answered",
               code=200, ended_by="max_duration",
               duration=lambda v: v >= 1.0)  # never before the limit
    check("max_call_duration reached, BYE sent (callee: ok, caller: ok)"
          in d.stderr(), "log line of the BYEs")
    check("1 ended at max_call_duration" in ctl(d, "call", "stats"),
          "call stats counts it")
    d.stop()


def ack_for(inv, resp):
    """ACK (§17.1.1.3) for a non-2xx answer to a raw INVITE."""
    text = inv.decode()
    ruri = text.split(" ", 2)[1]
    branch = re.search(r"branch=([^;\r\n]+)", text).group(1)
    return run.request("ACK", 0, branch=branch,
                       call_id=header(text, "Call-ID"), ruri=ruri).replace(
        b"To: <%s>" % ruri.encode(),
        b"To: " + header(resp, "To").encode())


def case_limits(args, tmp):
    """max_calls = 2, max_calls_per_user = 1; bob and alice each on a
    ringing SIPp UAS. A call to bob rings; a second one to bob gets 486
    (bob's limit); a call to alice rings (2 calls); a fourth gets 503
    with Retry-After (the total). Each refusal is logged with its
    Call-ID and counted; the four CDRs are cancelled, busy, cancelled,
    failed."""
    d = daemon(args, tmp, {"proxy.max_calls": "2",
                           "proxy.max_calls_per_user": "1"})
    pb, pa = free_port(), free_port()
    ub = uas_start(d, "proxy_uas_ring.xml", pb)
    ua = uas_start(d, "proxy_uas_ring.xml", pa)
    register(d, "bob", pb)
    register(d, "alice", pa)
    socks = [udp_socket() for _ in range(4)]
    try:
        inv1, r = ring(socks[0], d.port, "bob")
        check(status_line(r).startswith("SIP/2.0 180"), "call 1 rings: "
              + status_line(r))
        inv2, r = ring(socks[1], d.port, "bob")
        check(status_line(r) == "SIP/2.0 486 Busy Here (Call Limit)",
              "call 2 to bob over his limit: " + status_line(r))
        socks[1].sendto(ack_for(inv2, r), ("127.0.0.1", d.port))
        cid2 = header(inv2.decode(), "Call-ID")
        inv3, r = ring(socks[2], d.port, "alice")
        check(status_line(r).startswith("SIP/2.0 180"), "call 3 rings: "
              + status_line(r))
        inv4, r = ring(socks[3], d.port, "alice")
        check(status_line(r) == "SIP/2.0 503 Too Many Calls" and
              header(r, "Retry-After") == "10",
              "call 4 over max_calls: %s (Retry-After %s)"
              % (status_line(r), header(r, "Retry-After")))
        socks[3].sendto(ack_for(inv4, r), ("127.0.0.1", d.port))
        cid4 = header(inv4.decode(), "Call-ID")
        err = d.stderr()
        check(re.search(r"call-id=%s: proxy: INVITE .* refused 486 "
                        r"Busy Here \(Call Limit\) \(1 so far\)"
                        % re.escape(cid2), err), "log line of the 486")
        check(re.search(r"call-id=%s: proxy: INVITE .* refused 503 "
                        r"Too Many Calls \(1 so far\)" % re.escape(cid4),
                        err), "log line of the 503")
        st = ctl(d, "call", "stats")
        check("2 active" in st and "refused: 1 over max_calls_per_user "
              "(486), 1 over max_calls (503)" in st, "call stats: " + st)
        cancel(socks[0], d.port, inv1)
        cancel(socks[2], d.port, inv3)
    finally:
        for s in socks:
            s.close()
    uas_wait(ub, "ring UAS of bob")
    uas_wait(ua, "ring UAS of alice")
    rows = cdrs(d)
    check([r["disposition"] for r in rows] ==
          ["cancelled", "busy", "cancelled", "failed"],
          "dispositions: %s" % [r["disposition"] for r in rows])
    check([r["code"] for r in rows] == [487, 486, 487, 503],
          "codes: %s" % [r["code"] for r in rows])
    expect_cdr(d, call_id=cid2, ended_by="limit", callee=BOB)
    d.stop()


def case_kill9(args, tmp):
    """A call is answered; confabd is killed -9 while it runs: its CDR is
    in the store as open (written behind at INVITE and answer time). At
    the next start it is closed: interrupted, ended_by restart, with its
    answer time and code kept."""
    d = daemon(args, tmp)
    uport = free_port()
    uas = uas_start(d, "proxy_uas_invite.xml", uport)
    register(d, "bob", uport)
    port = free_port()
    inf = os.path.join(d.tmp, "uac-long.csv")
    with open(inf, "w") as f:
        f.write("SEQUENTIAL\nalice;pw;bob;[authentication username=alice "
                "password=pw]\n")
    cmd = proxy.sipp_cmd(d, "proxy_uac_invite.xml", port, "u1",
                         ["-inf", inf, "-d", "60000"])
    print("$ " + " ".join(cmd) + " &", flush=True)
    uac = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, cwd=d.tmp)
    proxy.PEERS.append(uac)
    # not `cdr list` here: online it flushes the queue; the record must
    # reach the store by the write-behind alone
    wait_for(lambda: "1 active" in ctl(d, "call", "stats"), 15,
             "a call in progress")
    uas_msgs = os.path.join(d.tmp, "proxy_uas_invite-%d.msg" % uport)
    wait_for(lambda: "ACK sip:" in read(uas_msgs), 15, "the callee's ACK")
    time.sleep(1)  # the write-behind writes within 200 ms
    print("kill -9 %d" % d.proc.pid, flush=True)
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait(timeout=10)
    for p in (uac, uas):
        p.kill()
        p.wait(timeout=5)
    # offline, before the restart: in the store, open, answered
    c = expect_cdr(d, count=1, disposition="open", code=200, end="",
                   answer=lambda v: v != "")
    d.start()  # returns at once: the first banner is in the log already
    wait_for(lambda: d.stderr().count(" listening on ") >= 2, 10,
             "the restarted confabd's banner")
    check("1 CDRs of calls open when confabd stopped closed as interrupted"
          in d.stderr(), "the restart logs the interrupted CDR")
    expect_cdr(d, count=1, call_id=c["call_id"], disposition="interrupted",
               ended_by="restart", code=200, answer=c["answer"],
               end=lambda v: v >= c["answer"])
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
    tmp = tempfile.mkdtemp(prefix="confab-calls-")
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
