#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""interop.py - issue 3 (registrar, digest auth, store, confabctl) against
real peers: SIPp scenarios, baresip 1.0, linphonec, kill -9 and restart.

Usage: interop.py --confabd EXE --confabctl EXE CASE

Built on tests/scenarios/run.py (its Daemon, sipp and socket helpers): each
CASE starts its own confabd on free loopback ports with a temporary data
directory, provisions the users it needs with confabctl, drives the peers,
then stops confabd with SIGTERM (exit 0, no sanitizer report).

Exit 0 on success, 1 on failure. A missing program (sipp, baresip,
linphonec, confabd, confabctl) is a failure, never a skip. Every wait is
bounded; peers are started with a hard time limit and stopped by PID.
"""

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIOS = os.path.join(os.path.dirname(HERE), "scenarios")
sys.path.insert(0, SCENARIOS)
import run  # noqa: E402  (tests/scenarios/run.py)
from run import (DOMAIN, Daemon, Failure, check, free_port,  # noqa: E402
                 header, status_line, udp_socket, udp_recv)
from cdrcheck import expect_cdr  # noqa: E402  (CDRs, issue 4 point 6)

# Configuration keys of the auth module and the registrar (docs/security.md
# and docs/configuration.md on their branches). One place to adjust.
KEY_NONCE_LIFETIME = "auth.nonce_lifetime"
KEY_RATE = "security.rate"                # requests per second per source
KEY_RATE_BURST = "security.burst"
KEY_BAN_TIME = "security.ban_time"
KEY_ALLOW = "security.allow"              # static allow list
KEY_MIN_EXPIRES = "registrar.min_expires"
KEY_UNKNOWN_USER = "auth.unknown_user"
KEY_ALGORITHMS = "auth.algorithms"
KEY_MD5_ONLY_AGENTS = "auth.md5_only_agents"

PEERS = []   # (name, Popen) of every peer started: killed by PID at the end


# ------------------------------------------------------------ provisioning

def ctl(d, *argv, ok=True, timeout=20):
    """confabctl --config CONF ARGV (daemon running: the socket; stopped:
    the store directly). ok=True: must exit 0."""
    r = d.ctl_run(*argv, timeout=timeout)
    out = (r.stdout + r.stderr).strip()
    print("$ confabctl %s -> %d %s" % (" ".join(argv), r.returncode,
                                       out[:300].replace("\n", " | ")),
          flush=True)
    if ok:
        check(r.returncode == 0, "confabctl %s exits 0 (%d: %s)"
              % (" ".join(argv), r.returncode, out[:300]))
    return r


def add_users(d, users):
    """users: {user: password} at DOMAIN."""
    for u, pw in users.items():
        ctl(d, "user", "add", "%s@%s" % (u, DOMAIN), "--password", pw)


def daemon(args, tmp, extra=None, users=None, offline=False, tls=False):
    """A started confabd with users provisioned (offline: with confabctl on
    the store before the daemon starts; else over the control socket);
    tls: with a TLS listener too (d.tls_port, self-signed certificate)."""
    conf = {"general.log_level": "debug"}
    conf.update(extra or {})
    d = Daemon(args, tmp, conf, tls=tls)
    if users and offline:
        add_users(d, users)
    d.start()
    if users and not offline:
        add_users(d, users)
    return d


def user_show(d, user):
    return ctl(d, "user", "show", "%s@%s" % (user, DOMAIN)).stdout


# -------------------------------------------------------------------- sipp

def sipp(d, scenario, transport="u1", fields=None, trace=False,
         extra=()):
    """Run tests/scenarios/SCENARIO once, with an injection file of one
    line: fields (base_fields()). Returns the message log when trace."""
    exe = shutil.which("sipp")
    if exe is None:
        raise Failure("sipp not found (package sip-tester)")
    local = free_port()
    tag = "%s-%d" % (os.path.splitext(scenario)[0], local)
    inf = os.path.join(d.tmp, tag + ".csv")
    f = fields or base_fields()
    with open(inf, "w") as fh:
        fh.write("SEQUENTIAL\n%s;[authentication username=%s password=%s]"
                 ";%s;%s;%s\n" % (f["user"], f["auth_user"], f["password"],
                                   DOMAIN, f.get("replay", "X-None: 1"),
                                   f.get("spare", "")))
    cmd = [exe, "127.0.0.1:%d" % d.port,
           "-sf", os.path.join(SCENARIOS, scenario), "-inf", inf,
           "-i", "127.0.0.1", "-p", str(local), "-t", transport,
           "-m", "1", "-l", "1", "-timeout", "30s", "-timeout_error",
           "-nostdin", "-trace_err",
           "-error_file", os.path.join(d.tmp, tag + ".err")]
    msg_file = os.path.join(d.tmp, tag + ".msg")
    if trace:
        cmd += ["-trace_msg", "-message_file", msg_file]
    cmd += list(extra)
    print("$ " + " ".join(cmd), flush=True)
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=90, cwd=d.tmp)
    if r.returncode != 0:
        sys.stdout.write(r.stdout[-2000:] + r.stderr[-2000:])
        sys.stdout.write(read(os.path.join(d.tmp, tag + ".err"))[-5000:])
    check(r.returncode == 0, "sipp %s over %s exits 0 (got %d)"
          % (scenario, transport, r.returncode))
    return read(msg_file) if trace else ""


def base_fields(user="alice", password="pw", auth_user=None):
    return {"user": user, "password": password,
            "auth_user": auth_user or user}


# ------------------------------------------------------------- SIPp cases

def case_reg_auth_udp(args, tmp):
    """REGISTER → 401 with an MD5 challenge first (qop=auth, realm = the
    domain) → REGISTER with credentials → 200 listing the binding with its
    expires and a Date header; user show lists it."""
    d = daemon(args, tmp, users={"alice": "pw"})
    sipp(d, "reg_auth.xml", "u1", base_fields())
    out = user_show(d, "alice")
    check("127.0.0.1" in out, "confabctl user show lists alice's binding:\n"
          + out)
    d.stop()


def case_reg_auth_tcp(args, tmp):
    """The same over TCP."""
    d = daemon(args, tmp, users={"alice": "pw"})
    sipp(d, "reg_auth.xml", "t1", base_fields())
    out = user_show(d, "alice")
    check("transport=tcp" in out.lower() or "tcp" in out.lower(),
          "user show lists alice's TCP binding:\n" + out)
    d.stop()


def case_reg_wrong_password(args, tmp):
    """A wrong password is answered 401 with a fresh challenge (twice), and
    nothing is bound."""
    d = daemon(args, tmp, users={"alice": "pw"})
    sipp(d, "reg_wrong_password.xml", "u1", base_fields(password="wrong"))
    out = user_show(d, "alice")
    check("127.0.0.1:" not in out, "no binding for alice after wrong "
          "passwords:\n" + out)
    d.stop()


def case_reg_replay(args, tmp):
    """Nonce-count replay: a REGISTER that succeeded (200) is sent again
    byte for byte with the same Authorization, in the same Call-ID (CSeq
    +1) and in a new Call-ID: each gets a new 401 challenge, not 200."""
    d = daemon(args, tmp, users={"alice": "pw"})
    log = sipp(d, "reg_auth.xml", "u1", base_fields(), trace=True)
    auths = re.findall(r"(?im)^Authorization:[^\r\n]*", log)
    check(len(auths) >= 1, "captured the Authorization SIPp sent: %s"
          % (auths[:1],))
    auth = auths[-1].strip()
    cid = re.findall(r"(?im)^Call-ID:\s*([^\r\n]*)", log)[0].strip()
    f = base_fields()
    f["replay"] = auth
    print("replaying: %s (Call-ID %s)" % (auth, cid), flush=True)
    sipp(d, "reg_replay.xml", "u1", f, extra=("-cid_str", cid))
    sipp(d, "reg_replay.xml", "u1", f)
    d.stop()


def case_reg_stale(args, tmp):
    """A nonce older than [auth] nonce_lifetime (10 s, the smallest) is
    answered 401 with stale=true (and the fresh nonce then works)."""
    d = daemon(args, tmp, {KEY_NONCE_LIFETIME: "10"}, users={"alice": "pw"})
    sipp(d, "reg_stale.xml", "u1", base_fields())
    d.stop()


def case_reg_unknown_user(args, tmp):
    """Credentials of a user the domain does not have are answered like a
    wrong password by default (a new 401, docs/security.md), never 200;
    nothing is bound."""
    d = daemon(args, tmp, users={"alice": "pw"})
    sipp(d, "reg_unknown_user.xml", "u1",
         base_fields(user="nobody", password="pw"))
    r = ctl(d, "location", "show")
    check("nobody@" not in r.stdout, "no binding for nobody:\n" + r.stdout)
    d.stop()


def case_reg_unknown_user_404(args, tmp):
    """With [auth] unknown_user = 404: 404 after the credentials."""
    d = daemon(args, tmp, {KEY_UNKNOWN_USER: "404"}, users={"alice": "pw"})
    sipp(d, "reg_unknown_user_404.xml", "u1",
         base_fields(user="nobody", password="pw"))
    d.stop()


def case_reg_bindings(args, tmp):
    """§10.3: add two contacts (q-values), query, refresh one, remove one
    (Expires: 0 on its Contact), remove all (Contact: *, Expires: 0),
    query again; each 200 lists exactly the current bindings."""
    d = daemon(args, tmp, users={"alice": "pw"})
    sipp(d, "reg_bindings.xml", "u1", base_fields())
    out = user_show(d, "alice")
    check("127.0.0.1:" not in out, "no binding left after remove all:\n"
          + out)
    d.stop()


def case_reg_interval_too_brief(args, tmp):
    """Expires below [registrar] min_expires → 423 with Min-Expires."""
    d = daemon(args, tmp, {KEY_MIN_EXPIRES: "60"}, users={"alice": "pw"})
    sipp(d, "reg_423.xml", "u1", base_fields())
    d.stop()


def case_reg_identity_mismatch(args, tmp):
    """bob's credentials (right password) on a REGISTER for alice's AOR →
    403, and no binding for alice."""
    d = daemon(args, tmp, users={"alice": "pw", "bob": "pwb"})
    sipp(d, "reg_identity.xml", "u1",
         base_fields(user="alice", password="pwb", auth_user="bob"))
    out = user_show(d, "alice")
    check("127.0.0.1:" not in out, "no binding for alice:\n" + out)
    d.stop()


def case_rate_limit_ban(args, tmp):
    """A flood of 400 OPTIONS from 127.0.0.2 past [security] rate 20/s with
    burst 20: the first are answered 200, then the source is banned and
    answered 503 with Retry-After; `confabctl ban list` names 127.0.0.2
    and 127.0.0.1 is still served."""
    d = daemon(args, tmp, {KEY_RATE: "20", KEY_RATE_BURST: "20",
                           KEY_BAN_TIME: "60"})
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.2", 0))
    sent, got, retry_after = 400, {}, 0

    def drain(timeout):
        nonlocal retry_after
        u.settimeout(timeout)
        try:
            while True:
                r = u.recv(70000).decode(errors="replace")
                code = status_line(r).split(" ")[1]
                got[code] = got.get(code, 0) + 1
                if code == "503" and header(r, "Retry-After"):
                    retry_after += 1
        except (socket.timeout, BlockingIOError):
            pass
    for i in range(sent):
        u.sendto(run.request("OPTIONS", d.port, cseq=i + 1),
                 ("127.0.0.1", d.port))
        drain(0.001)
    drain(1.0)
    u.close()
    print("answers to the flood: %s" % got, flush=True)
    check(got.get("200", 0) >= 10, "the first OPTIONS (the burst) were "
          "answered 200 (%d)" % got.get("200", 0))
    check(got.get("200", 0) <= 100, "at most 100 of %d were answered 200 "
          "(%d)" % (sent, got.get("200", 0)))
    check(got.get("503", 0) > 0 and retry_after == got.get("503", 0),
          "the rest got 503 with Retry-After (%d 503, %d with Retry-After)"
          % (got.get("503", 0), retry_after))
    r = ctl(d, "ban", "list")
    check("127.0.0.2" in r.stdout, "confabctl ban list names 127.0.0.2:\n"
          + r.stdout)
    check("127.0.0.1\n" not in r.stdout and '"127.0.0.1"' not in r.stdout,
          "and not 127.0.0.1")
    u = udp_socket()
    u.sendto(run.request("OPTIONS", d.port), ("127.0.0.1", d.port))
    check(status_line(udp_recv(u)).startswith("SIP/2.0 200"),
          "127.0.0.1 is still answered 200")
    u.close()
    d.stop()


# ---------------------------------------------------------------- baresip

def start_peer(name, argv, log, env=None, stdin=subprocess.DEVNULL):
    exe = shutil.which(argv[0])
    if exe is None:
        raise Failure("%s not found" % argv[0])
    out = open(log, "w")
    p = subprocess.Popen([exe] + argv[1:], stdin=stdin, stdout=out,
                         stderr=subprocess.STDOUT, env=env,
                         start_new_session=True)
    PEERS.append((name, p))
    print("%s pid %d: %s" % (name, p.pid, " ".join(argv)), flush=True)
    return p


def stop_peer(p, grace=3):
    """SIGTERM by PID, then SIGKILL after grace seconds."""
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=5)


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def wait_for(pred, secs, what):
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    raise Failure("timed out after %d s waiting for %s" % (secs, what))


def baresip_dir(tmp, user, password, d, transport, regint, name=None,
                answermode="auto", ctrl=None, contacts=(), config=""):
    """A baresip config dir for user (name: its directory, for a second
    instance of the same user); ctrl: the ctrl_tcp port (else a free one);
    contacts: SIP URIs for its contacts file (the first is the current
    contact, the target of the ctrl command `message`); config: more lines
    for its config file."""
    cdir = os.path.join(tmp, "baresip-" + (name or user))
    os.makedirs(cdir, exist_ok=True)
    sip = free_port()
    while True:   # it also binds TLS on sip+1: keep that free too
        try:
            s = socket.socket()
            s.bind(("127.0.0.1", sip + 1))
            s.close()
            break
        except OSError:
            sip = free_port()
    rtp = free_port()
    with open(os.path.join(cdir, "config"), "w") as f:
        f.write("""poll_method epoll
