/* SPDX-License-Identifier: BSD-3-Clause */
/* trunk.c - trunks and the dial plan (issue 4 point 4): `[proxy] trunk`
 * and `[proxy] dialplan` parsed and checked, the rule a Request-URI's user
 * part matches, the rewritten number at the trunk, and the credentials
 * that answer the trunk's 401/407. */
#include <errno.h>
#include <pthread.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "mod/proxy/proxy_int.h"
#include "proto/sip/digest.h"

enum {
	TRUNK_NAME_MAX = 32,   /* a trunk's name, NUL included */
	TRUNK_STRIP_MAX = 32,  /* dialplan strip= */
	TRUNK_PREFIX_MAX = 32, /* dialplan prefix=, NUL included */
	TRUNK_WORDS_MAX = 8,   /* words of one value */
	TRUNK_NUMBER_MAX = 128,
};

/* One trunk: shared by every target routed to it (a reference each). */
struct proxy_trunk {
	char name[TRUNK_NAME_MAX];
	char *uri;              /* "sip:host:port;params" as configured */
	size_t hostoff;         /* where host starts in uri (after "sip:") */
	struct cf_sip_peer hop; /* a numeric host */
	bool by_name;           /* a host name: no hop, RFC 3263 */
	char *user, *password;  /* outbound credentials, or NULL */
};

struct rule {
	regex_t re;
	bool re_ok;
	unsigned strip;
	char prefix[TRUNK_PREFIX_MAX];
	struct proxy_trunk *trunk; /* in the set's list */
};

struct trunk_set {
	struct proxy_trunk **tv; /* references */
	size_t tn;
	struct rule *rv;
	size_t rn;
};

static struct {
	pthread_mutex_t mtx;
	struct trunk_set *set; /* reference; NULL: none */
} tk = {.mtx = PTHREAD_MUTEX_INITIALIZER};

static void trunk_destroy(void *data)
{
	struct proxy_trunk *t = data;

	cf_mem_deref(t->uri);
	cf_mem_deref(t->user);
	cf_mem_deref(t->password);
}

static void set_destroy(void *data)
{
	struct trunk_set *s = data;

	for (size_t i = 0; i < s->rn; i++) {
		if (s->rv[i].re_ok)
			regfree(&s->rv[i].re);
	}
	for (size_t i = 0; i < s->tn; i++)
		cf_mem_deref(s->tv[i]);
	cf_mem_deref(s->tv);
	cf_mem_deref(s->rv);
}

/* ------------------------------------------------------------- parsing */

struct parse {
	struct trunk_set *set;
	cf_mod_conf_err_h *errh;
	void *arg;
	int err; /* EINVAL (reported), ENOMEM */
};

static void perr(struct parse *p, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void perr(struct parse *p, int line, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!p->err)
		p->err = EINVAL;
	if (p->errh)
		p->errh(line, msg, p->arg);
}

/* Split v at spaces and tabs into at most max words (copies in buf). */
static size_t words(const char *v, char *buf, size_t size, char **w, size_t max)
{
	char *s, *save = NULL;
	size_t n = 0;

	if (strlen(v) >= size)
		return 0;
	strcpy(buf, v);
	for (s = strtok_r(buf, " \t", &save); s && n < max;
	     s = strtok_r(NULL, " \t", &save))
		w[n++] = s;
	return s ? max + 1 : n; /* max + 1: too many */
}

static bool name_ok(const char *s)
{
	if (!*s || strlen(s) >= TRUNK_NAME_MAX)
		return false;
	for (; *s; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
			return false;
	}
	return true;
}

/* Characters a prefix may add to a user part (RFC 3261 §25.1 unreserved
 * and user-unreserved, without escapes). */
static bool prefix_ok(const char *s)
{
	for (; *s; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') ||
		      strchr("-_.!~*'()&=+$,;?/", *s)))
			return false;
	}
	return true;
}

static struct proxy_trunk *find(const struct trunk_set *s, const char *name)
{
	for (size_t i = 0; i < s->tn; i++) {
		if (!strcmp(s->tv[i]->name, name))
			return s->tv[i];
	}
	return NULL;
}

