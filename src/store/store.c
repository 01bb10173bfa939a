/* SPDX-License-Identifier: BSD-3-Clause */
/* store.c - the store's front: argument checks, HA1s from passwords, the
 * handle's lock, transactions and bulk import; then the backend's ops. */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "store/store_priv.h"

/* Bound on one import (rows): far above any real file, it keeps the loop
 * finite if a source never says ENOENT. */
enum { IMPORT_MAX = 100000000 };

static void store_destroy(void *data)
{
	struct cf_store *st = data;

	if (st->ops && st->be) {
		if (st->in_txn)
			st->ops->txn(st, CF_STORE_TXN_ROLLBACK);
		st->ops->close(st);
	}
	pthread_mutex_destroy(&st->lock);
	cf_mem_deref(st->uri);
}

static int64_t wall_now(void)
{
	return (int64_t)(cf_clock_wall_ms() / 1000);
}

static bool has_prefix(const char *s, const char *p)
{
	return !strncmp(s, p, strlen(p));
}

int cf_store_open(struct cf_store **stp, const char *uri,
                  const struct cf_store_cfg *cfg)
{
	static const struct cf_store_cfg defaults;
	const struct cf_store_ops *ops = &cf_store_sqlite_ops;
	const char *target = uri;
	struct cf_store *st;
	int err;

	if (!stp || !uri || !*uri)
		return EINVAL;
	if (has_prefix(uri, "sqlite:")) {
		target = uri + 7;
	} else if (has_prefix(uri, "postgresql:") ||
	           has_prefix(uri, "postgres:")) {
		cf_log(CF_LOG_ERR, NULL,
		       "store: the PostgreSQL backend is not built yet");
		return EINVAL;
	}
	if (!*target)
		return EINVAL;
	st = cf_mem_zalloc(sizeof(*st), store_destroy);
	if (!st)
		return ENOMEM;
	pthread_mutex_init(&st->lock, NULL);
	st->ops = ops;
	st->cfg = cfg ? *cfg : defaults;
	st->uri = cf_mem_strdup(uri);
	err = st->uri ? ops->open(st, target, cfg ? cfg : &defaults) : ENOMEM;
	if (err) {
		st = cf_mem_deref(st);
		return err;
	}
	*stp = st;
	return 0;
}

int cf_store_reopen(struct cf_store **stp, const struct cf_store *st)
{
	if (!stp || !st || !st->uri || strstr(st->uri, ":memory:"))
		return EINVAL;
	return cf_store_open(stp, st->uri, &st->cfg);
}

static void lock(struct cf_store *st)
{
	pthread_mutex_lock(&st->lock);
}

static void unlock(struct cf_store *st)
{
	pthread_mutex_unlock(&st->lock);
}

int cf_store_version(struct cf_store *st, unsigned *version)
{
	int err;

	if (!st || !version)
		return EINVAL;
	lock(st);
	err = st->ops->version(st, version);
	unlock(st);
	return err;
}

unsigned cf_store_version_latest(const struct cf_store *st)
{
	return st ? st->ops->version_latest() : 0;
}

static int txn(struct cf_store *st, enum cf_store_txn_op op)
{
	int err;

	if (!st)
		return EINVAL;
	lock(st);
	if (op == CF_STORE_TXN_BEGIN && st->in_txn)
		err = EALREADY;
	else if (op != CF_STORE_TXN_BEGIN && !st->in_txn)
		err = EINVAL;
	else
		err = st->ops->txn(st, op);
	if (!err || op == CF_STORE_TXN_ROLLBACK)
		st->in_txn = op == CF_STORE_TXN_BEGIN && !err;
	unlock(st);
	return err;
}

int cf_store_txn_begin(struct cf_store *st)
{
	return txn(st, CF_STORE_TXN_BEGIN);
}

int cf_store_txn_commit(struct cf_store *st)
{
	return txn(st, CF_STORE_TXN_COMMIT);
}

int cf_store_txn_rollback(struct cf_store *st)
{
	return txn(st, CF_STORE_TXN_ROLLBACK);
}

/* ------------------------------------------------------------ validation */

static bool len_ok(const char *s, size_t max)
{
	return s && *s && strnlen(s, max + 1) <= max;
}

/* No control characters (they would break a log line or a header). */
static bool printable(const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

/* A host name, IPv4 or [IPv6] literal: the characters only; the
 * registrar's URI parser has checked the grammar before. */
static bool domain_ok(const char *s)
{
	if (!len_ok(s, CF_STORE_DOMAIN_MAX))
		return false;
	for (; *s; s++) {
		char c = *s;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || strchr(".-[]:", c)))
			return false;
	}
	return true;
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	       (c >= 'A' && c <= 'F');
}

