/* SPDX-License-Identifier: BSD-3-Clause */
/* test_sips.c - sips URIs and transport=tls in the proxy's routing (RFC
 * 5630, RFC 3261 §26.2): the next hop of a URI, and a sips request that
 * never leaves over a plain hop, through a real transaction environment
 * on a fake clock with the registrar and a temporary store (the callees
 * are the recording send). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "mod/mod.h"
#include "mod/proxy/proxy.h"
#include "mod/proxy/proxy_int.h"
#include "mod/registrar/registrar.h"
#include "store/store.h"
#include "testapp.h"

enum { SENT_MAX = 64, T0 = 1800000000, CALLER = 25160 };

struct sent {
	char *bytes;
	uint16_t port;
	enum cf_sip_tp tp;
};

struct fixture {
	struct cf_tmr_wheel *wheel;
	struct cf_sip_txn_env *env;
	struct cf_app_conf *conf;
	struct cf_app *app;
	struct cf_sip_txn_handlers h;
	struct cf_sip_peer peer;
	struct sent sent[SENT_MAX];
	size_t nsent;
	long blocks;
	char db[64];
	unsigned branch;
};

static int rec_send(const struct cf_sip_peer *peer, const struct cf_pl *bytes,
                    void *arg)
{
	struct fixture *f = arg;

	if (f->nsent == SENT_MAX) {
		free(f->sent[0].bytes);
		memmove(f->sent, f->sent + 1,
		        (SENT_MAX - 1) * sizeof(f->sent[0]));
		f->nsent--;
	}
	f->sent[f->nsent].bytes = strndup(bytes->p, bytes->l);
	f->sent[f->nsent].port = cf_sa_port(&peer->addr);
	f->sent[f->nsent].tp = peer->tp;
	f->nsent++;
	return 0;
}

static void sent_clear(struct fixture *f)
{
	for (size_t i = 0; i < f->nsent; i++)
		free(f->sent[i].bytes);
	f->nsent = 0;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *sets[] = {
	    "general.domain=example.com", "registrar.authenticate=no",
	    "proxy.authenticate=no", "proxy.no_answer_timeout=0"};
	struct cf_store *st;
	char uri[96];
	struct cf_sa sa;
	int fd;

	assert_non_null(f);
	f->blocks = cf_mem_blocks();
	snprintf(f->db, sizeof(f->db), "/tmp/cf_test_sips_XXXXXX");
	fd = mkstemp(f->db);
	assert_true(fd >= 0);
	close(fd);
	unlink(f->db);
	cf_registrar_test_clock(T0);
	cf_testapp_txn_alloc(&f->wheel, &f->env, NULL, rec_send, f);
	snprintf(uri, sizeof(uri), "sqlite:%s", f->db);
	assert_int_equal(cf_store_open(&st, uri, NULL), 0);
	assert_int_equal(
	    cf_store_domain_add(
	        st, &(struct cf_store_domain){"example.com", NULL, NULL}),
	    0);
	assert_int_equal(
	    cf_store_subscriber_add(st, "alice", "example.com", "secret"), 0);
	assert_int_equal(
	    cf_store_subscriber_add(st, "bob", "example.com", "secret"), 0);
	assert_int_equal(cf_app_conf_load(&f->conf, NULL, sets, 4, NULL), 0);
	assert_int_equal(cf_app_alloc(&f->app, f->conf), 0);
	assert_int_equal(cf_sa_set_str(&sa, "127.0.0.1", 25060), 0);
	assert_int_equal(cf_app_addr_add(f->app, &sa), 0);
	cf_app_set_store(f->app, st);
	cf_mem_deref(st);
	assert_int_equal(cf_mod_init_all(f->app), 0);
	assert_int_equal(cf_mod_start_all(f->app), 0);
	cf_mod_handlers(&f->h, f->app);
	f->peer.tp = CF_SIP_TP_UDP;
	assert_int_equal(cf_sa_set_str(&f->peer.addr, "127.0.0.1", CALLER), 0);
	f->peer.local = sa;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char p[96];

	cf_testapp_txn_drain(f->wheel, f->env, 400);
	cf_mod_stop_all(f->app);
	f->app = cf_mem_deref(f->app);
	f->conf = cf_mem_deref(f->conf);
	sent_clear(f);
	cf_mem_deref(f->env);
	cf_mem_deref(f->wheel);
	cf_registrar_test_clock(0);
	assert_int_equal(cf_mem_blocks(), f->blocks);
	unlink(f->db);
	snprintf(p, sizeof(p), "%s-wal", f->db);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", f->db);
	unlink(p);
	free(f);
	return 0;
}

static void feed_from(struct fixture *f, const char *buf, uint16_t port,
                      enum cf_sip_tp tp)
{
	struct cf_sip_msg *msg = NULL;
	struct cf_sip_peer peer = f->peer;
	size_t used;

	cf_sa_set_port(&peer.addr, port);
	peer.tp = tp;
	assert_int_equal(cf_sip_msg_decode(&msg, (const uint8_t *)buf,
	                                   strlen(buf), CF_SIP_DATAGRAM, &used),
	                 0);
	assert_int_equal(msg->fault.code, 0);
	cf_sip_txn_recv(f->env, &f->h, msg, &peer);
	cf_mem_deref(msg);
}

/* bob's binding: the REGISTER comes from port over tp. */
static void reg(struct fixture *f, uint16_t port, enum cf_sip_tp tp,
                const char *contact)
{
	char buf[2048];

	snprintf(buf, sizeof(buf),
	         "REGISTER sip:example.com SIP/2.0\r\n"
	         "Via: SIP/2.0/%s 127.0.0.1:%u;branch=z9hG4bKreg%u\r\n"
	         "Max-Forwards: 70\r\n"
	         "From: <sip:bob@example.com>;tag=r1\r\n"
	         "To: <sip:bob@example.com>\r\n"
	         "Call-ID: reg-%u@test\r\n"
	         "CSeq: 1 REGISTER\r\n"
	         "Contact: %s\r\n"
	         "Content-Length: 0\r\n\r\n",
	         cf_sip_tp_name(tp), port, f->branch + 1, f->branch + 1,
	         contact);
	f->branch++;
	feed_from(f, buf, port, tp);
	assert_true(f->nsent > 0);
	assert_memory_equal(f->sent[f->nsent - 1].bytes, "SIP/2.0 200 ", 12);
	sent_clear(f);
}

