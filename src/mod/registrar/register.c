/* SPDX-License-Identifier: BSD-3-Clause */
/* register.c - REGISTER processing (RFC 3261 §10.3 steps 1-8) with Path
 * (RFC 3327), outbound (RFC 5626 §6) and GRUU (RFC 5627 §5) in the 200. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mod/auth/auth.h"
#include "mod/registrar/reg_priv.h"

enum {
	REQ_CONTACTS_MAX = 64, /* Contact values in one REGISTER */
	PATH_MAX_LEN = 4096,
	INST_MAX = 256,
};

/* One Contact value of the request. */
struct ct {
	struct cf_sip_addr addr;
	uint32_t expires;
	int q;
	struct cf_pl instance; /* without the quotes: "<urn:...>" */
	uint32_t reg_id;       /* 0: none, or ignored (no outbound) */
	bool outbound;
	bool skip;    /* the same contact comes again later in the request */
	bool retrans; /* this very request was applied already */
	struct reg_binding *old; /* the binding it refreshes/removes */
};

struct req {
	struct reg *r;
	struct cf_app *app;
	struct cf_sip_strans *st;
	const struct cf_sip_msg *msg;
	const struct cf_sip_peer *peer;
	size_t n;
	bool wildcard;
	bool bad;
	const char *why;    /* the reason phrase of a 400 */
	struct reg_cfg cfg; /* a copy, taken at the start */
	size_t aor_len;
	size_t path_len;
	bool sup_path, sup_outbound, sup_gruu;
	bool any_outbound;
	/* from here on: not cleared per request (aor and path are
	 * NUL-terminated as written, v[i] cleared when filled) */
	char aor[REG_AOR_MAX];
	char path[PATH_MAX_LEN];
	struct ct v[REQ_CONTACTS_MAX];
};

/* ---------------------------------------------------------- parsing */

static bool contact_val(const struct cf_sip_hdr *hdr, const struct cf_pl *val,
                        void *arg)
{
	struct req *q = arg;
	struct cf_sip_addr a;

	(void)hdr;
	if (cf_sip_addr_decode(&a, val)) {
		q->bad = true;
		q->why = "Bad Contact";
		return true;
	}
	if (a.wildcard) {
		q->wildcard = true;
		q->n++; /* counted, for the "nothing else" rule */
		return false;
	}
	if (q->n >= REQ_CONTACTS_MAX) {
		q->bad = true;
		q->why = "Too Many Contacts";
		return true;
	}
	memset(&q->v[q->n], 0, sizeof(q->v[0]));
	q->v[q->n++].addr = a;
	return false;
}

static bool path_val(const struct cf_sip_hdr *hdr, const struct cf_pl *val,
                     void *arg)
{
	struct req *q = arg;
	struct cf_pl v = *val;

	(void)hdr;
	cf_pl_trim(&v);
	if (!v.l)
		return false;
	if (q->path_len + v.l + 2 >= sizeof(q->path)) {
		q->bad = true;
		q->why = "Path Too Long";
		return true;
	}
	if (q->path_len) {
		q->path[q->path_len++] = ',';
	}
	memcpy(q->path + q->path_len, v.p, v.l);
	q->path_len += v.l;
	q->path[q->path_len] = '\0';
	return false;
}

struct tagfind {
	const char *tag;
	bool found;
};

static bool tag_val(const struct cf_sip_hdr *hdr, const struct cf_pl *val,
                    void *arg)
{
	struct tagfind *t = arg;
	struct cf_pl v = *val;

	(void)hdr;
	cf_pl_trim(&v);
	if (!cf_pl_strcasecmp(&v, t->tag))
		t->found = true;
	return t->found;
}

static bool has_tag(const struct cf_sip_msg *msg, enum cf_sip_hdr_id id,
                    const char *tag)
{
	struct tagfind t = {tag, false};

	cf_sip_msg_vals_apply(msg, id, tag_val, &t);
	return t.found;
}

