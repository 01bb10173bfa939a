/* SPDX-License-Identifier: BSD-3-Clause */
/* resolve.c - RFC 3263 server location (NAPTR, SRV, A/AAAA) through c-ares
 * driven by the calling worker's event loop, with a TTL cache. */
#include <arpa/inet.h>
#include <ares.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sip/sip.h"

enum {
	SRV_MAX = 12, /* SRV records kept for one request */
	QNAME_MAX = 300,
	CACHE_MAX = 256,   /* entries per thread */
	TIMEOUT_MS = 2000, /* per try; c-ares retries (tries below) */
	TRIES = 2,
};

/* ---------------------------------------------------- SRV order (pure) */

void cf_sip_srv_order(struct cf_sip_srv *v, size_t n, cf_sip_rand_h *rnd,
                      void *arg)
{
	struct cf_sip_srv tmp;
	size_t i, j, start;

	if (!v || n < 2)
		return;
	/* ascending priority, zero weights first within one (stable) */
	for (i = 1; i < n; i++) {
		for (j = i; j > 0; j--) {
			const struct cf_sip_srv *a = &v[j - 1], *b = &v[j];

			if (a->prio < b->prio ||
			    (a->prio == b->prio &&
			     !(a->weight > 0 && b->weight == 0)))
				break;
			tmp = v[j - 1];
			v[j - 1] = v[j];
			v[j] = tmp;
		}
	}
	/* within each priority: the weighted choice, repeated */
	for (start = 0; start < n;) {
		size_t end = start;

		while (end < n && v[end].prio == v[start].prio)
			end++;
		for (i = start; i + 1 < end; i++) {
			uint32_t sum = 0, r, run = 0;

			for (j = i; j < end; j++)
				sum += v[j].weight;
			r = rnd ? rnd(arg) : (uint32_t)random();
			r = sum ? r % (sum + 1) : 0;
			for (j = i; j < end; j++) {
				run += v[j].weight;
				if (run >= r)
					break;
			}
			if (j == end)
				j = end - 1;
			tmp = v[j];
			memmove(&v[i + 1], &v[i], (j - i) * sizeof(*v));
			v[i] = tmp;
		}
		start = end;
	}
}

/* ---------------------------------------------------------- TTL cache */

struct rc_entry {
	char key[QNAME_MAX];
	struct cf_sip_target tv[CF_SIP_TARGETS_MAX];
	size_t n;
	uint64_t expires;
};

struct cf_sip_rcache {
	struct rc_entry *ev;
	size_t max;
};

static void rcache_destroy(void *data)
{
	struct cf_sip_rcache *c = data;

	cf_mem_deref(c->ev);
}

int cf_sip_rcache_alloc(struct cf_sip_rcache **cp, size_t max)
{
	struct cf_sip_rcache *c;

	if (!cp || !max)
		return EINVAL;
	c = cf_mem_zalloc(sizeof(*c), rcache_destroy);
	if (!c)
		return ENOMEM;
	c->ev = cf_mem_zalloc(max * sizeof(*c->ev), NULL);
	if (!c->ev) {
		cf_mem_deref(c);
		return ENOMEM;
	}
	c->max = max;
	*cp = c;
	return 0;
}

void cf_sip_rcache_put(struct cf_sip_rcache *c, const char *key,
                       const struct cf_sip_target *tv, size_t n, uint32_t ttl_s,
                       uint64_t now_ms)
{
	struct rc_entry *e = NULL;
	size_t i;

	if (!c || !key || !ttl_s || !n || strlen(key) >= QNAME_MAX)
		return;
	/* the same key, else a free or expired slot, else the oldest */
	for (i = 0; i < c->max; i++) {
		if (!strcmp(c->ev[i].key, key)) {
			e = &c->ev[i];
			break;
		}
	}
	for (i = 0; !e && i < c->max; i++) {
		if (!c->ev[i].key[0] || c->ev[i].expires <= now_ms)
			e = &c->ev[i];
	}
	for (i = 0; !e && i < c->max; i++) {
		if (!e || c->ev[i].expires < e->expires)
			e = &c->ev[i];
	}
	if (!e)
		return;
	if (n > CF_SIP_TARGETS_MAX)
		n = CF_SIP_TARGETS_MAX;
	snprintf(e->key, sizeof(e->key), "%s", key);
	memcpy(e->tv, tv, n * sizeof(*tv));
	e->n = n;
	e->expires = now_ms + (uint64_t)ttl_s * 1000u;
}