/* An INVITE from the caller over tp (extra: header lines). */
static void invite(struct fixture *f, const char *ruri, enum cf_sip_tp tp,
                   const char *extra)
{
	char buf[4096];

	snprintf(buf, sizeof(buf),
	         "INVITE %s SIP/2.0\r\n"
	         "Via: SIP/2.0/%s 127.0.0.1:25160;branch=z9hG4bKc%u\r\n"
	         "Max-Forwards: 70\r\n"
	         "From: <sips:alice@example.com>;tag=a1\r\n"
	         "To: <%s>\r\n"
	         "Call-ID: sips-%u@test\r\n"
	         "CSeq: 1 INVITE\r\n"
	         "Contact: <sips:alice@127.0.0.1:25160>\r\n"
	         "%s"
	         "Content-Length: 0\r\n\r\n",
	         ruri, cf_sip_tp_name(tp), f->branch + 1, ruri, f->branch + 1,
	         extra ? extra : "");
	f->branch++;
	feed_from(f, buf, CALLER, tp);
}

/* The last message sent to port starting with prefix (NULL: none); its
 * transport in *tp. */
static const char *sent_to(struct fixture *f, uint16_t port, const char *prefix,
                           enum cf_sip_tp *tp)
{
	for (size_t i = f->nsent; i-- > 0;) {
		if (f->sent[i].port == port &&
		    !strncmp(f->sent[i].bytes, prefix, strlen(prefix))) {
			if (tp)
				*tp = f->sent[i].tp;
			return f->sent[i].bytes;
		}
	}
	return NULL;
}

/* The last final response the caller got. */
static const char *caller_final(struct fixture *f)
{
	for (size_t i = f->nsent; i-- > 0;) {
		if (f->sent[i].port == CALLER &&
		    !strncmp(f->sent[i].bytes, "SIP/2.0 ", 8) &&
		    strncmp(f->sent[i].bytes, "SIP/2.0 1", 9))
			return f->sent[i].bytes;
	}
	return "";
}

