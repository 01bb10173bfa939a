/* SPDX-License-Identifier: BSD-3-Clause */
/* guard.c - protection: static allow/deny lists (CIDRs), a token bucket
 * per source address with time-limited bans, and failed-authentication
 * counts per source and per user with temporary lockouts. Per-source and
 * per-user state lives in hashes with striped mutexes; idle entries are
 * swept by whichever worker takes a stripe's lock after a second. */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth_int.h"

enum {
	SRC_BUCKETS = 1024, /* per stripe */
	USR_BUCKETS = 256,
	SWEEP_MS = 1000,
	IDLE_MIN_MS = 10000, /* an entry lives at least this long idle */
};

struct cidr {
	int af;
	uint8_t addr[16];
	uint8_t bits;
};

/* One source address. Times in ms on the monotonic clock. */
struct src {
	struct cf_le le;
	struct cf_sa addr;   /* port 0 */
	uint64_t tokens;     /* milli-tokens */
	uint64_t refill;     /* last refill */
	uint64_t seen;       /* last request */
	uint64_t ban_until;  /* UINT64_MAX: until removed */
	uint64_t fail_start; /* window start */
	uint64_t lock_until;
	uint32_t fails;
	bool manual; /* ban from the control socket */
};

/* One user (failures only): key = user NUL domain (lower case). */
struct usr {
	struct cf_le le;
	uint64_t seen, fail_start, lock_until;
	uint32_t fails;
	uint16_t ulen, dlen;
	char key[];
};

struct stripe {
	pthread_mutex_t lock;
	struct cf_hash *h;
	size_t n;
	uint64_t swept;
};

static struct {
	struct stripe src[AUTH_STRIPES];
	struct stripe usr[AUTH_STRIPES];
	struct cidr allow[AUTH_CIDR_MAX], deny[AUTH_CIDR_MAX];
	size_t nallow, ndeny;
	size_t max_src; /* per stripe */
	bool ready;
} gd;

/* ------------------------------------------------------------ CIDRs */

static void sa_bytes(const struct cf_sa *a, int *af, uint8_t *b)
{
	*af = cf_sa_af(a);
	if (*af == AF_INET)
		memcpy(b, &a->u.in.sin_addr, 4);
	else if (*af == AF_INET6)
		memcpy(b, &a->u.in6.sin6_addr, 16);
}

static bool cidr_match(const struct cidr *c, int af, const uint8_t *b)
{
	size_t full = c->bits / 8, rest = c->bits % 8;

	if (c->af != af || memcmp(c->addr, b, full))
		return false;
	if (!rest)
		return true;
	return ((c->addr[full] ^ b[full]) & (0xff00 >> rest) & 0xff) == 0;
}

static bool list_match(const struct cidr *v, size_t n, const struct cf_sa *a)
{
	uint8_t b[16] = {0};
	int af;

	if (!n)
		return false;
	sa_bytes(a, &af, b);
	for (size_t i = 0; i < n; i++) {
		if (cidr_match(&v[i], af, b))
			return true;
	}
	return false;
}

int auth_guard_cidr_add(const char *s, bool deny)
{
	char buf[64];
	const char *slash;
	struct cidr c = {0};
	struct cf_sa sa;
	unsigned long bits;
	size_t max;
	char *end;

	if (!s || strlen(s) >= sizeof(buf))
		return EINVAL;
	snprintf(buf, sizeof(buf), "%s", s);
	slash = strchr(buf, '/');
	if (slash)
		buf[slash - buf] = '\0';
	if (cf_sa_set_str(&sa, buf, 0))
		return EINVAL;
	sa_bytes(&sa, &c.af, c.addr);
	max = c.af == AF_INET ? 32 : 128;
	bits = max;
	if (slash) {
		bits = strtoul(slash + 1, &end, 10);
		if (!slash[1] || *end || bits > max)
			return EINVAL;
	}
	c.bits = bits;
	/* clear the host bits so that the list prints as given */
	for (size_t i = 0; i < max / 8; i++) {
		if (i * 8 >= bits)
			c.addr[i] = 0;
		else if (i * 8 + 8 > bits)
			c.addr[i] &= 0xff00 >> (bits - i * 8) & 0xff;
	}
	if (deny) {
		if (gd.ndeny >= AUTH_CIDR_MAX)
			return ENOMEM;
		gd.deny[gd.ndeny++] = c;
	} else {
		if (gd.nallow >= AUTH_CIDR_MAX)
			return ENOMEM;
		gd.allow[gd.nallow++] = c;
	}
	return 0;
}

