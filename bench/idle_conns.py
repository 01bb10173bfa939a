#!/usr/bin/env python3
"""Idle TLS and WebSocket connections: how many a server holds and the
memory each one costs, confabd beside Kamailio 5.6 (tls, websocket modules).

For each server (started here, stopped by its PID) and each mode:

  tls  a TCP connection, the TLS handshake completed, then nothing;
  ws   a TCP connection, the HTTP/1.1 upgrade to SIP over WebSocket
       (RFC 7118: Sec-WebSocket-Protocol: sip) answered 101, then nothing;
  wss  the TLS handshake, then the upgrade.

--procs client processes open --n connections in all, in --chunks equal
steps, from source addresses spread over 127.0.0.2..127.0.0.(1 + --sources)
(so no source address runs out of ephemeral ports); each step the server's
memory is read from /proc (RSS and PSS summed over its processes; confabd
is one process, Kamailio several sharing memory, where PSS is the fair sum)
and the connections the server has established are counted with ss. The
figure: (memory at N - memory at 0) / N, and the slope of a least-squares
line over the steps. Each client process raises its open-file limit to the
hard limit (`ulimit -Hn`, 20,000 here), and so do both servers, which caps
N a little under it.

The certificate (self-signed, P-256) is made here with openssl. Every loop
is bounded (connection count, per-connection timeout, overall deadline);
traffic stays on 127.0.0.0/8.

usage: idle_conns.py [--servers kamailio,confab] [--modes tls,ws] [--n 19000]
                     [--results bench/RESULTS.md]
"""
import argparse, json, multiprocessing as mp, os, resource, shlex, socket, ssl
import subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import side_by_side as sbs  # noqa: E402  (server classes)
from bench import proc_mem, server_pids  # noqa: E402

UPGRADE = ("GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: sip\r\n\r\n")


def log(msg):
    print(f"# {time.strftime('%H:%M:%S')} {msg}", flush=True)


