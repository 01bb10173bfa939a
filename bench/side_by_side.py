#!/usr/bin/env python3
"""Side-by-side benchmark: the reference Kamailio 5.6 and confabd, in turn.

Starts Kamailio (kam.sh + kamailio.cfg) and then confabd on the same UDP port
with the same number of workers, drives each with the same SIPp scenarios
through bench.py, and prints per scenario:

  * the maximum sustained rate (bench.py search: <= 0.1 % failed calls and
    retransmissions, SIPp offering >= 97 % of the rate);
  * the server CPU seconds per 1,000 transactions at one common offered rate
    (bench.py step at the same rate for both servers, median of --repeat runs);
  * the ratio confab/Kamailio of each.

then runs the parser micro-benchmark (parse_bench from the meson build dir) if
it was built.  With --results FILE it writes the tables, the machine, the
versions and the exact commands to FILE (markdown).

Everything runs on 127.0.0.1, every SIPp run is bounded by a call count and a
timeout (bench.py), and the servers started here are stopped by their PIDs.
Nothing here reads ../shared.
"""
import argparse, datetime, glob, json, os, platform, shlex, signal, subprocess
import shutil, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

SCENARIOS = {
    # scenario: (common offered rate for the CPU comparison, search start rate)
    "options": (20000, 5000),
    # authenticated REGISTER (401, REGISTER with credentials, 200) of the
    # users rg0..rg9999 refreshing; the rate counts registrations (two
    # transactions each)
    "register": (5000, 2500),
    # issue 4: a proxied call (uac_invite.xml + uas_invite.xml: INVITE, 407,
    # ACK, INVITE with credentials, 180, 200, ACK, 1 s, BYE, 200;
    # record-routed, stateful) from user N to user N+5000 of user0..user9999,
    # all registered (bench.py prereg) with the SIPp UAS as their contact; the
    # rate counts calls
    "invite": (500, 500),
    # MESSAGE, 407, MESSAGE with credentials, 200 from the callee (SIPp UAS);
    # the rate counts messages
    "message": (1500, 1500),
}

# what the rate of a scenario counts, for the tables
UNITS = {"options": "OPTIONS", "register": "registrations", "invite": "calls", "message": "MESSAGEs"}
# scenarios whose callees must be registered first (bench.py prereg: the
# 10,000 users user0..user9999 with the SIPp UAS as contact)
NEED_PREREG = ("invite", "message")

# The subscribers confabd needs for bench.py (password pw_<user>, domain
# 127.0.0.1): rg* for `register`, mem* for `memory`. Kamailio derives the
# password from the user name (kamailio.cfg) and needs none. user* are the
# callers and callees of `invite` and `message`.
CONFAB_USERS = (("rg", 10000), ("user", 10000), ("mem", 100000))
CONFAB_DOMAIN = "127.0.0.1"


def log(msg):
    print(f"# {time.strftime('%H:%M:%S')} {msg}", flush=True)


def sh(cmd, **kw):
    return subprocess.run(cmd, shell=isinstance(cmd, str), capture_output=True, text=True, **kw)


# ------------------------------------------------------------------ servers
class Kamailio:
    name = "kamailio"

    def __init__(self, a):
        self.a = a
        self.kam = os.path.join(HERE, "kam.sh")
        # a run directory of our own (pid file, ctl socket) per port
        self.run_dir = f"/run/kamailio-bench-{a.port}"
        self.env = dict(os.environ, SIP_PORT=str(a.port), KAM_RUN=self.run_dir)
        self.pids_cmd = f"KAM_RUN={self.run_dir} {shlex.quote(self.kam)} pids"
        self.cmd = f"SIP_PORT={a.port} KAM_RUN={self.run_dir} {self.kam} start {a.workers} LOG"

    def version(self):
        return sh(["kamailio", "-v"]).stdout.splitlines()[0].replace("version:", "").strip()

    def start(self, logfile):
        sh([self.kam, "stop"], env=self.env)
        r = subprocess.run([self.kam, "start", str(self.a.workers), logfile], env=self.env,
                           capture_output=True, text=True, timeout=60)
        log(r.stdout.strip())
        return True

    def stop(self):
        subprocess.run([self.kam, "stop"], env=self.env, timeout=60)