/* Send the callee's final so the transaction ends (no leak). */
static void callee_answers(struct fixture *f, uint16_t port, uint16_t code)
{
	const char *r = sent_to(f, port, "INVITE ", NULL);
	struct cf_sip_msg *msg = NULL;
	struct cf_mbuf *mb = NULL;
	struct cf_pl t;
	size_t used;

	assert_non_null(r);
	assert_int_equal(cf_sip_msg_decode(&msg, (const uint8_t *)r, strlen(r),
	                                   CF_SIP_DATAGRAM, &used),
	                 0);
	cf_pl_set_str(&t, "callee");
	assert_int_equal(cf_mbuf_alloc(&mb, 1024), 0);
	assert_int_equal(cf_sip_reply_encode(mb, msg, code, cf_sip_reason(code),
	                                     &t, NULL, NULL),
	                 0);
	assert_int_equal(cf_mbuf_write_u8(mb, 0), 0);
	feed_from(f, (const char *)mb->buf, port, CF_SIP_TP_TLS);
	cf_mem_deref(mb);
	cf_mem_deref(msg);
}

/* ------------------------------------------------------------- tests */

static int hop_of(const char *uri, struct cf_sip_peer *hop)
{
	struct cf_sip_uri u;
	struct cf_pl pl;

	cf_pl_set_str(&pl, uri);
	assert_int_equal(cf_sip_uri_decode(&u, &pl), 0);
	return proxy_uri_hop(&u, hop);
}

/* The hop of a numeric URI: sips is TLS on 5061, transport=tls selects
 * TLS, sips;transport=tcp is TLS too (§26.2.2), sips over UDP and
 * WebSocket hops are refused, names need DNS. */
static void test_uri_hop(void **state)
{
	static const struct {
		const char *uri;
		int err;
		enum cf_sip_tp tp;
		uint16_t port;
	} v[] = {
	    {"sip:bob@192.0.2.1", 0, CF_SIP_TP_UDP, 5060},
	    {"sip:bob@192.0.2.1;transport=tcp", 0, CF_SIP_TP_TCP, 5060},
	    {"sip:bob@192.0.2.1;transport=tls", 0, CF_SIP_TP_TLS, 5061},
	    {"sip:bob@192.0.2.1:5070;transport=TLS", 0, CF_SIP_TP_TLS, 5070},
	    {"sips:bob@192.0.2.1", 0, CF_SIP_TP_TLS, 5061},
	    {"sips:bob@[2001:db8::1]:5081", 0, CF_SIP_TP_TLS, 5081},
	    {"sips:bob@192.0.2.1;transport=tcp", 0, CF_SIP_TP_TLS, 5061},
	    {"sips:bob@192.0.2.1;transport=udp", EPROTO, 0, 0},
	    {"sip:bob@192.0.2.1;transport=ws", EPROTO, 0, 0},
	    {"sip:bob@192.0.2.1;transport=sctp", EPROTO, 0, 0},
	    {"sips:bob@example.org", ENOENT, 0, 0},
	};
	struct cf_sip_peer hop;

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		int err = hop_of(v[i].uri, &hop);

		if (err != v[i].err)
			fail_msg("%s: error %d, want %d", v[i].uri, err,
			         v[i].err);
		if (err)
			continue;
		if (hop.tp != v[i].tp || cf_sa_port(&hop.addr) != v[i].port)
			fail_msg("%s: %s port %u", v[i].uri,
			         cf_sip_tp_name(hop.tp), cf_sa_port(&hop.addr));
	}
}

/* RFC 5630: bob registered over UDP only; a sips INVITE for him is not
 * sent there: 480 with a reason, counted. A sip INVITE still goes. */
static void test_plain_binding_480(void **state)
{
	struct fixture *f = *state;
	struct cf_proxy_stats before, after;
	const char *r;

	reg(f, 5071, CF_SIP_TP_UDP, "<sip:bob@127.0.0.1:5071>");
	cf_proxy_stats(&before);
	invite(f, "sips:bob@example.com", CF_SIP_TP_TLS, NULL);
	r = caller_final(f);
	if (strncmp(r, "SIP/2.0 480 Not Reachable Over TLS\r\n", 36))
		fail_msg("got: %.200s", r);
	assert_null(sent_to(f, 5071, "INVITE ", NULL));
	cf_proxy_stats(&after);
	assert_int_equal(after.sips_refused, before.sips_refused + 1);

	sent_clear(f);
	invite(f, "sip:bob@example.com", CF_SIP_TP_UDP, NULL);
	assert_non_null(
	    sent_to(f, 5071, "INVITE sip:bob@127.0.0.1:5071 ", NULL));
	callee_answers(f, 5071, 486);
}

/* Two bindings, one over a TLS flow and one over UDP: the sips INVITE
 * goes over the TLS flow only, with a sips Record-Route and a TLS Via;
 * the answer goes back to the caller. */