# ------------------------------------------------------------------ clients
def client_proc(idx, mode, port, srcs, conn, timeout):
    """One client process: on ("open", k) open k more connections and
    answer ("opened", ok, errors, first_error); on ("close",) exit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    held, i = [], 0
    req = UPGRADE.format(port=port).encode()
    while True:
        cmd = conn.recv()
        if cmd[0] != "open":
            break
        ok = err = 0
        first = None
        for _ in range(cmd[1]):
            src = srcs[(i * 7 + idx) % len(srcs)]
            i += 1
            s = None
            try:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.settimeout(timeout)
                s.bind((src, 0))
                s.connect(("127.0.0.1", port))
                if mode in ("tls", "wss"):
                    s = ctx.wrap_socket(s)  # the handshake, bounded by the timeout
                if mode in ("ws", "wss"):
                    s.sendall(req)
                    buf = b""
                    while b"\r\n\r\n" not in buf and len(buf) < 4096:
                        d = s.recv(4096)
                        if not d:
                            raise OSError("closed during the upgrade")
                        buf += d
                    if not buf.startswith(b"HTTP/1.1 101"):
                        raise OSError("upgrade answered " + buf.split(b"\r\n", 1)[0].decode(errors="replace"))
                held.append(s)
                ok += 1
            except (OSError, ssl.SSLError) as e:
                err += 1
                first = first or f"{type(e).__name__}: {e}"
                if s:
                    s.close()
        conn.send(("opened", ok, err, first))
    for s in held:
        s.close()


# ------------------------------------------------------------------ server side
def mem(pids):
    rss = pss = 0
    for p in pids:
        r, s = proc_mem(p)
        rss += r
        pss += s
    return rss, pss


def established(port):
    out = subprocess.run(["ss", "-tnH", "state", "established", f"( sport = :{port} )"],
                         capture_output=True, text=True).stdout
    return sum(1 for line in out.splitlines() if line.strip())


def fit(xs, ys):
    n = len(xs)
    if n < 2:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else None


def measure(a, srv, mode, port):
    """open a.n connections in a.chunks steps; returns the result dict"""
    pids = server_pids(srv.pids_cmd)
    srcs = [f"127.0.0.{i}" for i in range(2, 2 + a.sources)]
    per = [a.n // a.procs + (1 if i < a.n % a.procs else 0) for i in range(a.procs)]
    kids = []
    for i in range(a.procs):
        pa, ch = mp.Pipe()
        p = mp.Process(target=client_proc, args=(i, mode, port, srcs, ch, a.timeout), daemon=True)
        p.start()
        kids.append((p, pa))
    time.sleep(1)
    r0, p0 = mem(pids)
    steps = [{"conns": 0, "established": established(port), "rss_kB": r0, "pss_kB": p0}]
    total = errors = 0
    first_err = died = None
    deadline = time.time() + a.deadline
    t0 = time.time()
    for c in range(a.chunks):
        for (p, pa), k in zip(kids, per):
            pa.send(("open", k // a.chunks + (1 if c < k % a.chunks else 0)))
        for p, pa in kids:
            left = max(1.0, deadline - time.time())
            if not pa.poll(left):
                log("a client did not finish its chunk before the deadline")
                break
            _, ok, err, first = pa.recv()
            total += ok
            errors += err
            first_err = first_err or first
        time.sleep(a.settle)
        r, pss = mem(pids)
        est = established(port)
        steps.append({"conns": total, "established": est, "rss_kB": r, "pss_kB": pss,
                      "t_s": round(time.time() - t0, 1)})
        log(f"{srv.name} {mode}: {total} open ({errors} failed), server sees {est}; "
            f"RSS {r} kB, PSS {pss} kB")
        if not all(os.path.exists(f"/proc/{p}") for p in pids):
            died = f"the server died between {steps[-2]['conns']} and {total} connections"
            log(died)
            break
        if time.time() > deadline or errors > a.n // 10:
            break
    # still held after a pause? (a server closing idle ones would show here)
    time.sleep(a.hold)
    est_end = established(port)
    r1, p1 = mem(pids)
    for p, pa in kids:
        pa.send(("close",))
    for p, pa in kids:
        p.join(30)
        if p.is_alive():
            p.kill()  # our own child, by pid
    # the figure comes from the last step the server held completely (a
    # server that died or dropped connections is reported, not measured)
    good = [x for x in steps if x["conns"] and x["rss_kB"] and x["established"] >= 0.98 * x["conns"]]
    last = good[-1] if good else steps[-1]
    n = last["conns"] or 1
    res = {"died": died, "measured_at": last["conns"],"server": srv.name, "mode": mode, "asked": a.n, "opened": total, "failed": errors,
           "first_error": first_err, "established_after_hold": est_end, "hold_s": a.hold,
           "rss_kB_0": r0, "rss_kB_n": last["rss_kB"], "pss_kB_0": p0, "pss_kB_n": last["pss_kB"],
           "rss_per_conn_B": round((last["rss_kB"] - r0) * 1024 / n),
           "pss_per_conn_B": round((last["pss_kB"] - p0) * 1024 / n),
           "rss_kB_after_hold": r1, "pss_kB_after_hold": p1, "steps": steps}
    fs = [steps[0]] + good
    s_r = fit([s["conns"] for s in fs], [s["rss_kB"] for s in fs])
    s_p = fit([s["conns"] for s in fs], [s["pss_kB"] for s in fs])
    res["rss_slope_B"] = s_r and round(s_r * 1024)
    res["pss_slope_B"] = s_p and round(s_p * 1024)
    return res


# ------------------------------------------------------------------ servers
def make_cert(d):
    key, crt = os.path.join(d, "key.pem"), os.path.join(d, "cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", key, "-out", crt, "-days", "30", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    cfg = os.path.join(d, "kamailio-tls.cfg")
    with open(cfg, "w") as f:
        f.write(f"[server:default]\nmethod = TLSv1.2+\nverify_certificate = no\nrequire_certificate = no\n"
                f"private_key = {key}\ncertificate = {crt}\n\n"
                f"[client:default]\nverify_certificate = no\nrequire_certificate = no\n")
    return crt, key, cfg


def servers(a, crt, key, kcfg):
    """the two servers of side_by_side.py with the TLS, WS and WSS listeners
    on port+1, +2, +3 and the connection limits raised"""
    a.confabd_args = sbs_default_confab_args(a)
    out = []
    for name in a.servers.split(","):
        if name == "kamailio":
            k = sbs.Kamailio(a)
            defs = (f"-A WITH_TLS -A TLS_PORT={a.port + 1} -A TLS_CFG=\"{kcfg}\" -A WITH_WS "
                    f"-A WS_PORT={a.port + 2} -A TCP_MAX={a.tcp_max}")
            k.env["KAM_DEFS"] = defs
            # its connections live in shared memory: room for --n of them
            k.env["KAM_SHM"] = str(a.kam_shm)
            k.cmd = f"KAM_SHM={a.kam_shm} KAM_DEFS='{defs}' " + k.cmd
            out.append(k)
        elif name == "confab":
            out.append(sbs.Confab(a))
    return out


def sbs_default_confab_args(a):
    listen = (f"udp:127.0.0.1:{{port}}, tls:127.0.0.1:{a.port + 1}, ws:127.0.0.1:{a.port + 2}, "
              f"wss:127.0.0.1:{a.port + 3}")
    return (f"--foreground --config {{conf}} --set 'sip.listen={listen}' "
            f"--set sip.tcp_max_connections={a.tcp_max} --set sip.tcp_max_per_ip={a.tcp_max} "
            f"--set tls.certificate={a._crt} --set tls.private_key={a._key} "
            "--set general.workers={workers} --set general.log_level=warn --data-dir {datadir}")


MODE_PORT = {"tls": 1, "ws": 2, "wss": 3}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--servers", default="kamailio,confab")
    ap.add_argument("--modes", default="tls,ws", help="tls, ws, wss (Kamailio: wss not configured here)")
    ap.add_argument("--n", type=int, default=19000, help="connections to open (fd hard limit: %d)"
                    % resource.getrlimit(resource.RLIMIT_NOFILE)[1])
    ap.add_argument("--chunks", type=int, default=4)
    ap.add_argument("--procs", type=int, default=2, help="client processes")
    ap.add_argument("--sources", type=int, default=200, help="source addresses 127.0.0.2..")
    ap.add_argument("--timeout", type=float, default=10.0, help="per connection")
    ap.add_argument("--deadline", type=float, default=600.0, help="per server and mode, seconds")
    ap.add_argument("--settle", type=float, default=3.0, help="pause before each memory reading")
    ap.add_argument("--hold", type=float, default=10.0, help="pause at N before the last count")
    ap.add_argument("--port", type=int, default=15660, help="UDP port; TLS +1, WS +2, WSS +3")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--tcp-max", type=int, default=30000)
    ap.add_argument("--kam-shm", type=int, default=4096, help="Kamailio shared memory, MB")
    ap.add_argument("--confabd", default=None)
    ap.add_argument("--out", default=None)
    ap.add_argument("--results", default=None, help="append a markdown section to this file")
    a = ap.parse_args()
    a.dur, a.confabd_args = 10, ""
    tmp = tempfile.mkdtemp(prefix="idle-conns-")
    a._crt, a._key, kcfg = make_cert(tmp)
    out = a.out or f"/tmp/idle-{time.strftime('%Y%m%d-%H%M%S')}"
    os.makedirs(out, exist_ok=True)
    results, starts, versions = [], {}, {}
    for srv in servers(a, a._crt, a._key, kcfg):
        versions[srv.name] = srv.version()
        for mode in a.modes.split(","):
            if srv.name == "kamailio" and mode == "wss":
                continue
            if sbs.port_busy(a.port):
                log(f"UDP port {a.port} busy: skipping {srv.name}")
                continue
            if not srv.start(os.path.join(out, f"{srv.name}-{mode}.log")):
                results.append({"server": srv.name, "mode": mode, "error": "server did not start"})
                continue
            starts[srv.name] = srv.cmd
            try:
                time.sleep(2)
                r = measure(a, srv, mode, a.port + MODE_PORT[mode])
                results.append(r)
                log(json.dumps({k: v for k, v in r.items() if k != "steps"}))
            finally:
                srv.stop()
                time.sleep(2)
        if hasattr(srv, "cleanup"):
            srv.cleanup()
    with open(os.path.join(out, "idle_conns.json"), "w") as f:
        json.dump(results, f, indent=1)
    tbl = table(results)
    print(tbl)
    if a.results:
        with open(a.results, "a") as f:
            f.write(f"\n## Idle connections run of {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC\n\n"
                    f"- Machine: {sbs.machine()}; fd hard limit {resource.getrlimit(resource.RLIMIT_NOFILE)[1]}.\n"
                    f"- Versions: {versions.get('kamailio', '—')}; confabd: {versions.get('confab', '—')}.\n"
                    f"- Command: `python3 bench/idle_conns.py {' '.join(shlex.quote(x) for x in sys.argv[1:])}`; "
                    f"raw data in `{out}`.\n\n{tbl}\n\n")
            for r in results:
                if "steps" in r:
                    f.write(f"- {r['server']} {r['mode']}: steps (connections, established at the server, "
                            f"RSS kB, PSS kB): " + "; ".join(
                                f"{s['conns']}, {s['established']}, {s['rss_kB']}, {s['pss_kB']}"
                                for s in r["steps"]) + f"; first error: {r['first_error']}\n")
            f.write("\n" + "\n".join(f"- start {k}: `{v}`" for k, v in starts.items()) + "\n")


def table(results):
    by = {(r["server"], r["mode"]): r for r in results}
    L = ["| mode | figure | Kamailio | confab | ratio confab/Kamailio |", "|---|---|---|---|---|"]
    for mode in sorted({r["mode"] for r in results}, key=list(MODE_PORT).index):
        k, c = by.get(("kamailio", mode), {}), by.get(("confab", mode), {})

        def g(r, key):
            return r.get(key) if r else None

        def rt(x, y):
            return f"{x / y:.2f}" if x and y else "—"
        def held(r):
            if not r:
                return None
            if r.get("died"):
                return f"{r['measured_at']} (then {r['died']})"
            return r.get("established_after_hold")
        L.append(f"| {mode} | idle connections held (asked {g(k, 'asked') or g(c, 'asked')}; "
                 f"established at the server after {g(k, 'hold_s') or g(c, 'hold_s')} s) | "
                 f"{held(k)} | {held(c)} | "
                 f"{rt(g(c, 'measured_at'), g(k, 'measured_at'))} |")
        for key, what in (("measured_at", "connections the memory figures are measured at"),
                          ("pss_per_conn_B", "PSS growth per connection, bytes"),
                          ("rss_per_conn_B", "RSS growth per connection, bytes (Kamailio: summed over its "
                                             "processes, shared pages counted in each)"),
                          ("pss_slope_B", "PSS slope over the steps, bytes per connection")):
            L.append(f"| {mode} | {what} | {g(k, key)} | {g(c, key)} | {rt(g(c, key), g(k, key))} |")
    return "\n".join(L)


if __name__ == "__main__":
    main()
