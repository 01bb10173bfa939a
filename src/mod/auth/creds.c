/* SPDX-License-Identifier: BSD-3-Clause */
/* creds.c - the credentials cache: every served domain and every
 * subscriber's HA1s in memory, so that workers never wait on the store.
 * Users in a hash with striped rwlocks keyed by user@domain; domains (a
 * handful) in one hash under one rwlock. Written on the main thread only
 * (load at init, user_changed, domain_changed). */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>

#include "auth_int.h"

enum {
	USER_BUCKETS = 4096, /* per stripe: 256k buckets in all */
	DOMAIN_BUCKETS = 64,
};

/* One subscriber: the HA1s in binary (MD5 16 bytes, then SHA-256 and
 * SHA-512/256 32 each: 80 bytes instead of 195 in hex), key = user NUL
 * domain (lower case) NUL. About 170 bytes per subscriber in all. */
enum { HA1_BYTES = 16 + 32 + 32 };

struct cred {
	struct cf_le le;
	uint8_t ha1[HA1_BYTES];
	uint8_t valid; /* bit 1 << alg: that HA1 was given */
	uint16_t ulen, dlen;
	char key[];
};

static const uint8_t ha1_off[CF_DIGEST_ALG_COUNT] = {0, 16, 48};

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Hex HA1 of alg into its place; false when it is not hex of its size. */
static bool ha1_pack(struct cred *c, enum cf_digest_alg alg, const char *hex)
{
	size_t n = cf_digest_hexlen(alg);

	for (size_t i = 0; i < n; i += 2) {
		int hi = hexval(hex[i]), lo = hi < 0 ? -1 : hexval(hex[i + 1]);

		if (lo < 0)
			return false;
		c->ha1[ha1_off[alg] + i / 2] = (uint8_t)(hi << 4 | lo);
	}
	return hex[n] == '\0';
}

static void ha1_unpack(const struct cred *c, enum cf_digest_alg alg, char *out)
{
	static const char hx[] = "0123456789abcdef";
	size_t n = cf_digest_hexlen(alg) / 2;

	for (size_t i = 0; i < n; i++) {
		uint8_t b = c->ha1[ha1_off[alg] + i];

		out[2 * i] = hx[b >> 4];
		out[2 * i + 1] = hx[b & 15];
	}
	out[2 * n] = '\0';
}

struct dom {
	struct cf_le le;
	char realm[CF_STORE_REALM_MAX + 1];
	unsigned algs; /* packed; 0: the configured order */
	char name[];   /* lower case */
};

struct stripe {
	pthread_rwlock_t lock;
	struct cf_hash *h;
	size_t n;
};

static struct {
	struct stripe s[AUTH_STRIPES];
	pthread_rwlock_t dlock;
	struct cf_hash *dh;
	size_t ndom;
	bool ready;
} cc;

static uint32_t user_key(const struct cf_pl *user, const struct cf_pl *dom)
{
	return cf_hash_mem(user->p, user->l) * 31u +
	       cf_hash_mem_ci(dom->p, dom->l);
}

static struct stripe *stripe_of(uint32_t key)
{
	return &cc.s[(key >> 24) & (AUTH_STRIPES - 1)];
}

struct ufind {
	const struct cf_pl *user, *dom;
};

static bool user_match(struct cf_le *le, void *arg)
{
	const struct cred *c = le->data;
	const struct ufind *f = arg;

	return c->ulen == f->user->l && c->dlen == f->dom->l &&
	       !memcmp(c->key, f->user->p, c->ulen) &&
	       !strncasecmp(c->key + c->ulen + 1, f->dom->p, c->dlen);
}

static struct cred *user_find(struct stripe *s, uint32_t key,
                              const struct cf_pl *user, const struct cf_pl *dom)
{
	struct ufind f = {user, dom};
	struct cf_le *le = cf_hash_lookup(s->h, key, user_match, &f);

	return le ? le->data : NULL;
}

static bool dom_match(struct cf_le *le, void *arg)
{
	const struct dom *d = le->data;

	return !cf_pl_strcasecmp(arg, d->name);
}

static struct dom *dom_find(const struct cf_pl *name)
{
	struct cf_le *le = cf_hash_lookup(
	    cc.dh, cf_hash_mem_ci(name->p, name->l), dom_match, (void *)name);

	return le ? le->data : NULL;
}

static bool unlink_all(struct cf_le *le, void *arg)
{
	(void)arg;
	cf_hash_unlink(le);
	cf_mem_deref(le->data);
	return false;
}

void auth_creds_close(void)
{
	if (!cc.ready)
		return;
	for (size_t i = 0; i < AUTH_STRIPES; i++) {
		/* cf_hash_apply tolerates unlinking the current element */
		cf_hash_apply(cc.s[i].h, unlink_all, NULL);
		cc.s[i].h = cf_mem_deref(cc.s[i].h);
		pthread_rwlock_destroy(&cc.s[i].lock);
	}
	cf_hash_apply(cc.dh, unlink_all, NULL);
	cc.dh = cf_mem_deref(cc.dh);
	pthread_rwlock_destroy(&cc.dlock);
	cc.ready = false;
}

