/* SPDX-License-Identifier: BSD-3-Clause */
/* store.h - confab's storage interface: domains, subscribers (HA1s only)
 * and location bindings, behind one API with pluggable backends (SQLite
 * now, PostgreSQL later). No SQL outside src/store.
 *
 * BLOCKING: every call here may wait on disk (and on another process's
 * lock, up to the busy timeout). Never call it on a worker event loop: the
 * registrar serves credentials and bindings from memory and writes behind
 * from its own thread; confabctl calls it directly.
 *
 * Threads: a handle may be used from several threads; calls are
 * serialised by a mutex inside the handle. For parallel queries open
 * several handles. Handlers given to the _apply/_list/_load calls run with
 * that mutex held and must not call back into the same handle.
 *
 * Errors (one meaning each): 0; EINVAL a caller bug or invalid input (empty
 * or over-long name, bad characters, empty password, q out of range);
 * ENOENT not found (also: unknown domain when adding a subscriber);
 * EALREADY already exists / a transaction is already open; ETIMEDOUT the
 * database stayed locked by another process past the busy timeout; EPROTO
 * the database schema is newer than this program; ENOMEM; EIO any other
 * database failure (logged once, with the backend's message). */
#ifndef CF_STORE_H
#define CF_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/sip/digest.h"

struct cf_store;

/* Limits on stored names (bytes), checked before any database access. */
enum {
	CF_STORE_DOMAIN_MAX = 253, /* a DNS name */
	CF_STORE_USER_MAX = 128,   /* SIP user part */
	CF_STORE_REALM_MAX = 255,
	CF_STORE_PASSWORD_MAX = 256,
	CF_STORE_ALGS_MAX = 64,  /* digest_algs text */
	CF_STORE_URI_MAX = 4096, /* aor, contact, path, ... */
};

/* Open options; a NULL cfg means all defaults. */
struct cf_store_cfg {
	/* How long a call waits for another process's write lock before
	 * ETIMEDOUT, in ms; 0 means 5000. */
	unsigned busy_timeout_ms;
	/* SQLite: synchronous=FULL (fsync the WAL at every commit: a commit
	 * survives power loss) instead of the default NORMAL (a commit
	 * survives a crash or kill -9 of confabd, and is made durable against
	 * power loss at the next WAL checkpoint). See docs/store.md. */
	bool sync_full;
};

/* Open (creating if needed) the store at `uri` and bring its schema to the
 * latest version by applying the pending migrations in order, each in its
 * own transaction (safe when confabd and confabctl open it at once). uri:
 * "sqlite:PATH", or a plain PATH (SQLite; ":memory:" for a private in-memory
 * database). "postgresql:..." is reserved: EINVAL until that backend exists.
 * Called once by confabd at start and by confabctl when the daemon is stopped.
 * *stp gets one reference: release it with cf_mem_deref, which closes the
 * database. Returns 0, EINVAL, EPROTO (schema newer than ours), ETIMEDOUT,
 * ENOMEM or EIO (cannot open or migrate; logged). */
int cf_store_open(struct cf_store **stp, const char *uri,
                  const struct cf_store_cfg *cfg);
/* A second handle on the database of st (same URI and settings), for a
 * thread that groups its writes in transactions of its own: a
 * transaction belongs to a handle, and another thread's calls on the
 * same handle would land in it. EINVAL for an in-memory database. */
int cf_store_reopen(struct cf_store **stp, const struct cf_store *st);

/* Schema version of the open database (after migrations: the latest). */
int cf_store_version(struct cf_store *st, unsigned *version);
/* The latest schema version this program knows for the handle's backend. */
unsigned cf_store_version_latest(const struct cf_store *st);

/* Group writes into one transaction (the registrar's write-behind thread
 * flushes its queue with begin ... commit: fewer syncs, and a batch is all
 * or nothing). begin: EALREADY if one is open on this handle. commit and
 * rollback: EINVAL if none is open. Other threads using the same handle
 * between begin and commit write into the same transaction. */
int cf_store_txn_begin(struct cf_store *st);
int cf_store_txn_commit(struct cf_store *st);
int cf_store_txn_rollback(struct cf_store *st);

/* --------------------------------------------------------------- domains */

/* A SIP domain served by this platform. In records handed to handlers the
 * strings are valid only during the call. */
struct cf_store_domain {
	const char *name;  /* case-insensitive, unique */
	const char *realm; /* digest realm; NULL/"" on add means = name */
	/* Digest algorithms offered, in order, e.g. "SHA-256,MD5"; NULL or
	 * "" means the server default (MD5 first: see issue 3). */
	const char *digest_algs;
};