void auth_guard_cidr_clear(void)
{
	gd.nallow = gd.ndeny = 0;
}

bool auth_guard_allowed(const struct cf_sa *a)
{
	return a && list_match(gd.allow, gd.nallow, a);
}

/* ------------------------------------------------------------ tables */

static bool unlink_all(struct cf_le *le, void *arg)
{
	(void)arg;
	cf_hash_unlink(le);
	cf_mem_deref(le->data);
	return false;
}

static void stripes_close(struct stripe *v)
{
	for (size_t i = 0; i < AUTH_STRIPES; i++) {
		cf_hash_apply(v[i].h, unlink_all, NULL);
		v[i].h = cf_mem_deref(v[i].h);
		pthread_mutex_destroy(&v[i].lock);
	}
}

void auth_guard_close(void)
{
	if (!gd.ready)
		return;
	stripes_close(gd.src);
	stripes_close(gd.usr);
	gd.ready = false;
}

int auth_guard_init(uint32_t max_sources)
{
	int err = 0;

	auth_guard_close();
	memset(&gd, 0, sizeof(gd));
	for (size_t i = 0; i < AUTH_STRIPES; i++) {
		pthread_mutex_init(&gd.src[i].lock, NULL);
		pthread_mutex_init(&gd.usr[i].lock, NULL);
	}
	gd.ready = true;
	gd.max_src = max_sources / AUTH_STRIPES + 1;
	for (size_t i = 0; i < AUTH_STRIPES && !err; i++) {
		err = cf_hash_alloc(&gd.src[i].h, SRC_BUCKETS);
		if (!err)
			err = cf_hash_alloc(&gd.usr[i].h, USR_BUCKETS);
	}
	if (err)
		auth_guard_close();
	return err;
}

static uint64_t idle_ms(void)
{
	uint64_t w = (uint64_t)AUTH_GET(fail_window) * 1000;

	return w > IDLE_MIN_MS ? w : IDLE_MIN_MS;
}

struct sweep {
	uint64_t now, idle;
	size_t gone;
};

static bool src_idle(struct cf_le *le, void *arg)
{
	struct src *e = le->data;
	struct sweep *sw = arg;

	if (e->ban_until > sw->now || e->lock_until > sw->now ||
	    sw->now - e->seen < sw->idle)
		return false;
	cf_hash_unlink(le);
	cf_mem_deref(e);
	sw->gone++;
	return false;
}

static bool usr_idle(struct cf_le *le, void *arg)
{
	struct usr *e = le->data;
	struct sweep *sw = arg;

	if (e->lock_until > sw->now || sw->now - e->seen < sw->idle)
		return false;
	cf_hash_unlink(le);
	cf_mem_deref(e);
	sw->gone++;
	return false;
}

/* With the stripe's lock held. */
static void stripe_sweep(struct stripe *s, cf_list_apply_h *h, uint64_t now,
                         bool force)
{
	struct sweep sw = {now, idle_ms(), 0};

	if (!force && now - s->swept < SWEEP_MS)
		return;
	s->swept = now;
	cf_hash_apply(s->h, h, &sw);
	s->n -= sw.gone;
}

