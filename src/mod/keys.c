/* SPDX-License-Identifier: BSD-3-Clause */
/* keys.c - the daemon's own configuration keys: [general], [sip] and
 * [control]. docs/configuration.md documents the same table. */
#include "mod.h"

const struct cf_mod_key cf_app_keys[] = {
    {"general", "domain", CF_MOD_KEY_HOST, "confab.test",
     "the SIP domains we serve; the first is the default domain",
     .flags = CF_MOD_KEY_LIST},
    {"general", "workers", CF_MOD_KEY_UINT, "0",
     "worker threads; 0 = one per CPU core", 0, 256, 0},
    {"general", "data_dir", CF_MOD_KEY_STR, "var",
     "directory for the control socket and the store", 0, 0, 0},
    {"general", "log_level", CF_MOD_KEY_LOGLEVEL, "info",
     "debug, info, notice, warn or error", 0, 0, CF_MOD_KEY_LIVE},
    {"general", "shutdown_timeout", CF_MOD_KEY_UINT, "5",
     "seconds SIGTERM waits for unanswered transactions before closing", 0, 64,
     CF_MOD_KEY_LIVE},
    {"sip", "listen", CF_MOD_KEY_LISTEN,
     "udp:127.0.0.1:5060, tcp:127.0.0.1:5060, udp:[::1]:5060, "
     "tcp:[::1]:5060",
     "listeners: [udp:|tcp:]ADDRESS[:PORT], comma-separated or repeated", 0, 0,
     CF_MOD_KEY_LIST},
    {"sip", "t1", CF_MOD_KEY_UINT, "500",
     "RFC 3261 T1 (RTT estimate), milliseconds", 50, 10000, 0},
    {"sip", "t2", CF_MOD_KEY_UINT, "4000",
     "RFC 3261 T2 (maximum retransmit interval), milliseconds", 500, 60000, 0},
    {"sip", "t4", CF_MOD_KEY_UINT, "5000",
     "RFC 3261 T4 (maximum lifetime in the network), milliseconds", 500, 60000,
     0},
    {"sip", "timer_c", CF_MOD_KEY_UINT, "180000",
     "RFC 3261 Timer C (proxy INVITE branch without a final), milliseconds; "
     "at least 180000 per the RFC, lower for tests",
     1000, 3600000, 0},
    {"sip", "max_message_size", CF_MOD_KEY_UINT, "65535",
     "largest message in bytes (larger: 513 on UDP, close on TCP)", 1024, 65535,
     0},
    {"sip", "tcp_idle_timeout", CF_MOD_KEY_UINT, "600",
     "seconds before an idle TCP connection is closed; 0 = never", 0, 86400, 0},
    {"sip", "tcp_max_connections", CF_MOD_KEY_UINT, "4096",
     "TCP connections in all", 1, 1000000, 0},
    {"sip", "tcp_max_per_ip", CF_MOD_KEY_UINT, "256",
     "TCP connections from one source address", 1, 1000000, 0},
    {"store", "uri", CF_MOD_KEY_STR, NULL,
     "the store: sqlite:PATH (default sqlite:DATA_DIR/confab.db)", 0, 0, 0},
    {"store", "sync_full", CF_MOD_KEY_BOOL, "no",
     "fsync the store at every commit (survives power loss, not only "
     "kill -9)",
     0, 0, 0},
    {"control", "socket", CF_MOD_KEY_STR, NULL,
     "the control socket confabctl talks to (default "
     "DATA_DIR/confabd.sock)",
     0, 0, 0},
    {NULL},
};
