#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""routing_lua.py - the Lua routing hooks (issue 4 point 5) end to end.

Usage: routing_lua.py --confabd EXE --confabctl EXE CASE

The two worked examples of docs/routing-lua.md are taken from its Lua code
blocks (each follows an `<!-- example: NAME -->` line), so the page cannot
drift from what is tested, and run as [lua] script of a real confabd (two
workers) with SIPp on both sides (tests/scenarios/proxy.py's helpers): the
caller authenticates (407) as in the proxy cases. Every wait is bounded;
SIPp processes and confabd are stopped by PID. The CDR of each call, and
of each INVITE the script refuses, is checked (tests/scenarios/
cdrcheck.py).
"""

import argparse
import datetime
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import proxy  # noqa: E402
import run  # noqa: E402
from proxy import (ctl, register, uas_start, uac_run, uas_wait,  # noqa: E402
                   read)
from run import DOMAIN, Failure, check, free_port  # noqa: E402
from cdrcheck import cdrs, expect_cdr  # noqa: E402  (issue 4 point 6)


def call_id_of(log):
    """The Call-ID of the INVITEs in a SIPp message log (its path)."""
    m = re.search(r"(?mi)^Call-ID:\s*(\S+)", read(log))
    check(m is not None, "a Call-ID in the caller's trace")
    return m.group(1)


def at_port(port):
    return lambda v: bool(v) and ":%d" % port in v

DOC = os.path.join(HERE, "..", "..", "docs", "routing-lua.md")


def example(name):
    """The Lua block after `<!-- example: name -->` in routing-lua.md."""
    with open(DOC) as f:
        text = f.read()
    m = re.search(r"<!-- example: %s -->\s*```lua\n(.*?)```" % re.escape(name),
                  text, re.S)
    if m is None:
        raise Failure("docs/routing-lua.md has no example '%s'" % name)
    return m.group(1)


def daemon(args, tmp, script, users, extra=None, env=None):
    """confabd with the script (relative to data_dir, as documented) and
    these users (password pw)."""
    os.makedirs(tmp, exist_ok=True)
    conf = {"general.log_level": "info", "registrar.authenticate": "no",
            "security.allow": "127.0.0.0/8", "lua.script": "routing.lua"}
    conf.update(extra or {})
    d = run.Daemon(args, tmp, conf)
    with open(os.path.join(d.data, "routing.lua"), "w") as f:
        f.write(script)
    saved = dict(os.environ)
    os.environ.update(env or {})
    try:
        d.start()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    for u in users:
        ctl(d, "user", "add", "%s@%s" % (u, DOMAIN), "--password", "pw")
    check("routing.lua loaded" in d.stderr(), "confabd loaded routing.lua")
    return d


def lua_status(d):
    r = d.ctl_run("lua", "status", "--json", timeout=20)
    check(r.returncode == 0, "confabctl lua status exits 0 (%d: %s)"
          % (r.returncode, r.stderr.strip()))
    return json.loads(r.stdout)


def quiet_port():
    """A UDP socket that must receive nothing (a registered phone that
    should not ring), and its port."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(0.5)
    return s, s.getsockname()[1]


def nothing_on(s, what):
    try:
        data = s.recv(65535)
    except socket.timeout:
        data = b""
    s.close()
    check(not data, "%s got nothing (%r)" % (what, data[:80]))


def tz_for_hour(hour):
    """A POSIX TZ ("LUA-5" is UTC+5) in which the local hour is `hour`
    now; bounded to +-14 h by wrapping the difference."""
    now = datetime.datetime.now(datetime.timezone.utc)
    off = (hour - now.hour) % 24
    if off > 12:
        off -= 24
    # POSIX TZ offsets are west-positive: UTC+off is written -off
    return "LUA%+d" % (-off), now


# ------------------------------------------------------------------ cases

def case_time_of_day(args, tmp):
    """docs example time-of-day: sales@ rings desk at noon and night at
    3 a.m. local time (TZ chosen from the clock at start); the other one
    gets nothing; the forwarded INVITE carries X-Sales-Route."""
    script = example("time-of-day")
    for hour, want, other in ((12, "desk", "night"), (3, "night", "desk")):
        tz, now = tz_for_hour(hour)
        print("UTC %s, TZ=%s: local hour %d" % (now.strftime("%H:%M"), tz,
                                                  hour), flush=True)
        d = daemon(args, os.path.join(tmp, want), script,
                   ("alice", "desk", "night"), env={"TZ": tz})
        uport = free_port()
        uas = uas_start(d, "proxy_uas_invite.xml", uport)
        register(d, want, uport)
        quiet, qport = quiet_port()
        register(d, other, qport)
        log = uac_run(d, "proxy_uac_invite.xml", callee="sales",
                      extra=["-default_behaviors", "all,-abortunexp"])
        uas_wait(uas, "proxy_uas_invite.xml as %s" % want)
        msgs = read(os.path.join(d.tmp, "proxy_uas_invite-%d.msg" % uport))
        check("INVITE sip:%s@127.0.0.1:%d" % (want, uport) in msgs,
              "at local hour %d, sales@ rang %s" % (hour, want))
        check("X-Sales-Route: %s" % want in msgs,
              "the INVITE carries X-Sales-Route: %s" % want)
        nothing_on(quiet, other)
        st = lua_status(d)
        check(st.get("calls", 0) >= 1 and st.get("runtime_errors") == 0,
              "lua status: calls %s, no errors" % st.get("calls"))
        # the CDR keeps the number dialled; the branch is the routed one
        expect_cdr(d, count=1, call_id=call_id_of(log),
                   disposition="answered", code=200,
                   caller="sip:alice@" + DOMAIN,
                   callee="sip:sales@" + DOMAIN,
                   request_uri="sip:sales@" + DOMAIN,
                   contact=at_port(uport), ended_by="caller")
        d.stop()


def case_blocked_callers(args, tmp):
    """docs example blocked-callers: alice (authenticated) calling bob gets
    403 Blocked, and bob's phone (a SIPp UAS that takes one call) never
    sees her INVITE; carol calling bob next is the call it answers."""
    d = daemon(args, tmp, example("blocked-callers"),
               ("alice", "bob", "carol"))
    uport = free_port()
    uas = uas_start(d, "proxy_uas_invite.xml", uport)
    register(d, "bob", uport)
    log = uac_run(d, "routing_lua_uac_blocked.xml", caller="alice")
    check("SIP/2.0 403 Blocked" in read(log), "alice got 403 Blocked")
    check("lua: blocked alice@%s -> sip:bob@%s" % (DOMAIN, DOMAIN)
          in d.stderr(), "the script's print() reached the log")
    # the script's 403 ends alice's attempt: its CDR (docs/cdr.md)
    expect_cdr(d, count=1, call_id=call_id_of(log), disposition="failed",
               code=403, caller="sip:alice@" + DOMAIN,
               callee="sip:bob@" + DOMAIN, contact=lambda v: not v,
               answer="", ended_by="callee")
    log = uac_run(d, "proxy_uac_invite.xml", caller="carol",
                  extra=["-default_behaviors", "all,-abortunexp"])
    uas_wait(uas, "proxy_uas_invite.xml (carol calls bob)")
    msgs = read(os.path.join(d.tmp, "proxy_uas_invite-%d.msg" % uport))
    check("From: <sip:carol@%s>" % DOMAIN in msgs, "carol's call rang bob")
    check("sip:alice@" not in msgs, "alice's INVITE never reached bob")
    expect_cdr(d, count=2, call_id=call_id_of(log), disposition="answered",
               code=200, caller="sip:carol@" + DOMAIN,
               callee="sip:bob@" + DOMAIN, contact=at_port(uport),
               ended_by="caller")
    d.stop()


RELOAD_V1 = """
function on_request(req)
  req:add_header("X-Script", "v1")
  if req.uri_user == "crash" then
    local t = nil
    return t.field
  end
end
"""


def case_reload(args, tmp):
    """A runtime error answers 500 with its line logged; SIGHUP with a
    broken script keeps v1 on every worker (calls of several Call-IDs);
    a good v2 then replaces it; confabctl lua status counts it all."""
    d = daemon(args, tmp, RELOAD_V1, ("alice", "bob"),
               {"proxy.authenticate": "no"})
    u = run.udp_socket()

    def invite(user, n):
        """The final response to an INVITE (not ACKed: the earlier ones'
        retransmissions are skipped by their Call-ID)."""
        cid = "lua-reload-%d-%d" % (n, os.getpid())
        inv = run.request("INVITE", d.port, ruri="sip:%s@%s" % (user, DOMAIN),
                          call_id=cid)
        u.sendto(inv, ("127.0.0.1", d.port))
        for _ in range(20):
            r = run.udp_recv(u)
            if (run.header(r, "Call-ID") == cid and
                    not run.status_line(r).startswith("SIP/2.0 1")):
                return r
        raise Failure("no final response to INVITE %s" % cid)

    r = invite("crash", 0)
    check(run.status_line(r).startswith("SIP/2.0 500 Routing Script Error"),
          "a runtime error: " + run.status_line(r))
    check(re.search(r"lua: on_request: routing\.lua:6: attempt to index a "
                    r"nil value", d.stderr()) is not None,
          "the error is logged with its line")

    uport = free_port()
    with open(os.path.join(d.data, "routing.lua"), "w") as f:
        f.write("function on_request(req)\n  req:add_header('X-Script'\n"
                "end\n")
    d.signal_and_wait(signal.SIGHUP, "keeping the script loaded before")
    check("routing.lua:3:" in d.stderr(), "the syntax error has its line")
    # v1 still answers, on both workers: several Call-IDs
    for n in range(1, 5):
        r = invite("crash", n)
        check(run.status_line(r).startswith("SIP/2.0 500"),
              "call %d still runs v1: %s" % (n, run.status_line(r)))
    with open(os.path.join(d.data, "routing.lua"), "w") as f:
        f.write(RELOAD_V1.replace("v1", "v2").replace("crash", "nocrash"))
    out = ctl(d, "lua", "reload")
    check("generation" in out, "confabctl lua reload: " + out.strip())
    for n in range(5, 9):
        r = invite("crash", n)
        check(run.status_line(r).startswith("SIP/2.0 404"),
              "call %d runs v2 (crash is no user: 404): %s"
              % (n, run.status_line(r)))
    u.close()
    st = lua_status(d)
    check(st["load_errors"] == 1, "lua status: 1 load error (%s)"
          % st["load_errors"])
    check(st["runtime_errors"] == 5, "lua status: 5 runtime errors (%s)"
          % st["runtime_errors"])
    check(st["reloads"] == 2, "lua status: 2 scripts loaded (%s)"
          % st["reloads"])
    # every INVITE is an attempt with its CDR: the script error's 500,
    # and the 404 of the user v2 lets through
    rows = cdrs(d)
    check(len(rows) == 9, "nine CDRs (got %d)" % len(rows))
    for n in range(9):
        expect_cdr(d, call_id="lua-reload-%d-%d" % (n, os.getpid()),
                   disposition="failed", code=500 if n < 5 else 404,
                   caller="sip:raw@client.invalid",
                   callee="sip:crash@" + DOMAIN, ended_by="callee")
    d.stop()


def case_start_error(args, tmp):
    """A script that does not load at start stops confabd (exit 1) with
    the script's line in the log, and nothing leaked."""
    d = run.Daemon(args, tmp, {"lua.script": "routing.lua"})
    with open(os.path.join(d.data, "routing.lua"), "w") as f:
        f.write("function on_request(req)\n  x(\nend\n")
    try:
        d.start()
        raise Failure("confabd started with a broken routing.lua")
    except Failure as e:
        if "exited at start" not in str(e):
            raise
    p, d.proc = d.proc, None
    err = d.stderr()
    check(p.returncode == 1, "confabd exits 1 (%s)" % p.returncode)
    check("lua: routing.lua:3: unexpected symbol near 'end'; confabd does "
          "not start" in err, "the log names the line and says why")
    check(run.SANITIZER_RE.search(err) is None,
          "no sanitizer report on confabd's stderr")


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
    tmp = tempfile.mkdtemp(prefix="confab-lua-")
    try:
        CASES[args.case](args, tmp)
    except (Failure, OSError, EOFError, ValueError, KeyError,
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
        if args.keep:
            print("kept " + tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print("PASS: " + args.case)
    return 0


if __name__ == "__main__":
    sys.exit(main())