void auth_guard_sweep(void)
{
	uint64_t now = auth_mono_ms();

	for (size_t i = 0; gd.ready && i < AUTH_STRIPES; i++) {
		pthread_mutex_lock(&gd.src[i].lock);
		stripe_sweep(&gd.src[i], src_idle, now, true);
		pthread_mutex_unlock(&gd.src[i].lock);
		pthread_mutex_lock(&gd.usr[i].lock);
		stripe_sweep(&gd.usr[i], usr_idle, now, true);
		pthread_mutex_unlock(&gd.usr[i].lock);
	}
}

static bool src_match(struct cf_le *le, void *arg)
{
	return cf_sa_addr_eq(&((struct src *)le->data)->addr, arg);
}

static struct stripe *src_stripe(const struct cf_sa *a, uint32_t *key)
{
	*key = cf_sa_hash(a, false);
	return &gd.src[(*key >> 24) & (AUTH_STRIPES - 1)];
}

/* With the stripe's lock held: find, or create (create true) a full
 * bucket. NULL when absent (or the table is full, or no memory). */
static struct src *src_get(struct stripe *s, uint32_t key,
                           const struct cf_sa *a, uint64_t now, bool create)
{
	struct cf_le *le;
	struct src *e;

	stripe_sweep(s, src_idle, now, false);
	le = cf_hash_lookup(s->h, key, src_match, (void *)a);
	if (le)
		return le->data;
	if (!create || s->n >= gd.max_src)
		return NULL;
	e = cf_mem_zalloc(sizeof(*e), NULL);
	if (!e)
		return NULL;
	e->addr = *a;
	cf_sa_set_port(&e->addr, 0);
	e->tokens = (uint64_t)AUTH_GET(burst) * 1000;
	e->refill = e->seen = now;
	cf_hash_append(s->h, key, &e->le, e);
	s->n++;
	return e;
}

static uint32_t secs_left(uint64_t until, uint64_t now)
{
	if (until == UINT64_MAX)
		return 3600;
	return until > now ? (uint32_t)((until - now + 999) / 1000) : 0;
}

enum auth_gate auth_guard_request(const struct cf_sa *a, uint32_t *retry_s)
{
	unsigned rate = AUTH_GET(rate), burst = AUTH_GET(burst);
	enum auth_gate v = AUTH_GATE_PASS;
	struct stripe *s;
	struct src *e;
	uint64_t now;
	uint32_t key;

	if (!gd.ready || !a)
		return AUTH_GATE_PASS;
	if (list_match(gd.allow, gd.nallow, a))
		return AUTH_GATE_ALLOWED;
	if (list_match(gd.deny, gd.ndeny, a))
		return AUTH_GATE_DENIED;

	now = auth_mono_ms();
	s = src_stripe(a, &key);
	pthread_mutex_lock(&s->lock);
	e = src_get(s, key, a, now, true);
	if (!e) {
		pthread_mutex_unlock(&s->lock);
		AUTH_INC(untracked);
		return AUTH_GATE_PASS;
	}
	e->seen = now;
	if (e->ban_until > now) {
		*retry_s = secs_left(e->ban_until, now);
		v = AUTH_GATE_BANNED;
		AUTH_INC(banned_refused);
		goto out;
	}
	if (!rate)
		goto out;
	/* token bucket: rate tokens a second, at most burst */
	e->tokens += (now - e->refill) * rate;
	e->refill = now;
	if (e->tokens > (uint64_t)burst * 1000)
		e->tokens = (uint64_t)burst * 1000;
	if (e->tokens >= 1000) {
		e->tokens -= 1000;
		goto out;
	}
	e->ban_until = now + (uint64_t)AUTH_GET(ban_time) * 1000;
	e->manual = false;
	e->tokens = (uint64_t)burst * 1000; /* a full bucket after the ban */
	*retry_s = secs_left(e->ban_until, now);
	v = AUTH_GATE_BANNED;
	AUTH_INC(rate_limited);
	{
		char buf[64];

		cf_log(CF_LOG_NOTICE, NULL,
		       "security: %s over %u requests/s (burst %u): banned "
		       "for %u s",
		       cf_sa_ntop(a, buf, sizeof(buf)), rate, burst, *retry_s);
	}
out:
	pthread_mutex_unlock(&s->lock);
	return v;
}

