/* SPDX-License-Identifier: BSD-3-Clause */
/* proxytest.h - the fixture of the tests that drive the proxy (test_proxy,
 * trunk/test_trunk, lua/test_lua): an app with the registrar, auth and
 * proxy modules on the transaction environment of testapp.h (fake clock),
 * a temporary SQLite store with alice, bob and carol at example.com, and a
 * recording send: what the app sent is read back, answered and fed in
 * again. Test code only; asserts instead of returning errors. */
#ifndef CF_PROXYTEST_H
#define CF_PROXYTEST_H

#include "mod/mod.h"
#include "sip/sip.h"

enum { SENT_MAX = 128, T0 = 1800000000, CALLER = 25160 };

/* One message the app sent: its bytes (NUL-terminated), where to. */
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
	struct cf_sip_peer peer;    /* the caller: UDP 127.0.0.1:CALLER */
	struct sent sent[SENT_MAX]; /* the last SENT_MAX, oldest first */
	size_t nsent;
	long blocks;
	char db[64];
	unsigned branch;
	long fail_after; /* OOM tests: the n-th allocation in recv fails */
};

/* Configuration keys a test adds to the defaults (cmocka state of
 * proxytest_setup). */
struct sets {
	const char *const *v;
	size_t n;
};

/* A configuration: general.domain=example.com, no authentication, no
 * no-answer timeout, then the n keys of sets. */
struct cf_app_conf *proxytest_conf(const char *const *sets, size_t n);

/* The fixture with the configuration of proxytest_conf(sets, n) on a
 * transaction environment with cfg (NULL: the defaults); the registrar's
 * clock stands at T0. */
struct fixture *proxytest_alloc(const struct cf_sip_cfg *cfg,
                                const char *const *sets, size_t n);

/* Let the transactions run out (400 s: Timer C), stop and free it all,
 * and assert that no memory block is left. */
void proxytest_free(struct fixture *f);

/* cmocka setup and teardown: *state is a struct sets or NULL; Timer C is
 * 190 s. */
int proxytest_setup(void **state);
int proxytest_teardown(void **state);

void sent_clear(struct fixture *f);

/* Feed buf in as a UDP datagram from 127.0.0.1:port. */
void feed_from(struct fixture *f, const char *buf, uint16_t port);

/* A REGISTER from port 5071 binding user@example.com to the Contact line
 * given; asserts its 200. */
void reg(struct fixture *f, const char *user, const char *contact);

/* A request from alice at the caller (port CALLER); extra replaces the
 * Max-Forwards line when given. */
void req(struct fixture *f, const char *method, const char *ruri,
         const char *callid, const char *to, const char *extra);

/* An INVITE from alice to bob (Call-ID call@test) sent to ruri. */
void invite(struct fixture *f, const char *ruri, const char *extra);

/* The last message sent to port that starts with prefix, or NULL. */
const char *sent_to(struct fixture *f, uint16_t port, const char *prefix);

/* How many messages sent to port start with prefix. */
size_t count_to(struct fixture *f, uint16_t port, const char *prefix);

/* Answer the request of this method last sent to port with code, as the
 * UA there would: every Via, To with a tag, extra header lines. */
void answer_from(struct fixture *f, uint16_t port, const char *method,
                 uint16_t code, const char *extra);

/* The last response the caller got: asserted to start with want. */
const char *caller_got_str(struct fixture *f, const char *want);

/* The last response the caller got: asserted to have this code. */
const char *caller_got(struct fixture *f, uint16_t code);

/* After the n-th step of an OOM loop: run the timers (Timer B, H, C) for
 * 200 s at most until no transaction is pending; fail naming n if one
 * is. */
void settle(struct fixture *f, long n);

/* The Proxy-Authorization line (CRLF-terminated) with which alice
 * (password "secret") answers the 407 r for an INVITE to uri: MD5,
 * qop=auth, nc=00000001, cnonce 0a4f113b, the nonce taken from r. */
void alice_auth_line(const char *r, const char *uri, char *line, size_t size);

#endif