class Confab:
    name = "confab"

    def __init__(self, a):
        self.a = a
        self.bin = a.confabd or find_build_file("src/daemon/confabd")
        self.ctl = os.path.join(os.path.dirname(self.bin), "confabctl") if self.bin else None
        self.template = None  # a data dir whose store has the bench users
        self.proc = None
        self.a._pid = None
        self.datadir = None
        self.pids_cmd = ""
        self.cmd = ""

    def version(self):
        if not self.bin:
            return "confabd not built"
        r = sh([self.bin, "--version"], timeout=10)
        return (r.stdout or r.stderr).strip().splitlines()[0] if (r.stdout or r.stderr).strip() else "?"

    def argv(self):
        args = self.a.confabd_args.format(port=self.a.port, workers=self.a.workers,
                                          datadir=self.datadir,
                                          conf=os.path.join(self.datadir, "confab.conf"))
        return [self.bin] + shlex.split(args)

    def write_conf(self, datadir):
        """The benchmark configuration: the bench domain, loopback on the
        rate limiter's allow list (SIPp sends thousands of requests/s from
        127.0.0.1), warnings only."""
        with open(os.path.join(datadir, "confab.conf"), "w") as f:
            f.write(f"[general]\ndata_dir = {datadir}\ndomain = {CONFAB_DOMAIN}\n"
                    f"log_level = warn\n\n[security]\nallow = 127.0.0.0/8, ::1\n")

    def provision(self):
        """Once per run: import the bench users (offline, confabctl user
        import) into a template store that every start copies."""
        if self.template:
            return True
        if not self.ctl or not os.access(self.ctl, os.X_OK):
            log("confabctl not found next to confabd")
            return False
        self.template = tempfile.mkdtemp(prefix="confab-bench-users-")
        self.write_conf(self.template)
        csv = os.path.join(self.template, "users.csv")
        n = 0
        with open(csv, "w") as f:
            for prefix, count in CONFAB_USERS:
                for i in range(count):
                    f.write(f"{prefix}{i}@{CONFAB_DOMAIN},pw_{prefix}{i}\n")
                    n += 1
        t0 = time.time()
        r = sh([self.ctl, "--config", os.path.join(self.template, "confab.conf"),
                "user", "import", csv], timeout=600)
        log(f"confabctl user import of {n} users: rc={r.returncode} in {time.time() - t0:.1f} s: "
            f"{(r.stdout + r.stderr).strip()[:200]}")
        if r.returncode != 0:
            self.template = None
            return False
        self.import_s = round(time.time() - t0, 1)
        return True

    def start(self, logfile):
        if not self.bin or not os.access(self.bin, os.X_OK):
            log("confabd not found (build it: meson setup build && ninja -C build)")
            return False
        if not self.provision():
            return False
        self.datadir = tempfile.mkdtemp(prefix="confab-bench-")
        self.write_conf(self.datadir)
        for fn in os.listdir(self.template):
            if fn.startswith("confab.db"):
                shutil.copy(os.path.join(self.template, fn), self.datadir)
        argv = self.argv()
        self.cmd = " ".join(shlex.quote(x) for x in argv).replace(self.datadir, "DIR")
        self.proc = subprocess.Popen(argv, stdout=open(logfile, "w"), stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        self.pids_cmd = f"echo {self.proc.pid}; pgrep -P {self.proc.pid}"
        self.a._pid = self.proc.pid  # shown as PID in the commands
        # wait for the UDP listener (bounded)
        for _ in range(50):
            if self.proc.poll() is not None:
                log(f"confabd exited with {self.proc.returncode}; see {logfile}")
                return False
            if f"127.0.0.1:{self.a.port} " in sh(["ss", "-uanH"]).stdout:
                break
            time.sleep(0.2)
        else:
            log("confabd did not open its UDP port within 10 s")
            self.stop()
            return False
        log(f"confabd pid {self.proc.pid}, workers={self.a.workers}")
        return True

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # our own child, by pid
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if self.datadir:
            shutil.rmtree(self.datadir, ignore_errors=True)
            self.datadir = None

    def cleanup(self):
        if self.template:
            shutil.rmtree(self.template, ignore_errors=True)
            self.template = None


def find_build_file(rel):
    """ROOT/build/rel, else the first ROOT/build*/rel of an optimised build
    (sanitizer, debug and fuzz build dirs are skipped)"""
    dirs = [os.path.join(ROOT, "build")] + sorted(glob.glob(os.path.join(ROOT, "build*")))
    for d in dirs:
        base = os.path.basename(d)
        if any(x in base for x in ("san", "fuzz", "debug", "cov")):
            continue
        p = os.path.join(d, rel)
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    return None


def port_busy(port):
    return f":{port} " in sh(["ss", "-uanH"]).stdout


# ------------------------------------------------------------------ bench.py
def bench(a, args, workdir, label, pids_cmd):
    # args last, so that theirs (the sanity step's --dur) win
    npos = next((i for i, x in enumerate(args) if x.startswith("--")), len(args))
    argv = [sys.executable, os.path.join(HERE, "bench.py")] + args[:npos] + [
        # tls_bench.py: SIPp -t t1 to stunnel's port instead
        "--target", getattr(a, "target", None) or f"127.0.0.1:{a.port}", "--workdir", workdir, "--label", label,
        "--server-pids-cmd", pids_cmd,
        # register: the 10,000 users rg0..rg9999 re-registering; invite and
        # message: user0..user9999 calling each other
        "--users", "10000" if set(args) & {"register", "invite", "message", "prereg"} else "100", "--dur", str(a.dur), "--cooldown", str(a.cooldown),
        "--quiet-pct", str(a.quiet_pct), "--quiet-wait", str(a.quiet_wait)] + (
            # a failed call step leaves transactions timing out for up to 32 s
            ["--settle", "45"] if set(args) & set(NEED_PREREG) else []) + (
            ["--retry-noisy", str(a.retry_noisy)] if args[0] == "search" else []) + getattr(
                a, "bench_extra", []) + args[npos:]
    shown = " ".join(shlex.quote(x) for x in argv[1:])
    if getattr(a, "_pid", None):
        shown = shown.replace(str(a._pid), "PID")
    r = subprocess.run(argv, capture_output=True, text=True, timeout=a.dur * 60 + 600)
    sys.stdout.write(r.stdout)
    sys.stderr.write(r.stderr)
    return r, "python3 bench/" + shown.split("/bench/", 1)[-1]


def last_json(path, **match):
    if not os.path.exists(path):
        return None
    out = None
    for line in open(path):
        if line.strip():
            d = json.loads(line)
            if all(d.get(k) == v for k, v in match.items()):
                out = d
    return out


def median(xs):
    xs = sorted(x for x in xs if x is not None)
    return xs[len(xs) // 2] if xs else None


def prereg(a, srv, outdir):
    """register user0..user9999 with the SIPp UAS (bench.py --uas-port) as
    contact, so that invite and message reach it; on every fresh start"""
    wd = os.path.join(outdir, srv.name)
    os.makedirs(wd, exist_ok=True)
    for attempt in range(3):
        # a REGISTER that failed on a busy machine is simply sent again
        r, c = bench(a, ["prereg", "--prereg-rate", "1000"], wd, f"{srv.name}-prereg", srv.pids_cmd)
        ok = "failed=0" in r.stdout and "success=10000" in r.stdout
        if ok:
            break
    if not ok:
        log(f"{srv.name}: prereg of user0..user9999 failed: {r.stdout.strip()[-300:]}")
    return ok, c


def sanity(a, srv, scen, outdir):
    """a short low-rate step must pass, or the server does not answer scen"""
    wd = os.path.join(outdir, srv.name)
    os.makedirs(wd, exist_ok=True)
    bench(a, ["step", scen, "--rate", "500", "--dur", "2"], wd, f"{srv.name}-sanity-{scen}", srv.pids_cmd)
    s = last_json(os.path.join(wd, "steps.jsonl"), label=f"{srv.name}-sanity-{scen}")
    if not s or not s["pass"]:
        return "sanity step (500/s for 2 s) failed: the server does not answer " + scen
    return None


def common_step(a, srv, scen, outdir, i, res):
    """one step at the common rate on a freshly started server; appends to res"""
    rate = a.rate or SCENARIOS[scen][0]
    wd = os.path.join(outdir, srv.name)
    label = f"{srv.name}-step{i}"
    for attempt in range(3):
        r, c = bench(a, ["step", scen, "--rate", str(rate)], wd, label, srv.pids_cmd)
        s = last_json(os.path.join(wd, "steps.jsonl"), label=label)
        if not s or s["pass"] or s["other_cpu_pct"] <= a.retry_noisy:
            break
        log(f"{srv.name}: step failed while others used {s['other_cpu_pct']} % of a CPU: again")
        time.sleep(a.cooldown * 3)
    res["common_rate"] = rate
    res.setdefault("steps", [])
    if s:
        res["steps"].append({k: v for k, v in s.items() if not k.startswith("cmd")})
        res.setdefault("sipp_cmd", s.get("cmd_uac"))
    # the median over the steps that passed (a failed step counts the CPU of
    # retransmissions and lost calls against fewer successes); over all of
    # them only when none passed (flagged in the report by step_pass = 0)
    ok = [x for x in res["steps"] if x["pass"]] or res["steps"]
    res["cpu_s_per_1k"] = median([x["server_cpu_s_per_1k"] for x in ok])
    res["step_pass"] = sum(1 for x in res["steps"] if x["pass"])
    cmd = c.replace("--label " + label, f"--label {srv.name}-stepN")
    if cmd not in res["commands"]:
        res["commands"].append(cmd)


def search_rate(a, srv, scen, outdir, res):
    """bench.py search: the maximum sustained rate; fills res"""
    start = SCENARIOS[scen][1]
    wd = os.path.join(outdir, srv.name)
    label = f"{srv.name}-search"
    r, c = bench(a, ["search", scen, "--start-rate", str(start), "--max-rate", str(a.max_rate),
                     "--factor", "2", "--precision", "0.08", "--max-bisect", "4"],
                 wd, label, srv.pids_cmd)
    res["commands"].append(c)
    sm = last_json(os.path.join(wd, "summary.jsonl"), label=label)
    if sm:
        res["max_rate"] = sm["max_rate"]
        res["first_fail"] = sm["first_fail"]
        b = sm.get("best") or {}
        res["at_max"] = {k: b.get(k) for k in ("server_cpu_pct", "sipp_cpu_pct", "server_cpu_s_per_1k",
                                                 "other_cpu_pct")}


def memory_run(a, srv, outdir, mem):
    """bench.py memory on a freshly started server: register --mem-users
    AORs (mem0..), PSS growth of the server's processes per contact"""
    wd = os.path.join(outdir, srv.name)
    os.makedirs(wd, exist_ok=True)
    label = f"{srv.name}-memory"
    r, c = bench(a, ["memory", "--mem-users", str(a.mem_users), "--mem-rate", str(a.mem_rate)],
                 wd, label, srv.pids_cmd)
    sm = last_json(os.path.join(wd, "summary.jsonl"), label=label)
    mem["commands"] = [c]
    if not sm:
        mem["error"] = "bench.py memory wrote no summary"
        return
    mem.update({k: sm.get(k) for k in ("mem_users", "registered_ok", "failed", "elapsed_s",
                                       "pss_per_contact_B", "rss_sum_per_contact_B")})
    mem["pss_kB_before"] = (sm.get("before") or {}).get("pss_sum_kB")
    mem["pss_kB_after"] = (sm.get("after") or {}).get("pss_sum_kB")
    if not sm.get("registered_ok") or sm["registered_ok"] < 0.99 * a.mem_users:
        mem["error"] = f"only {sm.get('registered_ok')} of {a.mem_users} registered"


def parse_bench(a):
    exe = a.parse_bench or find_build_file("tests/unit/parse_bench") or find_build_file("bench/parse_bench")
    if not exe:
        return None, None
    try:
        r = subprocess.run([exe], capture_output=True, text=True, timeout=300)
        return os.path.relpath(exe, ROOT), (r.stdout + r.stderr).strip()
    except (OSError, subprocess.TimeoutExpired) as e:
        return os.path.relpath(exe, ROOT), f"failed: {e}"


# ------------------------------------------------------------------ report
def fmt(v, nd=0):
    if v is None:
        return "—"
    if isinstance(v, float) and nd:
        return f"{v:.{nd}f}"
    return f"{int(v):,}" if isinstance(v, (int, float)) else str(v)


def ratio(x, y, nd=2):
    if not x or not y:
        return "—"
    return f"{x / y:.{nd}f}"


def table(results, a, mems=None):
    lines = ["| scenario | figure | Kamailio | confab | ratio confab/Kamailio |", "|---|---|---|---|---|"]
    for scen in sorted({sc for (_, sc) in results}, key=list(SCENARIOS).index):
        k = results.get(("kamailio", scen), {})
        c = results.get(("confab", scen), {})
        rate = k.get("common_rate") or c.get("common_rate") or a.rate or SCENARIOS[scen][0]
        u = UNITS.get(scen, "transactions")
        tp = getattr(a, "tp_label", "UDP")
        lines.append(f"| {scen} ({tp}, {a.workers} workers) | max sustained rate, {u}/s (≤ 0.1 % failures) | "
                     f"{fmt(k.get('max_rate'))} | {fmt(c.get('max_rate'))} | "
                     f"{ratio(c.get('max_rate'), k.get('max_rate'))} (higher is better) |")
        ku, cu = k.get("cpu_s_per_1k"), c.get("cpu_s_per_1k")
        lines.append(f"| {scen} ({tp}, {a.workers} workers) | server CPU s per 1,000 {u} at {rate:,}/s "
                     f"(µs per one) | {fmt(ku, 4)} ({fmt(ku and ku * 1000, 1)} µs) | "
                     f"{fmt(cu, 4)} ({fmt(cu and cu * 1000, 1)} µs) | {ratio(cu, ku)} (lower is better) |")
    if mems:
        k, c = mems.get("kamailio", {}), mems.get("confab", {})
        n = k.get("mem_users") or c.get("mem_users") or a.mem_users
        lines.append(f"| memory ({n:,} AORs registered) | PSS growth per contact, bytes | "
                     f"{fmt(k.get('pss_per_contact_B'))} | {fmt(c.get('pss_per_contact_B'))} | "
                     f"{ratio(c.get('pss_per_contact_B'), k.get('pss_per_contact_B'))} (lower is better) |")
    return "\n".join(lines)


def machine():
    cpu = "?"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return f"{os.cpu_count()} CPUs (nproc), {cpu}, kernel {platform.release()}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--servers", default="kamailio,confab", help="comma list, in order")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--port", type=int, default=15060)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--dur", type=int, default=int(os.environ.get("DUR", 10)), help="seconds per step")
    ap.add_argument("--rate", type=int, default=0, help="common offered rate (default per scenario)")
    ap.add_argument("--repeat", type=int, default=3, help="common-rate steps per server (median)")
    ap.add_argument("--max-rate", type=int, default=160000, help="search ceiling (one SIPp ~130k/s)")
    ap.add_argument("--cooldown", type=float, default=3.0)
    ap.add_argument("--nice", type=int, default=0,
                    help="run everything started here (servers, SIPp, bench.py) at this nice value; on a "
                         "machine shared with other work, e.g. -10 (as root) keeps the measured processes "
                         "from being starved by it; applied equally to both servers")
    ap.add_argument("--quiet-pct", type=float, default=15.0,
                    help="before each bench.py run wait until other processes use less than this %% of one CPU")
    ap.add_argument("--quiet-wait", type=float, default=120.0, help="... for at most this many seconds")
    ap.add_argument("--retry-noisy", type=float, default=20.0,
                    help="search: repeat (twice at most) a failed step during which other processes used "
                         "more than this %% of one CPU")
    ap.add_argument("--no-search", action="store_true", help="only the common-rate steps")
    ap.add_argument("--memory", action="store_true",
                    help="also bench.py memory per server (fresh start): --mem-users AORs, PSS per contact")
    ap.add_argument("--mem-users", type=int, default=100000)
    ap.add_argument("--mem-rate", type=int, default=2000, help="registrations/s for the memory run")
    ap.add_argument("--confabd", default=None, help="confabd binary (default: build*/src/daemon/confabd)")
    ap.add_argument("--confabd-args",
                    default="--foreground --config {conf} --set sip.listen=udp:127.0.0.1:{port} "
                            "--set general.workers={workers} --set general.log_level=warn "
                            "--data-dir {datadir}",
                    help="confabd arguments; {port} {workers} {datadir} {conf} are substituted "
                         "({conf}: DATADIR/confab.conf, written here: domain 127.0.0.1, loopback "
                         "allowed past the rate limiter)")
    ap.add_argument("--parse-bench", default=None, help="parse_bench binary (default: build*/tests/unit/parse_bench)")
    ap.add_argument("--out", default=None, help="results dir (default /tmp/sbs-<time>)")
    ap.add_argument("--results", default=None, help="write a markdown report to this file")
    a = ap.parse_args()
    if a.nice:
        os.nice(a.nice)  # inherited by kam.sh/kamailio, confabd, bench.py and SIPp
    out = a.out or f"/tmp/sbs-{time.strftime('%Y%m%d-%H%M%S')}"
    os.makedirs(out, exist_ok=True)
    log(f"results in {out}")
    started = datetime.datetime.now(datetime.timezone.utc)
    results, versions, starts, prereg_cmds = {}, {}, {}, {}
    servers = [{"kamailio": Kamailio, "confab": Confab}[n](a) for n in a.servers.split(",")]
    scens = a.scenarios.split(",")
    for srv in servers:
        versions[srv.name] = srv.version()
        for scen in scens:
            results[(srv.name, scen)] = {"scenario": scen, "server": srv.name, "commands": []}

    def run(srv, what):
        """start srv, run what(srv) per live scenario, stop srv (by PID)"""
        live = [sc for sc in scens if not results[(srv.name, sc)].get("error")]
        if not live:
            return
        if port_busy(a.port):
            log(f"UDP port {a.port} is in use: not starting {srv.name}")
            for sc in live:
                results[(srv.name, sc)]["error"] = f"port {a.port} busy"
            return
        if not srv.start(os.path.join(out, f"{srv.name}.log")):
            for sc in live:
                results[(srv.name, sc)]["error"] = "server did not start"
            return
        try:
            time.sleep(1)
            if any(sc in NEED_PREREG for sc in live):
                ok, c = prereg(a, srv, out)
                prereg_cmds.setdefault(srv.name, c)
                if not ok:
                    for sc in live:
                        if sc in NEED_PREREG:
                            results[(srv.name, sc)]["error"] = "prereg of user0..user9999 failed"
                    live = [sc for sc in live if sc not in NEED_PREREG]
            for sc in live:
                what(srv, sc)
        finally:
            starts[srv.name] = srv.cmd
            srv.stop()
            time.sleep(2)

    def first(srv, sc):
        err = sanity(a, srv, sc, out)
        if err:
            log(f"{srv.name}: {err}")
            results[(srv.name, sc)]["error"] = err
            return
        common_step(a, srv, sc, out, 0, results[(srv.name, sc)])

    # common-rate steps interleaved (K C K C ...) so that both servers see the
    # same conditions on a shared machine; each step on a fresh server
    for i in range(a.repeat):
        for srv in servers:
            log(f"{srv.name}: common-rate step {i + 1}/{a.repeat}")
            run(srv, first if i == 0 else
                (lambda s, sc, i=i: common_step(a, s, sc, out, i, results[(s.name, sc)])))
    if not a.no_search:
        for srv in servers:
            log(f"{srv.name}: rate search")
            run(srv, lambda s, sc: search_rate(a, s, sc, out, results[(s.name, sc)]))
    mems = {}
    if a.memory:
        for srv in servers:
            log(f"{srv.name}: memory ({a.mem_users} AORs)")
            mem = mems[srv.name] = {}
            if port_busy(a.port) or not srv.start(os.path.join(out, f"{srv.name}-memory.log")):
                mem["error"] = "server did not start"
                continue
            try:
                time.sleep(1)
                memory_run(a, srv, out, mem)
            finally:
                srv.stop()
                time.sleep(2)
    for srv in servers:
        if hasattr(srv, "cleanup"):
            srv.cleanup()
    pb_exe, pb_out = parse_bench(a)
    tbl = table(results, a, mems)
    print()
    print(tbl)
    for (name, scen), r in results.items():
        if r.get("error"):
            print(f"* {name} {scen}: {r['error']}")
    if pb_out:
        print(f"\nparser micro-benchmark ({pb_exe}):\n{pb_out}")
    for name, m in mems.items():
        if m.get("error"):
            print(f"* {name} memory: {m['error']}")
    with open(os.path.join(out, "side_by_side.json"), "w") as f:
        json.dump({**{f"{k[0]}/{k[1]}": v for k, v in results.items()},
                   **{f"{k}/memory": v for k, v in mems.items()}}, f, indent=1)
    if a.results:
        write_results(a, out, started, results, versions, starts, tbl, pb_exe, pb_out, mems, prereg_cmds)
        log(f"wrote {a.results}")


