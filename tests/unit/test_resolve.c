/* SPDX-License-Identifier: BSD-3-Clause */
/* test_resolve.c - RFC 3263 helpers: the RFC 2782 SRV order, the TTL
 * cache on a fake clock, and lookups that need no DNS (numeric hosts). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sip/sip.h"
#include "testutil.h"

/* A fixed sequence of "random" numbers. */
struct seq {
	const uint32_t *v;
	size_t n, i;
};

static uint32_t seq_next(void *arg)
{
	struct seq *s = arg;

	return s->v[s->i++ % s->n];
}

static uint32_t libc_rand(void *arg)
{
	(void)arg;
	return (uint32_t)random();
}

static void srv_set(struct cf_sip_srv *v, uint16_t prio, uint16_t weight,
                    const char *host)
{
	memset(v, 0, sizeof(*v));
	v->prio = prio;
	v->weight = weight;
	v->port = 5060;
	strcpy(v->host, host);
}

static void test_srv_priority(void **state)
{
	struct cf_sip_srv v[4];
	uint32_t zero = 0;
	struct seq s = {&zero, 1, 0};

	(void)state;
	cf_test_leak_start();
	srv_set(&v[0], 20, 10, "d");
	srv_set(&v[1], 10, 60, "a");
	srv_set(&v[2], 20, 0, "c");
	srv_set(&v[3], 10, 40, "b");
	cf_sip_srv_order(v, 4, seq_next, &s);
	/* priority 10 before 20; r = 0 takes the first (zero weights are
	 * put first within a priority, RFC 2782) */
	assert_string_equal(v[0].host, "a");
	assert_string_equal(v[1].host, "b");
	assert_string_equal(v[2].host, "c");
	assert_string_equal(v[3].host, "d");
	cf_test_leak_check();
}

static void test_srv_weight_choice(void **state)
{
	struct cf_sip_srv v[3];
	/* sum 100: 70 falls past a (running 60) onto b (100) */
	uint32_t r70[] = {70, 0};
	struct seq s = {r70, 2, 0};

	(void)state;
	cf_test_leak_start();
	srv_set(&v[0], 10, 60, "a");
	srv_set(&v[1], 10, 40, "b");
	srv_set(&v[2], 30, 5, "z");
	cf_sip_srv_order(v, 3, seq_next, &s);
	assert_string_equal(v[0].host, "b");
	assert_string_equal(v[1].host, "a");
	assert_string_equal(v[2].host, "z");

	/* r = 60 is still a's (running sum 60 >= 60) */
	uint32_t r60[] = {60};
	struct seq s2 = {r60, 1, 0};

	srv_set(&v[0], 10, 60, "a");
	srv_set(&v[1], 10, 40, "b");
	cf_sip_srv_order(v, 2, seq_next, &s2);
	assert_string_equal(v[0].host, "a");
	cf_test_leak_check();
}

/* Over many orderings a 60/40 pair comes first about 60% of the time; a
 * weight 0 record with a non-zero sibling almost never does. */
static void test_srv_weight_share(void **state)
{
	struct cf_sip_srv v[3];
	unsigned first_a = 0, first_z = 0;
	const unsigned N = 20000;

	(void)state;
	cf_test_leak_start();
	srandom(7);
	for (unsigned i = 0; i < N; i++) {
		srv_set(&v[0], 1, 60, "a");
		srv_set(&v[1], 1, 40, "b");
		srv_set(&v[2], 1, 0, "z");
		cf_sip_srv_order(v, 3, libc_rand, NULL);
		first_a += !strcmp(v[0].host, "a");
		first_z += !strcmp(v[0].host, "z");
		/* every record is still there once */
		assert_int_equal(!strcmp(v[0].host, "a") +
		                     !strcmp(v[1].host, "a") +
		                     !strcmp(v[2].host, "a"),
		                 1);
	}
	assert_in_range(first_a, N * 55 / 100, N * 65 / 100);
	assert_true(first_z < N / 50); /* 1 in 101 per draw */
	cf_test_leak_check();
}

static void target(struct cf_sip_target *t, const char *addr, uint16_t port)
{
	memset(t, 0, sizeof(*t));
	t->tp = CF_SIP_TP_UDP;
	assert_int_equal(cf_sa_set_str(&t->addr, addr, port), 0);
}