/* trunk = NAME URI [username=USER password=PASS] */
static bool trunk_h(const char *value, int line, void *arg)
{
	struct parse *p = arg;
	char buf[1024], *w[TRUNK_WORDS_MAX];
	const char *user = NULL, *pass = NULL;
	struct proxy_trunk *t, **tv;
	struct cf_sip_uri u;
	struct cf_pl pl;
	size_t n = words(value, buf, sizeof(buf), w, TRUNK_WORDS_MAX);
	int err;

	if (!n || n > 4) {
		perr(p, line,
		     "[proxy] trunk '%s': want NAME URI "
		     "[username=USER password=PASS]",
		     value);
		return false;
	}
	if (!name_ok(w[0])) {
		perr(p, line,
		     "[proxy] trunk '%s': the name must be 1-31 "
		     "letters, digits, '-' or '_'",
		     w[0]);
		return false;
	}
	if (n < 2) {
		perr(p, line, "[proxy] trunk %s has no URI", w[0]);
		return false;
	}
	if (find(p->set, w[0])) {
		perr(p, line, "[proxy] trunk %s is declared twice", w[0]);
		return false;
	}
	for (size_t i = 2; i < n; i++) {
		if (!strncmp(w[i], "username=", 9) && w[i][9])
			user = w[i] + 9;
		else if (!strncmp(w[i], "password=", 9) && w[i][9])
			pass = w[i] + 9;
		else {
			perr(p, line,
			     "[proxy] trunk %s: '%s' is not "
			     "username=USER or password=PASS",
			     w[0], w[i]);
			return false;
		}
	}
	if (!user != !pass) {
		perr(p, line,
		     "[proxy] trunk %s: username and password go "
		     "together",
		     w[0]);
		return false;
	}
	if (strchr(user ? user : "", '"') || strchr(user ? user : "", '\\')) {
		perr(p, line,
		     "[proxy] trunk %s: a quote or backslash in the "
		     "username",
		     w[0]);
		return false;
	}

	cf_pl_set_str(&pl, w[1]);
	err = cf_sip_uri_decode(&u, &pl);
	if (err || cf_pl_isset(&u.user) || cf_pl_isset(&u.headers)) {
		perr(p, line, "[proxy] trunk %s: '%s' is not a SIP URI "
		     "without user part (sip:HOST[:PORT][;transport=udp|tcp|tls])",
		     w[0], w[1]);
		return false;
	}
	t = cf_mem_zalloc(sizeof(*t), trunk_destroy);
	if (!t) {
		p->err = ENOMEM;
		return true;
	}
	err = proxy_uri_hop(&u, &t->hop);
	if (err == ENOENT) {
		/* a host name: RFC 3263 per call (proxy.c, dns_forward) */
		t->by_name = true;
		err = 0;
	}
	if (err) {
		perr(p, line, "[proxy] trunk %s: '%s': the scheme must be "
		     "sip: or sips: and the transport udp, tcp or tls", w[0], w[1]);
		cf_mem_deref(t);
		return false;
	}
	strcpy(t->name, w[0]);
	t->uri = cf_mem_strdup(w[1]);
	t->hostoff = (size_t)(u.host.p - pl.p);
	if (u.host.p > pl.p && u.host.p[-1] == '[')
		t->hostoff--; /* an IPv6 reference: keep its bracket */
	t->user = user ? cf_mem_strdup(user) : NULL;
	t->password = pass ? cf_mem_strdup(pass) : NULL;
	tv = cf_mem_realloc(p->set->tv, (p->set->tn + 1) * sizeof(*tv));
	if (!t->uri || (user && (!t->user || !t->password)) || !tv) {
		if (tv)
			p->set->tv = tv;
		cf_mem_deref(t);
		p->err = ENOMEM;
		return true;
	}
	p->set->tv = tv;
	tv[p->set->tn++] = t;
	return false;
}