typedef bool(cf_store_domain_h)(const struct cf_store_domain *d, void *arg);

/* Add a domain. The realm is fixed for the domain's life: the HA1s of its
 * subscribers are computed over it. digest_algs must be a comma list of
 * cf_digest_alg_name() names without -sess. Returns 0, EINVAL, EALREADY. */
int cf_store_domain_add(struct cf_store *st, const struct cf_store_domain *d);
/* Change the offered algorithms (NULL: back to the default). 0, EINVAL,
 * ENOENT. */
int cf_store_domain_set_algs(struct cf_store *st, const char *name,
                             const char *digest_algs);
/* Remove a domain and, with it, all its subscribers (not its location
 * rows: those expire). 0, EINVAL, ENOENT. */
int cf_store_domain_remove(struct cf_store *st, const char *name);
/* Call h once for the domain (h may be NULL: an existence check), or
 * ENOENT. */
int cf_store_domain_get(struct cf_store *st, const char *name,
                        cf_store_domain_h *h, void *arg);
/* Call h for every domain, by name, until it returns true. O(domains). */
int cf_store_domain_list(struct cf_store *st, cf_store_domain_h *h, void *arg);

/* ----------------------------------------------------------- subscribers */

/* A subscriber's credentials: one HA1 = H(user:realm:password) per digest
 * algorithm, lower-case hex, indexed by enum cf_digest_alg. The password
 * itself is never stored. */
struct cf_store_subscriber {
	const char *user;
	const char *domain;
	char ha1[CF_DIGEST_ALG_COUNT][CF_DIGEST_HEX_SIZE];
	int64_t created; /* wall clock, seconds since the epoch */
	int64_t updated; /* last password change */
};

typedef bool(cf_store_subscriber_h)(const struct cf_store_subscriber *s,
                                    void *arg);

/* Add user@domain with the HA1s of password over the domain's realm.
 * user: SIP user-part characters (RFC 3261 §25.1: unreserved, escaped,
 * user-unreserved), 1..CF_STORE_USER_MAX bytes; password: 1..
 * CF_STORE_PASSWORD_MAX bytes, any (UTF-8). Returns 0, EINVAL, ENOENT
 * (unknown domain), EALREADY (user exists). */
int cf_store_subscriber_add(struct cf_store *st, const char *user,
                            const char *domain, const char *password);
/* New password: recompute the HA1s. 0, EINVAL, ENOENT. */
int cf_store_subscriber_passwd(struct cf_store *st, const char *user,
                               const char *domain, const char *password);
int cf_store_subscriber_remove(struct cf_store *st, const char *user,
                               const char *domain);
/* Fill *sub (user and domain point at the caller's arguments). 0, EINVAL,
 * ENOENT. */
int cf_store_subscriber_get(struct cf_store *st, const char *user,
                            const char *domain,
                            struct cf_store_subscriber *sub);
/* Every subscriber of domain (NULL: of all domains), by domain then user,
 * until h returns true. O(subscribers): confabctl and the registrar's
 * warm-up. */
int cf_store_subscriber_list(struct cf_store *st, const char *domain,
                             cf_store_subscriber_h *h, void *arg);

/* One row of a bulk import. */
struct cf_store_import_row {
	const char *user;
	const char *domain;
	const char *password;
};

/* Import source: fill *row and return 0, or return ENOENT at the end, or
 * any other error to abort the import with it. */
typedef int(cf_store_import_h)(struct cf_store_import_row *row, void *arg);

/* Add every row the source gives, in ONE transaction: all or nothing. On an
 * error (EINVAL, ENOENT unknown domain, EALREADY existing user, or the
 * source's own error) nothing is imported and *count (may be NULL) is the
 * 0-based index of the failing row; on success *count is the number of
 * rows added. Used by `confabctl user import`. About 100,000 rows/s: the
 * cost is three hashes and one insert per row. Returns EALREADY too when
 * a transaction is already open on the handle. */
int cf_store_subscriber_import(struct cf_store *st, cf_store_import_h *next,
                               void *arg, size_t *count);

/* -------------------------------------------------------------- forwards */

/* A subscriber's failure routes (issue 4 point 3): a SIP URI per
 * condition, NULL for none. The order is the proxy's (busy, no answer,
 * offline, unavailable). */
enum {
	CF_STORE_FWD_N = 4,
	CF_STORE_FWD_URI_MAX = 255,
};
struct cf_store_forward {
	const char *user;
	const char *domain;
	const char *uri[CF_STORE_FWD_N];
};
typedef bool(cf_store_forward_h)(const struct cf_store_forward *f, void *arg);
/* Set the routes of an existing subscriber (every uri NULL: clear them).
 * Called by confabctl user forward (offline or through the daemon).
 * ENOENT unknown user, EINVAL a URI that is empty, too long or not
 * "sip:"/"sips:". */
