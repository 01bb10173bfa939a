/* SPDX-License-Identifier: BSD-3-Clause */
/* loc.c - the location service in memory: AORs in a hash table with striped
 * locks, packed immutable bindings, the flow table, lookups and expiry. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mod/registrar/reg_priv.h"

uint32_t reg_hash(const char *aor, size_t len)
{
	return cf_hash_mem(aor, len);
}

pthread_mutex_t *reg_lock(struct reg *r, uint32_t hash)
{
	return &r->stripe[hash & (REG_STRIPES - 1)];
}

int reg_loc_init(struct reg *r)
{
	int err;

	for (size_t i = 0; i < REG_STRIPES; i++)
		pthread_mutex_init(&r->stripe[i], NULL);
	pthread_mutex_init(&r->flow_mtx, NULL);
	err = cf_hash_alloc(&r->table, REG_BUCKETS);
	if (!err)
		err = cf_hash_alloc(&r->flows, 1024);
	return err;
}

static bool drop_binding(struct cf_le *le, void *arg)
{
	struct reg_binding *b = le->data;

	(void)arg;
	cf_list_unlink(&b->le);
	cf_list_unlink(&b->le_conn);
	cf_mem_deref(b);
	return false;
}

static bool drop_aor(struct cf_le *le, void *arg)
{
	struct reg_aor *a = le->data;

	cf_list_apply(&a->bindings, drop_binding, arg);
	cf_list_unlink(&a->le);
	cf_mem_deref(a);
	return false;
}

/* After the write-behind thread stopped: nobody else uses r. */
void reg_loc_close(struct reg *r)
{
	if (r->table)
		cf_hash_apply(r->table, drop_aor, NULL);
	r->table = cf_mem_deref(r->table);
	r->flows = cf_mem_deref(r->flows);
	for (size_t i = 0; i < REG_STRIPES; i++)
		pthread_mutex_destroy(&r->stripe[i]);
	pthread_mutex_destroy(&r->flow_mtx);
}

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

/* RFC 3261 §10.3 step 5: the canonical AOR is sip:user@host with escapes
 * resolved and every parameter dropped; the host is case-insensitive. We
 * key sip: and sips: AORs alike (one user, one set of bindings), as
 * Kamailio's registrar does. */
int reg_aor_norm(char *buf, size_t size, const struct cf_sip_uri *u,
                 const char *domain)
{
	size_t n = 0;

	if (!buf || !u || size < 8)
		return EINVAL;
	if ((u->scheme != CF_SIP_SCHEME_SIP &&
	     u->scheme != CF_SIP_SCHEME_SIPS) ||
	    !cf_pl_isset(&u->user) || (!domain && !cf_pl_isset(&u->host)))
		return EINVAL;
	memcpy(buf, "sip:", 4);
	n = 4;
	for (size_t i = 0; i < u->user.l; i++) {
		char c = u->user.p[i];

		if (c == '%' && i + 2 < u->user.l &&
		    hexval(u->user.p[i + 1]) >= 0 &&
		    hexval(u->user.p[i + 2]) >= 0) {
			c = (char)(hexval(u->user.p[i + 1]) * 16 +
			           hexval(u->user.p[i + 2]));
			i += 2;
		}
		if (c == '\0' || c == '@' || n + 1 >= size)
			return EINVAL;
		buf[n++] = c;
	}
	if (n + 1 >= size)
		return EINVAL;
	buf[n++] = '@';
	if (domain) {
		size_t dl = strlen(domain);

		if (!dl || n + dl >= size)
			return EINVAL;
		for (size_t i = 0; i < dl; i++) {
			char c = domain[i];

			buf[n++] = (c >= 'A' && c <= 'Z') ? c + 32 : c;
		}
	} else {
		if (u->host_v6) {
			if (n + u->host.l + 2 >= size)
				return EINVAL;
			buf[n++] = '[';
		}
		for (size_t i = 0; i < u->host.l; i++) {
			char c = u->host.p[i];

			if (n + 1 >= size)
				return EINVAL;
			buf[n++] = (c >= 'A' && c <= 'Z') ? c + 32 : c;
		}
		if (u->host_v6)
			buf[n++] = ']';
	}
	buf[n] = '\0';
	return 0;
}