size_t cf_sip_rcache_get(struct cf_sip_rcache *c, const char *key,
                         uint64_t now_ms, struct cf_sip_target *tv, size_t max)
{
	size_t i, n;

	if (!c || !key)
		return 0;
	for (i = 0; i < c->max; i++) {
		struct rc_entry *e = &c->ev[i];

		if (strcmp(e->key, key))
			continue;
		if (e->expires <= now_ms) {
			e->key[0] = '\0';
			return 0;
		}
		n = e->n < max ? e->n : max;
		memcpy(tv, e->tv, n * sizeof(*tv));
		return n;
	}
	return 0;
}

/* ------------------------------------------------ the server setting */

static pthread_mutex_t srv_mtx = PTHREAD_MUTEX_INITIALIZER;
static char srv_csv[128];
static atomic_uint srv_gen;

int cf_sip_resolve_server_set(const char *server)
{
	struct cf_sa sa;

	if (server && *server && strcasecmp(server, "system")) {
		if (cf_sa_decode(&sa, server) || !cf_sa_port(&sa) ||
		    strlen(server) >= sizeof(srv_csv))
			return EINVAL;
	} else {
		server = "";
	}
	pthread_mutex_lock(&srv_mtx);
	if (strcmp(srv_csv, server)) {
		snprintf(srv_csv, sizeof(srv_csv), "%s", server);
		atomic_fetch_add(&srv_gen, 1);
	}
	pthread_mutex_unlock(&srv_mtx);
	return 0;
}

/* ------------------------------------------------ the thread resolver */

struct resolver {
	ares_channel ch;
	struct cf_loop *loop;
	struct cf_tmr tmr;
	struct cf_sip_rcache *cache;
	unsigned gen;
	bool closing;
};

static _Thread_local struct resolver *cur;
static pthread_once_t lib_once = PTHREAD_ONCE_INIT;
static int lib_err;

static void lib_init(void)
{
	lib_err = ares_library_init(ARES_LIB_INIT_ALL);
}

static void tmr_arm(struct resolver *r);

static void on_fd(int fd, int events, void *arg)
{
	struct resolver *r = arg;

	ares_process_fd(
	    r->ch, (events & (CF_FD_READ | CF_FD_ERR)) ? fd : ARES_SOCKET_BAD,
	    (events & CF_FD_WRITE) ? fd : ARES_SOCKET_BAD);
	tmr_arm(r);
}

static void on_tmr(void *arg)
{
	struct resolver *r = arg;

	ares_process_fd(r->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	tmr_arm(r);
}

static void tmr_arm(struct resolver *r)
{
	struct timeval tv, *t;
	uint64_t ms;

	if (r->closing)
		return;
	t = ares_timeout(r->ch, NULL, &tv);
	if (!t) {
		cf_tmr_cancel(&r->tmr);
		return;
	}
	ms = (uint64_t)t->tv_sec * 1000u + (uint64_t)t->tv_usec / 1000u + 1;
	cf_tmr_start(cf_loop_wheel(r->loop), &r->tmr, ms, on_tmr, r);
}

static void sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct resolver *r = data;
	int flags = (readable ? CF_FD_READ : 0) | (writable ? CF_FD_WRITE : 0);

	if (flags)
		(void)cf_loop_fd_listen(r->loop, fd, flags, on_fd, r);
	else
		cf_loop_fd_close(r->loop, fd);
}

static void servers_apply(struct resolver *r)
{
	unsigned gen = atomic_load(&srv_gen);
	char csv[sizeof(srv_csv)];

	if (gen == r->gen)
		return;
	pthread_mutex_lock(&srv_mtx);
	memcpy(csv, srv_csv, sizeof(csv));
	pthread_mutex_unlock(&srv_mtx);
	if (csv[0])
		(void)ares_set_servers_ports_csv(r->ch, csv);
	r->gen = gen;
}

static struct resolver *resolver_get(void)
{
	struct ares_options o;
	struct resolver *r;
	struct cf_loop *loop = cf_loop_current();

	if (cur)
		return cur;
	(void)pthread_once(&lib_once, lib_init);
	if (lib_err || !loop)
		return NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	memset(&o, 0, sizeof(o));
	o.sock_state_cb = sock_state;
	o.sock_state_cb_data = r;
	o.timeout = TIMEOUT_MS;
	o.tries = TRIES;
	if (ares_init_options(&r->ch, &o,
	                      ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS |
	                          ARES_OPT_TRIES) != ARES_SUCCESS) {
		free(r);
		return NULL;
	}
	if (cf_sip_rcache_alloc(&r->cache, CACHE_MAX)) {
		ares_destroy(r->ch);
		free(r);
		return NULL;
	}
	r->loop = loop;
	r->gen = ~0u;
	cf_tmr_init(&r->tmr);
	cur = r;
	return r;
}

