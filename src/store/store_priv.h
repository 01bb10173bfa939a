/* SPDX-License-Identifier: BSD-3-Clause */
/* store_priv.h - the backend contract of src/store: the operations table a
 * backend (SQLite now, PostgreSQL later) implements, and the handle. */
#ifndef CF_STORE_PRIV_H
#define CF_STORE_PRIV_H

#include <pthread.h>

#include "store/store.h"

enum cf_store_txn_op {
	CF_STORE_TXN_BEGIN,
	CF_STORE_TXN_COMMIT,
	CF_STORE_TXN_ROLLBACK,
};

/*
 * A backend's operations. store.c validates every argument (lengths,
 * characters, ranges), computes the HA1s, takes the handle's mutex and
 * then calls these; a backend only stores and fetches. Every operation
 * returns the errors of store.h. Strings are NUL-terminated; optional ones
 * may be NULL.
 */
struct cf_store_ops {
	const char *name;
	unsigned (*version_latest)(void);
	/* target: the uri without its "scheme:" prefix. Sets st->be. */
	int (*open)(struct cf_store *st, const char *target,
	            const struct cf_store_cfg *cfg);
	/* Release st->be (the destructor of the handle calls it). */
	void (*close)(struct cf_store *st);
	int (*version)(struct cf_store *st, unsigned *version);
	int (*txn)(struct cf_store *st, enum cf_store_txn_op op);

	/* d->realm is set (never NULL); d->digest_algs may be NULL. */
	int (*domain_add)(struct cf_store *st, const struct cf_store_domain *d,
	                  int64_t now);
	int (*domain_set_algs)(struct cf_store *st, const char *name,
	                       const char *algs);
	int (*domain_remove)(struct cf_store *st, const char *name);
	int (*domain_get)(struct cf_store *st, const char *name,
	                  cf_store_domain_h *h, void *arg);
	int (*domain_list)(struct cf_store *st, cf_store_domain_h *h,
	                   void *arg);

	/* ENOENT for an unknown domain, EALREADY for an existing user. */
	int (*subscriber_add)(struct cf_store *st,
	                      const struct cf_store_subscriber *s);
	/* New HA1s and s->updated; ENOENT if absent. */
	int (*subscriber_update)(struct cf_store *st,
	                         const struct cf_store_subscriber *s);
	int (*subscriber_remove)(struct cf_store *st, const char *user,
	                         const char *domain);
	/* s->user and s->domain given; fills the rest. */
	int (*subscriber_get)(struct cf_store *st,
	                      struct cf_store_subscriber *s);
	/* domain NULL: all. */
	int (*subscriber_list)(struct cf_store *st, const char *domain,
	                       cf_store_subscriber_h *h, void *arg);

	/* f checked; every uri NULL: delete. ENOENT unknown subscriber. */
	int (*forward_set)(struct cf_store *st,
	                   const struct cf_store_forward *f, int64_t now);
	int (*forward_list)(struct cf_store *st, cf_store_forward_h *h,
	                    void *arg);

	/* b->node is never NULL. */
	int (*location_upsert)(struct cf_store *st,
	                       const struct cf_store_binding *b, int64_t now);
	int (*location_delete)(struct cf_store *st, const char *aor,
	                       const char *contact);
	int (*location_delete_aor)(struct cf_store *st, const char *aor,
	                           size_t *count);
	/* aor NULL: all bindings. */
	int (*location_list)(struct cf_store *st, const char *aor,
	                     cf_store_binding_h *h, void *arg);
	int (*location_delete_expired)(struct cf_store *st, int64_t now,
	                               size_t *count);
	/* CDRs (c checked; cdr_list limit 0: all). */
	int (*cdr_put)(struct cf_store *st, const struct cf_store_cdr *c,
	               int64_t now);
	int (*cdr_list)(struct cf_store *st, size_t limit, cf_store_cdr_h *h,
	                void *arg);
	int (*cdr_interrupt)(struct cf_store *st, int64_t now_ms,
	                     size_t *count);
};

/* The handle: a cf_mem object whose destructor closes the backend. */
struct cf_store {
	const struct cf_store_ops *ops;
	void *be;             /* the backend's state */
	pthread_mutex_t lock; /* serialises every call on the handle */
	bool in_txn;          /* cf_store_txn_begin without commit/rollback */
	char *uri;            /* as opened (cf_store_reopen) */
	struct cf_store_cfg cfg;
};

extern const struct cf_store_ops cf_store_sqlite_ops;

/* SQLite migrations (migrate.c). Bring db to version `target` (at most the
 * latest), creating schema_version if needed; *version gets the version
 * reached. EPROTO if the database is newer than the latest we know, EIO on
 * a failed migration (rolled back; the database stays at the previous
 * version), ETIMEDOUT if locked. Tests call it with target 1 to make an old
 * database. */
struct sqlite3;
unsigned cf_store_sqlite_migrations_latest(void);
int cf_store_sqlite_migrate(struct sqlite3 *db, unsigned target,
                            unsigned *version);
/* Map a SQLite result code to the errors of store.h; logs what it maps to
 * EIO or ETIMEDOUT with the database's message. */
int cf_store_sqlite_err(struct sqlite3 *db, int rc, const char *what);

#endif