def write_results(a, out, started, results, versions, starts, tbl, pb_exe, pb_out, mems=None,
                  prereg_cmds=None):
    sipp_v = sh("sipp -v 2>&1 | grep -o 'SIPp v[^ ]*' | head -1").stdout.strip()
    L = [f"## Side-by-side run of {started:%Y-%m-%d %H:%M} UTC", "",
         f"- Machine: {machine()}; SIPp and the server share these CPUs.",
         f"- Versions: {versions.get('kamailio', '—')}; confabd: {versions.get('confab', '—')}; {sipp_v}",
         f"- Settings: UDP on 127.0.0.1:{a.port}, {a.workers} workers each, {a.dur} s per step, "
         f"CPU figure = median over the passing steps of {a.repeat} at the common rate (a failed "
         f"step is measured again, twice at most); raw data in `{out}`.",
         f"- Command: `python3 bench/side_by_side.py {' '.join(shlex.quote(x) for x in sys.argv[1:])}`",
         "", tbl, ""]
    for (name, scen), r in results.items():
        if r.get("error"):
            L.append(f"- {name} {scen}: **{r['error']}**")
            continue
        steps = r.get("steps", [])
        per = ", ".join(f"{x['server_cpu_s_per_1k']:.4f}" if x.get("server_cpu_s_per_1k") else "—" for x in steps)
        oth = ", ".join(f"{x.get('other_cpu_pct')}" for x in steps)
        L.append(f"- {name} {scen}: common-rate steps {r.get('step_pass')}/{len(steps)} passed; "
                 f"CPU s per 1,000 per step: {per} (median {fmt(r.get('cpu_s_per_1k'), 4)}); "
                 f"server CPU {median([x['server_cpu_pct'] for x in steps])} % of one core; "
                 f"other processes' CPU during the steps (noise, % of one core): {oth}; "
                 f"search: max {fmt(r.get('max_rate'))}/s, first failing {fmt(r.get('first_fail'))}/s, "
                 f"at the max: {r.get('at_max')}")
    for name, m in (mems or {}).items():
        if m.get("error"):
            L.append(f"- {name} memory: **{m['error']}**")
        else:
            L.append(f"- {name} memory: {m.get('registered_ok')} of {m.get('mem_users')} AORs registered "
                     f"({m.get('failed')} failed) in {m.get('elapsed_s')} s; PSS {m.get('pss_kB_before')} kB -> "
                     f"{m.get('pss_kB_after')} kB: {m.get('pss_per_contact_B')} B per contact "
                     f"(RSS sum: {m.get('rss_sum_per_contact_B')} B)")
    L += ["", "Exact commands:", ""]
    for name, cmd in starts.items():
        L.append(f"- start {name}: `{cmd}`")
    for name, cmd in (prereg_cmds or {}).items():
        L.append(f"- {name}, after each start, before invite/message: `{cmd}`")
    for (name, scen), r in results.items():
        for c in r.get("commands", []):
            L.append(f"- {name} {scen}: `{c}`")
        if r.get("sipp_cmd"):
            L.append(f"- SIPp ({name}, one step): `{r['sipp_cmd']}`")
    for name, m in (mems or {}).items():
        for c in m.get("commands", []):
            L.append(f"- {name} memory: `{c}`")
    if pb_out:
        L += ["", f"Parser micro-benchmark (`{pb_exe}`):", "", "```", pb_out, "```"]
    L.append("")
    with open(a.results, "a") as f:
        f.write("\n".join(L) + "\n")


if __name__ == "__main__":
    main()
