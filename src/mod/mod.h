/* SPDX-License-Identifier: BSD-3-Clause */
/* mod.h - services as modules: the const descriptor, the configuration keys
 * and control commands they declare, and the application they run in. */
#ifndef CF_MOD_H
#define CF_MOD_H

#include <jansson.h>

#include "core/core.h"
#include "sip/sip.h"

/*
 * A module is one const struct cf_mod, listed in the static table of mod.c
 * (as nginx declares its modules). It owns configuration keys (validated by
 * the daemon before anything starts), may answer requests, and may add
 * control commands. Modules reach each other only through the small API
 * structs they publish (cf_mod::api, found with cf_mod_find), never through
 * each other's internals.
 *
 * Threads: init, start, stop, reload and control commands run on the main
 * thread; request and cancel run on the worker that owns the transaction
 * (the Call-ID decides which), several workers at once.
 */

struct cf_app;

/* ------------------------------------------------------- configuration */

enum cf_mod_key_type {
	CF_MOD_KEY_STR = 0,  /* any non-empty text */
	CF_MOD_KEY_UINT,     /* decimal in [min, max] */
	CF_MOD_KEY_BOOL,     /* yes/no, true/false, on/off, 1/0 */
	CF_MOD_KEY_LOGLEVEL, /* debug, info, notice, warn, error */
	CF_MOD_KEY_LISTEN,   /* [tp:]addr[:port], comma-separated, repeatable */
	CF_MOD_KEY_TOKEN,    /* a SIP user part: unreserved characters */
	CF_MOD_KEY_HOST,     /* a host name: letters, digits, '-' and '.' */
	CF_MOD_KEY_TLSVERIFY,  /* no, optional, require */
	CF_MOD_KEY_TLSVERSION, /* TLS1.2, TLS1.3 */
};

enum cf_mod_key_flags {
	CF_MOD_KEY_LIVE = 1, /* applied by SIGHUP; others need a restart */
	CF_MOD_KEY_LIST = 2, /* repeatable; every value is kept */
};

/* One key of confab.conf. `def` is the default as text (NULL: no default,
 * e.g. computed at start); docs/configuration.md documents the same. */
struct cf_mod_key {
	const char *section;
	const char *key;
	enum cf_mod_key_type type;
	const char *def;
	const char *doc;
	uint32_t min, max; /* CF_MOD_KEY_UINT only */
	unsigned flags;    /* enum cf_mod_key_flags */
};

/* ---------------------------------------------------- control commands */

/* A control request: "noun verb" args and --options, from one JSON line
 * {"cmd":"user add","args":["alice@example.test"],"opts":{"password":"x"}}.
 */
struct cf_mod_ctl_req {
	const char *noun;
	const char *verb; /* "" when the command has no verb */
	json_t *args;     /* array of strings (never NULL) */
	json_t *opts;     /* object of string values (never NULL) */
};

/* Fill resp (an object; "ok" is added by the caller). Return 0, or an
 * errno with json "error" set to one line saying what was wrong (the
 * caller writes a default line when the handler set none). */
typedef int(cf_mod_ctl_h)(struct cf_app *app, const struct cf_mod_ctl_req *req,
                          json_t *resp);

/* One command of the confabctl grammar: `confabctl NOUN [VERB] ARGS
 * [--option VALUE]`. verb "" for a noun alone. h NULL: the command runs in
 * confabctl itself (no daemon needed). */
struct cf_mod_cmd {
	const char *noun;
	const char *verb;
	uint8_t min_args;
	uint8_t max_args;
	cf_mod_ctl_h *h;
	const char
	    *usage; /* arguments and options, e.g. "ADDRESS --password PW" */
	const char *help; /* one line */
};

/* --------------------------------------------------------- descriptor */

struct cf_app_conf;
/* One problem found by a module's conf_check: the line of the value
 * (0: a --set), and one line of text saying what is wrong. */
typedef void(cf_mod_conf_err_h)(int line, const char *msg, void *arg);

/* Modules that keep a server transaction attach an object whose first
 * member is this (cf_sip_strans_set_arg), so that CANCEL reaches its
 * owner in O(1). Clear it (set_arg NULL) once the final response is sent. */
