#!/usr/bin/env python3
"""Authenticated REGISTERs per second over TLS with connection reuse,
confabd beside Kamailio 5.6 (tls module), through stunnel4.

Debian's SIPp has no TLS, so for both servers:

    sipp -t t1 (one TCP connection, reused for every REGISTER)
      -> stunnel4 in client mode on 127.0.0.1:PORT+10
      -> one TLS connection -> the server's TLS listener on 127.0.0.1:PORT+1

The scenario is side_by_side.py's `register` (REGISTER, 401, REGISTER with
credentials, 200; the 10,000 users rg0..rg9999 re-registering; the rate
counts registrations), measured the same way: a sanity step, --repeat steps
at one common offered rate (server CPU per 1,000 registrations from /proc,
median; each on a fresh server and stunnel), then bench.py search for the
maximum sustained rate. The servers' TLS listeners are configured by
idle_conns.servers() with a self-signed P-256 certificate made here
(Kamailio: `-A WITH_TLS` in kamailio.cfg). stunnel's own CPU is not counted
as the server's; it is the same for both.

usage: tls_bench.py [--servers kamailio,confab] [--rate 1000] [--no-search]
                    [--results bench/RESULTS.md]
"""
import argparse, datetime, json, os, shlex, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import side_by_side as sbs  # noqa: E402
import idle_conns  # noqa: E402

log = sbs.log