struct aor_match {
	const char *aor;
	size_t len;
};

static bool aor_cmp(struct cf_le *le, void *arg)
{
	const struct reg_aor *a = le->data;
	const struct aor_match *m = arg;

	return a->len == m->len && !memcmp(a->name, m->aor, m->len);
}

struct reg_aor *reg_aor_find(struct reg *r, const char *aor, size_t len,
                             uint32_t hash)
{
	struct aor_match m = {aor, len};
	struct cf_le *le = cf_hash_lookup(r->table, hash, aor_cmp, &m);

	return le ? le->data : NULL;
}

struct reg_aor *reg_aor_get(struct reg *r, const char *aor, size_t len,
                            uint32_t hash)
{
	struct reg_aor *a = reg_aor_find(r, aor, len, hash);

	if (a)
		return a;
	if (len >= REG_AOR_MAX)
		return NULL;
	a = cf_mem_zalloc(sizeof(*a) + len + 1, NULL);
	if (!a)
		return NULL;
	a->hash = hash;
	a->len = (uint16_t)len;
	memcpy(a->name, aor, len);
	a->name[len] = '\0';
	cf_list_init(&a->bindings);
	cf_hash_append(r->table, hash, &a->le, a);
	reg_ctr_add(&r->ctr.aors, 1);
	return a;
}

static uint32_t ptr_hash(const void *p)
{
	uintptr_t v = (uintptr_t)p;

	return (uint32_t)(v >> 4) ^ (uint32_t)(v >> 20);
}

void reg_binding_link(struct reg *r, struct reg_aor *aor, struct reg_binding *b)
{
	cf_list_append(&aor->bindings, &b->le, b);
	reg_ctr_add(&r->ctr.contacts, 1);
	if (!b->conn)
		return;
	pthread_mutex_lock(&r->flow_mtx);
	cf_hash_append(r->flows, ptr_hash(b->conn), &b->le_conn, b);
	pthread_mutex_unlock(&r->flow_mtx);
	/* The REGISTER may be handled (on the Call-ID's worker) after its
	 * stream closed (on the owner): the observers have run then, and
	 * would never see this binding. Linked first, checked second: if
	 * the close comes later, its observer finds it in the flow table.
	 * A dead flow is dropped; the binding stays, reached by address. */
	if (cf_sip_conn_closed(b->conn)) {
		pthread_mutex_lock(&r->flow_mtx);
		cf_list_unlink(&b->le_conn);
		pthread_mutex_unlock(&r->flow_mtx);
		b->conn = cf_mem_deref(b->conn);
	}
}

void reg_binding_unlink(struct reg *r, struct reg_binding *b, bool wb)
{
	struct reg_aor *a = b->aor;

	if (b->conn) {
		pthread_mutex_lock(&r->flow_mtx);
		cf_list_unlink(&b->le_conn);
		pthread_mutex_unlock(&r->flow_mtx);
	}
	cf_list_unlink(&b->le);
	reg_ctr_add(&r->ctr.contacts, -1);
	if (wb && r->wb)
		reg_wb_queue(r->wb, WB_DELETE, b);
	(void)a;
	cf_mem_deref(b);
}

void reg_aor_gc(struct reg *r, struct reg_aor *a)
{
	if (!cf_list_count(&a->bindings) && a->le.list) {
		cf_list_unlink(&a->le);
		reg_ctr_add(&r->ctr.aors, -1);
		cf_mem_deref(a); /* the table's reference */
	}
}

static void binding_destroy(void *data)
{
	struct reg_binding *b = data;

	cf_mem_deref(b->conn);
	cf_mem_deref(b->aor);
}