struct cf_mod_txn {
	const struct cf_mod *mod;
};

struct cf_mod {
	const char *name;
	const char *doc;
	const struct cf_mod_key *keys; /* ends with a {NULL} entry; or NULL */
	const struct cf_mod_cmd *cmds; /* ends with a {NULL} entry; or NULL */
	/* Methods the module implements (bit 1 << enum cf_sip_method): the
	 * union is the Allow header of every response that carries one. */
	uint32_t methods;
	/* Main thread, configuration validated, before the stack starts. */
	int (*init)(struct cf_app *app);
	/* Main thread, the stack is running. */
	int (*start)(struct cf_app *app);
	/* Main thread, before the stack stops: end every transaction the
	 * module holds (it may take a moment; return when it holds none, or
	 * after a bounded wait) and release what init took. */
	void (*stop)(struct cf_app *app);
	/* Main thread, SIGHUP: re-read CF_MOD_KEY_LIVE keys from app. */
	void (*reload)(struct cf_app *app);
	/* Worker thread: a new server transaction (st never NULL). Return
	 * true when the module answered it or took it over. */
	bool (*request)(struct cf_app *app, struct cf_sip_strans *st,
	                const struct cf_sip_msg *msg,
	                const struct cf_sip_peer *peer);
	/* Worker thread: a CANCEL matched a transaction this module tagged
	 * with a struct cf_mod_txn; the CANCEL got its 200 already. */
	void (*cancel)(struct cf_app *app, struct cf_sip_strans *st);
	/* Worker thread: a message with no transaction for it — an ACK that
	 * matched none (ACK for a 2xx, RFC 3261 §17.2.3) or a response that
	 * matched no client transaction (a 2xx retransmission after the
	 * proxy's transaction ended, RFC 6026). Send with
	 * cf_sip_txn_env_current(). Return true when taken. (Added for the
	 * proxy, issue 4.) */
	bool (*stateless)(struct cf_app *app, const struct cf_sip_msg *msg,
	                  const struct cf_sip_peer *peer);
	const void *api; /* the module's API struct for other modules */
	/* Any thread, while a configuration is loaded (start, confabd
	 * --check-config, SIGHUP): check what the key declarations cannot
	 * (values that refer to each other, a regex that does not compile),
	 * reporting each problem to err. Return 0 or EINVAL. NULL: none.
	 * (Added for the proxy's trunks, issue 4.) */
	int (*conf_check)(const struct cf_app_conf *conf,
	                  cf_mod_conf_err_h *err, void *arg);
};

/* The static table, in dispatch order; NULL-terminated. */
extern const struct cf_mod *const cf_mods[];
const struct cf_mod *cf_mod_find(const char *name);

/* --------------------------------------------------------- application */

/*
 * The application the modules run in: the validated configuration, the SIP
 * stack and what makes a request "ours". Built by confabd (or a unit test)
 * with cf_app_alloc; read by modules on any thread (immutable once the
 * stack runs, except through cf_app_reload on the main thread, which only
 * changes the values of CF_MOD_KEY_LIVE keys).
 */

/* The daemon's own keys ([general], [sip], [control]); NULL-terminated. */
extern const struct cf_mod_key cf_app_keys[];

/* Find the declaration of section.key among the daemon's and every
 * module's keys; NULL when nobody declares it. */
const struct cf_mod_key *cf_mod_key_find(const char *section, const char *key);
/* Check a value against its declaration. 0 or EINVAL with a short reason
 * ("not a number", "must be 1..3600") written into why. */
int cf_mod_key_check(const struct cf_mod_key *k, const char *value, char *why,
                     size_t whysize);

/* A validated configuration: the file's records plus --set overrides, each
 * checked against the declared keys. Refcounted. */
struct cf_app_conf;

/*
 * Load and validate. path NULL: the embedded defaults. sets: "section.key=
 * value" overrides (a key set here replaces the file's values for it).
 * Every problem is written to errs, one line each, as
 * `confab.conf:LINE: unknown key 'x' in [sip]` (the file's name as given),
 * and the result is EINVAL (or EBADMSG for an INI syntax error, ENOENT when
 * the file cannot be read, ENOMEM). errs may be NULL.
 */