void cf_sip_resolve_close(void)
{
	struct resolver *r = cur;

	if (!r)
		return;
	r->closing = true;
	cf_tmr_cancel(&r->tmr);
	ares_destroy(r->ch); /* pending callbacks: ARES_EDESTRUCTION */
	cf_mem_deref(r->cache);
	cur = NULL;
	free(r);
}

/* ------------------------------------------------------- one request */

/* A host to look up (A and AAAA) for one transport and port, in order. */
struct host_slot {
	char name[QNAME_MAX];
	enum cf_sip_tp tp;
	uint16_t port;
	struct cf_sa a[CF_SIP_TARGETS_MAX];
	size_t na;
	struct cf_sa aaaa[CF_SIP_TARGETS_MAX];
	size_t naaaa;
};

/* An SRV name to query, for one transport. */
struct srv_slot {
	char name[QNAME_MAX];
	enum cf_sip_tp tp;
	struct cf_sip_srv v[SRV_MAX];
	size_t n;
};

struct rq {
	struct resolver *r;
	cf_sip_resolve_h *h;
	void *arg;
	char host[256];
	char key[QNAME_MAX];
	uint16_t port;   /* explicit port or 0 */
	unsigned tpmask; /* transports allowed (1 << tp) */
	bool sips;
	uint32_t ttl;     /* smallest TTL seen */
	unsigned pending; /* queries out */
	int stage;        /* 0 NAPTR, 1 SRV, 2 A/AAAA */
	bool cancelled;
	bool failed; /* the server did not answer (timeout, refused) */
	struct srv_slot srv[5];
	size_t nsrv;
	struct host_slot hosts[SRV_MAX];
	size_t nhosts;
};

struct qctx {
	struct rq *rq;
	size_t idx;
	int type;
};

static void ttl_min(struct rq *q, uint32_t ttl)
{
	if (ttl < q->ttl)
		q->ttl = ttl;
}

static void rq_finish(struct rq *q, int err, const struct cf_sip_target *tv,
                      size_t n)
{
	q->h(err, tv, n, q->arg);
	cf_mem_deref(q);
}

static void query(struct rq *q, const char *name, int type, size_t idx);

static const char *srv_prefix(enum cf_sip_tp tp)
{
	switch (tp) {
	case CF_SIP_TP_UDP:
		return "_sip._udp.";
	case CF_SIP_TP_TCP:
		return "_sip._tcp.";
	case CF_SIP_TP_TLS:
		return "_sips._tcp.";
	default:
		return NULL;
	}
}

static uint16_t tp_port(enum cf_sip_tp tp)
{
	return (tp == CF_SIP_TP_TLS || tp == CF_SIP_TP_WSS) ? 5061 : 5060;
}

/* Stage 2: A and AAAA of every host slot. The pending guard keeps an
 * answer given at once (c-ares may call back inside ares_query) from
 * ending the stage early. */
static void stage_done(struct rq *q);

static void hosts_query(struct rq *q)
{
	q->stage = 2;
	q->pending++;
	for (size_t i = 0; i < q->nhosts; i++) {
		query(q, q->hosts[i].name, T_A, i);
		query(q, q->hosts[i].name, T_AAAA, i);
	}
	if (!--q->pending)
		stage_done(q);
}

/* The host itself, no SRV (§4.2 last paragraph). */
static void host_plain(struct rq *q)
{
	enum cf_sip_tp tp = q->sips ? CF_SIP_TP_TLS : CF_SIP_TP_UDP;
	struct host_slot *h = &q->hosts[0];

	if (!(q->tpmask & (1u << tp))) {
		for (tp = 0; tp < CF_SIP_TP__COUNT; tp++)
			if (q->tpmask & (1u << tp))
				break;
	}
	memset(h, 0, sizeof(*h));
	snprintf(h->name, sizeof(h->name), "%s", q->host);
	h->tp = tp;
	h->port = q->port ? q->port : tp_port(tp);
	q->nhosts = 1;
	hosts_query(q);
}