struct reg_binding *reg_binding_alloc(struct reg_aor *aor,
                                      const struct cf_pl strs[RS__COUNT])
{
	struct reg_binding *b;
	size_t total = 0, pos = 0;

	for (size_t i = 0; i < RS__COUNT; i++)
		total += strs[i].p ? strs[i].l + 1 : 0;
	if (total > UINT16_MAX)
		return NULL;
	b = cf_mem_zalloc(sizeof(*b) + total, binding_destroy);
	if (!b)
		return NULL;
	for (size_t i = 0; i < RS__COUNT; i++) {
		if (!strs[i].p || !strs[i].l)
			continue;
		b->off[i] = (uint16_t)pos;
		b->len[i] = (uint16_t)strs[i].l;
		memcpy(b->s + pos, strs[i].p, strs[i].l);
		pos += strs[i].l;
		b->s[pos++] = '\0';
	}
	b->aor = cf_mem_ref(aor);
	b->q = -1;
	return b;
}

void reg_addr_set(struct reg_addr *a, enum cf_sip_tp tp, const struct cf_sa *sa)
{
	memset(a, 0, sizeof(*a));
	a->tp = (uint8_t)tp;
	if (!sa || !cf_sa_isset(sa))
		return;
	if (cf_sa_af(sa) == AF_INET) {
		a->family = 4;
		memcpy(a->ip, &sa->u.in.sin_addr, 4);
	} else if (cf_sa_af(sa) == AF_INET6) {
		a->family = 6;
		memcpy(a->ip, &sa->u.in6.sin6_addr, 16);
	}
	a->port = cf_sa_port(sa);
}

void reg_addr_get(const struct reg_addr *a, struct cf_sa *sa)
{
	char buf[64];

	memset(sa, 0, sizeof(*sa));
	if (!a->family)
		return;
	if (!inet_ntop(a->family == 4 ? AF_INET : AF_INET6, a->ip, buf,
	               sizeof(buf)))
		return;
	(void)cf_sa_set_str(sa, buf, a->port);
}

void reg_addr_print(const struct reg_addr *a, char *buf, size_t size)
{
	char ab[64], name[8];
	const char *tn = cf_sip_tp_name((enum cf_sip_tp)a->tp);
	struct cf_sa sa;
	size_t i;

	if (!a->family) {
		if (size)
			buf[0] = '\0';
		return;
	}
	for (i = 0; tn && tn[i] && i + 1 < sizeof(name); i++)
		name[i] = (tn[i] >= 'A' && tn[i] <= 'Z') ? tn[i] + 32 : tn[i];
	name[i] = '\0';
	reg_addr_get(a, &sa);
	snprintf(buf, size, "%s:%s", name, cf_sa_print(&sa, ab, sizeof(ab)));
}

/* "udp:1.2.3.4:5060" / "tcp:[::1]:5060". */
int reg_addr_decode(struct reg_addr *a, const char *s)
{
	const char *colon = s ? strchr(s, ':') : NULL;
	struct cf_pl tpn;
	enum cf_sip_tp tp;
	struct cf_sa sa;

	memset(a, 0, sizeof(*a));
	if (!colon)
		return EINVAL;
	tpn.p = s;
	tpn.l = (size_t)(colon - s);
	if (cf_sip_tp_decode(&tpn, &tp) || cf_sa_decode(&sa, colon + 1))
		return EINVAL;
	reg_addr_set(a, tp, &sa);
	return 0;
}

void reg_binding_view(const struct reg_binding *b, struct cf_reg_contact *c)
{
	memset(c, 0, sizeof(*c));
	c->aor.p = b->aor->name;
	c->aor.l = b->aor->len;
	c->uri = reg_str(b, RS_CONTACT);
	c->path = reg_str(b, RS_PATH);
	c->instance = reg_str(b, RS_INSTANCE);
	c->call_id = reg_str(b, RS_CALL_ID);
	c->user_agent = reg_str(b, RS_UA);
	c->reg_id = b->reg_id;
	c->cseq = b->cseq;
	c->q = b->q;
	c->expires = b->expires;
	c->peer.tp = (enum cf_sip_tp)b->src.tp;
	reg_addr_get(&b->src, &c->peer.addr);
	reg_addr_get(&b->local, &c->peer.local);
	c->peer.conn = b->conn;
	c->outbound = b->flags & RB_OUTBOUND;
}

/* ------------------------------------------------------------ lookups */

static int qval(const struct reg_binding *b)
{
	return b->q < 0 ? 1000 : b->q;
}