class Stunnel:
    def __init__(self, a, d):
        self.conf = os.path.join(d, "stunnel.conf")
        self.log = os.path.join(d, "stunnel.log")
        with open(self.conf, "w") as f:
            f.write(f"foreground = yes\npid =\noutput = {self.log}\ndebug = 4\n\n[sip]\nclient = yes\n"
                    f"accept = 127.0.0.1:{a.port + 10}\nconnect = 127.0.0.1:{a.port + 1}\n"
                    f"sslVersionMin = TLSv1.2\nverifyPeer = no\n")
        self.p = None

    def start(self):
        self.p = subprocess.Popen(["stunnel4", self.conf], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        for _ in range(50):
            if self.p.poll() is not None:
                return False
            if f"127.0.0.1:{self.port()} " in sbs.sh(["ss", "-tlnH"]).stdout:
                return True
            time.sleep(0.1)
        return False

    def port(self):
        for line in open(self.conf):
            if line.startswith("accept"):
                return int(line.rsplit(":", 1)[1])
        return 0

    def stop(self):
        if self.p and self.p.poll() is None:
            self.p.terminate()  # our own child, by pid
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.p = None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--servers", default="kamailio,confab")
    ap.add_argument("--port", type=int, default=15760, help="UDP port; TLS on +1, stunnel on +10")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--dur", type=int, default=10)
    ap.add_argument("--rate", type=int, default=1000, help="common offered rate, registrations/s")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--max-rate", type=int, default=80000)
    ap.add_argument("--no-search", action="store_true")
    ap.add_argument("--cooldown", type=float, default=3.0)
    ap.add_argument("--nice", type=int, default=0)
    ap.add_argument("--quiet-pct", type=float, default=30.0)
    ap.add_argument("--quiet-wait", type=float, default=20.0)
    ap.add_argument("--retry-noisy", type=float, default=20.0)
    ap.add_argument("--tcp-max", type=int, default=30000)
    ap.add_argument("--kam-shm", type=int, default=1024, help="Kamailio shared memory, MB")
    ap.add_argument("--confabd", default=None)
    ap.add_argument("--out", default=None)
    ap.add_argument("--results", default=None)
    a = ap.parse_args()
    if a.nice:
        os.nice(a.nice)
    a.target = f"127.0.0.1:{a.port + 10}"
    a.bench_extra = ["--transport", "t1"]
    a.tp_label = "TLS via stunnel, one connection"
    a.confabd_args = ""
    out = a.out or f"/tmp/tls-{time.strftime('%Y%m%d-%H%M%S')}"
    os.makedirs(out, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="tls-bench-")
    a._crt, a._key, kcfg = idle_conns.make_cert(tmp)
    started = datetime.datetime.now(datetime.timezone.utc)
    servers = idle_conns.servers(a, a._crt, a._key, kcfg)
    results, starts, versions = {}, {}, {}
    for srv in servers:
        versions[srv.name] = srv.version()
        results[(srv.name, "register")] = {"scenario": "register", "server": srv.name, "commands": []}
    stun = Stunnel(a, tmp)

    def run(srv, what):
        res = results[(srv.name, "register")]
        if res.get("error"):
            return
        if sbs.port_busy(a.port):
            res["error"] = f"port {a.port} busy"
            return
        if not srv.start(os.path.join(out, f"{srv.name}.log")):
            res["error"] = "server did not start"
            return
        try:
            if not stun.start():
                res["error"] = "stunnel did not start"
                return
            time.sleep(1)
            what(srv, res)
        finally:
            starts[srv.name] = srv.cmd
            stun.stop()
            srv.stop()
            time.sleep(2)

    def first(srv, res):
        err = sbs.sanity(a, srv, "register", out)
        if err:
            res["error"] = err
            log(f"{srv.name}: {err}")
            return
        sbs.common_step(a, srv, "register", out, 0, res)

    for i in range(a.repeat):
        for srv in servers:
            log(f"{srv.name}: common-rate step {i + 1}/{a.repeat} (TLS)")
            run(srv, first if i == 0 else (lambda s, r, i=i: sbs.common_step(a, s, "register", out, i, r)))
    if not a.no_search:
        for srv in servers:
            log(f"{srv.name}: rate search (TLS)")
            run(srv, lambda s, r: sbs.search_rate(a, s, "register", out, r))
    for srv in servers:
        if hasattr(srv, "cleanup"):
            srv.cleanup()
    tbl = sbs.table(results, a)
    print(tbl)
    with open(os.path.join(out, "tls_bench.json"), "w") as f:
        json.dump({f"{k[0]}/{k[1]}": v for k, v in results.items()}, f, indent=1)
    if a.results:
        L = [f"## TLS REGISTER run of {started:%Y-%m-%d %H:%M} UTC", "",
             f"- Machine: {sbs.machine()}; SIPp, stunnel and the server share these CPUs.",
             f"- Versions: {versions.get('kamailio', '—')}; confabd: {versions.get('confab', '—')}; "
             f"{sbs.sh('stunnel4 -version 2>&1 | head -1').stdout.strip()}",
             f"- Path: `sipp -t t1` → stunnel4 (client mode, 127.0.0.1:{a.port + 10}) → one TLS connection → "
             f"the server's TLS listener 127.0.0.1:{a.port + 1}; {a.workers} workers each; "
             f"{a.dur} s per step; raw data in `{out}`.",
             f"- Command: `python3 bench/tls_bench.py {' '.join(shlex.quote(x) for x in sys.argv[1:])}`",
             "", tbl, ""]
        for (name, scen), r in results.items():
            if r.get("error"):
                L.append(f"- {name}: **{r['error']}**")
                continue
            steps = r.get("steps", [])
            L.append(f"- {name}: common-rate steps {r.get('step_pass')}/{len(steps)} passed; CPU s per 1,000 "
                     f"per step: {', '.join(str(x.get('server_cpu_s_per_1k')) for x in steps)} (utime+stime: "
                     f"{', '.join(str(x.get('server_cpu_stat_s_per_1k')) for x in steps)}); other processes' "
                     f"CPU (% of a core): {', '.join(str(x.get('other_cpu_pct')) for x in steps)}; search: max "
                     f"{sbs.fmt(r.get('max_rate'))}/s, first failing {sbs.fmt(r.get('first_fail'))}/s, at the max: "
                     f"{r.get('at_max')}")
        L += ["", "Exact commands:", ""]
        L += [f"- start {k}: `{v}`" for k, v in starts.items()]
        L.append(f"- stunnel: `stunnel4 STUNNEL.CONF` with `client = yes`, `accept = 127.0.0.1:{a.port + 10}`, "
                 f"`connect = 127.0.0.1:{a.port + 1}`, `sslVersionMin = TLSv1.2`, `verifyPeer = no`")
        for (name, scen), r in results.items():
            L += [f"- {name}: `{c}`" for c in r.get("commands", [])]
            if r.get("sipp_cmd"):
                L.append(f"- SIPp ({name}, one step): `{r['sipp_cmd']}`")
        with open(a.results, "a") as f:
            f.write("\n".join(L) + "\n\n")


if __name__ == "__main__":
    main()