static void srv_add(struct rq *q, enum cf_sip_tp tp, const char *name)
{
	struct srv_slot *s;

	if (q->nsrv >= sizeof(q->srv) / sizeof(q->srv[0]) ||
	    !(q->tpmask & (1u << tp)))
		return;
	for (size_t i = 0; i < q->nsrv; i++)
		if (q->srv[i].tp == tp)
			return;
	s = &q->srv[q->nsrv++];
	memset(s, 0, sizeof(*s));
	s->tp = tp;
	snprintf(s->name, sizeof(s->name), "%s", name);
}

/* Stage 1: the SRV queries. */
static void srv_query(struct rq *q)
{
	q->stage = 1;
	if (!q->nsrv) {
		host_plain(q);
		return;
	}
	q->pending++;
	for (size_t i = 0; i < q->nsrv; i++)
		query(q, q->srv[i].name, T_SRV, i);
	if (!--q->pending)
		stage_done(q);
}

/* No NAPTR (§4.1): SRV for each transport we allow, UDP, TCP, TLS. */
static void srv_default(struct rq *q)
{
	char name[QNAME_MAX];

	for (enum cf_sip_tp tp = CF_SIP_TP_UDP; tp <= CF_SIP_TP_TLS; tp++) {
		if (q->sips && tp != CF_SIP_TP_TLS)
			continue;
		snprintf(name, sizeof(name), "%s%s", srv_prefix(tp), q->host);
		srv_add(q, tp, name);
	}
	srv_query(q);
}

static int naptr_tp(const char *svc, enum cf_sip_tp *tp)
{
	static const struct {
		const char *s;
		enum cf_sip_tp tp;
	} m[] = {
	    {"SIP+D2U", CF_SIP_TP_UDP},  {"SIP+D2T", CF_SIP_TP_TCP},
	    {"SIPS+D2T", CF_SIP_TP_TLS}, {"SIP+D2W", CF_SIP_TP_WS},
	    {"SIPS+D2W", CF_SIP_TP_WSS},
	};

	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		if (!strcasecmp(svc, m[i].s)) {
			*tp = m[i].tp;
			return 0;
		}
	}
	return ENOENT;
}

static void naptr_done(struct rq *q, unsigned char *abuf, int alen)
{
	struct ares_naptr_reply *nr = NULL, *best[8];
	size_t nb = 0;

	if (ares_parse_naptr_reply(abuf, alen, &nr) == ARES_SUCCESS) {
		for (struct ares_naptr_reply *p = nr; p && nb < 8; p = p->next)
			best[nb++] = p;
		/* order, then preference (RFC 3403) */
		for (size_t i = 1; i < nb; i++) {
			for (size_t j = i; j > 0; j--) {
				struct ares_naptr_reply *a = best[j - 1],
				                        *b = best[j];

				if (a->order < b->order ||
				    (a->order == b->order &&
				     a->preference <= b->preference))
					break;
				best[j - 1] = b;
				best[j] = a;
			}
		}
		for (size_t i = 0; i < nb; i++) {
			enum cf_sip_tp tp;

			if (strcasecmp((const char *)best[i]->flags, "s") ||
			    naptr_tp((const char *)best[i]->service, &tp))
				continue;
			if (q->sips && tp != CF_SIP_TP_TLS &&
			    tp != CF_SIP_TP_WSS)
				continue;
			srv_add(q, tp, best[i]->replacement);
		}
		ares_free_data(nr);
	}
}

static void srv_done(struct rq *q, size_t idx, unsigned char *abuf, int alen)
{
	struct ares_srv_reply *sr = NULL;
	struct srv_slot *s = &q->srv[idx];
	uint32_t ttl = 300;

	if (ares_parse_srv_reply(abuf, alen, &sr) != ARES_SUCCESS)
		return;
	/* the SRV TTL: c-ares does not give it; the A/AAAA TTLs bound the
	 * entry and 300 s the SRV part */
	for (struct ares_srv_reply *p = sr; p && s->n < SRV_MAX; p = p->next) {
		struct cf_sip_srv *v = &s->v[s->n];

		if (!strcmp(p->host, ".") || !p->host[0])
			continue; /* "service not available" */
		v->prio = p->priority;
		v->weight = p->weight;
		v->port = p->port;
		v->ttl = ttl;
		snprintf(v->host, sizeof(v->host), "%s", p->host);
		s->n++;
	}
	ttl_min(q, ttl);
	ares_free_data(sr);
	cf_sip_srv_order(s->v, s->n, NULL, NULL);
}