int auth_creds_init(void)
{
	int err = 0;

	auth_creds_close();
	memset(&cc, 0, sizeof(cc));
	for (size_t i = 0; i < AUTH_STRIPES; i++)
		pthread_rwlock_init(&cc.s[i].lock, NULL);
	pthread_rwlock_init(&cc.dlock, NULL);
	cc.ready = true;
	for (size_t i = 0; i < AUTH_STRIPES && !err; i++)
		err = cf_hash_alloc(&cc.s[i].h, USER_BUCKETS);
	if (!err)
		err = cf_hash_alloc(&cc.dh, DOMAIN_BUCKETS);
	if (err)
		auth_creds_close();
	return err;
}

int auth_creds_user_put(const char *user, const char *domain,
                        const char ha1[CF_DIGEST_ALG_COUNT][CF_DIGEST_HEX_SIZE])
{
	size_t ul, dl;
	struct cf_pl u, d;
	struct stripe *s;
	struct cred *c, *old;
	uint32_t key;

	if (!cc.ready || !user || !domain || !ha1)
		return EINVAL;
	ul = strlen(user);
	dl = strlen(domain);
	if (!ul || !dl || ul > CF_STORE_USER_MAX || dl > CF_STORE_DOMAIN_MAX)
		return EINVAL;
	c = cf_mem_zalloc(sizeof(*c) + ul + dl + 2, NULL);
	if (!c)
		return ENOMEM;
	for (size_t i = 0; i < CF_DIGEST_ALG_COUNT; i++) {
		if (ha1_pack(c, i, ha1[i]))
			c->valid |= 1u << i;
	}
	if (!c->valid) {
		cf_mem_deref(c);
		return EINVAL;
	}
	c->ulen = ul;
	c->dlen = dl;
	memcpy(c->key, user, ul);
	for (size_t i = 0; i < dl; i++)
		c->key[ul + 1 + i] = tolower((unsigned char)domain[i]);

	cf_pl_set_str(&u, user);
	cf_pl_set_str(&d, domain);
	key = user_key(&u, &d);
	s = stripe_of(key);
	pthread_rwlock_wrlock(&s->lock);
	old = user_find(s, key, &u, &d);
	if (old) {
		cf_hash_unlink(&old->le);
		s->n--;
	}
	cf_hash_append(s->h, key, &c->le, c);
	s->n++;
	pthread_rwlock_unlock(&s->lock);
	cf_mem_deref(old);
	return 0;
}

void auth_creds_user_del(const char *user, const char *domain)
{
	struct cf_pl u, d;
	struct stripe *s;
	struct cred *old;
	uint32_t key;

	if (!cc.ready || !user || !domain)
		return;
	cf_pl_set_str(&u, user);
	cf_pl_set_str(&d, domain);
	key = user_key(&u, &d);
	s = stripe_of(key);
	pthread_rwlock_wrlock(&s->lock);
	old = user_find(s, key, &u, &d);
	if (old) {
		cf_hash_unlink(&old->le);
		s->n--;
	}
	pthread_rwlock_unlock(&s->lock);
	cf_mem_deref(old);
}

bool auth_creds_user_get(const struct cf_pl *user, const struct cf_pl *domain,
                         enum cf_digest_alg alg, char *ha1)
{
	struct stripe *s;
	struct cred *c;
	uint32_t key;

	if (!cc.ready || !user || !domain || !user->l || !domain->l ||
	    (unsigned)alg >= CF_DIGEST_ALG_COUNT)
		return false;
	key = user_key(user, domain);
	s = stripe_of(key);
	pthread_rwlock_rdlock(&s->lock);
	c = user_find(s, key, user, domain);
	if (c && ha1) {
		if (c->valid & 1u << alg)
			ha1_unpack(c, alg, ha1);
		else
			c = NULL; /* no HA1 for this algorithm */
	}
	pthread_rwlock_unlock(&s->lock);
	return c != NULL;
}

int auth_creds_domain_put(const char *name, const char *realm, const char *algs)
{
	struct dom *d, *old;
	struct cf_pl pl;
	size_t nl;
	unsigned packed = 0;

	if (!cc.ready || !name || !*name)
		return EINVAL;
	nl = strlen(name);
	if (nl > CF_STORE_DOMAIN_MAX)
		return EINVAL;
	if (algs && *algs && auth_algs_decode(algs, &packed))
		return EINVAL;
	d = cf_mem_zalloc(sizeof(*d) + nl + 1, NULL);
	if (!d)
		return ENOMEM;
	for (size_t i = 0; i < nl; i++)
		d->name[i] = tolower((unsigned char)name[i]);
	snprintf(d->realm, sizeof(d->realm), "%s",
	         realm && *realm ? realm : name);
	d->algs = packed;

	cf_pl_set_str(&pl, name);
	pthread_rwlock_wrlock(&cc.dlock);
	old = dom_find(&pl);
	if (old) {
		cf_hash_unlink(&old->le);
		cc.ndom--;
	}
	cf_hash_append(cc.dh, cf_hash_mem_ci(name, nl), &d->le, d);
	cc.ndom++;
	pthread_rwlock_unlock(&cc.dlock);
	cf_mem_deref(old);
	return 0;
}