sip_listen 127.0.0.1:%d
net_interface 127.0.0.1
audio_source ausine,440
audio_player aubridge,nil
audio_alert aubridge,nil
ausrc_srate 48000
auplay_srate 48000
ausrc_channels 2
auplay_channels 2
rtp_ports %d-%d
rtp_stats yes
module_path /usr/lib/baresip/modules
module cons.so
module g711.so
module ausine.so
module aubridge.so
module_tmp account.so
module_app contact.so
module_app menu.so
module_app ctrl_tcp.so
module_app debug_cmd.so
ctrl_tcp_listen 127.0.0.1:%d
cons_listen 127.0.0.1:%d
""" % (sip, rtp, rtp + 20, ctrl or free_port(), free_port()))
        if transport == "tls":
            # confabd's self-signed certificate, made at its first start
            f.write("sip_cafile %s\n" % os.path.join(d.data, "tls",
                                                      DOMAIN + ".crt"))
        f.write(config)
    with open(os.path.join(cdir, "accounts"), "w") as f:
        f.write('<sip:%s@%s;transport=%s>;auth_pass=%s;'
                'outbound="sip:127.0.0.1:%d;transport=%s";regint=%d;'
                'pubint=0;answermode=%s;mwi=no\n'
                % (user, DOMAIN, transport, password,
                   d.tls_port if transport == "tls" else d.port, transport,
                   regint, answermode))
    with open(os.path.join(cdir, "contacts"), "w") as f:
        for uri in contacts:
            f.write("<%s>\n" % uri)
    return cdir, sip


def count_register_200(log):
    """200 OK responses to REGISTER in a baresip -s (SIP trace) log."""
    return len(re.findall(r"SIP/2\.0 200 OK\r?\n(?:[^\n]*\n){0,25}?"
                          r"CSeq: *\d+ REGISTER", log))


def baresip_register(args, tmp, transport):
    """baresip registers with a password (401, then 200 [1 binding]) and
    refreshes before expiry (regint 10 s): at least two 200s to its
    REGISTERs in its SIP trace, and 15 s after the first one the binding
    is still listed (it would have expired without a refresh); confabctl
    user show and location show list its contact. Default digest
    configuration: baresip is on [auth] md5_only_agents, so its 401 offers
    MD5 alone (see baresip_all_algs)."""
    conf = {KEY_MIN_EXPIRES: "5"}
    d = daemon(args, tmp, conf, users={"bob": "pwbob"},
               tls=transport == "tls")
    regint = 10
    cdir, sip = baresip_dir(tmp, "bob", "pwbob", d, transport, regint)
    if transport == "tls":
        sip += 1  # baresip's TLS listener, its Contact
    log = os.path.join(tmp, "baresip.log")
    p = start_peer("baresip", ["baresip", "-f", cdir, "-s", "-t", "40"], log)
    try:
        wait_for(lambda: re.search(r"200 OK.*\[\d+ binding", read(log)),
                 12, "baresip's '200 OK ... [1 binding]'")
        t0 = time.monotonic()
        check(True, "baresip registered bob over %s" % transport)
        chal = re.findall(r"WWW-Authenticate:[^\r\n]*", read(log))
        check(chal and all("algorithm=MD5" in c for c in chal),
              "its 401 offered MD5 alone (md5_only_agents): %s" % chal[:3])
        out = user_show(d, "bob")
        check("127.0.0.1:%d" % sip in out, "confabctl user show bob lists "
              "the contact 127.0.0.1:%d:\n%s" % (sip, out))
        r = ctl(d, "location", "show", "sip:bob@" + DOMAIN)
        check("127.0.0.1:%d" % sip in r.stdout,
              "location show lists it:\n" + r.stdout)
        wait_for(lambda: count_register_200(read(log)) >= 2, regint + 8,
                 "baresip's refresh (a second 200 to its REGISTER)")
        check(True, "baresip refreshed its registration (%d REGISTERs "
              "answered 200)" % count_register_200(read(log)))
        time.sleep(max(0.0, t0 + regint + 5 - time.monotonic()))
        r = ctl(d, "location", "show", "sip:bob@" + DOMAIN)
        check("127.0.0.1:%d" % sip in r.stdout, "%d s after the first "
              "200 (past its expires) the binding is still there:\n%s"
              % (regint + 5, r.stdout))
        if transport == "tls":
            st = d.status_json()
            check(run.counter(st, "tls_handshakes")[0] >= 1
                  and run.counter(st, "tls_handshake_failures")[0] == 0,
                  "confabd counted baresip's TLS handshake, no failure")
    finally:
        stop_peer(p)
        print("--- baresip log (tail)\n" + read(log)[-1500:], flush=True)
    d.stop()


def case_baresip_udp(args, tmp):
    baresip_register(args, tmp, "udp")


def case_baresip_tcp(args, tmp):
    baresip_register(args, tmp, "tcp")


def case_baresip_tls(args, tmp):
    """baresip (account ;transport=tls, trusting confabd's self-signed
    certificate) registers and refreshes over TLS; confabd counted the
    handshake."""
    baresip_register(args, tmp, "tls")


def case_baresip_all_algs(args, tmp):
    """Why [auth] md5_only_agents exists, pinned: with it emptied (`none`)
    baresip gets the full offer (MD5 first, then SHA-256, SHA-512-256),
    refuses the whole 401 ("Function not implemented": Debian's baresip
    1.0.0 links libre 1.1.0, whose digest code gives up on any header that
    names an algorithm other than MD5) and sends no credentials, so nothing
    is bound. If baresip ever registers here, the knob can go."""
    d = daemon(args, tmp, {KEY_MD5_ONLY_AGENTS: "none"},
               users={"bob": "pwbob"})
    cdir, sip = baresip_dir(tmp, "bob", "pwbob", d, "udp", 60)
    log = os.path.join(tmp, "baresip.log")
    p = start_peer("baresip", ["baresip", "-f", cdir, "-s", "-t", "20"], log)
    try:
        wait_for(lambda: "Function not implemented" in read(log), 10,
                 "baresip's 'Register: Function not implemented'")
        text = read(log)
        chal = re.findall(r"WWW-Authenticate:[^\r\n]*", text)
        check(len(chal) >= 3 and "algorithm=MD5" in chal[0],
              "baresip got the 401 with MD5 first of %d: %s"
              % (len(chal), chal[:3]))
        check("Authorization:" not in text,
              "baresip sent no credentials")
        r = ctl(d, "location", "show")
        check("127.0.0.1:%d" % sip not in r.stdout,
              "nothing bound for baresip:\n" + r.stdout)
    finally:
        stop_peer(p)
        print("--- baresip log (tail)\n" + read(log)[-1500:], flush=True)
    d.stop()


# -------------------------------------------------------------- linphonec

def case_linphonec(args, tmp):
    """linphonec registers with a password: `status register` says
    registered and confabctl user show lists its binding."""
    d = daemon(args, tmp, users={"carol": "pwcarol"})
    ld = os.path.join(tmp, "linphone")
    os.makedirs(ld)
    port = free_port()
    rtp = free_port()
    with open(os.path.join(ld, "linphonerc"), "w") as f:
        f.write("""[sip]
