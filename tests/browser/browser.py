#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""browser.py - JsSIP in Debian's headless Chromium against confabd (RFC 7118).

Usage: browser.py --confabd EXE --confabctl EXE CASE

Each CASE starts its own confabd on free loopback ports (ws and wss
listeners, the self-signed certificate of the defaults, [ws] origins set to
the page's origin), users provisioned with confabctl, then bridge.js: JsSIP
from npm (node_modules, `npm ci` in this folder) in /usr/bin/chromium driven
by playwright-core. The page is served by playwright's router at ORIGIN, so
the browser's WebSocket carries `Origin: ORIGIN`. baresip (UDP) is the
other side where a case needs one (tests/interop/interop.py's Baresip).

Exit 0 on success, 1 on failure. A missing program (node, chromium, the
npm modules, baresip) is a failure, never a skip. Every wait is bounded;
the bridge (and so Chromium) and baresip are stopped by PID.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(TESTS, "scenarios"))
sys.path.insert(0, os.path.join(TESTS, "interop"))
import run  # noqa: E402  (tests/scenarios/run.py)
import interop  # noqa: E402  (tests/interop/interop.py)
import transports  # noqa: E402  (tests/interop/transports.py)
from run import DOMAIN, Daemon, Failure, check  # noqa: E402
from interop import Baresip, ctl, add_users, wait_for  # noqa: E402

ORIGIN = "http://confab.test"      # the page's origin, allowed by [ws] origins
# a secure context (getUserMedia needs one; its WebSockets must be wss)
SECURE_ORIGIN = "https://confab.test"
BAD_ORIGIN = "http://evil.test"    # an origin the allow-list does not name


class Browser:
    """bridge.js and its Chromium: commands and events as JSON lines over a
    UNIX socket (see bridge.js); its stdout (every event and JsSIP's debug
    log) in TMP/bridge.log."""

    def __init__(self, tmp, origin=ORIGIN, secs=70):
        node = shutil.which("node") or shutil.which("nodejs")
        if node is None:
            raise Failure("node not found (package nodejs)")
        for mod in ("jssip", "playwright-core", "esbuild"):
            if not os.path.isdir(os.path.join(HERE, "node_modules", mod)):
                raise Failure("tests/browser/node_modules/%s missing: run "
                              "`npm ci` in tests/browser (make test does)"
                              % mod)
        self.tmp = os.path.join(tmp, "browser")
        os.makedirs(self.tmp)
        self.log = os.path.join(self.tmp, "bridge.log")
        sock = os.path.join(self.tmp, "ctl.sock")
        env = dict(os.environ, PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD="1")
        self.p = interop.start_peer(
            "bridge", [node, os.path.join(HERE, "bridge.js"),
                       "--origin", origin, "--tmp", self.tmp,
                       "--control", sock, "--secs", str(secs)],
            self.log, env=env)
        self.events = []
        self.lock = threading.Lock()
        wait_for(lambda: '"ev":"listening"' in interop.read(self.log)
                 or self.p.poll() is not None,
                 45, "bridge.js: Chromium up and the control socket")
        if self.p.poll() is not None:
            raise Failure("bridge.js exited (%d):\n%s"
                          % (self.p.returncode, interop.read(self.log)[-3000:]))
        self.s = socket.socket(socket.AF_UNIX)
        for _ in range(50):   # bounded: 5 s
            try:
                self.s.connect(sock)
                break
            except (ConnectionRefusedError, FileNotFoundError):
                time.sleep(0.1)
        else:
            raise Failure("bridge.js's control socket refuses connections")
        threading.Thread(target=self._reader, daemon=True).start()
        self.info = self.wait("ready", secs=10)
        print("browser ready: %s" % self.info, flush=True)

    def _reader(self):
        buf = b""
        while True:
            try:
                chunk = self.s.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                try:
                    ev = json.loads(line)
                except ValueError:
                    continue
                print("browser event: %s" % json.dumps(ev)[:600], flush=True)
                with self.lock:
                    self.events.append(ev)

    def send(self, **cmd):
        self.s.sendall((json.dumps(cmd) + "\n").encode())

    def find(self, ev, **match):
        with self.lock:
            for e in self.events:
                if e.get("ev") == ev and all(e.get(k) == v
                                             for k, v in match.items()):
                    return e
        return None

    def wait(self, ev, secs=15, **match):
        """The first event ev (with the fields in match), waited for at
        most secs; a fatal or page error ends the wait as a failure."""
        def got():
            bad = self.find("fatal") or self.find("pageerror")
            if bad:
                raise Failure("browser: %s" % bad)
            return self.find(ev, **match)
        return wait_for(got, secs, "browser event %s %s" % (ev, match))

    def ua(self, id, ws, user, password, reject=488):
        """A JsSIP UA for user@DOMAIN over the WebSocket URL ws."""
        self.send(cmd="start", id=id, ws=ws, uri="sip:%s@%s" % (user, DOMAIN),
                  password=password, reject=reject)

    def stop(self):
        try:
            self.send(cmd="quit")
            self.p.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            pass
        interop.stop_peer(self.p)
        self.s.close()

    def console(self):
        """The page's console so far (JsSIP's debug log: every SIP
        message sent and received), as text."""
        out = []
        for line in interop.read(self.log).splitlines():
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if ev.get("ev") == "console":
                out.append(ev.get("text", ""))
        return "\n".join(out)

    def tail(self, n=4000):
        print("--- bridge log (tail)\n%s" % interop.read(self.log)[-n:],
              flush=True)


def daemon(args, tmp, users, extra=None):
    """confabd with ws and wss listeners, [ws] origins = ORIGIN and
    SECURE_ORIGIN, users provisioned."""
    conf = {"general.log_level": "debug",
            "ws.origins": "%s, %s" % (ORIGIN, SECURE_ORIGIN)}
    conf.update(extra or {})
    d = Daemon(args, tmp, conf, ws=True, wss=True)
    d.start()
    add_users(d, users)
    return d


def ws_url(d, secure):
    return ("wss://127.0.0.1:%d" % d.wss_port if secure
            else "ws://127.0.0.1:%d" % d.ws_port)


def register(args, tmp, secure):
    """JsSIP registers alice with her password over ws (or wss, the
    self-signed certificate of confabd's defaults accepted by the browser):
    JsSIP says registered (200), the binding confabctl lists is the
    browser's `*.invalid` Contact with transport=ws, and confabd counted the
    upgrade; when the browser goes, so does the binding."""
    d = daemon(args, tmp, {"alice": "pwalice"})
    b = Browser(tmp)
    try:
        check(b.info.get("user_agent", "").startswith("JsSIP "),
              "JsSIP in Chromium: %s" % b.info)
        b.ua("a", ws_url(d, secure), "alice", "pwalice")
        e = b.wait("registered", id="a")
        check(e["status"] == 200, "JsSIP registered over %s: %s"
              % ("wss" if secure else "ws", e))
        chal = challenges(b)
        check(chal and all("algorithm=MD5" in c for c in chal),
              "its 401 offered MD5 alone ([auth] md5_only_agents has "
              "JsSIP): %s" % chal)
        aor = "sip:alice@" + DOMAIN
        out = ctl(d, "location", "show", aor).stdout
        check(re.search(r"\.invalid[^\n]*transport=ws", out, re.I),
              "location show lists the browser's *.invalid ws Contact:\n"
              + out)
        st = d.status_json()
        check(run.counter(st, "ws_upgrades")[0] >= 1,
              "confabd counted the WebSocket upgrade")
        if secure:
            check(run.counter(st, "tls_handshakes")[0] >= 1,
                  "and the TLS handshake under it")
        b.stop()
        gone = False
        for _ in range(50):
            if ".invalid" not in ctl(d, "location", "show", aor,
                                     ok=False).stdout:
                gone = True
                break
            time.sleep(0.1)
        check(gone, "the binding went with the browser's connection")
    finally:
        b.stop()
        b.tail()
    d.stop()


def challenges(b):
    """The WWW-Authenticate headers JsSIP received (its debug log)."""
    return re.findall(r"WWW-Authenticate:[^\r\n]*", b.console())


def case_ws_register(args, tmp):
    register(args, tmp, False)


def case_wss_register(args, tmp):
    register(args, tmp, True)


def case_jssip_all_algs(args, tmp):
    """Why JsSIP is in the default [auth] md5_only_agents, pinned: with
    baresip alone there, JsSIP 3.13 gets the full offer (MD5, SHA-256,
    SHA-512-256), keeps the last header and gives up on it ("challenge with
    Digest algorithm different than MD5"): registration fails with the 401
    and nothing is bound. If JsSIP ever registers here, drop it from the
    default."""
    d = daemon(args, tmp, {"alice": "pwalice"},
               {"auth.md5_only_agents": "baresip"})
    b = Browser(tmp)
    try:
        b.ua("a", ws_url(d, False), "alice", "pwalice")
        e = b.wait("registrationFailed", id="a")
        check(e["status"] == 401, "JsSIP's registration failed: %s" % e)
        chal = challenges(b)
        check(len(chal) >= 3 and "algorithm=MD5" in chal[0],
              "it got the 401 with MD5 first of %d: %s" % (len(chal), chal))
        check("different than" in b.console(),
              "JsSIP: 'challenge with Digest algorithm different than MD5'")
        check(b.find("registered", id="a") is None, "never registered")
        out = ctl(d, "location", "show").stdout
        check(".invalid" not in out, "nothing bound:\n" + out)
    finally:
        b.stop()
        b.tail()
    d.stop()


def case_message(args, tmp):
    """JsSIP (alice, over ws) sends a MESSAGE to bob (baresip on UDP):
    JsSIP gets the 2xx, baresip receives the MESSAGE with its text; bob
    answers with a MESSAGE of his own (baresip's `message` to its current
    contact, alice), which the browser receives over its WebSocket."""
    d = daemon(args, tmp, {"alice": "pwalice", "bob": "pwbob"})
    bob = Baresip(d, tmp, "bob", "pwbob", secs=60,
                  contacts=("sip:alice@" + DOMAIN,))
    b = Browser(tmp)
    try:
        bob.registered()
        b.ua("a", ws_url(d, False), "alice", "pwalice")
        b.wait("registered", id="a")
        text = "hello bob from the browser %d" % os.getpid()
        b.send(cmd="message", id="a", target="sip:bob@" + DOMAIN, text=text)
        e = b.wait("message_sent", id="a")
        check(200 <= e["status"] < 300, "JsSIP's MESSAGE answered %d"
              % e["status"])
        wait_for(lambda: text in bob.text(), 5, "baresip: the text")
        check(re.search(r"MESSAGE sip:bob[^\n]*SIP/2\.0", bob.text()),
              "baresip (bob) received the MESSAGE with the text")
        reply = "hello alice from baresip %d" % os.getpid()
        bob.cmd("message", reply)
        e = b.wait("message", id="a")
        check(e["body"] == reply and e["from"].startswith("sip:bob@"),
              "the browser received bob's MESSAGE: %s" % e)
        check(e["via"].upper().startswith("SIP/2.0/WS "),
              "over its WebSocket (top Via %s)" % e["via"])
    finally:
        b.stop()
        bob.stop()
        b.tail()
        bob.tail()
    d.stop()


def case_call_reject(args, tmp):
    """baresip (bob, UDP) calls alice, registered from JsSIP over wss: the
    INVITE reaches the browser over its WebSocket (top Via WSS), which
    rejects it with 488 (no WebRTC media here); baresip sees the 488 and
    the call ends."""
    d = daemon(args, tmp, {"alice": "pwalice", "bob": "pwbob"})
    bob = Baresip(d, tmp, "bob", "pwbob", secs=60)
    b = Browser(tmp)
    try:
        bob.registered()
        b.ua("a", ws_url(d, True), "alice", "pwalice", reject=488)
        b.wait("registered", id="a")
        bob.cmd("dial", "sip:alice@" + DOMAIN)
        e = b.wait("invite", id="a")
        check(e["from"].startswith("sip:bob@"), "the browser got bob's "
              "INVITE: %s" % e)
        check(e["via"].upper().startswith("SIP/2.0/WSS "),
              "over its secure WebSocket (top Via %s)" % e["via"])
        rr = e["record_route"]
        check(len(rr) == 2 and ":%d;transport=wss;" % d.wss_port in rr[0]
              and ":%d;" % d.port in rr[1] and "transport" not in rr[1],
              "two Record-Routes (UDP to WSS): the top one names the wss "
              "listener (transport=wss), the other the UDP one: %s" % rr)
        wait_for(lambda: re.search(r"SIP/2\.0 488", bob.text()), 10,
                 "baresip: the 488")
        check(True, "baresip (bob) got the browser's 488")
        wait_for(lambda: interop.call_ended(bob.text()), 10,
                 "baresip: call closed")
        check("Call established" not in bob.text(), "no call established")
    finally:
        b.stop()
        bob.stop()
        b.tail()
        bob.tail()
    d.stop()


def case_call_bye(args, tmp):
    """JsSIP (alice, over wss, a fake microphone) calls bob, a SIPp UAS on
    UDP that answers with a WebRTC SDP (ICE and DTLS attributes; no media
    ever flows) and hangs up a second after the ACK: JsSIP confirms the
    call; the 200 carries two Record-Routes, the wss one naming the
    browser's flow; bob's BYE, whose Request-URI is the browser's
    `*.invalid` Contact, reaches the browser over its WebSocket (the call
    ends, originator remote) and bob gets the 200."""
    d = daemon(args, tmp, {"alice": "pwalice", "bob": "pwbob"},
               {"registrar.authenticate": "no"})
    sipp = shutil.which("sipp")
    if sipp is None:
        raise Failure("sipp not found (package sip-tester)")
    uport = interop.free_port()
    msgs = os.path.join(tmp, "uas.msg")
    ucmd = [sipp, "127.0.0.1:%d" % d.port, "-sf",
            os.path.join(HERE, "uas_webrtc_bye.xml"), "-i", "127.0.0.1",
            "-p", str(uport), "-t", "u1", "-m", "1", "-timeout", "40s",
            "-timeout_error", "-nostdin", "-trace_msg", "-message_file",
            msgs, "-default_behaviors", "all,-abortunexp"]
    print("$ " + " ".join(ucmd) + " &", flush=True)
    uas = subprocess.Popen(ucmd, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           cwd=tmp)
    interop.PEERS.append(("sipp-uas", uas))
    time.sleep(0.3)  # bound: SIPp binds its port at once
    check(uas.poll() is None, "SIPp UAS runs")
    transports.register_contact(d, "bob", "127.0.0.1", uport)
    b = Browser(tmp, origin=SECURE_ORIGIN)
    try:
        b.ua("a", ws_url(d, True), "alice", "pwalice")
        b.wait("registered", id="a")
        b.send(cmd="call", id="a", target="sip:bob@" + DOMAIN)
        b.wait("call_confirmed", id="a", secs=20)
        check(True, "JsSIP's call to bob confirmed (200, ACK)")
        e = b.wait("call_ended", id="a", secs=15)
        check(e["originator"] == "remote" and e["method"] == "BYE",
              "bob's BYE reached the browser and ended the call: %s" % e)
        check(e["via"].upper().startswith("SIP/2.0/WSS "),
              "over its secure WebSocket (top Via %s)" % e["via"])
        out, _ = uas.communicate(timeout=20)
        if uas.returncode != 0:
            sys.stdout.write(out.decode(errors="replace")[-3000:])
        check(uas.returncode == 0, "bob got the 200 to his BYE (SIPp UAS "
              "exit %d)" % uas.returncode)
        rr = transports.record_routes(transports.first_invite(
            interop.read(msgs)))
        check(len(rr) == 2 and "<sip:cfw_wss_127.0.0.1_" in rr[1]
              and ":%d;transport=wss;" % d.wss_port in rr[1],
              "two Record-Routes, the wss one naming the browser's flow: "
              "%s" % rr)
    finally:
        b.stop()
        b.tail()
    d.stop()


def case_origin_refused(args, tmp):
    """A page at an origin [ws] origins does not name: its WebSocket
    upgrade is refused (403), JsSIP never registers, nothing is bound, and
    confabd counts the refusal."""
    d = daemon(args, tmp, {"alice": "pwalice"})
    b = Browser(tmp, origin=BAD_ORIGIN)
    try:
        check(b.info.get("origin") == BAD_ORIGIN, "page at %s" % BAD_ORIGIN)
        b.ua("a", ws_url(d, False), "alice", "pwalice")
        b.wait("disconnected", id="a")
        check(b.find("connected", id="a") is None
              and b.find("registered", id="a") is None,
              "JsSIP's WebSocket never opened, nothing registered")
        st = d.status_json()
        check(run.counter(st, "ws_refused")[0] >= 1
              and run.counter(st, "ws_upgrades")[0] == 0,
              "confabd refused the upgrade (ws_refused %d, ws_upgrades %d)"
              % (run.counter(st, "ws_refused")[0],
                 run.counter(st, "ws_upgrades")[0]))
        check("Origin" in d.stderr(), "and logged why")
        out = ctl(d, "location", "show").stdout
        check(".invalid" not in out, "nothing bound:\n" + out)
    finally:
        b.stop()
        b.tail()
    d.stop()


CASES = {name[5:]: fn for name, fn in globals().items()
         if name.startswith("case_")}


def main():
    return interop.main(CASES, "confab-web-", __doc__)


if __name__ == "__main__":
    sys.exit(main())