static void srv_all_done(struct rq *q)
{
	q->nhosts = 0;
	for (size_t i = 0; i < q->nsrv; i++) {
		for (size_t j = 0; j < q->srv[i].n && q->nhosts < SRV_MAX;
		     j++) {
			struct host_slot *h = &q->hosts[q->nhosts++];

			memset(h, 0, sizeof(*h));
			snprintf(h->name, sizeof(h->name), "%s",
			         q->srv[i].v[j].host);
			h->tp = q->srv[i].tp;
			h->port = q->srv[i].v[j].port;
		}
	}
	if (!q->nhosts)
		host_plain(q);
	else
		hosts_query(q);
}

static void addr_done(struct rq *q, size_t idx, int type, unsigned char *abuf,
                      int alen)
{
	struct host_slot *h = &q->hosts[idx];
	int n = CF_SIP_TARGETS_MAX;

	if (type == T_A) {
		struct ares_addrttl at[CF_SIP_TARGETS_MAX];

		if (ares_parse_a_reply(abuf, alen, NULL, at, &n) !=
		    ARES_SUCCESS)
			return;
		for (int i = 0; i < n; i++) {
			struct sockaddr_in *sin = (void *)&h->a[i];

			memset(&h->a[i], 0, sizeof(h->a[i]));
			sin->sin_family = AF_INET;
			sin->sin_addr = at[i].ipaddr;
			cf_sa_set_port(&h->a[i], h->port);
			ttl_min(q, (uint32_t)at[i].ttl);
		}
		h->na = (size_t)n;
	} else {
		struct ares_addr6ttl at[CF_SIP_TARGETS_MAX];

		if (ares_parse_aaaa_reply(abuf, alen, NULL, at, &n) !=
		    ARES_SUCCESS)
			return;
		for (int i = 0; i < n; i++) {
			struct sockaddr_in6 *sin6 = (void *)&h->aaaa[i];

			memset(&h->aaaa[i], 0, sizeof(h->aaaa[i]));
			sin6->sin6_family = AF_INET6;
			memcpy(&sin6->sin6_addr, &at[i].ip6addr, 16);
			cf_sa_set_port(&h->aaaa[i], h->port);
			ttl_min(q, (uint32_t)at[i].ttl);
		}
		h->naaaa = (size_t)n;
	}
}

static void addr_all_done(struct rq *q)
{
	struct cf_sip_target tv[CF_SIP_TARGETS_MAX];
	size_t n = 0;

	for (size_t i = 0; i < q->nhosts; i++) {
		struct host_slot *h = &q->hosts[i];

		for (size_t j = 0; j < h->na && n < CF_SIP_TARGETS_MAX; j++) {
			tv[n].tp = h->tp;
			tv[n++].addr = h->a[j];
		}
		for (size_t j = 0; j < h->naaaa && n < CF_SIP_TARGETS_MAX;
		     j++) {
			tv[n].tp = h->tp;
			tv[n++].addr = h->aaaa[j];
		}
	}
	if (!n) {
		rq_finish(q, ENOENT, NULL, 0);
		return;
	}
	cf_sip_rcache_put(q->r->cache, q->key, tv, n, q->ttl,
	                  cf_tmr_wheel_now(cf_loop_wheel(q->r->loop)));
	rq_finish(q, 0, tv, n);
}

static void stage_done(struct rq *q)
{
	if (q->cancelled) {
		rq_finish(q, ECANCELED, NULL, 0);
		return;
	}
	if (q->failed) {
		/* no answer at all: the next stage would wait as long */
		rq_finish(q, ETIMEDOUT, NULL, 0);
		return;
	}
	switch (q->stage) {
	case 0:
		if (q->nsrv)
			srv_query(q);
		else
			srv_default(q);
		break;
	case 1:
		srv_all_done(q);
		break;
	default:
		addr_all_done(q);
		break;
	}
}

static void on_answer(void *arg, int status, int timeouts, unsigned char *abuf,
                      int alen)
{
	struct qctx *c = arg;
	struct rq *q = c->rq;

	(void)timeouts;
	if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED)
		q->cancelled = true;
	else if (status == ARES_ETIMEOUT || status == ARES_ECONNREFUSED ||
	         status == ARES_ESERVFAIL || status == ARES_EREFUSED)
		q->failed = true;
	if (!q->cancelled && status == ARES_SUCCESS) {
		if (c->type == T_NAPTR)
			naptr_done(q, abuf, alen);
		else if (c->type == T_SRV)
			srv_done(q, c->idx, abuf, alen);
		else
			addr_done(q, c->idx, c->type, abuf, alen);
	}
	cf_mem_deref(c);
	if (!--q->pending)
		stage_done(q);
}