static int by_q(const void *x, const void *y)
{
	const struct reg_binding *a = *(struct reg_binding *const *)x;
	const struct reg_binding *b = *(struct reg_binding *const *)y;

	if (qval(a) != qval(b))
		return qval(b) - qval(a);
	return a->seq < b->seq ? 1 : (a->seq > b->seq ? -1 : 0);
}

static int lookup_norm(const struct cf_pl *aor, char *buf, size_t size)
{
	struct cf_sip_uri u;

	if (!cf_pl_isset(aor))
		return EINVAL;
	if (cf_sip_uri_decode(&u, aor))
		return EINVAL;
	return reg_aor_norm(buf, size, &u, NULL);
}

int cf_registrar_lookup(const struct cf_pl *aor, cf_reg_contact_h *h, void *arg)
{
	struct reg_binding *v[REG_CONTACTS_HARD_MAX];
	char key[REG_AOR_MAX];
	struct reg *r;
	struct reg_aor *a;
	size_t n = 0;
	uint32_t hash;
	int64_t now = reg_now();
	int err;

	if (!h)
		return EINVAL;
	err = lookup_norm(aor, key, sizeof(key));
	if (err)
		return err;
	r = reg_get();
	if (!r)
		return ENOENT;
	hash = reg_hash(key, strlen(key));
	pthread_mutex_lock(reg_lock(r, hash));
	a = reg_aor_find(r, key, strlen(key), hash);
	for (struct cf_le *le = a ? a->bindings.head : NULL;
	     le && n < REG_CONTACTS_HARD_MAX; le = le->next) {
		struct reg_binding *b = le->data;

		if (b->expires > now)
			v[n++] = b;
	}
	qsort(v, n, sizeof(v[0]), by_q);
	for (size_t i = 0; i < n; i++) {
		struct cf_reg_contact c;

		reg_binding_view(v[i], &c);
		if (h(&c, arg))
			break;
	}
	pthread_mutex_unlock(reg_lock(r, hash));
	reg_put();
	return n ? 0 : ENOENT;
}

/* The binding of aor with this instance (and reg_id when not 0), h called
 * on it. */
static int find_instance(struct reg *r, const char *aor,
                         const struct cf_pl *inst, bool any_reg_id,
                         uint32_t reg_id, cf_reg_contact_h *h, void *arg)
{
	uint32_t hash = reg_hash(aor, strlen(aor));
	struct reg_binding *best = NULL;
	int64_t now = reg_now();
	struct reg_aor *a;

	pthread_mutex_lock(reg_lock(r, hash));
	a = reg_aor_find(r, aor, strlen(aor), hash);
	for (struct cf_le *le = a ? a->bindings.head : NULL; le;
	     le = le->next) {
		struct reg_binding *b = le->data;
		struct cf_pl bi = reg_str(b, RS_INSTANCE);

		if (b->expires <= now || !bi.l || cf_pl_cmp(&bi, inst))
			continue;
		if (!any_reg_id && b->reg_id != reg_id)
			continue;
		if (!best || b->seq > best->seq)
			best = b;
	}
	if (best) {
		struct cf_reg_contact c;

		reg_binding_view(best, &c);
		h(&c, arg);
	}
	pthread_mutex_unlock(reg_lock(r, hash));
	return best ? 0 : ENOENT;
}

int cf_registrar_flow(const struct cf_pl *aor, const struct cf_pl *instance,
                      uint32_t reg_id, cf_reg_contact_h *h, void *arg)
{
	char key[REG_AOR_MAX];
	struct reg *r;
	int err;

	if (!h || !cf_pl_isset(instance))
		return EINVAL;
	err = lookup_norm(aor, key, sizeof(key));
	if (err)
		return err;
	r = reg_get();
	if (!r)
		return ENOENT;
	err = find_instance(r, key, instance, false, reg_id, h, arg);
	reg_put();
	return err;
}

/* RFC 5627 §3.1: a GRUU carries the gr parameter; a public one's value is
 * the instance ID (the urn without <>), a temporary one's user part is
 * ours to decode. */