static void test_tls_binding(void **state)
{
	struct fixture *f = *state;
	enum cf_sip_tp tp = CF_SIP_TP_UDP;
	const char *r;

	reg(f, 5071, CF_SIP_TP_UDP, "<sip:bob@127.0.0.1:5071>");
	reg(f, 5072, CF_SIP_TP_TLS, "<sips:bob@127.0.0.1:5072>");
	invite(f, "sips:bob@example.com", CF_SIP_TP_TLS, NULL);
	r = sent_to(f, 5072, "INVITE sips:bob@127.0.0.1:5072 SIP/2.0\r\n", &tp);
	assert_non_null(r);
	assert_int_equal(tp, CF_SIP_TP_TLS);
	/* both sides are TLS flows: two entries, each naming its side's
	 * flow (flow.h), bob's on top */
	assert_non_null(strstr(r, "Record-Route: <sips:cfw_tls_127.0.0.1_5072_"));
	assert_non_null(
	    strstr(r, "Record-Route: <sips:cfw_tls_127.0.0.1_25160_"));
	assert_true(strstr(r, "cfw_tls_127.0.0.1_5072_") <
	            strstr(r, "cfw_tls_127.0.0.1_25160_"));
	assert_non_null(strstr(r, "Via: SIP/2.0/TLS "));
	assert_null(sent_to(f, 5071, "INVITE ", NULL));
	callee_answers(f, 5072, 486);
	assert_memory_equal(caller_final(f), "SIP/2.0 486 ", 12);
}

/* Another domain with a numeric host: sips and transport=tls select TLS
 * (no more 416); sips;transport=udp is 416; a sips Request-URI behind a
 * preloaded plain Route is not sent (480); a sips Route is TLS. */
static void test_foreign(void **state)
{
	struct fixture *f = *state;
	enum cf_sip_tp tp = CF_SIP_TP_UDP;
	const char *r;

	invite(f, "sips:carol@127.0.0.1:5090", CF_SIP_TP_TLS, NULL);
	assert_non_null(sent_to(f, 5090, "INVITE sips:carol@", &tp));
	assert_int_equal(tp, CF_SIP_TP_TLS);
	callee_answers(f, 5090, 486);

	sent_clear(f);
	invite(f, "sip:carol@127.0.0.1:5091;transport=tls", CF_SIP_TP_UDP,
	       NULL);
	r = sent_to(f, 5091, "INVITE sip:carol@", &tp);
	assert_non_null(r);
	assert_int_equal(tp, CF_SIP_TP_TLS);
	/* UDP in, TLS out: two entries, the top one names TLS */
	assert_non_null(
	    strstr(r, "Record-Route: <sip:127.0.0.1:25060;transport=tls;lr>\r\n"
	              "Record-Route: <sip:127.0.0.1:25060;lr>\r\n"));
	callee_answers(f, 5091, 486);

	sent_clear(f);
	invite(f, "sips:carol@127.0.0.1:5092;transport=udp", CF_SIP_TP_TLS,
	       NULL);
	assert_memory_equal(caller_final(f), "SIP/2.0 416 ", 12);

	sent_clear(f);
	invite(f, "sips:carol@127.0.0.1:5093", CF_SIP_TP_TLS,
	       "Route: <sip:127.0.0.1:5094;lr>\r\n");
	assert_null(sent_to(f, 5094, "INVITE ", NULL));
	assert_memory_equal(caller_final(f), "SIP/2.0 480 ", 12);

	sent_clear(f);
	invite(f, "sip:carol@127.0.0.1:5095", CF_SIP_TP_UDP,
	       "Route: <sips:127.0.0.1:5096;lr>\r\n");
	assert_non_null(sent_to(f, 5096, "INVITE sip:carol@", &tp));
	assert_int_equal(tp, CF_SIP_TP_TLS);
	callee_answers(f, 5096, 486);
}

/* The value of the n-th (0: top) Record-Route line of msg, in buf. */
static void rr_value(const char *msg, int n, char *buf, size_t size)
{
	const char *p = msg, *e;

	for (int i = 0; i <= n; i++) {
		p = strstr(p, "\r\nRecord-Route: ");
		assert_non_null(p);
		p += strlen("\r\nRecord-Route: ");
	}
	e = strstr(p, "\r\n");
	assert_non_null(e);
	assert_true((size_t)(e - p) < size);
	snprintf(buf, size, "%.*s", (int)(e - p), p);
}