/* delta-seconds; values over 2^32-1 mean 2^32-1 (RFC 3261 §20.19). */
static int delta_decode(const struct cf_pl *pl, uint32_t *v)
{
	struct cf_pl p = *pl;
	uint64_t x;

	cf_pl_trim(&p);
	if (!p.l)
		return EBADMSG;
	for (size_t i = 0; i < p.l; i++) {
		if (p.p[i] < '0' || p.p[i] > '9')
			return EBADMSG;
	}
	if (p.l > 19 || cf_pl_u64(&p, &x) || x > UINT32_MAX)
		x = UINT32_MAX;
	*v = (uint32_t)x;
	return 0;
}

/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ) */
static int q_decode(const struct cf_pl *pl, int *q)
{
	struct cf_pl p = *pl;
	int v, scale = 100;

	cf_pl_trim(&p);
	if (!p.l || (p.p[0] != '0' && p.p[0] != '1'))
		return EBADMSG;
	v = (p.p[0] - '0') * 1000;
	if (p.l == 1) {
		*q = v;
		return 0;
	}
	if (p.p[1] != '.' || p.l > 5)
		return EBADMSG;
	for (size_t i = 2; i < p.l; i++, scale /= 10) {
		if (p.p[i] < '0' || p.p[i] > '9')
			return EBADMSG;
		v += (p.p[i] - '0') * scale;
	}
	if (v > 1000)
		return EBADMSG;
	*q = v;
	return 0;
}

static void unquote(struct cf_pl *v)
{
	if (v->l >= 2 && v->p[0] == '"' && v->p[v->l - 1] == '"') {
		v->p++;
		v->l -= 2;
	}
}

/* Step 6 and 7's values for every contact: expires, q, instance, reg-id.
 * 0, or a status code to answer with. */
static uint16_t contacts_check(struct req *q, uint32_t hdr_exp,
                               bool has_hdr_exp, uint32_t *too_brief)
{
	const struct reg_cfg *c = &q->cfg;
	bool first_hop = cf_sip_msg_hdr_count(q->msg, CF_SIP_H_VIA) <= 1;

	/* RFC 5626 §6: a Path whose first URI has ;ob makes the edge proxy
	 * the first hop */
	if (!first_hop && q->path_len) {
		struct cf_sip_addr pa;
		struct cf_pl p1 = {q->path, q->path_len};
		const char *comma = cf_pl_chr(&p1, ',');

		if (comma)
			p1.l = (size_t)(comma - q->path);
		if (!cf_sip_addr_decode(&pa, &p1) &&
		    cf_sip_param_exists(&pa.uri.params, "ob"))
			first_hop = true;
	}

	*too_brief = 0;
	for (size_t i = 0; i < q->n; i++) {
		struct ct *ct = &q->v[i];
		struct cf_pl v;

		if (!cf_sip_param_get(&ct->addr.params, "expires", &v) &&
		    cf_pl_isset(&v)) {
			if (delta_decode(&v, &ct->expires)) {
				q->why = "Bad Contact Expires";
				return 400;
			}
		} else if (has_hdr_exp) {
			ct->expires = hdr_exp;
		} else {
			ct->expires = c->default_expires;
		}
		if (ct->expires && ct->expires < c->min_expires)
			*too_brief = c->min_expires;
		if (ct->expires > c->max_expires)
			ct->expires = c->max_expires;

		ct->q = -1;
		if (!cf_sip_param_get(&ct->addr.params, "q", &v) &&
		    q_decode(&v, &ct->q)) {
			q->why = "Bad q-value";
			return 400;
		}
		if (!cf_sip_param_get(&ct->addr.params, "+sip.instance", &v) &&
		    cf_pl_isset(&v)) {
			unquote(&v);
			if (v.l < 3 || v.l >= INST_MAX || v.p[0] != '<' ||
			    v.p[v.l - 1] != '>') {
				q->why = "Bad +sip.instance";
				return 400;
			}
			ct->instance = v;
		}
		if (!cf_sip_param_get(&ct->addr.params, "reg-id", &v)) {
			uint32_t id;

			if (cf_pl_u32(&v, &id) || !id || id > INT32_MAX) {
				q->why = "Bad reg-id";
				return 400;
			}
			/* §6: reg-id only counts with an instance, with
			 * outbound on, and at the first hop */
			if (c->outbound && ct->instance.l && first_hop) {
				ct->reg_id = id;
				ct->outbound = true;
				q->any_outbound = true;
			}
		}
	}
	return 0;
}

