# SPDX-License-Identifier: BSD-3-Clause
"""cdrcheck.py - the CDR checks shared by calls.py, proxy.py and
tests/interop/interop.py: read `confabctl cdr list --json` and assert the
record of a call (issue 4 point 6)."""

import json
import time

from run import Failure, check


def cdrs(d):
    """Every CDR, oldest first (online through the daemon, or offline on
    the store when it is stopped)."""
    r = d.ctl_run("cdr", "list", "--limit", "0", "--json", timeout=20)
    check(r.returncode == 0, "confabctl cdr list exits 0 (%d: %s)"
          % (r.returncode, (r.stdout + r.stderr)[:300]))
    try:
        return json.loads(r.stdout).get("cdrs", [])
    except ValueError:
        raise Failure("cdr list --json is not JSON: %r" % r.stdout[:300])


def expect_cdr(d, count=None, call_id=None, **want):
    """The last CDR (or the one of call_id) has the fields in want (a
    value, or a callable returning True); count: how many CDRs in all.
    Times are checked in order (start <= answer <= end) and the duration
    against answer..end. Returns the record."""
    rows = cdrs(d)
    # the proxy queues a call's last record just after the final or the
    # BYE went on: give it a moment (bounded) before judging
    deadline = time.monotonic() + 5
    while (want.get("disposition") != "open" and time.monotonic() < deadline
           and d.proc is not None and
           any(r["disposition"] == "open" for r in rows)):
        time.sleep(0.1)
        rows = cdrs(d)
    if count is not None:
        check(len(rows) == count, "%d CDR(s) (got %d: %s)"
              % (count, len(rows), [r.get("disposition") for r in rows]))
    sel = [r for r in rows if call_id is None or r["call_id"] == call_id]
    check(sel, "a CDR for call %s among %d" % (call_id or "(last)",
                                              len(rows)))
    c = sel[-1]
    for k, v in want.items():
        ok = v(c.get(k)) if callable(v) else c.get(k) == v
        check(ok, "CDR %s = %r (want %s)" % (k, c.get(k),
                                             "a match" if callable(v) else
                                             repr(v)))
    check(c["start"] and (not c["answer"] or c["start"] <= c["answer"])
          and (not c["end"] or (c["answer"] or c["start"]) <= c["end"]),
          "CDR times in order: %s / %s / %s"
          % (c["start"], c["answer"], c["end"]))
    if not c["answer"]:
        check(c["duration"] == 0, "no answer: duration 0")
    print("ok: CDR %s %s %s %s -> %s (%s s)"
          % (c["id"], c["disposition"], c["code"], c["caller"], c["callee"],
             c["duration"]), flush=True)
    return c