/* RFC 3261 §25.1 user = 1*( unreserved / escaped / user-unreserved ). */
static bool user_ok(const char *s)
{
	if (!len_ok(s, CF_STORE_USER_MAX))
		return false;
	for (; *s; s++) {
		char c = *s;

		if (c == '%') {
			if (!is_hex(s[1]) || !is_hex(s[2]))
				return false;
			s += 2;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || strchr("-_.!~*'()&=+$,;?/", c)))
			return false;
	}
	return true;
}

static bool password_ok(const char *s)
{
	return len_ok(s, CF_STORE_PASSWORD_MAX);
}

/* "SHA-256,MD5": known names without -sess, each at most once. */
static bool algs_ok(const char *s)
{
	unsigned seen = 0;

	if (!s || !*s)
		return true;
	if (!len_ok(s, CF_STORE_ALGS_MAX))
		return false;
	for (;;) {
		const char *c = strchr(s, ',');
		struct cf_pl pl = {s, c ? (size_t)(c - s) : strlen(s)};
		enum cf_digest_alg alg;
		bool sess;

		if (cf_digest_alg_decode(&pl, &alg, &sess) || sess ||
		    seen & (1u << alg))
			return false;
		seen |= 1u << alg;
		if (!c)
			return true;
		s = c + 1;
	}
}

static bool opt_ok(const char *s)
{
	return !s || (strnlen(s, CF_STORE_URI_MAX + 1) <= CF_STORE_URI_MAX &&
	              printable(s));
}

static bool req_ok(const char *s)
{
	return len_ok(s, CF_STORE_URI_MAX) && printable(s);
}

/* --------------------------------------------------------------- domains */

int cf_store_domain_add(struct cf_store *st, const struct cf_store_domain *d)
{
	struct cf_store_domain dd;
	int err;

	if (!st || !d || !domain_ok(d->name) || !algs_ok(d->digest_algs))
		return EINVAL;
	dd = *d;
	if (!dd.realm || !*dd.realm)
		dd.realm = d->name;
	if (!len_ok(dd.realm, CF_STORE_REALM_MAX) || !printable(dd.realm))
		return EINVAL;
	if (dd.digest_algs && !*dd.digest_algs)
		dd.digest_algs = NULL;
	lock(st);
	err = st->ops->domain_add(st, &dd, wall_now());
	unlock(st);
	return err;
}

int cf_store_domain_set_algs(struct cf_store *st, const char *name,
                             const char *digest_algs)
{
	int err;

	if (!st || !domain_ok(name) || !algs_ok(digest_algs))
		return EINVAL;
	if (digest_algs && !*digest_algs)
		digest_algs = NULL;
	lock(st);
	err = st->ops->domain_set_algs(st, name, digest_algs);
	unlock(st);
	return err;
}

int cf_store_domain_remove(struct cf_store *st, const char *name)
{
	int err;

	if (!st || !domain_ok(name))
		return EINVAL;
	lock(st);
	err = st->ops->domain_remove(st, name);
	unlock(st);
	return err;
}

int cf_store_domain_get(struct cf_store *st, const char *name,
                        cf_store_domain_h *h, void *arg)
{
	int err;

	if (!st || !domain_ok(name))
		return EINVAL;
	lock(st);
	err = st->ops->domain_get(st, name, h, arg);
	unlock(st);
	return err;
}

int cf_store_domain_list(struct cf_store *st, cf_store_domain_h *h, void *arg)
{
	int err;

	if (!st || !h)
		return EINVAL;
	lock(st);
	err = st->ops->domain_list(st, h, arg);
	unlock(st);
	return err;
}

/* ----------------------------------------------------------- subscribers */

struct realm_buf {
	char s[CF_STORE_REALM_MAX + 1];
	bool ok;
};

static bool realm_copy(const struct cf_store_domain *d, void *arg)
{
	struct realm_buf *rb = arg;

	rb->ok = d->realm &&
	         !cf_pl_strcpy(&(struct cf_pl){d->realm, strlen(d->realm)},
	                       rb->s, sizeof(rb->s));
	return true;
}

/* The domain's realm into rb (lock held): 0, ENOENT, EIO. */
static int realm_get(struct cf_store *st, const char *domain,
                     struct realm_buf *rb)
{
	int err;

	rb->ok = false;
	err = st->ops->domain_get(st, domain, realm_copy, rb);
	if (!err && !rb->ok)
		err = EIO; /* a realm we could not have written */
	return err;
}