/* --------------------------------------------------------- the table */

static bool same_binding(const struct ct *ct, const struct reg_binding *b)
{
	struct cf_pl bi = reg_str(b, RS_INSTANCE), bu;
	struct cf_sip_uri u;

	/* RFC 5626 §6 / RFC 5627: with an instance, the binding is keyed
	 * by (instance, reg-id), not by the URI */
	if (ct->instance.l)
		return bi.l && !cf_pl_cmp(&bi, &ct->instance) &&
		       b->reg_id == ct->reg_id;
	if (bi.l)
		return false;
	bu = reg_str(b, RS_CONTACT);
	if (!cf_pl_cmp(&bu, &ct->addr.uri.all))
		return true;
	/* §10.3 step 7: URIs compared by §19.1.4 */
	return !cf_sip_uri_decode(&u, &bu) &&
	       !cf_sip_uri_cmp(&u, &ct->addr.uri);
}

/* Two contacts of one request for the same binding. */
static bool ct_same(const struct ct *a, const struct ct *b)
{
	if (a->instance.l || b->instance.l)
		return a->instance.l && b->instance.l &&
		       !cf_pl_cmp(&a->instance, &b->instance) &&
		       a->reg_id == b->reg_id;
	return !cf_sip_uri_cmp(&a->addr.uri, &b->addr.uri);
}

enum order {
	ORDER_OK = 0,
	ORDER_RETRANS, /* the same request again, within REG_RETRANS_S */
	ORDER_BAD,
};

/* §10.3 step 7: a binding with the same Call-ID and a CSeq not higher
 * means this request is older than what we have. The same CSeq within
 * REG_RETRANS_S of the registration is that request again (REGISTER is
 * answered statelessly, so retransmissions reach us): no change, 200 - as
 * Kamailio's usrloc does within its cseq_delay. */
static enum order out_of_order(const struct req *q, const struct reg_binding *b,
                               int64_t now)
{
	struct cf_pl cid = reg_str(b, RS_CALL_ID);

	if (cf_pl_cmp(&cid, &q->msg->call_id) || q->msg->cseq.num > b->cseq)
		return ORDER_OK;
	if (q->msg->cseq.num == b->cseq && b->at &&
	    now - (int64_t)b->at <= REG_RETRANS_S)
		return ORDER_RETRANS;
	return ORDER_BAD;
}

static struct reg_binding *binding_new(struct req *q, struct reg_aor *a,
                                       const struct ct *ct, int64_t now)
{
	const struct cf_sip_hdr *ua =
	    cf_sip_msg_hdr(q->msg, CF_SIP_H_USER_AGENT);
	struct cf_pl strs[RS__COUNT] = {0};
	struct reg_binding *b;

	strs[RS_CONTACT] = ct->addr.uri.all;
	strs[RS_CALL_ID] = q->msg->call_id;
	if (q->path_len) {
		strs[RS_PATH].p = q->path;
		strs[RS_PATH].l = q->path_len;
	}
	strs[RS_INSTANCE] = ct->instance;
	if (ua) {
		strs[RS_UA] = ua->val;
		if (strs[RS_UA].l > 256)
			strs[RS_UA].l = 256;
	}
	b = reg_binding_alloc(a, strs);
	if (!b)
		return NULL;
	b->expires = now + ct->expires;
	b->at = (uint32_t)now;
	b->seq = atomic_fetch_add(&q->r->seq, 1) + 1;
	b->cseq = q->msg->cseq.num;
	b->reg_id = ct->reg_id;
	b->q = (int16_t)ct->q;
	reg_addr_set(&b->src, q->peer->tp, &q->peer->addr);
	reg_addr_set(&b->local, q->peer->tp, &q->peer->local);
	if (ct->outbound) {
		b->flags |= RB_OUTBOUND;
		if (q->peer->conn)
			b->conn = cf_mem_ref(q->peer->conn);
	}
	return b;
}