int cf_registrar_lookup_gruu(const struct cf_pl *gruu, cf_reg_contact_h *h,
                             void *arg)
{
	char key[REG_AOR_MAX], inst[256];
	struct cf_pl gr, ip;
	struct cf_sip_uri u;
	struct reg *r;
	int err;

	if (!h || !cf_pl_isset(gruu) || cf_sip_uri_decode(&u, gruu))
		return EINVAL;
	if (cf_sip_param_get(&u.params, "gr", &gr))
		return ENOENT;
	r = reg_get();
	if (!r)
		return ENOENT;
	if (cf_pl_isset(&gr)) {
		err = reg_aor_norm(key, sizeof(key), &u, NULL);
		if (err || gr.l + 3 > sizeof(inst)) {
			err = err ? err : ENOENT;
			goto out;
		}
		snprintf(inst, sizeof(inst), "<%.*s>", (int)gr.l, gr.p);
	} else {
		err = reg_gruu_temp_decode(r, &u.user, key, sizeof(key), inst,
		                           sizeof(inst));
		if (err)
			goto out;
	}
	cf_pl_set_str(&ip, inst);
	err = find_instance(r, key, &ip, true, 0, h, arg);
out:
	reg_put();
	return err;
}

/* ------------------------------------------------ expiry and flows */

size_t reg_loc_sweep(struct reg *r, int64_t now)
{
	size_t n = 0;

	for (uint32_t i = 0; i < REG_STRIPES; i++) {
		pthread_mutex_lock(&r->stripe[i]);
		for (uint32_t j = i; j < REG_BUCKETS; j += REG_STRIPES) {
			struct cf_list *bk = cf_hash_bucket(r->table, j);
			struct cf_le *le = bk->head;

			while (le) {
				struct reg_aor *a = le->data;
				struct cf_le *be = a->bindings.head;

				le = le->next;
				/* the AOR may leave the table with its last
				 * binding: keep it alive for the walk */
				cf_mem_ref(a);
				while (be) {
					struct reg_binding *b = be->data;

					be = be->next;
					if (b->expires > now)
						continue;
					/* the store deletes expired rows
					 * itself (delete_expired) */
					reg_binding_unlink(r, b, false);
					n++;
				}
				reg_aor_gc(r, a);
				cf_mem_deref(a);
			}
		}
		pthread_mutex_unlock(&r->stripe[i]);
	}
	reg_ctr_add(&r->ctr.expired, (int64_t)n);
	return n;
}

size_t cf_registrar_sweep(void)
{
	struct reg *r = reg_get();
	size_t n;

	if (!r)
		return 0;
	n = reg_loc_sweep(r, reg_now());
	reg_put();
	return n;
}

static void conn_closed(struct reg *r, struct cf_sip_conn *conn)
{
	struct reg_binding *v[64];
	size_t n;

	/* bounded batches: a flow table walk per 64 bindings */
	for (int round = 0; round < 1024; round++) {
		struct cf_list *bk;

		n = 0;
		pthread_mutex_lock(&r->flow_mtx);
		bk = cf_hash_bucket(r->flows, ptr_hash(conn));
		for (struct cf_le *le = bk->head; le && n < 64; le = le->next) {
			struct reg_binding *b = le->data;

			if (b->conn == conn)
				v[n++] = cf_mem_ref(b);
		}
		pthread_mutex_unlock(&r->flow_mtx);
		if (!n)
			return;
		for (size_t i = 0; i < n; i++) {
			struct reg_binding *b = v[i];
			uint32_t hash = b->aor->hash;

			pthread_mutex_lock(reg_lock(r, hash));
			if (b->le.list) {
				reg_binding_unlink(r, b, true);
				reg_aor_gc(r, b->aor);
				reg_ctr_add(&r->ctr.flows_failed, 1);
			} else {
				/* raced with a refresh: just out of the
				 * flow table */
				pthread_mutex_lock(&r->flow_mtx);
				cf_list_unlink(&b->le_conn);
				pthread_mutex_unlock(&r->flow_mtx);
			}
			pthread_mutex_unlock(reg_lock(r, hash));
			cf_mem_deref(b);
		}
	}
}

void cf_registrar_conn_closed(struct cf_sip_conn *conn)
{
	struct reg *r;

	if (!conn)
		return;
	r = reg_get();
	if (!r)
		return;
	conn_closed(r, conn);
	reg_put();
}