/* ------------------------------------------------------------- users */

static uint32_t usr_key(const struct cf_pl *u, const struct cf_pl *d)
{
	return cf_hash_mem(u->p, u->l) * 31u + cf_hash_mem_ci(d->p, d->l);
}

struct ufind {
	const struct cf_pl *u, *d;
};

static bool usr_match(struct cf_le *le, void *arg)
{
	const struct usr *e = le->data;
	const struct ufind *f = arg;

	return e->ulen == f->u->l && e->dlen == f->d->l &&
	       !memcmp(e->key, f->u->p, e->ulen) &&
	       !strncasecmp(e->key + e->ulen + 1, f->d->p, e->dlen);
}

static struct usr *usr_get(struct stripe *s, uint32_t key,
                           const struct cf_pl *u, const struct cf_pl *d,
                           uint64_t now, bool create)
{
	struct ufind f = {u, d};
	struct cf_le *le;
	struct usr *e;

	stripe_sweep(s, usr_idle, now, false);
	le = cf_hash_lookup(s->h, key, usr_match, &f);
	if (le)
		return le->data;
	if (!create || s->n >= gd.max_src || u->l > CF_STORE_USER_MAX ||
	    d->l > CF_STORE_DOMAIN_MAX)
		return NULL;
	e = cf_mem_zalloc(sizeof(*e) + u->l + d->l + 2, NULL);
	if (!e)
		return NULL;
	e->ulen = u->l;
	e->dlen = d->l;
	memcpy(e->key, u->p, u->l);
	memcpy(e->key + u->l + 1, d->p, d->l);
	e->seen = now;
	cf_hash_append(s->h, key, &e->le, e);
	s->n++;
	return e;
}

static bool user_ok(const struct cf_pl *u, const struct cf_pl *d)
{
	return u && d && u->l && d->l;
}

bool auth_guard_locked(const struct cf_sa *a, const struct cf_pl *user,
                       const struct cf_pl *domain, uint32_t *retry_s)
{
	uint64_t now = auth_mono_ms();
	struct stripe *s;
	uint32_t key;
	bool locked = false;

	if (!gd.ready)
		return false;
	if (a && !list_match(gd.allow, gd.nallow, a)) {
		struct src *e;

		s = src_stripe(a, &key);
		pthread_mutex_lock(&s->lock);
		e = src_get(s, key, a, now, false);
		if (e && e->lock_until > now) {
			*retry_s = secs_left(e->lock_until, now);
			locked = true;
		}
		pthread_mutex_unlock(&s->lock);
	}
	if (!locked && user_ok(user, domain)) {
		struct usr *e;

		key = usr_key(user, domain);
		s = &gd.usr[(key >> 24) & (AUTH_STRIPES - 1)];
		pthread_mutex_lock(&s->lock);
		e = usr_get(s, key, user, domain, now, false);
		if (e && e->lock_until > now) {
			*retry_s = secs_left(e->lock_until, now);
			locked = true;
		}
		pthread_mutex_unlock(&s->lock);
	}
	if (locked)
		AUTH_INC(locked_refused);
	return locked;
}

/* Count one failure in a window; true when it reaches max: lock. */
static bool fail_count(uint32_t *fails, uint64_t *start, uint64_t *lock_until,
                       uint64_t now, unsigned max)
{
	uint64_t win = (uint64_t)AUTH_GET(fail_window) * 1000;

	if (!*fails || now - *start >= win) {
		*fails = 0;
		*start = now;
	}
	(*fails)++;
	if (!max || *fails < max)
		return false;
	*lock_until = now + (uint64_t)AUTH_GET(lockout_time) * 1000;
	*fails = 0;
	return true;
}