/* The bindings listed in the 200, referenced (unlocked afterwards). */
struct snap {
	struct reg_binding *v[REG_CONTACTS_HARD_MAX];
	size_t n;
};

/*
 * Steps 6-7 under the AOR's lock. Returns 0 (snap filled), or a status
 * code with q->why for the reason phrase.
 */
static uint16_t apply(struct req *q, struct snap *sn, int64_t now)
{
	struct reg *r = q->r;
	uint32_t hash = reg_hash(q->aor, q->aor_len);
	pthread_mutex_t *lk = reg_lock(r, hash);
	uint32_t max = q->cfg.max_contacts;
	struct reg_binding *nb[REQ_CONTACTS_MAX] = {0};
	struct reg_aor *a;
	uint16_t code = 0;
	size_t have = 0, adds = 0, dels = 0;

	pthread_mutex_lock(lk);
	a = (q->n && !q->wildcard) ? reg_aor_get(r, q->aor, q->aor_len, hash)
	                           : reg_aor_find(r, q->aor, q->aor_len, hash);
	if (!a) {
		if (q->n && !q->wildcard) {
			q->why = "Out of Memory";
			code = 500;
		}
		goto snap;
	}
	cf_mem_ref(a);

	/* expired but not yet swept: gone (the store sweeps its own) */
	for (struct cf_le *le = a->bindings.head; le;) {
		struct reg_binding *b = le->data;

		le = le->next;
		if (b->expires <= now) {
			reg_binding_unlink(r, b, false);
			reg_ctr_add(&r->ctr.expired, 1);
		}
	}

	if (q->wildcard) {
		/* §10.3 step 6: remove all, unless one is newer */
		for (struct cf_le *le = a->bindings.head; le; le = le->next) {
			/* a "*" that was applied left no binding behind: one
			 * with the same CSeq is another request's */
			if (out_of_order(q, le->data, now) != ORDER_OK) {
				q->why = "Out of Order CSeq";
				code = 500;
				goto out;
			}
		}
		while (a->bindings.head) {
			reg_binding_unlink(r, a->bindings.head->data, true);
			reg_ctr_add(&r->ctr.removals, 1);
		}
		goto out;
	}

	/* match, and check the order rule before changing anything */
	for (size_t i = 0; i < q->n; i++) {
		struct ct *ct = &q->v[i];

		ct->old = NULL;
		for (struct cf_le *le = a->bindings.head; le; le = le->next) {
			if (same_binding(ct, le->data)) {
				ct->old = le->data;
				break;
			}
		}
		switch (ct->old ? out_of_order(q, ct->old, now) : ORDER_OK) {
		case ORDER_BAD:
			q->why = "Out of Order CSeq";
			code = 500;
			goto out;
		case ORDER_RETRANS:
			ct->retrans = true;
			break;
		default:
			break;
		}
		/* the same contact twice in one request: the last wins */
		for (size_t j = 0; j < i; j++) {
			if (ct_same(&q->v[j], ct)) {
				q->v[j].skip = true;
				q->v[j].old = NULL;
			}
		}
	}
	have = cf_list_count(&a->bindings);
	for (size_t i = 0; i < q->n; i++) {
		const struct ct *ct = &q->v[i];

		if (ct->skip || ct->retrans)
			continue;
		if (ct->old && !ct->expires)
			dels++;
		else if (!ct->old && ct->expires)
			adds++;
	}
	if (have + adds - dels > max) {
		size_t over = have + adds - dels - max;
		size_t spare = have - dels;

		/* only bindings this request does not touch can go */
		for (size_t i = 0; i < q->n; i++) {
			if (q->v[i].old && q->v[i].expires)
				spare--;
		}
		if (!q->cfg.replace_oldest || over > spare) {
			q->why = "Too Many Contacts";
			code = 403;
			goto out;
		}
		while (over--) {
			struct reg_binding *oldest = NULL;

			for (struct cf_le *le = a->bindings.head; le;
			     le = le->next) {
				struct reg_binding *b = le->data;
				bool touched = false;

				for (size_t i = 0; i < q->n && !touched; i++)
					touched = q->v[i].old == b;
				if (!touched &&
				    (!oldest || b->seq < oldest->seq))
					oldest = b;
			}
			if (!oldest)
				break;
			reg_binding_unlink(r, oldest, true);
			reg_ctr_add(&r->ctr.replaced, 1);
		}
	}

	/* allocate first: a request is applied whole or not at all */
	for (size_t i = 0; i < q->n; i++) {
		const struct ct *ct = &q->v[i];

		if (!ct->expires || ct->skip || ct->retrans)
			continue;
		nb[i] = binding_new(q, a, ct, now);
		if (!nb[i]) {
			q->why = "Out of Memory";
			code = 500;
			goto out;
		}
	}
	for (size_t i = 0; i < q->n; i++) {
		struct ct *ct = &q->v[i];

		if (ct->retrans)
			continue;
		if (ct->old) {
			struct cf_pl ou = reg_str(ct->old, RS_CONTACT);
			/* the store keys by (aor, contact): a new URI for
			 * the same instance needs the old row deleted */
			bool same_uri =
			    nb[i] && !cf_pl_cmp(&ou, &ct->addr.uri.all);

			reg_binding_unlink(r, ct->old, !same_uri);
			reg_ctr_add(
			    nb[i] ? &r->ctr.refreshes : &r->ctr.removals, 1);
		} else if (nb[i]) {
			reg_ctr_add(&r->ctr.registrations, 1);
		}
		if (nb[i]) {
			reg_binding_link(r, a, nb[i]);
			if (r->wb)
				reg_wb_queue(r->wb, WB_UPSERT, nb[i]);
			nb[i] = NULL; /* the table has it */
		}
	}
out:
	for (size_t i = 0; i < q->n; i++)
		cf_mem_deref(nb[i]);
	reg_aor_gc(r, a);
	if (!code) {
		for (struct cf_le *le = a->bindings.head;
		     le && sn->n < REG_CONTACTS_HARD_MAX; le = le->next)
			sn->v[sn->n++] = cf_mem_ref(le->data);
	}
	cf_mem_deref(a);
	a = NULL;
snap:
	pthread_mutex_unlock(lk);
	return code;
}