/* dialplan = REGEX TRUNK [strip=N] [prefix=P] */
static bool rule_h(const char *value, int line, void *arg)
{
	struct parse *p = arg;
	char buf[1024], *w[TRUNK_WORDS_MAX], emsg[160];
	struct rule r = {0}, *rv;
	size_t n = words(value, buf, sizeof(buf), w, TRUNK_WORDS_MAX);
	int err;

	if (n < 2 || n > 4) {
		perr(p, line,
		     "[proxy] dialplan '%s': want REGEX TRUNK "
		     "[strip=N] [prefix=DIGITS]",
		     value);
		return false;
	}
	r.trunk = find(p->set, w[1]);
	if (!r.trunk) {
		perr(p, line, "[proxy] dialplan '%s': no trunk named %s", w[0],
		     w[1]);
		return false;
	}
	for (size_t i = 2; i < n; i++) {
		char *end;

		if (!strncmp(w[i], "strip=", 6)) {
			unsigned long v = strtoul(w[i] + 6, &end, 10);

			if (!w[i][6] || *end || v > TRUNK_STRIP_MAX) {
				perr(p, line,
				     "[proxy] dialplan '%s': strip "
				     "must be 0..%d",
				     w[0], TRUNK_STRIP_MAX);
				return false;
			}
			r.strip = (unsigned)v;
		} else if (!strncmp(w[i], "prefix=", 7) &&
		           strlen(w[i] + 7) < sizeof(r.prefix) &&
		           prefix_ok(w[i] + 7)) {
			strcpy(r.prefix, w[i] + 7);
		} else {
			perr(p, line,
			     "[proxy] dialplan '%s': '%s' is not "
			     "strip=N or prefix=DIGITS",
			     w[0], w[i]);
			return false;
		}
	}
	err = regcomp(&r.re, w[0], REG_EXTENDED | REG_NOSUB);
	if (err) {
		regerror(err, &r.re, emsg, sizeof(emsg));
		perr(p, line, "[proxy] dialplan: bad regex '%s': %s", w[0],
		     emsg);
		return false;
	}
	r.re_ok = true;
	rv = cf_mem_realloc(p->set->rv, (p->set->rn + 1) * sizeof(*rv));
	if (!rv) {
		regfree(&r.re);
		p->err = ENOMEM;
		return true;
	}
	p->set->rv = rv;
	rv[p->set->rn++] = r;
	return false;
}

/* Parse both keys of conf into a new set: 0, EINVAL (each problem sent to
 * errh), ENOMEM. */
static int set_parse(const struct cf_app_conf *conf, struct trunk_set **setp,
                     cf_mod_conf_err_h *errh, void *arg)
{
	struct parse p = {.errh = errh, .arg = arg};

	p.set = cf_mem_zalloc(sizeof(*p.set), set_destroy);
	if (!p.set)
		return ENOMEM;
	cf_app_conf_lines(conf, "proxy", "trunk", trunk_h, &p);
	if (p.err != ENOMEM)
		cf_app_conf_lines(conf, "proxy", "dialplan", rule_h, &p);
	if (p.err) {
		cf_mem_deref(p.set);
		return p.err;
	}
	*setp = p.set;
	return 0;
}

/* cf_mod.conf_check: confabd --check-config, start and SIGHUP. */
int proxy_trunk_conf_check(const struct cf_app_conf *conf,
                           cf_mod_conf_err_h *err, void *arg)
{
	struct trunk_set *s = NULL;
	int e = set_parse(conf, &s, err, arg);

	cf_mem_deref(s);
	return e;
}

/* Main thread (init, SIGHUP): the new set replaces the old one; workers
 * holding a trunk keep it by their reference. On an error (the
 * configuration was checked when loaded: only ENOMEM) the old set stays. */
int proxy_trunks_load(const struct cf_app_conf *conf)
{
	struct trunk_set *s = NULL, *old;
	int err = set_parse(conf, &s, NULL, NULL);

	if (err) {
		cf_log(CF_LOG_ERR, NULL, "proxy: trunks not loaded: %s",
		       strerror(err));
		return err;
	}
	pthread_mutex_lock(&tk.mtx);
	old = tk.set;
	tk.set = s;
	pthread_mutex_unlock(&tk.mtx);
	cf_mem_deref(old);
	return 0;
}

void proxy_trunks_clear(void)
{
	struct trunk_set *old;

	pthread_mutex_lock(&tk.mtx);
	old = tk.set;
	tk.set = NULL;
	pthread_mutex_unlock(&tk.mtx);
	cf_mem_deref(old);
}