bool auth_guard_fail(const struct cf_sa *a, const struct cf_pl *user,
                     const struct cf_pl *domain, uint32_t *retry_s)
{
	uint64_t now = auth_mono_ms();
	struct stripe *s;
	uint32_t key;
	bool locked = false;
	char buf[64];

	if (!gd.ready)
		return false;
	if (a && !list_match(gd.allow, gd.nallow, a)) {
		struct src *e;

		s = src_stripe(a, &key);
		pthread_mutex_lock(&s->lock);
		e = src_get(s, key, a, now, true);
		if (e) {
			e->seen = now;
			if (fail_count(&e->fails, &e->fail_start,
			               &e->lock_until, now,
			               AUTH_GET(fail_max))) {
				locked = true;
				*retry_s = secs_left(e->lock_until, now);
				AUTH_INC(lockouts);
				cf_log(CF_LOG_NOTICE, NULL,
				       "security: %s locked out for %u s "
				       "after %u failed authentications",
				       cf_sa_ntop(a, buf, sizeof(buf)),
				       *retry_s, AUTH_GET(fail_max));
			}
		}
		pthread_mutex_unlock(&s->lock);
	}
	if (user_ok(user, domain)) {
		struct usr *e;

		key = usr_key(user, domain);
		s = &gd.usr[(key >> 24) & (AUTH_STRIPES - 1)];
		pthread_mutex_lock(&s->lock);
		e = usr_get(s, key, user, domain, now, true);
		if (e) {
			e->seen = now;
			if (fail_count(&e->fails, &e->fail_start,
			               &e->lock_until, now,
			               AUTH_GET(user_fail_max))) {
				locked = true;
				*retry_s = secs_left(e->lock_until, now);
				AUTH_INC(user_lockouts);
				cf_log(CF_LOG_NOTICE, NULL,
				       "security: user %.*s@%.*s locked out "
				       "for %u s after %u failed "
				       "authentications",
				       (int)user->l, user->p, (int)domain->l,
				       domain->p, *retry_s,
				       AUTH_GET(user_fail_max));
			}
		}
		pthread_mutex_unlock(&s->lock);
	}
	return locked;
}

void auth_guard_user_ok(const struct cf_pl *user, const struct cf_pl *domain)
{
	struct stripe *s;
	struct usr *e;
	uint32_t key;

	if (!gd.ready || !user_ok(user, domain))
		return;
	key = usr_key(user, domain);
	s = &gd.usr[(key >> 24) & (AUTH_STRIPES - 1)];
	pthread_mutex_lock(&s->lock);
	e = usr_get(s, key, user, domain, auth_mono_ms(), false);
	if (e)
		e->fails = 0;
	pthread_mutex_unlock(&s->lock);
}

/* ----------------------------------------------------------- control */

int auth_guard_ban_add(const struct cf_sa *a, uint32_t secs)
{
	uint64_t now = auth_mono_ms();
	struct stripe *s;
	struct src *e;
	uint32_t key;
	int err = 0;

	if (!gd.ready || !a)
		return EINVAL;
	s = src_stripe(a, &key);
	pthread_mutex_lock(&s->lock);
	e = src_get(s, key, a, now, true);
	if (e) {
		e->ban_until = secs ? now + (uint64_t)secs * 1000 : UINT64_MAX;
		e->manual = true;
		e->seen = now;
	} else {
		err = ENOMEM;
	}
	pthread_mutex_unlock(&s->lock);
	return err;
}

int auth_guard_ban_remove(const struct cf_sa *a)
{
	uint64_t now = auth_mono_ms();
	struct stripe *s;
	struct src *e;
	uint32_t key;
	int err = ENOENT;

	if (!gd.ready || !a)
		return EINVAL;
	s = src_stripe(a, &key);
	pthread_mutex_lock(&s->lock);
	e = src_get(s, key, a, now, false);
	if (e && (e->ban_until > now || e->lock_until > now)) {
		e->ban_until = e->lock_until = 0;
		e->fails = 0;
		e->manual = false;
		e->tokens = (uint64_t)AUTH_GET(burst) * 1000;
		err = 0;
	}
	pthread_mutex_unlock(&s->lock);
	return err;
}