/* -------------------------------------------------------------- JSON */

json_t *reg_binding_json(const struct reg_binding *b, int64_t now)
{
	json_t *o = json_object();
	char buf[96];
	struct cf_pl s;

	if (!o)
		return NULL;
	json_object_set_new(o, "aor", json_string(b->aor->name));
	s = reg_str(b, RS_CONTACT);
	json_object_set_new(o, "contact", json_stringn(s.p, s.l));
	if (b->q >= 0) {
		snprintf(buf, sizeof(buf), "%d.%03d", b->q / 1000, b->q % 1000);
		json_object_set_new(o, "q", json_string(buf));
	}
	json_object_set_new(o, "expires", json_integer(b->expires - now));
	s = reg_str(b, RS_CALL_ID);
	json_object_set_new(o, "call_id", json_stringn(s.p, s.l));
	json_object_set_new(o, "cseq", json_integer(b->cseq));
	reg_addr_print(&b->src, buf, sizeof(buf));
	json_object_set_new(o, "received", json_string(buf));
	reg_addr_print(&b->local, buf, sizeof(buf));
	json_object_set_new(o, "socket", json_string(buf));
	s = reg_str(b, RS_PATH);
	if (s.l)
		json_object_set_new(o, "path", json_stringn(s.p, s.l));
	s = reg_str(b, RS_INSTANCE);
	if (s.l)
		json_object_set_new(o, "instance", json_stringn(s.p, s.l));
	if (b->reg_id)
		json_object_set_new(o, "reg_id", json_integer(b->reg_id));
	if (b->flags & RB_OUTBOUND)
		json_object_set_new(o, "outbound", json_true());
	s = reg_str(b, RS_UA);
	if (s.l)
		json_object_set_new(o, "user_agent", json_stringn(s.p, s.l));
	return o;
}

static int aor_json(struct reg *r, struct reg_aor *a, json_t *arr, int64_t now)
{
	struct reg_binding *v[REG_CONTACTS_HARD_MAX];
	size_t n = 0;

	for (struct cf_le *le = a->bindings.head;
	     le && n < REG_CONTACTS_HARD_MAX; le = le->next) {
		struct reg_binding *b = le->data;

		if (b->expires > now)
			v[n++] = b;
	}
	(void)r;
	qsort(v, n, sizeof(v[0]), by_q);
	for (size_t i = 0; i < n; i++) {
		json_t *o = reg_binding_json(v[i], now);

		if (!o || json_array_append_new(arr, o))
			return ENOMEM;
	}
	return 0;
}

int reg_loc_json(struct reg *r, const char *aor, json_t *arr)
{
	int64_t now = reg_now();
	int err = 0;

	if (aor) {
		char key[REG_AOR_MAX];
		struct cf_pl pl;
		struct reg_aor *a;
		uint32_t hash;

		cf_pl_set_str(&pl, aor);
		err = lookup_norm(&pl, key, sizeof(key));
		if (err)
			return err;
		hash = reg_hash(key, strlen(key));
		pthread_mutex_lock(reg_lock(r, hash));
		a = reg_aor_find(r, key, strlen(key), hash);
		if (a)
			err = aor_json(r, a, arr, now);
		pthread_mutex_unlock(reg_lock(r, hash));
		return err;
	}
	for (uint32_t i = 0; i < REG_STRIPES && !err; i++) {
		pthread_mutex_lock(&r->stripe[i]);
		for (uint32_t j = i; j < REG_BUCKETS && !err;
		     j += REG_STRIPES) {
			struct cf_list *bk = cf_hash_bucket(r->table, j);

			for (struct cf_le *le = bk->head; le && !err;
			     le = le->next)
				err = aor_json(r, le->data, arr, now);
		}
		pthread_mutex_unlock(&r->stripe[i]);
	}
	return err;
}

int cf_registrar_bindings_json(const char *aor, json_t *arr)
{
	struct reg *r;
	int err;

	if (!aor || !arr)
		return EINVAL;
	r = reg_get();
	if (!r)
		return 0;
	err = reg_loc_json(r, aor, arr);
	reg_put();
	return err;
}