sip_port=%d
sip_tcp_port=0
sip_tls_port=0
bind_address=127.0.0.1
register_only_when_network_is_up=0
[rtp]
audio_rtp_port=%d-%d
[video]
enabled=0
capture=0
display=0
[sound]
echocancellation=0
[storage]
backend=sqlite3
uri=%s/user.db
""" % (port, rtp, rtp + 20, ld))
    fifo = os.path.join(ld, "in.fifo")
    os.mkfifo(fifo)
    env = dict(os.environ, HOME=ld, XDG_DATA_HOME=ld + "/.local/share",
               XDG_CONFIG_HOME=ld + "/.config")
    log = os.path.join(tmp, "linphonec.log")
    if shutil.which("linphonec") is None:
        raise Failure("linphonec not found (package linphone-cli)")
    # We hold the FIFO open for writing, so linphonec never sees EOF.
    wfd = os.open(fifo, os.O_RDWR)
    p = start_peer("linphonec", ["timeout", "35", "linphonec", "-c",
                                 os.path.join(ld, "linphonerc"), "-d", "0"],
                   log, env=env, stdin=wfd)

    def say(cmd):
        os.write(wfd, (cmd + "\n").encode())
    try:
        time.sleep(1.5)
        say("register sip:carol@%s sip:127.0.0.1:%d pwcarol"
            % (DOMAIN, d.port))

        def registered():
            say("status register")
            time.sleep(0.5)
            return re.search(r"registered, identity=sip:carol@"
                             + re.escape(DOMAIN), read(log))
        wait_for(registered, 12, "linphonec: status register registered")
        check(True, "linphonec: 'status register' says registered")
        out = user_show(d, "carol")
        check(str(port) in out, "confabctl user show carol lists "
              "linphonec's contact (port %d):\n%s" % (port, out))
        say("quit")
    finally:
        stop_peer(p)
        os.close(wfd)
        print("--- linphonec log (tail)\n" + read(log)[-3000:], flush=True)
    d.stop()


# ------------------------------------------------------------ calls (issue 4)

class Baresip:
    """One baresip instance registered at d: its log (-s: SIP trace), its
    ctrl_tcp port and its Popen; stopped by PID."""

    def __init__(self, d, tmp, user, password, name=None, answermode="auto",
                 secs=60, transport="udp", contacts=(), config=""):
        self.name = name or user
        self.ctrl = free_port()
        self.cdir, self.sip = baresip_dir(tmp, user, password, d, transport,
                                          120, name=self.name,
                                          answermode=answermode,
                                          ctrl=self.ctrl, contacts=contacts,
                                          config=config)
        if transport == "tls":
            self.sip += 1   # its TLS listener, its Contact
        self.log = os.path.join(tmp, "baresip-%s.log" % self.name)
        self.p = start_peer("baresip-" + self.name,
                            ["baresip", "-f", self.cdir, "-s", "-t",
                             str(secs)], self.log)

    def text(self):
        return read(self.log)

    def registered(self, secs=12):
        wait_for(lambda: re.search(r"200 OK.*\[\d+ binding", self.text()),
                 secs, "%s: '200 OK ... [N binding]'" % self.name)

    def cmd(self, command, params="", secs=5):
        """A ctrl_tcp command (a JSON netstring); returns the response
        text (the JSON of the answer, may be empty)."""
        import json
        j = json.dumps({"command": command, "params": params, "token": "1"})
        s = socket.create_connection(("127.0.0.1", self.ctrl), timeout=secs)
        buf = b""
        try:
            s.sendall(b"%d:%s," % (len(j), j.encode()))
            deadline = time.monotonic() + secs
            while time.monotonic() < deadline:
                try:
                    chunk = s.recv(65536)
                except socket.timeout:
                    break
                if not chunk:
                    break
                buf += chunk
                if b'"response"' in buf and buf.rstrip().endswith(b","):
                    break
        finally:
            s.close()
        out = buf.decode(errors="replace")
        print("%s ctrl %s %s -> %s" % (self.name, command, params,
                                       out[:1500]), flush=True)
        return out

    def hangup(self, tries=3):
        """The hangup command, sent again (at most tries times) while
        baresip's control socket gives no answer: on a loaded machine a
        command can go unanswered within cmd's wait, and then whether the
        call was hung up is unknown. A second hangup with no call left is
        harmless (baresip answers that there is none)."""
        for _ in range(tries):
            if '"response"' in self.cmd("hangup", secs=10):
                return
        raise Failure("%s: no answer to hangup on its control socket"
                      % self.name)

    def stop(self):
        if self.p.poll() is None:
            try:
                self.cmd("quit", secs=2)
            except OSError:
                pass
        stop_peer(self.p)

    def tail(self, n=2500):
        print("--- %s log (tail)\n%s" % (self.name, self.text()[-n:]),
              flush=True)


def rtp_rcvd(out):
    """Received-packet counts in an audio_debug answer (rx ... rcvd=N, or
    'packets' lines of the rtp stats)."""
    return [int(x) for x in re.findall(r"rcvd=(\d+)", out)]


def call_ended(text):
    """baresip's line for a call that ended: 'Call with X terminated' (a
    local hangup) or 'session closed: ...' (BYE or CANCEL received)."""
    return re.search(r"session closed: |Call with [^\n]* terminated", text)


def rtp_ends(out):
    """(local port, remote port) of the audio stream in audio_debug."""
    m = re.search(r"local: [0-9.]+:(\d+), remote: [0-9.]+:(\d+)", out)
    return (m.group(1), m.group(2)) if m else (None, None)


def invites(text):
    """INVITE requests received in a baresip -s trace (not sent ones)."""
    return len(re.findall(r"INVITE sip:[^\n]*SIP/2\.0", text))


def case_call_baresip(args, tmp):
    """alice (baresip) calls bob (baresip, answermode=auto), both
    registered with passwords: the call is established on both sides, RTP
    flows directly between them for 5 s (both count received packets: the
    SDP of each names the other's own address, not confabd's, and
    audio_debug shows rcvd>0 on both), alice hangs up and both see the
    call end."""
    d = daemon(args, tmp, users={"alice": "pwalice", "bob": "pwbob"})
    a = Baresip(d, tmp, "alice", "pwalice", secs=60)
    b = Baresip(d, tmp, "bob", "pwbob", secs=60)
    try:
        a.registered()
        b.registered()
        a.cmd("dial", "sip:bob@" + DOMAIN)
        wait_for(lambda: "Call established" in a.text(), 15,
                 "alice: 'Call established'")
        wait_for(lambda: "Call established" in b.text(), 5,
                 "bob: 'Call established'")
        check(True, "call established on both sides")
        time.sleep(5)
        da, db = a.cmd("audio_debug"), b.cmd("audio_debug")
        ra, rb = rtp_rcvd(da), rtp_rcvd(db)
        check(ra and max(ra) > 0, "alice received RTP: rcvd=%s" % ra)
        check(rb and max(rb) > 0, "bob received RTP: rcvd=%s" % rb)
        # direct: each side's remote is the other's own RTP socket, and
        # the packets counted came from it (RTCP member IP)
        la, pa = rtp_ends(da)
        lb, pb = rtp_ends(db)
        check(la and lb and pa == lb and pb == la,
              "RTP directly between them: alice %s<->%s, bob %s<->%s"
              % (la, pa, lb, pb))
        check("IP=127.0.0.1:%s" % lb in da and "IP=127.0.0.1:%s" % la in db,
              "each counted packets from the other's RTP port")
        a.hangup()
        wait_for(lambda: call_ended(a.text()), 10,
                 "alice: call terminated")
        wait_for(lambda: call_ended(b.text()), 10,
                 "bob: call terminated (BYE through confab)")
        check("BYE sip:" in b.text(), "bob got alice's BYE")
        check(True, "both see the call end")
    finally:
        a.stop()
        b.stop()
        a.tail()
        b.tail()
    expect_cdr(d, count=1, disposition="answered", code=200,
               ended_by="caller", caller="sip:alice@" + DOMAIN)
    d.stop()


def case_call_fork_cancel(args, tmp):
    """bob registered from two baresip instances, one answermode=manual (it
    keeps ringing), one auto; alice calls bob: both got the INVITE (both
    ring), the auto one answers, the manual one gets CANCEL and closes its
    call."""
    d = daemon(args, tmp, users={"alice": "pwalice", "bob": "pwbob"})
    a = Baresip(d, tmp, "alice", "pwalice", secs=60)
    bm = Baresip(d, tmp, "bob", "pwbob", name="bob-manual",
                 answermode="manual", secs=60)
    ba = None
    try:
        a.registered()
        bm.registered()
        # the auto one registers last: it answers after both rang
        ba = Baresip(d, tmp, "bob", "pwbob", name="bob-auto",
                     answermode="auto", secs=60)
        ba.registered()
        out = ctl(d, "location", "show", "sip:bob@" + DOMAIN).stdout
        check("127.0.0.1:%d" % bm.sip in out and "127.0.0.1:%d" % ba.sip
              in out, "bob has two bindings:\n" + out)
        a.cmd("dial", "sip:bob@" + DOMAIN)
        wait_for(lambda: "Call established" in a.text(), 15,
                 "alice: 'Call established'")
        wait_for(lambda: "Call established" in ba.text(), 5,
                 "bob-auto: 'Call established'")
        check(invites(ba.text()) >= 1, "bob-auto got the INVITE")
        check(invites(bm.text()) >= 1 and "SIP/2.0 180 Ringing" in bm.text(),
              "bob-manual got the INVITE and rang (180)")
        wait_for(lambda: re.search(r"CANCEL sip:[^\n]*SIP/2\.0",
                                   bm.text()), 10,
                 "bob-manual: CANCEL received")
        check("SIP/2.0 487" in bm.text(), "bob-manual got CANCEL and "
              "answered its INVITE 487")
        wait_for(lambda: call_ended(bm.text()), 10,
                 "bob-manual: its ringing call closed")
        check("Call established" not in bm.text(),
              "bob-manual never established the call")
        a.hangup()
        wait_for(lambda: call_ended(ba.text()), 10,
                 "bob-auto: call terminated")
    finally:
        a.stop()
        bm.stop()
        if ba:
            ba.stop()
        a.tail()
        bm.tail()
        if ba:
            ba.tail()
    expect_cdr(d, count=1, disposition="answered", code=200,
               contact=lambda v: ":%d" % ba.sip in v)
    d.stop()


def case_call_linphonec(args, tmp):
    """linphonec (carol) calls a baresip user (bob, answermode=auto)
    through confab: linphonec says the call is connected, bob's baresip
    says established."""
    d = daemon(args, tmp, users={"carol": "pwcarol", "bob": "pwbob"})
    b = Baresip(d, tmp, "bob", "pwbob", secs=60)
    ld = os.path.join(tmp, "linphone")
    os.makedirs(ld)
    port = free_port()
    rtp = free_port()
    with open(os.path.join(ld, "linphonerc"), "w") as f:
        f.write("""[sip]