struct list_ctx {
	json_t *arr;
	uint64_t now;
};

static bool src_list(struct cf_le *le, void *arg)
{
	const struct src *e = le->data;
	struct list_ctx *lc = arg;
	char buf[64];
	json_t *o;
	uint64_t until;
	const char *reason;

	if (e->ban_until > lc->now) {
		until = e->ban_until;
		reason = e->manual ? "manual" : "rate";
	} else if (e->lock_until > lc->now) {
		until = e->lock_until;
		reason = "lockout";
	} else {
		return false;
	}
	o = json_object();
	if (!o)
		return true;
	json_object_set_new(
	    o, "address", json_string(cf_sa_ntop(&e->addr, buf, sizeof(buf))));
	json_object_set_new(o, "reason", json_string(reason));
	json_object_set_new(o, "left",
	                    until == UINT64_MAX
	                        ? json_null()
	                        : json_integer(secs_left(until, lc->now)));
	json_array_append_new(lc->arr, o);
	return false;
}

static bool usr_list(struct cf_le *le, void *arg)
{
	const struct usr *e = le->data;
	struct list_ctx *lc = arg;
	char buf[CF_STORE_USER_MAX + CF_STORE_DOMAIN_MAX + 2];
	json_t *o;

	if (e->lock_until <= lc->now)
		return false;
	o = json_object();
	if (!o)
		return true;
	snprintf(buf, sizeof(buf), "%.*s@%.*s", (int)e->ulen, e->key,
	         (int)e->dlen, e->key + e->ulen + 1);
	json_object_set_new(o, "user", json_string(buf));
	json_object_set_new(o, "left",
	                    json_integer(secs_left(e->lock_until, lc->now)));
	json_array_append_new(lc->arr, o);
	return false;
}

void auth_guard_list(json_t *bans, json_t *users)
{
	struct list_ctx lc = {bans, auth_mono_ms()};

	for (size_t i = 0; gd.ready && i < AUTH_STRIPES; i++) {
		if (bans) {
			lc.arr = bans;
			pthread_mutex_lock(&gd.src[i].lock);
			cf_hash_apply(gd.src[i].h, src_list, &lc);
			pthread_mutex_unlock(&gd.src[i].lock);
		}
		if (users) {
			lc.arr = users;
			pthread_mutex_lock(&gd.usr[i].lock);
			cf_hash_apply(gd.usr[i].h, usr_list, &lc);
			pthread_mutex_unlock(&gd.usr[i].lock);
		}
	}
}

static void cidrs(json_t *o, const char *name, const struct cidr *v, size_t n)
{
	json_t *arr = json_array();
	char buf[INET6_ADDRSTRLEN + 8];

	for (size_t i = 0; arr && i < n; i++) {
		size_t l;

		if (!inet_ntop(v[i].af, v[i].addr, buf, sizeof(buf)))
			continue;
		l = strlen(buf);
		snprintf(buf + l, sizeof(buf) - l, "/%u", v[i].bits);
		json_array_append_new(arr, json_string(buf));
	}
	json_object_set_new(o, name, arr);
}

void auth_guard_stats(json_t *o)
{
	size_t ns = 0, nu = 0;

	for (size_t i = 0; gd.ready && i < AUTH_STRIPES; i++) {
		pthread_mutex_lock(&gd.src[i].lock);
		ns += gd.src[i].n;
		pthread_mutex_unlock(&gd.src[i].lock);
		pthread_mutex_lock(&gd.usr[i].lock);
		nu += gd.usr[i].n;
		pthread_mutex_unlock(&gd.usr[i].lock);
	}
	json_object_set_new(o, "sources_tracked", json_integer(ns));
	json_object_set_new(o, "users_tracked", json_integer(nu));
	cidrs(o, "allow", gd.allow, gd.nallow);
	cidrs(o, "deny", gd.deny, gd.ndeny);
}