struct dom_del {
	const char *name;
	size_t nl;
	struct cf_list gone;
};

static bool user_of_domain(struct cf_le *le, void *arg)
{
	struct cred *c = le->data;
	struct dom_del *dd = arg;

	if (c->dlen == dd->nl &&
	    !strncasecmp(c->key + c->ulen + 1, dd->name, dd->nl)) {
		cf_hash_unlink(le);
		cf_list_append(&dd->gone, le, c);
	}
	return false;
}

void auth_creds_domain_del(const char *name)
{
	struct dom_del dd;
	struct cf_pl pl;
	struct dom *old;

	if (!cc.ready || !name)
		return;
	cf_pl_set_str(&pl, name);
	pthread_rwlock_wrlock(&cc.dlock);
	old = dom_find(&pl);
	if (old) {
		cf_hash_unlink(&old->le);
		cc.ndom--;
	}
	pthread_rwlock_unlock(&cc.dlock);
	cf_mem_deref(old);

	/* O(users): a domain removal is rare */
	dd.name = name;
	dd.nl = strlen(name);
	for (size_t i = 0; i < AUTH_STRIPES; i++) {
		struct stripe *s = &cc.s[i];

		cf_list_init(&dd.gone);
		pthread_rwlock_wrlock(&s->lock);
		cf_hash_apply(s->h, user_of_domain, &dd);
		s->n -= cf_list_count(&dd.gone);
		pthread_rwlock_unlock(&s->lock);
		cf_list_flush(&dd.gone, true);
	}
}

bool auth_creds_domain_get(const struct cf_pl *name, char *realm,
                           unsigned *algs)
{
	struct dom *d;

	if (!cc.ready || !name || !name->l)
		return false;
	pthread_rwlock_rdlock(&cc.dlock);
	d = dom_find(name);
	if (d) {
		if (realm)
			memcpy(realm, d->realm, sizeof(d->realm));
		if (algs)
			*algs = d->algs;
	}
	pthread_rwlock_unlock(&cc.dlock);
	return d != NULL;
}

size_t auth_creds_users(void)
{
	size_t n = 0;

	for (size_t i = 0; cc.ready && i < AUTH_STRIPES; i++) {
		pthread_rwlock_rdlock(&cc.s[i].lock);
		n += cc.s[i].n;
		pthread_rwlock_unlock(&cc.s[i].lock);
	}
	return n;
}

size_t auth_creds_domains(void)
{
	size_t n;

	if (!cc.ready)
		return 0;
	pthread_rwlock_rdlock(&cc.dlock);
	n = cc.ndom;
	pthread_rwlock_unlock(&cc.dlock);
	return n;
}

struct load {
	int err;
	size_t n;
};

static bool load_domain(const struct cf_store_domain *d, void *arg)
{
	struct load *ld = arg;
	int err = auth_creds_domain_put(d->name, d->realm, d->digest_algs);

	if (err == EINVAL) {
		cf_log(CF_LOG_WARN, NULL,
		       "auth: domain %s: bad digest_algs '%s': using the "
		       "default order",
		       d->name, d->digest_algs ? d->digest_algs : "");
		err = auth_creds_domain_put(d->name, d->realm, NULL);
	}
	ld->err = err;
	return err != 0;
}

static bool load_user(const struct cf_store_subscriber *s, void *arg)
{
	struct load *ld = arg;

	ld->err = auth_creds_user_put(s->user, s->domain, s->ha1);
	if (ld->err == EINVAL) { /* a row we cannot hold: skip it */
		cf_log(CF_LOG_WARN, NULL, "auth: subscriber %s@%s skipped",
		       s->user, s->domain);
		ld->err = 0;
	}
	ld->n++;
	return ld->err != 0;
}

int auth_creds_load(struct cf_store *st)
{
	struct load ld = {0};
	int err;

	if (!st)
		return 0;
	err = cf_store_domain_list(st, load_domain, &ld);
	if (!err)
		err = ld.err;
	if (!err)
		err = cf_store_subscriber_list(st, NULL, load_user, &ld);
	if (!err)
		err = ld.err;
	if (!err)
		cf_log(CF_LOG_INFO, NULL,
		       "auth: %zu domains, %zu subscribers cached",
		       auth_creds_domains(), auth_creds_users());
	return err;
}