int cf_store_forward_set(struct cf_store *st, const struct cf_store_forward *f);
/* Every subscriber with a route, until h returns true (strings valid
 * during the call). The proxy loads its cache with it, on the main
 * thread. */
int cf_store_forward_list(struct cf_store *st, cf_store_forward_h *h,
                          void *arg);

/* -------------------------------------------------------------- location */

/* A registered contact (RFC 3261 §10.3), keyed by (aor, contact). */
struct cf_store_binding {
	const char *aor;      /* "sip:user@domain", as the registrar keys it */
	const char *contact;  /* the Contact URI */
	const char *received; /* source of the REGISTER "udp:1.2.3.4:5060" */
	const char *path;     /* Path header values, comma separated (3327) */
	const char *instance; /* +sip.instance (RFC 5626), or NULL */
	uint32_t reg_id;      /* reg-id (RFC 5626), 0 when absent */
	int64_t expires;      /* absolute wall time, seconds since epoch */
	int q;                /* q-value x 1000 (0..1000), -1 when absent */
	const char *call_id;
	uint32_t cseq;
	uint32_t flags; /* registrar's bits, stored as is */
	const char *user_agent;
	const char *socket; /* local socket it came in on "udp:..." */
	const char *node;   /* node holding the flow; "" single node */
};

typedef bool(cf_store_binding_h)(const struct cf_store_binding *b, void *arg);

/* Insert, or replace the binding with the same (aor, contact). aor,
 * contact and call_id required; q in -1..1000. Returns 0, EINVAL. */
int cf_store_location_upsert(struct cf_store *st,
                             const struct cf_store_binding *b);
/* Delete one binding: 0, EINVAL, ENOENT. */
int cf_store_location_delete(struct cf_store *st, const char *aor,
                             const char *contact);
/* Delete all bindings of aor (Contact: *); *count (may be NULL) gets how
 * many. 0 even when there were none. */
int cf_store_location_delete_aor(struct cf_store *st, const char *aor,
                                 size_t *count);
/* Every binding of aor, by contact. */
int cf_store_location_list(struct cf_store *st, const char *aor,
                           cf_store_binding_h *h, void *arg);
/* Every binding, by aor then contact: the registrar warms its memory with
 * this at start (after cf_store_location_delete_expired). O(bindings). */
int cf_store_location_load(struct cf_store *st, cf_store_binding_h *h,
                           void *arg);
/* Delete every binding with expires <= now (wall seconds); *count (may be
 * NULL) gets how many. Uses the expires index. */
int cf_store_location_delete_expired(struct cf_store *st, int64_t now,
                                     size_t *count);

/* ------------------------------------------------------------------ CDRs */

/* One call detail record (issue 4 point 6): one per INVITE attempt the
 * proxy handled. Times are wall clock, ms since the epoch (0: not yet).
 * disposition: "open" while the call runs, then answered, busy,
 * no_answer, cancelled, failed or interrupted (docs/cdr.md). */
struct cf_store_cdr {
	int64_t id;          /* list: the row id, in the order written */
	const char *uid;     /* the record's key, unique (put: required) */
	const char *call_id; /* required */
	const char *caller;  /* From URI */
	const char *callee;  /* To URI */
	const char *ruri;    /* Request-URI as received */
	const char *contact; /* the branch that answered (its Contact) */
	int64_t start_ms, answer_ms, end_ms;
	int64_t duration_ms; /* answer to end, 0 when not answered */
	const char *disposition; /* required */
	int code;                /* the final code sent upstream, 0 none */
	const char *ended_by;    /* caller, callee, max_duration, restart... */
};
typedef bool(cf_store_cdr_h)(const struct cf_store_cdr *c, void *arg);
/* Insert, or update the record with the same uid. 0, EINVAL. */
int cf_store_cdr_put(struct cf_store *st, const struct cf_store_cdr *c);
/* The last `limit` records (0: every one), oldest first, until h returns
 * true (strings valid during the call). O(rows listed). */
int cf_store_cdr_list(struct cf_store *st, size_t limit, cf_store_cdr_h *h,
                      void *arg);
/* Close every record still "open" (its confabd died): disposition
 * interrupted, end now_ms, duration from the answer; *count (may be NULL)
 * gets how many. Uses the cdrs_open index. */
int cf_store_cdr_interrupt(struct cf_store *st, int64_t now_ms,
                           size_t *count);

#endif