/* ------------------------------------------------------------- routing */

/*
 * The dial plan: the first rule whose regex matches the user part of the
 * Request-URI gives one target: "sip:" PREFIX NUMBER-without-its-first-
 * strip-characters "@" the trunk URI's host, port and parameters, sent to
 * the trunk (has_hop false for a trunk by name: the caller resolves it),
 * carrying a reference to it (its credentials). With authenticate, only
 * for a From at one of our domains (whose requests the proxy challenged
 * before this). Workers; the regexes run under the set's mutex (POSIX regexec on a shared pattern is
 * thread-safe, the mutex guards the set against a SIGHUP swap). Cost: one
 * regexec per rule until one matches. Returns 0 with *tvp a new array of
 * one target, ENOENT (no rule matches, or no user part), ENOMEM.
 */
int proxy_trunk_route(struct cf_app *app, const struct cf_sip_msg *msg,
                      bool authenticate, struct proxy_target **tvp)
{
	const struct cf_pl *user = &msg->ruri.user;
	char num[TRUNK_NUMBER_MAX], uri[512];
	struct proxy_trunk *t = NULL;
	const struct rule *r = NULL;
	struct proxy_target *tv;
	unsigned strip = 0;
	char prefix[TRUNK_PREFIX_MAX] = "";
	int n;

	if (!cf_pl_isset(user) || user->l >= sizeof(num))
		return ENOENT;
	cf_pl_strcpy(user, num, sizeof(num));
	pthread_mutex_lock(&tk.mtx);
	for (size_t i = 0; tk.set && i < tk.set->rn; i++) {
		if (!regexec(&tk.set->rv[i].re, num, 0, NULL, 0)) {
			r = &tk.set->rv[i];
			t = cf_mem_ref(r->trunk);
			strip = r->strip;
			strcpy(prefix, r->prefix);
			break;
		}
	}
	pthread_mutex_unlock(&tk.mtx);
	if (!t)
		return ENOENT;
	if (authenticate && !cf_app_uri_is_local(app, &msg->from.uri)) {
		/* only our users, who were challenged, call out: a request
		 * from elsewhere goes on to the location service (404) */
		cf_log(CF_LOG_NOTICE, &msg->call_id,
		       "proxy: dial plan: %s matches, but the caller is not "
		       "one of our users",
		       num);
		cf_mem_deref(t);
		return ENOENT;
	}

	if (strip > strlen(num))
		strip = (unsigned)strlen(num);
	n = snprintf(uri, sizeof(uri), "sip:%s%s@%s", prefix, num + strip,
	             t->uri + t->hostoff);
	tv = (n > 0 && (size_t)n < sizeof(uri))
	         ? cf_mem_zalloc(sizeof(*tv), NULL)
	         : NULL;
	if (tv)
		tv->uri = cf_mem_strdup(uri);
	if (!tv || !tv->uri) {
		cf_mem_deref(tv);
		cf_mem_deref(t);
		return ENOMEM;
	}
	tv->hop = t->hop;
	tv->has_hop = !t->by_name;
	tv->q = 1000;
	tv->trunk = t;
	cf_log(CF_LOG_INFO, &msg->call_id, "proxy: dial plan: %s to trunk %s",
	       uri, t->name);
	*tvp = tv;
	return 0;
}

/*
 * The trunk's challenge (a 401 or 407 response to the request sent to
 * it) answered: the header line "Proxy-Authorization: Digest ..." (407)
 * or "Authorization: Digest ..." (401) into line, no CRLF. The first
 * challenge we can answer is used (RFC 7616 §3.7: the server lists them
 * by preference). method and ruri: the request as sent (the digest-uri).
 * Workers. 0, ENOENT (no credentials for this trunk, or no challenge we
 * can answer), ENOMEM.
 */