static void query(struct rq *q, const char *name, int type, size_t idx)
{
	struct qctx *c = cf_mem_zalloc(sizeof(*c), NULL);

	if (!c)
		return;
	c->rq = q;
	c->idx = idx;
	c->type = type;
	q->pending++;
	ares_query(q->r->ch, name, C_IN, type, on_answer, c);
	if (!q->r->closing)
		tmr_arm(q->r);
}

int cf_sip_resolve(const struct cf_sip_uri *uri, cf_sip_resolve_h *h, void *arg)
{
	struct cf_sip_target tv[CF_SIP_TARGETS_MAX];
	struct cf_sip_target t;
	struct resolver *r;
	struct cf_pl tpp;
	struct rq *q;
	unsigned mask;
	size_t n;

	if (!uri || !h || !cf_pl_isset(&uri->host))
		return EINVAL;
	if (uri->scheme == CF_SIP_SCHEME_SIPS) {
		mask = 1u << CF_SIP_TP_TLS | 1u << CF_SIP_TP_WSS;
	} else if (uri->scheme == CF_SIP_SCHEME_SIP) {
		mask = 1u << CF_SIP_TP_UDP | 1u << CF_SIP_TP_TCP |
		       1u << CF_SIP_TP_TLS;
	} else {
		return EPROTO;
	}
	if (!cf_sip_param_get(&uri->params, "transport", &tpp) &&
	    cf_pl_isset(&tpp)) {
		enum cf_sip_tp tp;

		if (!cf_pl_strcasecmp(&tpp, "udp"))
			tp = CF_SIP_TP_UDP;
		else if (!cf_pl_strcasecmp(&tpp, "tcp"))
			tp = uri->scheme == CF_SIP_SCHEME_SIPS ? CF_SIP_TP_TLS
			                                       : CF_SIP_TP_TCP;
		else if (!cf_pl_strcasecmp(&tpp, "tls"))
			tp = CF_SIP_TP_TLS;
		else if (!cf_pl_strcasecmp(&tpp, "ws"))
			tp = CF_SIP_TP_WS;
		else if (!cf_pl_strcasecmp(&tpp, "wss"))
			tp = CF_SIP_TP_WSS;
		else
			return EPROTO;
		mask &= 1u << tp;
		if (!mask)
			return EPROTO;
	}

	/* a numeric host: no lookup (§4.1, §4.2) */
	if (!cf_sa_set_pl(&t.addr, &uri->host, 5060)) {
		for (t.tp = 0; t.tp < CF_SIP_TP__COUNT; t.tp++)
			if (mask & (1u << t.tp))
				break;
		if (uri->scheme == CF_SIP_SCHEME_SIPS &&
		    (mask & (1u << CF_SIP_TP_TLS)))
			t.tp = CF_SIP_TP_TLS;
		cf_sa_set_port(&t.addr, uri->port ? uri->port : tp_port(t.tp));
		h(0, &t, 1, arg);
		return 0;
	}

	if (!cf_loop_current())
		return ENOTSUP; /* no loop on this thread to drive c-ares */
	r = resolver_get();
	if (!r)
		return ENOMEM;
	servers_apply(r);
	q = cf_mem_zalloc(sizeof(*q), NULL);
	if (!q)
		return ENOMEM;
	q->r = r;
	q->h = h;
	q->arg = arg;
	q->port = uri->port;
	q->tpmask = mask;
	q->sips = uri->scheme == CF_SIP_SCHEME_SIPS;
	q->ttl = 86400;
	if (cf_pl_strcpy(&uri->host, q->host, sizeof(q->host))) {
		cf_mem_deref(q);
		return EINVAL;
	}
	snprintf(q->key, sizeof(q->key), "%s:%u:%x:%s", q->host, q->port, mask,
	         q->sips ? "s" : "");
	n = cf_sip_rcache_get(r->cache, q->key,
	                      cf_tmr_wheel_now(cf_loop_wheel(r->loop)), tv,
	                      CF_SIP_TARGETS_MAX);
	if (n) {
		rq_finish(q, 0, tv, n);
		return 0;
	}
	if (q->port) {
		host_plain(q); /* §4.2: an explicit port, A/AAAA only */
		return 0;
	}
	q->stage = 0;
	q->pending++;
	query(q, q->host, T_NAPTR, 0);
	if (!--q->pending)
		stage_done(q);
	return 0;
}