/* bob's BYE (UDP) routed by our entries to alice's Contact at 25170. */
static void bye_from_bob(struct fixture *f, const char *top,
                         const char *below)
{
	char buf[2048];

	snprintf(buf, sizeof(buf),
	         "BYE sip:alice@127.0.0.1:25170;transport=tls SIP/2.0\r\n"
	         "Via: SIP/2.0/UDP 127.0.0.1:5071;branch=z9hG4bKbye%u\r\n"
	         "Max-Forwards: 70\r\n"
	         "From: <sip:bob@example.com>;tag=b1\r\n"
	         "To: <sips:alice@example.com>;tag=a1\r\n"
	         "Call-ID: flow-bye@test\r\n"
	         "CSeq: 2 BYE\r\n"
	         "Route: %s, %s\r\n"
	         "Content-Length: 0\r\n\r\n",
	         ++f->branch, top, below);
	feed_from(f, buf, 5071, CF_SIP_TP_UDP);
}

/* Answer the last request sent to port starting with prefix. */
static void answer_sent(struct fixture *f, uint16_t port, const char *prefix,
                        uint16_t code)
{
	const char *r = sent_to(f, port, prefix, NULL);
	struct cf_sip_msg *msg = NULL;
	struct cf_mbuf *mb = NULL;
	size_t used;

	assert_non_null(r);
	assert_int_equal(cf_sip_msg_decode(&msg, (const uint8_t *)r, strlen(r),
	                                   CF_SIP_DATAGRAM, &used),
	                 0);
	assert_int_equal(cf_mbuf_alloc(&mb, 1024), 0);
	assert_int_equal(cf_sip_reply_encode(mb, msg, code, cf_sip_reason(code),
	                                     NULL, NULL, NULL),
	                 0);
	assert_int_equal(cf_mbuf_write_u8(mb, 0), 0);
	feed_from(f, (const char *)mb->buf, port, CF_SIP_TP_TLS);
	cf_mem_deref(mb);
	cf_mem_deref(msg);
}

/* issue 5: alice calls over TLS (a connection she opened, from port
 * 25160; her Contact says 25170, where nothing listens: a phone with no
 * TLS server certificate), bob is bound over UDP. bob's INVITE has two
 * entries, alice's below naming her TLS flow; bob's BYE routed by them
 * goes over that flow (to 25160 over TLS), not to her Contact. A token
 * with its MAC changed is ignored: the BYE goes to the Contact. */
static void test_flow_bye(void **state)
{
	struct fixture *f = *state;
	char top[256], below[256];
	enum cf_sip_tp tp = CF_SIP_TP_UDP;
	const char *r;
	char *p;

	reg(f, 5071, CF_SIP_TP_UDP, "<sip:bob@127.0.0.1:5071>");
	invite(f, "sip:bob@example.com", CF_SIP_TP_TLS, NULL);
	r = sent_to(f, 5071, "INVITE sip:bob@127.0.0.1:5071 ", NULL);
	assert_non_null(r);
	rr_value(r, 0, top, sizeof(top));
	rr_value(r, 1, below, sizeof(below));
	assert_string_equal(top, "<sip:127.0.0.1:25060;lr>");
	assert_memory_equal(below, "<sip:cfw_tls_127.0.0.1_25160_", 29);
	assert_non_null(strstr(below, "@127.0.0.1:25060;transport=tls;lr>"));
	callee_answers(f, 5071, 486);

	sent_clear(f);
	bye_from_bob(f, top, below);
	assert_non_null(sent_to(f, CALLER, "BYE sip:alice@127.0.0.1:25170", &tp));
	assert_int_equal(tp, CF_SIP_TP_TLS);
	assert_null(sent_to(f, 25170, "BYE ", NULL));
	answer_sent(f, CALLER, "BYE ", 200);

	/* a forged token: not ours, so the Contact it is */
	sent_clear(f);
	p = strchr(below, '@');
	assert_non_null(p);
	p[-1] = p[-1] == '0' ? '1' : '0';
	bye_from_bob(f, top, below);
	assert_null(sent_to(f, CALLER, "BYE ", NULL));
	assert_non_null(sent_to(f, 25170, "BYE ", &tp));
	assert_int_equal(tp, CF_SIP_TP_TLS);
	answer_sent(f, 25170, "BYE ", 200);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_uri_hop),
	    cmocka_unit_test_setup_teardown(test_plain_binding_480, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_tls_binding, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_flow_bye, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_foreign, setup, teardown),
	};

	cf_log_set_level(CF_LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