/* The three HA1s of password over realm (RFC 7616 §3.4.2). */
static int ha1s(struct cf_store_subscriber *sub, const char *realm,
                const char *password)
{
	struct cf_pl u, r, p;
	int err = 0;

	cf_pl_set_str(&u, sub->user);
	cf_pl_set_str(&r, realm);
	cf_pl_set_str(&p, password);
	for (int a = 0; !err && a < CF_DIGEST_ALG_COUNT; a++)
		err = cf_digest_ha1(a, &u, &r, &p, sub->ha1[a]);
	return err;
}

/* Add or update (lock held, arguments checked). */
static int sub_set(struct cf_store *st, const char *user, const char *domain,
                   const char *password, bool add)
{
	struct cf_store_subscriber sub = {.user = user, .domain = domain};
	struct realm_buf rb;
	int err;

	err = realm_get(st, domain, &rb);
	if (!err)
		err = ha1s(&sub, rb.s, password);
	if (err)
		return err;
	sub.created = sub.updated = wall_now();
	return add ? st->ops->subscriber_add(st, &sub)
	           : st->ops->subscriber_update(st, &sub);
}

/* add or passwd: check the arguments, then sub_set under the lock. */
static int sub_write(struct cf_store *st, const char *user, const char *domain,
                     const char *password, bool add)
{
	int err;

	if (!st || !user_ok(user) || !domain_ok(domain) ||
	    !password_ok(password))
		return EINVAL;
	lock(st);
	err = sub_set(st, user, domain, password, add);
	unlock(st);
	return err;
}

int cf_store_subscriber_add(struct cf_store *st, const char *user,
                            const char *domain, const char *password)
{
	return sub_write(st, user, domain, password, true);
}

int cf_store_subscriber_passwd(struct cf_store *st, const char *user,
                               const char *domain, const char *password)
{
	return sub_write(st, user, domain, password, false);
}

static bool fwd_uri_ok(const char *u)
{
	size_t n;

	if (!u)
		return true;
	n = strlen(u);
	if (!n || n > CF_STORE_FWD_URI_MAX)
		return false;
	if (strncasecmp(u, "sip:", 4) && strncasecmp(u, "sips:", 5))
		return false;
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)u[i] <= ' ' || u[i] == 0x7f || u[i] == '<' ||
		    u[i] == '>' || u[i] == '"')
			return false;
	}
	return true;
}

int cf_store_forward_set(struct cf_store *st, const struct cf_store_forward *f)
{
	int err;

	if (!st || !f || !user_ok(f->user) || !domain_ok(f->domain))
		return EINVAL;
	for (int i = 0; i < CF_STORE_FWD_N; i++) {
		if (!fwd_uri_ok(f->uri[i]))
			return EINVAL;
	}
	lock(st);
	err = st->ops->forward_set(st, f, wall_now());
	unlock(st);
	return err;
}

int cf_store_forward_list(struct cf_store *st, cf_store_forward_h *h, void *arg)
{
	int err;

	if (!st)
		return EINVAL;
	lock(st);
	err = st->ops->forward_list(st, h, arg);
	unlock(st);
	return err;
}

int cf_store_subscriber_remove(struct cf_store *st, const char *user,
                               const char *domain)
{
	int err;

	if (!st || !user_ok(user) || !domain_ok(domain))
		return EINVAL;
	lock(st);
	err = st->ops->subscriber_remove(st, user, domain);
	unlock(st);
	return err;
}

int cf_store_subscriber_get(struct cf_store *st, const char *user,
                            const char *domain, struct cf_store_subscriber *sub)
{
	int err;

	if (!st || !sub || !user_ok(user) || !domain_ok(domain))
		return EINVAL;
	memset(sub, 0, sizeof(*sub));
	sub->user = user;
	sub->domain = domain;
	lock(st);
	err = st->ops->subscriber_get(st, sub);
	unlock(st);
	return err;
}

int cf_store_subscriber_list(struct cf_store *st, const char *domain,
                             cf_store_subscriber_h *h, void *arg)
{
	int err;

	if (!st || !h || (domain && !domain_ok(domain)))
		return EINVAL;
	lock(st);
	err = st->ops->subscriber_list(st, domain, h, arg);
	unlock(st);
	return err;
}