/* --------------------------------------------------------- the 200 */

static int contact_line(struct req *q, struct cf_mbuf *mb,
                        const struct reg_binding *b, int64_t now)
{
	struct cf_pl u = reg_str(b, RS_CONTACT), inst = reg_str(b, RS_INSTANCE);
	int err;

	err = cf_mbuf_printf(mb, "Contact: <%.*s>;expires=%lld", (int)u.l, u.p,
	                     (long long)(b->expires - now));
	if (!err && b->q >= 0)
		err =
		    cf_mbuf_printf(mb, ";q=%d.%03d", b->q / 1000, b->q % 1000);
	if (!err && inst.l)
		err = cf_mbuf_printf(mb, ";+sip.instance=\"%.*s\"", (int)inst.l,
		                     inst.p);
	if (!err && b->reg_id)
		err = cf_mbuf_printf(mb, ";reg-id=%u", b->reg_id);
	/* RFC 5627 §5.3 (was §6): GRUUs for every contact with an instance
	 * when the UA supports them */
	if (!err && inst.l && q->sup_gruu && q->cfg.gruu) {
		char tg[1200];
		const char *at = strchr(b->aor->name, '@');

		err = cf_mbuf_printf(mb, ";pub-gruu=\"%s;gr=%.*s\"",
		                     b->aor->name, (int)inst.l - 2, inst.p + 1);
		if (!err && at &&
		    !reg_gruu_temp(q->r, tg, sizeof(tg), b->aor->name, &inst))
			err = cf_mbuf_printf(mb, ";temp-gruu=\"sip:%s%s;gr\"",
			                     tg, at);
	}
	if (!err)
		err = cf_mbuf_write_str(mb, "\r\n");
	return err;
}