int proxy_trunk_auth(const struct proxy_trunk *t, const struct cf_sip_msg *resp,
                     const char *method, const char *ruri, char *line,
                     size_t size)
{
	enum cf_sip_hdr_id id = resp->scode == 401
	                            ? CF_SIP_H_WWW_AUTHENTICATE
	                            : CF_SIP_H_PROXY_AUTHENTICATE;
	uint8_t rnd[8];
	char cnonce[17];
	struct cf_mbuf *mb = NULL;
	int err = ENOENT;

	if (!t || !t->user || !t->password || size < 2)
		return ENOENT;
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		memset(rnd, 0x5a, sizeof(rnd)); /* still unique per nonce */
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(cnonce + 2 * i, 3, "%02x", rnd[i]);
	if (cf_mbuf_alloc(&mb, 512))
		return ENOMEM;

	for (size_t i = 0; i < resp->hdrc && err == ENOENT; i++) {
		struct cf_digest_client cl = {t->user, t->password, method,
		                              ruri,    cnonce,      1};
		struct cf_digest_chal_rx ch;

		if (resp->hdrv[i].id != id ||
		    cf_digest_chal_decode(&ch, &resp->hdrv[i].val))
			continue;
		mb->pos = mb->end = 0;
		err = cf_mbuf_printf(mb, "%s: ",
		                     id == CF_SIP_H_WWW_AUTHENTICATE
		                         ? "Authorization"
		                         : "Proxy-Authorization");
		if (!err) {
			err = cf_digest_client_encode(mb, &ch, &cl);
			if (err == EPROTO || err == EBADMSG)
				err = ENOENT; /* try the next one */
		}
	}
	if (!err && mb->end >= size)
		err = ENOMEM;
	if (!err) {
		memcpy(line, mb->buf, mb->end);
		line[mb->end] = 0;
	}
	cf_mem_deref(mb);
	return err;
}

const char *proxy_trunk_name(const struct proxy_trunk *t)
{
	return t ? t->name : "";
}

/* ------------------------------------------------ CSeq on the trunk leg */

/*
 * RFC 3261 §22.2: the INVITE resent with credentials gets the CSeq one
 * higher than the one the trunk challenged. The caller's side keeps its
 * own number: responses going upstream are renumbered back (fwd.c,
 * resp_forward and late 2xx), the CANCEL and the ACK of a non-2xx are
 * built by the client transaction from the request as sent, and the ACK
 * of the 2xx, which passes statelessly, is recognised by a parameter of
 * our Record-Route entry (cfack=N.HASH: the caller's CSeq and a hash of
 * its From tag, so that only the caller's ACK of that INVITE is changed).
 * Later in-dialog requests of the caller keep their numbers: they are
 * higher than the INVITE's, or equal to the renumbered one, which
 * RFC 3261 §12.2.2 accepts (only lower is out of order).
 */
int proxy_cseq_set(struct cf_sip_msg *msg, uint32_t num)
{
	const struct cf_sip_hdr *h = cf_sip_msg_hdr(msg, CF_SIP_H_CSEQ);
	int err;

	if (!h)
		return 0;
	err = cf_sip_msg_edit_add(msg, h, "CSeq: %u %.*s", num,
	                          (int)msg->cseq.method.l, msg->cseq.method.p);
	return err ? err : cf_sip_msg_edit_del(msg, h);
}

static uint32_t tag_hash(const struct cf_pl *tag)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; tag->p && i < tag->l; i++) {
		h ^= (uint8_t)tag->p[i];
		h *= 16777619u;
	}
	return h;
}

void proxy_trunk_rr_param(const struct cf_sip_msg *req, char *buf, size_t size)
{
	snprintf(buf, size, ";cfack=%u.%08x", req->cseq.num,
	         tag_hash(&req->from.tag));
}

int proxy_trunk_ack(struct cf_sip_msg *msg, const struct proxy_routes *r)
{
	char want[40], got[40];

	if (msg->mid != CF_SIP_M_ACK || !cf_pl_isset(&r->own_cfack) ||
	    cf_pl_strcpy(&r->own_cfack, got, sizeof(got)))
		return 0;
	snprintf(want, sizeof(want), "%u.%08x", msg->cseq.num,
	         tag_hash(&msg->from.tag));
	if (strcmp(got, want))
		return 0; /* another request of the dialog, or the trunk's */
	return proxy_cseq_set(msg, msg->cseq.num + 1);
}