int cf_store_subscriber_import(struct cf_store *st, cf_store_import_h *next,
                               void *arg, size_t *count)
{
	char last[CF_STORE_DOMAIN_MAX + 1] = "";
	struct realm_buf rb = {.ok = false};
	int64_t now = wall_now();
	size_t n = 0;
	int err;

	if (!st || !next)
		return EINVAL;
	lock(st);
	if (st->in_txn) {
		err = EALREADY;
		goto out;
	}
	err = st->ops->txn(st, CF_STORE_TXN_BEGIN);
	if (err)
		goto out;
	for (; n < IMPORT_MAX; n++) {
		struct cf_store_import_row row = {0};
		struct cf_store_subscriber sub = {0};

		err = next(&row, arg);
		if (err == ENOENT) {
			err = 0;
			break;
		}
		if (err)
			break;
		if (!user_ok(row.user) || !domain_ok(row.domain) ||
		    !password_ok(row.password)) {
			err = EINVAL;
			break;
		}
		/* rows come grouped by domain: one realm lookup per group */
		if (!rb.ok || strcmp(last, row.domain)) {
			err = realm_get(st, row.domain, &rb);
			if (err)
				break;
			strcpy(last, row.domain); /* checked by domain_ok */
		}
		sub.user = row.user;
		sub.domain = row.domain;
		sub.created = sub.updated = now;
		err = ha1s(&sub, rb.s, row.password);
		if (!err)
			err = st->ops->subscriber_add(st, &sub);
		if (err)
			break;
	}
	if (!err && n == IMPORT_MAX)
		err = EINVAL;
	if (!err)
		err = st->ops->txn(st, CF_STORE_TXN_COMMIT);
	if (err)
		st->ops->txn(st, CF_STORE_TXN_ROLLBACK);
out:
	unlock(st);
	if (count)
		*count = n;
	return err;
}

/* -------------------------------------------------------------- location */

int cf_store_location_upsert(struct cf_store *st,
                             const struct cf_store_binding *b)
{
	struct cf_store_binding bb;
	int err;

	if (!st || !b || !req_ok(b->aor) || !req_ok(b->contact) ||
	    !req_ok(b->call_id) || !opt_ok(b->received) || !opt_ok(b->path) ||
	    !opt_ok(b->instance) || !opt_ok(b->user_agent) ||
	    !opt_ok(b->socket) || !opt_ok(b->node) || b->q < -1 || b->q > 1000)
		return EINVAL;
	bb = *b;
	if (!bb.node)
		bb.node = "";
	lock(st);
	err = st->ops->location_upsert(st, &bb, wall_now());
	unlock(st);
	return err;
}

int cf_store_location_delete(struct cf_store *st, const char *aor,
                             const char *contact)
{
	int err;

	if (!st || !req_ok(aor) || !req_ok(contact))
		return EINVAL;
	lock(st);
	err = st->ops->location_delete(st, aor, contact);
	unlock(st);
	return err;
}

int cf_store_location_delete_aor(struct cf_store *st, const char *aor,
                                 size_t *count)
{
	size_t n = 0;
	int err;

	if (!st || !req_ok(aor))
		return EINVAL;
	lock(st);
	err = st->ops->location_delete_aor(st, aor, &n);
	unlock(st);
	if (count)
		*count = n;
	return err;
}

int cf_store_location_list(struct cf_store *st, const char *aor,
                           cf_store_binding_h *h, void *arg)
{
	int err;

	if (!st || !h || !req_ok(aor))
		return EINVAL;
	lock(st);
	err = st->ops->location_list(st, aor, h, arg);
	unlock(st);
	return err;
}

int cf_store_location_load(struct cf_store *st, cf_store_binding_h *h,
                           void *arg)
{
	int err;

	if (!st || !h)
		return EINVAL;
	lock(st);
	err = st->ops->location_list(st, NULL, h, arg);
	unlock(st);
	return err;
}

int cf_store_location_delete_expired(struct cf_store *st, int64_t now,
                                     size_t *count)
{
	size_t n = 0;
	int err;

	if (!st)
		return EINVAL;
	lock(st);
	err = st->ops->location_delete_expired(st, now, &n);
	unlock(st);
	if (count)
		*count = n;
	return err;
}

/* ------------------------------------------------------------------ CDRs */

int cf_store_cdr_put(struct cf_store *st, const struct cf_store_cdr *c)
{
	int err;

	if (!st || !c || !c->uid || !*c->uid || !c->call_id ||
	    !c->disposition || !*c->disposition || c->start_ms < 0)
		return EINVAL;
	lock(st);
	err = st->ops->cdr_put(st, c, wall_now());
	unlock(st);
	return err;
}

int cf_store_cdr_list(struct cf_store *st, size_t limit, cf_store_cdr_h *h,
                      void *arg)
{
	int err;

	if (!st)
		return EINVAL;
	lock(st);
	err = st->ops->cdr_list(st, limit, h, arg);
	unlock(st);
	return err;
}

int cf_store_cdr_interrupt(struct cf_store *st, int64_t now_ms, size_t *count)
{
	size_t n = 0;
	int err;

	if (!st)
		return EINVAL;
	lock(st);
	err = st->ops->cdr_interrupt(st, now_ms, &n);
	unlock(st);
	if (count)
		*count = n;
	return err;
}