static void reply(struct req *q, uint16_t code, const char *why,
                  const char *hdrs)
{
	/* Statelessly (RFC 3261 §8.2.7): no 32 s of Timer J state per
	 * REGISTER; a retransmission is answered again (see out_of_order). */
	int err = cf_sip_strans_reply_stateless(
	    q->st, code, why ? why : cf_sip_reason(code), hdrs, NULL);
	enum cf_log_level lvl;
	char addr[64];

	if (err == ENOMEM &&
	    cf_sip_strans_reply_stateless(q->st, 500, "Server Internal Error",
	                                  NULL, NULL))
		(void)cf_mod_reply(q->st, 500, NULL);
	lvl = code >= 300 || err ? CF_LOG_INFO : CF_LOG_DEBUG;

	if (code >= 300)
		reg_ctr_add(&q->r->ctr.rejected, 1);
	if (lvl < cf_log_get_level())
		return; /* no formatting for a line nobody reads */
	cf_log(lvl, &q->msg->call_id, "REGISTER %s from %s %s: %u %s%s",
	       q->aor[0] ? q->aor : "-", cf_sip_tp_name(q->peer->tp),
	       cf_sa_print(&q->peer->addr, addr, sizeof(addr)), code,
	       why ? why : cf_sip_reason(code), err ? " (not sent)" : "");
}

static void reply_ok(struct req *q, struct snap *sn, int64_t now)
{
	static const char *const wday[] = {"Sun", "Mon", "Tue", "Wed",
	                                   "Thu", "Fri", "Sat"};
	static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr",
	                                  "May", "Jun", "Jul", "Aug",
	                                  "Sep", "Oct", "Nov", "Dec"};
	struct cf_mbuf mb;
	struct tm tm;
	time_t t = (time_t)now;
	int err = 0;

	cf_mbuf_init(&mb);
	gmtime_r(&t, &tm);
	for (size_t i = 0; i < sn->n && !err; i++)
		err = contact_line(q, &mb, sn->v[i], now);
	/* RFC 3261 §20.17: rfc1123-date in GMT */
	if (!err)
		err = cf_mbuf_printf(
		    &mb, "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n",
		    wday[tm.tm_wday % 7], tm.tm_mday, mon[tm.tm_mon % 12],
		    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
	/* RFC 3327 §5.3: the Path we stored, when the UA supports path */
	if (!err && q->path_len && q->sup_path)
		err = cf_mbuf_printf(&mb, "Path: %s\r\n", q->path);
	if (!err && q->any_outbound)
		err = cf_mbuf_write_str(&mb, "Require: outbound\r\n");
	if (!err)
		err = cf_mbuf_write_str(&mb,
		                        "Supported: path, outbound, gruu\r\n");
	if (!err)
		err = cf_mbuf_write_u8(&mb, 0);
	if (err)
		reply(q, 500, "Out of Memory", NULL);
	else
		reply(q, 200, NULL, (const char *)mb.buf);
	cf_mbuf_reset(&mb);
}

/* ------------------------------------------------------------ steps */

/* Is the host a numeric address (ours, since the URI is local)? */
static bool host_is_addr(const struct cf_sip_uri *u)
{
	struct cf_sa sa;

	return u->host_v6 || !cf_sa_set_pl(&sa, &u->host, 0);
}

