/* SPDX-License-Identifier: BSD-3-Clause */
/* forward.c - the per-user failure routes (issue 4 point 3) in memory:
 * loaded from the store on the main thread, read by the workers. */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>

#include "mod/proxy/proxy_int.h"
#include "store/store.h"

struct fwd_user {
	char *user, *domain;
	char *uri[CF_STORE_FWD_N]; /* NULL: none */
};

struct fwd_set {
	struct fwd_user *v;
	size_t n, size;
	bool nomem;
};

static struct {
	pthread_mutex_t mtx;
	struct fwd_set *set; /* reference; NULL: none */
} fc = {.mtx = PTHREAD_MUTEX_INITIALIZER};

static void set_destroy(void *data)
{
	struct fwd_set *s = data;

	for (size_t i = 0; i < s->n; i++) {
		cf_mem_deref(s->v[i].user);
		cf_mem_deref(s->v[i].domain);
		for (int k = 0; k < CF_STORE_FWD_N; k++)
			cf_mem_deref(s->v[i].uri[k]);
	}
	cf_mem_deref(s->v);
}

static bool load_h(const struct cf_store_forward *f, void *arg)
{
	struct fwd_set *s = arg;
	struct fwd_user *u;

	if (s->n == s->size) {
		size_t size = s->size ? s->size * 2 : 16;
		struct fwd_user *v = cf_mem_realloc(s->v, size * sizeof(*v));

		if (!v) {
			s->nomem = true;
			return true;
		}
		s->v = v;
		s->size = size;
	}
	u = &s->v[s->n];
	memset(u, 0, sizeof(*u));
	s->n++;
	u->user = cf_mem_strdup(f->user);
	u->domain = cf_mem_strdup(f->domain);
	s->nomem = !u->user || !u->domain;
	for (int k = 0; k < CF_STORE_FWD_N; k++) {
		if (f->uri[k] && *f->uri[k]) {
			u->uri[k] = cf_mem_strdup(f->uri[k]);
			s->nomem = s->nomem || !u->uri[k];
		}
	}
	return s->nomem;
}

/*
 * Main thread: (re)load every subscriber's failure routes from the store
 * of app (proxy start, confabctl user forward online). On an error the
 * previous set stays. 0, ENOMEM, or the store's error.
 */
int cf_proxy_forwards_load(struct cf_app *app)
{
	struct cf_store *st = app ? cf_app_store(app) : NULL;
	struct fwd_set *s, *old;
	int err;

	if (!st)
		return 0;
	s = cf_mem_zalloc(sizeof(*s), set_destroy);
	if (!s)
		return ENOMEM;
	err = cf_store_forward_list(st, load_h, s);
	if (!err && s->nomem)
		err = ENOMEM;
	if (err) {
		cf_log(CF_LOG_WARN, NULL,
		       "proxy: per-user forwards not loaded: %s",
		       strerror(err));
		cf_mem_deref(s);
		return err;
	}
	pthread_mutex_lock(&fc.mtx);
	old = fc.set;
	fc.set = s;
	pthread_mutex_unlock(&fc.mtx);
	cf_mem_deref(old);
	return 0;
}

/* Main thread, at stop: drop the set. */
void proxy_forwards_clear(void)
{
	struct fwd_set *old;

	pthread_mutex_lock(&fc.mtx);
	old = fc.set;
	fc.set = NULL;
	pthread_mutex_unlock(&fc.mtx);
	cf_mem_deref(old);
}

/* Workers: the route of user@domain for why into uri; false when the user
 * has none. Linear in the users that have a route (few). */
bool proxy_user_forward(const struct cf_pl *user, const struct cf_pl *domain,
                        enum proxy_fwd why, char *uri, size_t size)
{
	bool ok = false;

	if (!user || !domain || (unsigned)why >= CF_STORE_FWD_N || !size)
		return false;
	pthread_mutex_lock(&fc.mtx);
	for (size_t i = 0; fc.set && i < fc.set->n; i++) {
		const struct fwd_user *u = &fc.set->v[i];

		if (strlen(u->user) != user->l ||
		    memcmp(u->user, user->p, user->l) ||
		    strlen(u->domain) != domain->l ||
		    strncasecmp(u->domain, domain->p, domain->l))
			continue;
		if (u->uri[why] && strlen(u->uri[why]) < size) {
			strcpy(uri, u->uri[why]);
			ok = true;
		}
		break;
	}
	pthread_mutex_unlock(&fc.mtx);
	return ok;
}