sip_port=%d
sip_tcp_port=0
sip_tls_port=0
bind_address=127.0.0.1
register_only_when_network_is_up=0
default_proxy=0
[proxy_0]
reg_proxy=<sip:127.0.0.1:%d;transport=udp>
reg_route=<sip:127.0.0.1:%d;transport=udp;lr>
reg_identity=sip:carol@%s
reg_expires=600
reg_sendregister=1
publish=0
[auth_info_0]
username=carol
passwd=pwcarol
realm=%s
domain=%s
[rtp]
audio_rtp_port=%d-%d
[video]
enabled=0
capture=0
display=0
[sound]
echocancellation=0
[storage]
backend=sqlite3
uri=%s/user.db
""" % (port, d.port, d.port, DOMAIN, DOMAIN, DOMAIN, rtp, rtp + 20, ld))
    fifo = os.path.join(ld, "in.fifo")
    os.mkfifo(fifo)
    env = dict(os.environ, HOME=ld, XDG_DATA_HOME=ld + "/.local/share",
               XDG_CONFIG_HOME=ld + "/.config")
    log = os.path.join(tmp, "linphonec.log")
    if shutil.which("linphonec") is None:
        raise Failure("linphonec not found (package linphone-cli)")
    wfd = os.open(fifo, os.O_RDWR)
    p = start_peer("linphonec", ["timeout", "50", "linphonec", "-c",
                                 os.path.join(ld, "linphonerc"), "-d", "0"],
                   log, env=env, stdin=wfd)

    def say(cmd):
        os.write(wfd, (cmd + "\n").encode())
    try:
        b.registered()
        time.sleep(1.5)
        say("soundcard use files")

        def registered():
            say("status register")
            time.sleep(0.5)
            return re.search(r"registered, identity=sip:carol@"
                             + re.escape(DOMAIN), read(log))
        wait_for(registered, 12, "linphonec: status register registered")
        say("call sip:bob@" + DOMAIN)
        wait_for(lambda: re.search(r"Call \d+ with .* connected", read(log)),
                 15, "linphonec: 'Call N with ... connected.'")
        check(True, "linphonec: call connected")
        wait_for(lambda: "Call established" in b.text(), 5,
                 "bob: 'Call established'")
        say("terminate")
        wait_for(lambda: call_ended(b.text()), 10,
                 "bob: call terminated")
        say("quit")
    finally:
        stop_peer(p)
        os.close(wfd)
        b.stop()
        print("--- linphonec log (tail)\n" + read(log)[-3000:], flush=True)
        b.tail()
    expect_cdr(d, count=1, disposition="answered", code=200,
               ended_by="caller", caller="sip:carol@" + DOMAIN)
    d.stop()


# ------------------------------------------------------------ websocket

def digest_auth(chal_hdrs, user, password, method, uri):
    """An Authorization value answering the MD5 challenge (RFC 2617/7616,
    qop=auth) among the WWW-Authenticate headers given."""
    import hashlib
    chal = next((c for c in chal_hdrs if re.search(r"algorithm=MD5\b", c)),
                chal_hdrs[0])
    p = dict(re.findall(r'(\w+)="?([^",]*)"?', chal))
    md5 = lambda t: hashlib.md5(t.encode()).hexdigest()  # noqa: E731
    ha1 = md5("%s:%s:%s" % (user, p["realm"], password))
    ha2 = md5("%s:%s" % (method, uri))
    cnonce, nc = "0a4f113b", "00000001"
    resp = md5("%s:%s:%s:%s:auth:%s" % (ha1, p["nonce"], nc, cnonce, ha2))
    return ('Digest username="%s", realm="%s", nonce="%s", uri="%s", '
            'response="%s", algorithm=MD5, qop=auth, nc=%s, cnonce="%s"'
            % (user, p["realm"], p["nonce"], uri, resp, nc, cnonce)
            + (', opaque="%s"' % p["opaque"] if "opaque" in p else ""))


def case_ws_register(args, tmp):
    """A WebSocket client (RFC 7118; the raw-socket client of run.py)
    registers with a password over ws, its Contact host `*.invalid`: 401,
    then 200 listing the binding; confabctl location show lists it; when
    the client's connection closes, its binding goes with it (the
    registrar keeps the flow, the connection-closed observer drops it)."""
    d = Daemon(args, tmp, {"general.log_level": "debug"}, ws=True)
    d.start()
    add_users(d, {"alice": "pw"})
    w = run.WsClient(d.ws_port)
    check(w.status.startswith("HTTP/1.1 101"), "upgrade: " + w.status)
    aor, uri = "sip:alice@" + DOMAIN, "sip:" + DOMAIN
    contact = "<sip:k3d7f8@df7jal23ls0d.invalid;transport=ws>"

    def register(cseq, auth=None):
        msg = ("REGISTER %s SIP/2.0\r\n"
               "Via: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bK-ws%d\r\n"
               "Max-Forwards: 70\r\n"
               "From: <%s>;tag=wsreg\r\n"
               "To: <%s>\r\n"
               "Call-ID: ws-register-%d@df7jal23ls0d.invalid\r\n"
               "CSeq: %d REGISTER\r\n"
               "Contact: %s;expires=600\r\n"
               "%s"
               "Content-Length: 0\r\n\r\n"
               % (uri, cseq, aor, aor, os.getpid(), cseq, contact,
                  "Authorization: %s\r\n" % auth if auth else ""))
        w.send(msg.encode())
        op, r = w.recv()
        return r.decode(errors="replace")

    r = register(1)
    check(status_line(r).startswith("SIP/2.0 401"),
          "REGISTER over WS challenged: " + status_line(r))
    chals = re.findall(r"(?im)^WWW-Authenticate:\s*(.*?)\r?$", r)
    check(chals, "with WWW-Authenticate")
    r = register(2, digest_auth(chals, "alice", "pw", "REGISTER", uri))
    check(status_line(r).startswith("SIP/2.0 200"),
          "REGISTER with credentials over WS: " + status_line(r))
    check("df7jal23ls0d.invalid" in header(r, "Contact"),
          "the 200 lists the binding: " + header(r, "Contact"))
    out = ctl(d, "location", "show", aor).stdout
    check("df7jal23ls0d.invalid" in out, "location show lists it:\n" + out)

    # losing the connection removes its binding
    w.send(b"\x03\xe8", op=8)
    w.recv()
    w.close()
    gone = False
    for _ in range(50):
        out = ctl(d, "location", "show", aor, ok=False).stdout
        if "df7jal23ls0d.invalid" not in out:
            gone = True
            break
        time.sleep(0.1)
    check(gone, "the binding went with the connection:\n" + out)
    d.stop()


# ------------------------------------------------------------ persistence

def case_persist_kill9(args, tmp):
    """Bindings acknowledged more than 1 s before a kill -9 of confabd are
    still listed by confabctl user show after a restart on the same data
    dir (and by location show), and still answered in a query."""
    d = daemon(args, os.path.join(tmp, "a"), users={"alice": "pw"})
    sipp(d, "reg_auth.xml", "u1", base_fields())
    before = user_show(d, "alice")
    m = re.search(r"127\.0\.0\.1:(\d+)", before)
    check(m is not None, "alice bound before the kill:\n" + before)
    contact_port = m.group(1)
    time.sleep(1.5)
    d.proc.kill()
    d.proc.wait(timeout=5)
    check(d.proc.returncode == -signal.SIGKILL, "confabd killed with -9")
    d.proc = None
    d2 = Daemon(args, os.path.join(tmp, "b"),
                {"general.data_dir": d.data, "general.log_level": "debug"})
    # A stale control socket from the killed daemon must not stop it.
    d2.start()
    after = user_show(d2, "alice")
    check("127.0.0.1:%s" % contact_port in after,
          "after kill -9 and restart, user show still lists "
          "127.0.0.1:%s:\n%s" % (contact_port, after))
    r = ctl(d2, "location", "show")
    check("127.0.0.1:%s" % contact_port in r.stdout,
          "and location show:\n" + r.stdout)
    d2.stop()


CASES = {name[5:]: fn for name, fn in globals().items()
         if name.startswith("case_")}


def main(cases=None, prefix="confab-iop-", doc=__doc__):
    """The case runner of interop.py, and of the modules built on it
    (tests/interop/transports.py, tests/browser/browser.py): one CASE of
    cases per run, every peer and confabd killed by PID at the end."""
    cases = CASES if cases is None else cases
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--confabd", required=True)
    ap.add_argument("--confabctl", required=True)
    ap.add_argument("--keep", action="store_true",
                    help="keep the temporary directory")
    ap.add_argument("case", choices=sorted(cases))
    args = ap.parse_args()
    args.confabd = os.path.abspath(args.confabd)
    args.confabctl = os.path.abspath(args.confabctl)
    tmp = tempfile.mkdtemp(prefix=prefix)
    try:
        cases[args.case](args, tmp)
    except (Failure, OSError, EOFError, subprocess.TimeoutExpired) as e:
        print("FAIL: %s: %s" % (type(e).__name__, e), flush=True)
        for dd in run.DAEMONS:
            print("--- confabd %s stderr (tail)\n%s"
                  % (dd.tmp, dd.stderr()[-4000:]))
        return 1
    finally:
        for _, p in PEERS:
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