bool reg_register(struct reg *r, struct cf_app *app, struct cf_sip_strans *st,
                  const struct cf_sip_msg *msg, const struct cf_sip_peer *peer)
{
	static _Thread_local struct req q; /* 20 kB: not on the stack */
	const struct cf_sip_hdr *eh;
	const struct cf_mod *auth;
	struct snap sn;
	uint32_t hdr_exp = 0, too_brief = 0;
	bool has_hdr_exp = false;
	const char *domain = NULL;
	int64_t now = reg_now();
	uint16_t code;
	char hdrs[64];

	memset(&q, 0, offsetof(struct req, aor));
	q.aor[0] = '\0';
	q.path[0] = '\0';
	q.r = r;
	q.app = app;
	q.st = st;
	q.msg = msg;
	q.peer = peer;
	pthread_mutex_lock(&r->cfg_mtx);
	q.cfg = r->cfg;
	pthread_mutex_unlock(&r->cfg_mtx);
	sn.n = 0;

	/* step 5 first: the AOR's domain names the realm of step 3. A host
	 * that is one of our addresses means the default domain. */
	if (msg->to.uri.scheme != CF_SIP_SCHEME_SIP &&
	    msg->to.uri.scheme != CF_SIP_SCHEME_SIPS) {
		reply(&q, 400, "Invalid AOR", NULL);
		return true;
	}
	if (!cf_app_uri_is_local(app, &msg->to.uri)) {
		reply(&q, 403, "Domain Not Served", NULL);
		return true;
	}
	if (host_is_addr(&msg->to.uri))
		domain = cf_app_domain(app);
	if (reg_aor_norm(q.aor, sizeof(q.aor), &msg->to.uri, domain)) {
		reply(&q, 400, "Invalid AOR", NULL);
		return true;
	}
	q.aor_len = strlen(q.aor);

	/* steps 3 and 4: authentication and authorisation (the auth module
	 * also checks that the authenticated user is the To user) */
	auth = q.cfg.authenticate ? cf_mod_find("auth") : NULL;
	if (auth && auth->api) {
		const struct cf_auth_api *api = auth->api;
		struct cf_auth_id id;
		const char *at = strchr(q.aor, '@');

		if (!api->method_needs_auth ||
		    api->method_needs_auth(app, CF_SIP_M_REGISTER)) {
			if (api->check(app, st, msg, peer, at + 1, false,
			               &id) != CF_AUTH_PASS) {
				reg_ctr_add(&r->ctr.rejected, 1);
				return true;
			}
		}
	}

	q.sup_path = has_tag(msg, CF_SIP_H_SUPPORTED, "path") ||
	             has_tag(msg, CF_SIP_H_REQUIRE, "path");
	q.sup_outbound = has_tag(msg, CF_SIP_H_SUPPORTED, "outbound") ||
	                 has_tag(msg, CF_SIP_H_REQUIRE, "outbound");
	q.sup_gruu = has_tag(msg, CF_SIP_H_SUPPORTED, "gruu") ||
	             has_tag(msg, CF_SIP_H_REQUIRE, "gruu");

	eh = cf_sip_msg_hdr(msg, CF_SIP_H_EXPIRES);
	if (eh) {
		if (delta_decode(&eh->val, &hdr_exp)) {
			reply(&q, 400, "Bad Expires", NULL);
			return true;
		}
		has_hdr_exp = true;
	}
	cf_sip_msg_vals_apply(msg, CF_SIP_H_PATH, path_val, &q);
	if (!q.bad)
		cf_sip_msg_vals_apply(msg, CF_SIP_H_CONTACT, contact_val, &q);
	if (q.bad) {
		reply(&q, 400, q.why, NULL);
		return true;
	}
	/* step 6: "*" only alone and with Expires: 0 */
	if (q.wildcard && (q.n != 1 || !has_hdr_exp || hdr_exp != 0)) {
		reply(&q, 400, "Invalid Wildcard", NULL);
		return true;
	}
	if (!q.wildcard) {
		code = contacts_check(&q, hdr_exp, has_hdr_exp, &too_brief);
		if (code) {
			reply(&q, code, q.why, NULL);
			return true;
		}
		/* RFC 5626 §6: reg-id without outbound support: no flow */
		if (q.any_outbound && !q.sup_outbound) {
			q.any_outbound = false;
			for (size_t i = 0; i < q.n; i++) {
				q.v[i].outbound = false;
				q.v[i].reg_id = 0;
			}
		}
		if (too_brief) {
			snprintf(hdrs, sizeof(hdrs), "Min-Expires: %u\r\n",
			         too_brief);
			reply(&q, 423, NULL, hdrs);
			return true;
		}
	}

	code = apply(&q, &sn, now);
	if (code)
		reply(&q, code, q.why, NULL);
	else
		reply_ok(&q, &sn, now);
	for (size_t i = 0; i < sn.n; i++)
		cf_mem_deref(sn.v[i]);
	return true;
}
