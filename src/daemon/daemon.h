/* SPDX-License-Identifier: BSD-3-Clause */
/* daemon.h - what confabd and confabctl share: the control protocol (one
 * JSON request per line, one JSON response per line) and its socket. */
#ifndef CF_DAEMON_H
#define CF_DAEMON_H

#include "mod/mod.h"

enum {
	CF_CTL_LINE_MAX = 65536, /* one request or response line, bytes */
	CF_CTL_CLIENTS_MAX = 16, /* control connections at once */
};

/* The control socket's path: [control] socket, or DATA_DIR/confabd.sock.
 * ENOMEM when it does not fit (a UNIX socket path has 107 bytes). */
int cf_ctl_sock_path(const struct cf_app_conf *conf, char *buf, size_t size);

/* The store's URI: [store] uri, or sqlite:DATA_DIR/confab.db. confabd opens
 * it at start; confabctl opens the same one when the daemon is stopped.
 * ENOMEM when it does not fit. */
int cf_ctl_store_uri(const struct cf_app_conf *conf, char *buf, size_t size);
/* Open that store (creating DATA_DIR when the store is the default one;
 * migrations applied by cf_store_open) and add every [general] domain it
 * lacks. uri gets the URI. 0, ENOMEM, ENOTDIR or cf_store_open's errors
 * (EIO, EPROTO, ETIMEDOUT, EINVAL). Blocking: main thread at start, or
 * confabctl. */
struct cf_store;
int cf_ctl_store_open(const struct cf_app_conf *conf, struct cf_store **stp,
                      char *uri, size_t urisize);

/*
 * Run one request line ({"cmd":"noun verb","args":[..],"opts":{..}})
 * against the command tables and return the response line (without the
 * newline) in *outp, a malloc'd string the caller frees. Always answers:
 * {"ok":false,"error":"..."} for bad JSON, an unknown command or wrong
 * arguments. Main thread (the handlers read the app). Returns ENOMEM only.
 */
int cf_ctl_request(struct cf_app *app, const char *line, size_t len,
                   char **outp);

/* The control socket server, on the main thread's loop. */
struct cf_ctl;
/* Bind path (mode 0600), refusing when a daemon already answers there
 * (EALREADY); a stale socket file is replaced. */
int cf_ctl_alloc(struct cf_ctl **ctlp, struct cf_loop *loop, struct cf_app *app,
                 const char *path);

#endif