int cf_app_conf_load(struct cf_app_conf **confp, const char *path,
                     const char *const *sets, size_t nsets,
                     struct cf_mbuf *errs);
/* The value of a declared key (the last one given, or its default; NULL
 * when it has neither). */
const char *cf_app_conf_str(const struct cf_app_conf *conf, const char *section,
                            const char *key);
uint32_t cf_app_conf_u32(const struct cf_app_conf *conf, const char *section,
                         const char *key);
bool cf_app_conf_bool(const struct cf_app_conf *conf, const char *section,
                      const char *key);
/* Every value of a key (file order; each comma-separated item of a list
 * key separately), or its default's items when none is given. */
typedef bool(cf_app_conf_val_h)(const char *value, void *arg);
void cf_app_conf_apply(const struct cf_app_conf *conf, const char *section,
                       const char *key, cf_app_conf_val_h *h, void *arg);
/* Every value of section.key as given, in file order, NOT split at
 * commas (a value that may hold one: a regex), with its line (0: --set);
 * nothing when the key is not given. Stops when h returns true. */
typedef bool(cf_app_conf_line_h)(const char *value, int line, void *arg);
void cf_app_conf_lines(const struct cf_app_conf *conf, const char *section,
                       const char *key, cf_app_conf_line_h *h, void *arg);
/* True when section.key was given (file or --set), not defaulted. */
bool cf_app_conf_isset(const struct cf_app_conf *conf, const char *section,
                       const char *key);

/* One listener of [sip] listen: "udp:127.0.0.1:5060", "tcp:[::1]:5060",
 * "tls:127.0.0.1" (port 5061), "ws:127.0.0.1" (WebSocket, port 8080),
 * "wss:[::1]" (WebSocket over TLS, port 8443), "127.0.0.1" (udp and tcp,
 * port 5060). Up to two results (udp, tcp). */
struct cf_app_listen {
	enum cf_sip_tp tp;
	struct cf_sa addr;
};
int cf_app_listen_decode(const char *s, struct cf_app_listen *out, size_t *n);

struct cf_app;

/* The application: takes a reference to conf. sip may be NULL (tests, or
 * set later with cf_app_set_sip). */
int cf_app_alloc(struct cf_app **appp, struct cf_app_conf *conf);
void cf_app_set_sip(struct cf_app *app, struct cf_sip *sip);
struct cf_sip *cf_app_sip(const struct cf_app *app);
/* The store (src/store/store.h), opened by confabd at start and closed at
 * stop, or NULL (unit tests without one). cf_app_set_store takes a
 * reference to st (NULL drops the app's reference); main thread, before
 * the modules' init. BLOCKING calls: never use it on a worker loop (see
 * store.h); modules read it at init/start and on their own threads. */
struct cf_store;
void cf_app_set_store(struct cf_app *app, struct cf_store *st);
struct cf_store *cf_app_store(const struct cf_app *app);
/* True between a successful cf_mod_init_all and the start of
 * cf_mod_stop_all: the modules run (confabd). False in confabctl's offline
 * mode, where control handlers run over an app built from the
 * configuration and the store alone (no stack, modules not initialised):
 * a handler then works on cf_app_store(app) only and must not call module
 * APIs. Any thread. */
bool cf_app_online(const struct cf_app *app);
void cf_app_set_online(struct cf_app *app, bool online);
/* The current configuration. Main thread only (init, reload, control
 * commands): SIGHUP replaces it. Workers use what the module cached. */
const struct cf_app_conf *cf_app_conf(const struct cf_app *app);
/* Replace the configuration on SIGHUP (main thread): the new values of
 * CF_MOD_KEY_LIVE keys are applied (log level here, the rest by each
 * module's reload); a line is logged for each changed key that needs a
 * restart. */
void cf_app_reload(struct cf_app *app, struct cf_app_conf *conf);
/* Add an address we answer for (a listener, or an interface address when
 * listening on a wildcard). Main thread, before the stack starts. */