static void test_cache_ttl(void **state)
{
	struct cf_sip_rcache *c = NULL;
	struct cf_sip_target tv[2], out[4];
	char buf[64];

	(void)state;
	cf_test_leak_start();
	assert_int_equal(cf_sip_rcache_alloc(&c, 2), 0);
	target(&tv[0], "127.0.0.1", 5070);
	target(&tv[1], "127.0.0.2", 5080);
	cf_sip_rcache_put(c, "example.test", tv, 2, 30, 1000);
	assert_int_equal(cf_sip_rcache_get(c, "example.test", 1000, out, 4), 2);
	assert_string_equal(cf_sa_print(&out[1].addr, buf, sizeof(buf)),
	                    "127.0.0.2:5080");
	/* alive until 30 s after the put, gone at 30 s */
	assert_int_equal(cf_sip_rcache_get(c, "example.test", 30999, out, 4),
	                 2);
	assert_int_equal(cf_sip_rcache_get(c, "example.test", 31000, out, 4),
	                 0);
	assert_int_equal(cf_sip_rcache_get(c, "other.test", 2000, out, 4), 0);
	/* max limits what is copied out */
	cf_sip_rcache_put(c, "example.test", tv, 2, 5, 40000);
	assert_int_equal(cf_sip_rcache_get(c, "example.test", 40000, out, 1),
	                 1);
	/* TTL 0: not stored */
	cf_sip_rcache_put(c, "zero.test", tv, 1, 0, 40000);
	assert_int_equal(cf_sip_rcache_get(c, "zero.test", 40000, out, 4), 0);
	/* full (2 entries): the one expiring first gives way */
	cf_sip_rcache_put(c, "long.test", tv, 1, 600, 40000);
	cf_sip_rcache_put(c, "third.test", tv, 1, 60, 40000);
	assert_int_equal(cf_sip_rcache_get(c, "long.test", 40000, out, 4), 1);
	assert_int_equal(cf_sip_rcache_get(c, "third.test", 40000, out, 4), 1);
	assert_int_equal(cf_sip_rcache_get(c, "example.test", 40000, out, 4),
	                 0);
	cf_mem_deref(c);
	cf_test_leak_check();
}

struct got {
	int calls, err;
	struct cf_sip_target t[4];
	size_t n;
};

static void on_res(int err, const struct cf_sip_target *tv, size_t n, void *arg)
{
	struct got *g = arg;

	g->calls++;
	g->err = err;
	g->n = n < 4 ? n : 4;
	memcpy(g->t, tv, g->n * sizeof(*tv));
}

static int res(const char *uri, struct got *g)
{
	struct cf_sip_uri u;
	struct cf_pl pl;

	memset(g, 0, sizeof(*g));
	cf_pl_set_str(&pl, uri);
	assert_int_equal(cf_sip_uri_decode(&u, &pl), 0);
	return cf_sip_resolve(&u, on_res, g);
}

/* §4.1/§4.2: a numeric host needs no lookup; the transport from the
 * parameter or the scheme, the port explicit or the transport's. */
static void test_numeric(void **state)
{
	struct got g;
	char buf[64];

	(void)state;
	cf_test_leak_start();
	assert_int_equal(res("sip:bob@127.0.0.1:5070;transport=tcp", &g), 0);
	assert_int_equal(g.calls, 1);
	assert_int_equal(g.err, 0);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.t[0].tp, CF_SIP_TP_TCP);
	assert_string_equal(cf_sa_print(&g.t[0].addr, buf, sizeof(buf)),
	                    "127.0.0.1:5070");
	assert_int_equal(res("sip:bob@127.0.0.1", &g), 0);
	assert_int_equal(g.t[0].tp, CF_SIP_TP_UDP);
	assert_int_equal(cf_sa_port(&g.t[0].addr), 5060);
	assert_int_equal(res("sips:bob@[::1]", &g), 0);
	assert_int_equal(g.t[0].tp, CF_SIP_TP_TLS);
	assert_int_equal(cf_sa_port(&g.t[0].addr), 5061);
	assert_int_equal(cf_sa_af(&g.t[0].addr), AF_INET6);
	/* sips over UDP does not exist */
	assert_int_equal(res("sips:bob@127.0.0.1;transport=udp", &g), EPROTO);
	assert_int_equal(res("sip:bob@127.0.0.1;transport=sctp", &g), EPROTO);
	assert_int_equal(g.calls, 0);
	/* a name on a thread with no loop: nothing to drive c-ares */
	assert_int_equal(res("sip:bob@example.test", &g), ENOTSUP);
	assert_int_equal(g.calls, 0);
	cf_test_leak_check();
}

static void test_server_set(void **state)
{
	(void)state;
	assert_int_equal(cf_sip_resolve_server_set("127.0.0.1:5353"), 0);
	assert_int_equal(cf_sip_resolve_server_set("[::1]:53"), 0);
	assert_int_equal(cf_sip_resolve_server_set("system"), 0);
	assert_int_equal(cf_sip_resolve_server_set(NULL), 0);
	assert_int_equal(cf_sip_resolve_server_set("localhost:53"), EINVAL);
	assert_int_equal(cf_sip_resolve_server_set("127.0.0.1"), EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_srv_priority),
	    cmocka_unit_test(test_srv_weight_choice),
	    cmocka_unit_test(test_srv_weight_share),
	    cmocka_unit_test(test_cache_ttl),
	    cmocka_unit_test(test_numeric),
	    cmocka_unit_test(test_server_set),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