int cf_app_addr_add(struct cf_app *app, const struct cf_sa *addr);
/* The default domain (the first of [general] domain). */
const char *cf_app_domain(const struct cf_app *app);
/* Is this URI's host ours: one of the [general] domains, a domain of the
 * store (asked of the auth module's cache, domain_exists, when online), or
 * one of our addresses (with no port, or a port we listen on)? Any thread;
 * never blocks. */
bool cf_app_uri_is_local(const struct cf_app *app, const struct cf_sip_uri *u);
/* The Allow header value: the methods every module implements. */
const char *cf_app_allow(const struct cf_app *app);
/* Extensions (option tags) we support, for Supported and the §8.2.2.3
 * Require check: path, outbound, gruu (the registrar). */
bool cf_app_ext_supported(const struct cf_app *app, const struct cf_pl *tag);
/*
 * Apply the [tls] section to the stack (cf_sip_tls_set): at start before
 * the stack runs, on SIGHUP (from cf_app_reload) and on `confabctl tls
 * reload`; new connections get the new certificates, established ones
 * keep theirs. Without [tls] certificate and with a TLS listener, the
 * self-signed certificate of the default domain under DATA_DIR/tls is used
 * (made at first start; its path logged). Main thread. Errors: EINVAL (a
 * bad file or value: logged, and the stack keeps its certificates),
 * ENOMEM, or the self-signed certificate's error; 0 without a stack.
 */
int cf_app_tls_apply(struct cf_app *app);

/* Unix time (s) the application started, for status. */
uint64_t cf_app_started(const struct cf_app *app);

/* -------------------------------------------------------------- dispatch */

/*
 * Fill the transaction handlers confabd gives the stack (arg = app). They
 * run the rules every request goes through, then the modules in table
 * order, then the defaults:
 *   ACK with no transaction          -> dropped (RFC 3261 §17.2.3)
 *   unknown method                    -> 501 with Allow (§8.2.1)
 *   scheme not sip/sips/tel           -> 416 (§8.2.2.1)
 *   Require with an unknown extension -> 420 with Unsupported (§8.2.2.3)
 *   the modules
 *   To tag but no dialog              -> 481 (§12.2.2)
 *   Max-Forwards 0                    -> 483 (§16.3)
 *   anything else                     -> 404 (until registrar and proxy)
 */
void cf_mod_handlers(struct cf_sip_txn_handlers *h, struct cf_app *app);

/* Answer a server transaction with the default reason phrase. When the
 * response cannot be built for lack of memory, a bare 500 is tried once,
 * so that the transaction still ends (a server transaction without a
 * final response would live for ever). Worker thread; returns what
 * cf_sip_strans_reply returned for the response asked for. */
int cf_mod_reply(struct cf_sip_strans *st, uint16_t code, const char *hdrs);

/* Gather into buf (size bytes, NUL-terminated) the option tags of header
 * id (Require, Proxy-Require) that the app does not support, separated by
 * ", ", for an Unsupported header (RFC 3261 §8.2.2.3, §16.3 step 6). A list
 * too long for buf is cut at its end and gathering stops. Called by the
 * core's request checks and the proxy; returns the length of the whole tags
 * written (0 when every tag is supported, or when the first one alone does
 * not fit). */
size_t cf_mod_unsupported(const struct cf_app *app,
                          const struct cf_sip_msg *msg, enum cf_sip_hdr_id id,
                          char *buf, size_t size);

/* Run every module's init / start / stop / reload in table order. init and
 * start stop at the first error and return it (logged by the caller). */
int cf_mod_init_all(struct cf_app *app);
int cf_mod_start_all(struct cf_app *app);
void cf_mod_stop_all(struct cf_app *app);
void cf_mod_reload_all(struct cf_app *app);

/* Find a control command among the daemon's and the modules' tables:
 * ENOENT when the noun is unknown, EPROTO when the noun is known but not
 * with this verb. */
extern const struct cf_mod_cmd cf_app_cmds[];
int cf_mod_cmd_find(const struct cf_mod_cmd **cmdp, const char *noun,
                    const char *verb);
/* Walk every command (daemon's, then modules'), for help texts. */
typedef void(cf_mod_cmd_h)(const struct cf_mod_cmd *cmd, void *arg);
void cf_mod_cmd_apply(cf_mod_cmd_h *h, void *arg);

#endif
