/* SPDX-License-Identifier: BSD-3-Clause */
/* msg.c - the request and reply objects a routing script gets: fields
 * (req.method, req.uri...), header reads, and the decisions (set_uri,
 * add_header, remove_header, reply, fork) recorded for the proxy. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mod/lua/lua_int.h"

#define MSG_MT "confab.msg"

/* The userdata: a pointer to the call's context, NULL once the call
 * returned. */
struct lref {
	struct lua_ctx *c;
};

static struct lua_ctx *ctx_get(lua_State *L)
{
	struct lref *r = luaL_checkudata(L, 1, MSG_MT);

	if (!r->c)
		luaL_error(L, "message used after its hook returned");
	return r->c;
}

static void push_pl(lua_State *L, const struct cf_pl *pl)
{
	if (pl && cf_pl_isset(pl))
		lua_pushlstring(L, pl->p, pl->l);
	else
		lua_pushnil(L);
}

/* Header names the script may not add or remove: the transaction and
 * routing depend on them. */
static bool protected_hdr(enum cf_sip_hdr_id id)
{
	switch (id) {
	case CF_SIP_H_VIA:
	case CF_SIP_H_FROM:
	case CF_SIP_H_TO:
	case CF_SIP_H_CALL_ID:
	case CF_SIP_H_CSEQ:
	case CF_SIP_H_CONTENT_LENGTH:
	case CF_SIP_H_CONTENT_TYPE:
	case CF_SIP_H_MAX_FORWARDS:
	case CF_SIP_H_ROUTE:
	case CF_SIP_H_RECORD_ROUTE:
		return true;
	default:
		return false;
	}
}

/* RFC 3261 §25.1 token characters. */
static bool token_ok(const char *s, size_t len)
{
	if (!len)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || strchr("-.!%*_+`'~", ch)))
			return false;
	}
	return true;
}

/* Does this header line have the name asked (compact forms too)? */
static bool hdr_match(const struct cf_sip_hdr *h, const char *name,
                      enum cf_sip_hdr_id id)
{
	if (id != CF_SIP_H_OTHER)
		return h->id == id;
	return !cf_pl_strcasecmp(&h->name, name);
}

static enum cf_sip_hdr_id name_id(const char *name)
{
	struct cf_pl pl;

	cf_pl_set_str(&pl, name);
	return cf_sip_hdr_id_decode(&pl);
}

bool lua_uri_valid(const char *s)
{
	struct cf_sip_uri u;
	struct cf_pl pl;

	if (!s || strlen(s) >= CF_PROXY_URI_MAX || strpbrk(s, "\r\n <>"))
		return false;
	cf_pl_set_str(&pl, s);
	return !cf_sip_uri_decode(&u, &pl) && (u.scheme == CF_SIP_SCHEME_SIP ||
	                                       u.scheme == CF_SIP_SCHEME_SIPS);
}

/* ------------------------------------------------------------- methods */

/* msg:header(name): the value of the first header of that name, or nil */
static int m_header(lua_State *L)
{
	struct lua_ctx *c = ctx_get(L);
	const char *name = luaL_checkstring(L, 2);
	enum cf_sip_hdr_id id = name_id(name);

	for (size_t i = 0; i < c->msg->hdrc; i++) {
		if (hdr_match(&c->msg->hdrv[i], name, id)) {
			push_pl(L, &c->msg->hdrv[i].val);
			return 1;
		}
	}
	lua_pushnil(L);
	return 1;
}

/* msg:headers(name): every value of that name, one per header line */
static int m_headers(lua_State *L)
{
	struct lua_ctx *c = ctx_get(L);
	const char *name = luaL_checkstring(L, 2);
	enum cf_sip_hdr_id id = name_id(name);
	int n = 0;

	lua_newtable(L);
	for (size_t i = 0; i < c->msg->hdrc; i++) {
		if (hdr_match(&c->msg->hdrv[i], name, id)) {
			push_pl(L, &c->msg->hdrv[i].val);
			lua_rawseti(L, -2, ++n);
		}
	}
	return 1;
}

static void need_edit(lua_State *L, struct lua_ctx *c, const char *what)
{
	if (c->mode == LUA_M_FAILURE)
		luaL_error(L, "%s: not in on_failure", what);
}

/* msg:add_header(name, value) */
static int m_add_header(lua_State *L)
{
	struct lua_ctx *c = ctx_get(L);
	size_t nl, vl;
	const char *name = luaL_checklstring(L, 2, &nl);
	const char *val = luaL_checklstring(L, 3, &vl);
	char line[LUA_HDR_LINE_MAX];

	need_edit(L, c, "add_header");
	if (!token_ok(name, nl))
		return luaL_error(L, "add_header: bad header name '%s'", name);
	if (protected_hdr(name_id(name)))
		return luaL_error(L,
		                  "add_header: %s is not the script's to "
		                  "change",
		                  name);
	if (strlen(val) != vl || strpbrk(val, "\r\n"))
		return luaL_error(L, "add_header: the value has a line break "
		                     "or NUL");
	if (c->nadd >= LUA_EDITS_MAX)
		return luaL_error(L, "add_header: more than %d headers",
		                  LUA_EDITS_MAX);
	if ((size_t)snprintf(line, sizeof(line), "%s: %s", name, val) >=
	    sizeof(line))
		return luaL_error(L, "add_header: longer than %d bytes",
		                  LUA_HDR_LINE_MAX - 1);
	c->adds[c->nadd] = cf_mem_strdup(line);
	if (!c->adds[c->nadd])
		return luaL_error(L, "add_header: out of memory");
	c->nadd++;
	return 0;
}

/* msg:remove_header(name): every header of that name goes; returns how
 * many the message has (as received) */
static int m_remove_header(lua_State *L)
{
	struct lua_ctx *c = ctx_get(L);
	size_t nl;
	const char *name = luaL_checklstring(L, 2, &nl);
	enum cf_sip_hdr_id id;
	int n = 0;

	need_edit(L, c, "remove_header");
	if (!token_ok(name, nl) || nl >= LUA_HDR_NAME_MAX)
		return luaL_error(L, "remove_header: bad header name '%s'",
		                  name);
	id = name_id(name);
	if (protected_hdr(id))
		return luaL_error(L,
		                  "remove_header: %s is not the script's "
		                  "to change",
		                  name);
	if (c->ndel >= LUA_EDITS_MAX)
		return luaL_error(L, "remove_header: more than %d names",
		                  LUA_EDITS_MAX);
	strcpy(c->dels[c->ndel++], name);
	for (size_t i = 0; i < c->msg->hdrc; i++)
		n += hdr_match(&c->msg->hdrv[i], name, id);
	lua_pushinteger(L, n);
	return 1;
}

static void need_request(lua_State *L, struct lua_ctx *c, const char *what)
{
	if (c->mode != LUA_M_REQUEST)
		luaL_error(L, "%s: only in on_request", what);
}

/* req:set_uri(uri) */
static int m_set_uri(lua_State *L)
{
	struct lua_ctx *c = ctx_get(L);
	const char *uri = luaL_checkstring(L, 2);

	need_request(L, c, "set_uri");
	if (!lua_uri_valid(uri))
		return luaL_error(L, "set_uri: not a SIP URI: %s", uri);
	cf_mem_deref(c->ruri);
	c->ruri = cf_mem_strdup(uri);
	if (!c->ruri)
		return luaL_error(L, "set_uri: out of memory");
	return 0;
}

/* req:reply(code, [reason]): answer instead of forwarding */
static int m_reply(lua_State *L)
{
	struct lua_ctx *c = ctx_get(L);
	lua_Integer code = luaL_checkinteger(L, 2);
	size_t rl = 0;
	const char *reason = luaL_optlstring(L, 3, "", &rl);

	need_request(L, c, "reply");
	if (code < 300 || code > 699)
		return luaL_error(L, "reply: code %d is not 300..699",
		                  (int)code);
	if (rl >= sizeof(c->reply_reason) || strlen(reason) != rl ||
	    strpbrk(reason, "\r\n"))
		return luaL_error(L, "reply: bad reason phrase");
	c->reply_code = (uint16_t)code;
	strcpy(c->reply_reason, reason);
	return 0;
}

/* req:fork({uri, ...}): forward to these targets in parallel */
static int m_fork(lua_State *L)
{
	struct lua_ctx *c = ctx_get(L);
	lua_Integer n;

	need_request(L, c, "fork");
	luaL_checktype(L, 2, LUA_TTABLE);
	n = luaL_len(L, 2);
	if (n < 1 || n > CF_PROXY_FORK_MAX)
		return luaL_error(L, "fork: 1 to %d targets, not %d",
		                  CF_PROXY_FORK_MAX, (int)n);
	for (lua_Integer i = 1; i <= n; i++) {
		const char *u;

		lua_geti(L, 2, i);
		u = lua_tostring(L, -1);
		if (!u || !lua_uri_valid(u))
			return luaL_error(L, "fork: target %d is not a SIP URI",
			                  (int)i);
		strcpy(c->targets[i - 1], u);
		lua_pop(L, 1);
	}
	c->ntargets = (size_t)n;
	return 0;
}

static const luaL_Reg methods[] = {
    {"header", m_header},
    {"headers", m_headers},
    {"add_header", m_add_header},
    {"remove_header", m_remove_header},
    {"set_uri", m_set_uri},
    {"reply", m_reply},
    {"fork", m_fork},
    {NULL, NULL},
};

/* -------------------------------------------------------------- fields */

static void push_uri_user(lua_State *L, const struct cf_sip_uri *u)
{
	push_pl(L, &u->user);
}

/* The fields of a message, by name; false when there is no such field. */
static bool field(lua_State *L, struct lua_ctx *c, const char *k)
{
	const struct cf_sip_msg *m = c->msg;
	const struct cf_sip_msg *req = c->mode == LUA_M_REPLY ? c->req : m;
	char b[64];

	if (!strcmp(k, "method")) {
		if (m->req)
			push_pl(L, &m->method);
		else
			push_pl(L, &m->cseq.method);
	} else if (!strcmp(k, "uri")) {
		if (c->ruri)
			lua_pushstring(L, c->ruri);
		else if (req)
			push_pl(L, &req->ruri_pl);
		else
			lua_pushnil(L);
	} else if (!strcmp(k, "uri_user")) {
		push_uri_user(L, &req->ruri);
	} else if (!strcmp(k, "uri_host")) {
		push_pl(L, &req->ruri.host);
	} else if (!strcmp(k, "from")) {
		push_pl(L, &m->from.uri.all);
	} else if (!strcmp(k, "from_user")) {
		push_uri_user(L, &m->from.uri);
	} else if (!strcmp(k, "from_host")) {
		push_pl(L, &m->from.uri.host);
	} else if (!strcmp(k, "to_host")) {
		push_pl(L, &m->to.uri.host);
	} else if (!strcmp(k, "to")) {
		push_pl(L, &m->to.uri.all);
	} else if (!strcmp(k, "to_user")) {
		push_uri_user(L, &m->to.uri);
	} else if (!strcmp(k, "call_id")) {
		push_pl(L, &m->call_id);
	} else if (!strcmp(k, "user")) {
		if (c->user)
			lua_pushstring(L, c->user);
		else
			lua_pushnil(L);
	} else if (!strcmp(k, "in_dialog")) {
		lua_pushboolean(L, cf_pl_isset(&m->to.tag));
	} else if (!strcmp(k, "source_ip") && c->peer) {
		lua_pushstring(L, cf_sa_ntop(&c->peer->addr, b, sizeof(b)));
	} else if (!strcmp(k, "source_port") && c->peer) {
		lua_pushinteger(L, cf_sa_port(&c->peer->addr));
	} else if (!strcmp(k, "transport") && c->peer) {
		/* "udp", "tcp", "tls", "ws", "wss" */
		const char *t = cf_sip_tp_name(c->peer->tp);
		size_t i;

		for (i = 0; t[i] && i < sizeof(b) - 1; i++)
			b[i] = (char)(t[i] | 0x20);
		b[i] = 0;
		lua_pushstring(L, b);
	} else if (!strcmp(k, "code")) {
		if (c->mode == LUA_M_REPLY)
			lua_pushinteger(L, m->scode);
		else if (c->mode == LUA_M_FAILURE)
			lua_pushinteger(L, c->code);
		else
			lua_pushnil(L);
	} else if (!strcmp(k, "reason")) {
		if (c->mode == LUA_M_REPLY)
			push_pl(L, &m->reason);
		else
			lua_pushnil(L);
	} else if (!strcmp(k, "attempt")) {
		lua_pushinteger(L, c->attempt);
	} else {
		return false;
	}
	return true;
}

static int m_index(lua_State *L)
{
	struct lua_ctx *c = ctx_get(L);
	const char *k = luaL_checkstring(L, 2);

	if (field(L, c, k))
		return 1;
	for (const luaL_Reg *r = methods; r->name; r++) {
		if (!strcmp(r->name, k)) {
			lua_pushcfunction(L, r->func);
			return 1;
		}
	}
	lua_pushnil(L);
	return 1;
}

static int m_newindex(lua_State *L)
{
	return luaL_error(L, "message fields are read-only (use set_uri, "
	                     "add_header...)");
}

static int m_tostring(lua_State *L)
{
	struct lref *r = luaL_checkudata(L, 1, MSG_MT);

	if (!r->c) {
		lua_pushliteral(L, "message (gone)");
		return 1;
	}
	if (r->c->msg->req)
		lua_pushfstring(L, "%s %s",
		                lua_pushlstring(L, r->c->msg->method.p,
		                                r->c->msg->method.l),
		                lua_pushlstring(L, r->c->msg->ruri_pl.p,
		                                r->c->msg->ruri_pl.l));
	else
		lua_pushfstring(L, "response %d", (int)r->c->msg->scode);
	return 1;
}

void lua_msg_register(lua_State *L)
{
	luaL_newmetatable(L, MSG_MT);
	lua_pushcfunction(L, m_index);
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, m_newindex);
	lua_setfield(L, -2, "__newindex");
	lua_pushcfunction(L, m_tostring);
	lua_setfield(L, -2, "__tostring");
	lua_pushliteral(L, "confab message");
	lua_setfield(L, -2, "__metatable");
	lua_pop(L, 1);
}

void lua_msg_push(lua_State *L, struct lua_ctx *ctx)
{
	struct lref *r = lua_newuserdatauv(L, sizeof(*r), 0);

	r->c = ctx;
	luaL_setmetatable(L, MSG_MT);
}

void lua_msg_invalidate(lua_State *L, int idx)
{
	struct lref *r = luaL_testudata(L, idx, MSG_MT);

	if (r)
		r->c = NULL;
}

void lua_ctx_release(struct lua_ctx *c)
{
	c->ruri = cf_mem_deref(c->ruri);
	for (size_t i = 0; i < c->nadd; i++)
		c->adds[i] = cf_mem_deref(c->adds[i]);
	c->nadd = 0;
}

/* ------------------------------------------------------- applying them */

static int edits_record(const struct lua_ctx *c, struct cf_sip_msg *m)
{
	int err = 0;

	for (size_t d = 0; !err && d < c->ndel; d++) {
		enum cf_sip_hdr_id id = name_id(c->dels[d]);

		for (size_t i = 0; !err && i < m->hdrc; i++) {
			if (hdr_match(&m->hdrv[i], c->dels[d], id))
				err = cf_sip_msg_edit_del(m, &m->hdrv[i]);
		}
	}
	for (size_t i = 0; !err && i < c->nadd; i++)
		err = cf_sip_msg_edit_append(m, "%s", c->adds[i]);
	return err;
}

int lua_msg_apply(const struct lua_ctx *c, struct cf_sip_msg *resp)
{
	return edits_record(c, resp);
}

/* A copy of the request decoded from its bytes, the edits recorded on
 * it, encoded and decoded again: O(message size), only for a request the
 * script changed. */
int lua_msg_rebuild(const struct lua_ctx *c, struct cf_sip_msg **outp)
{
	const struct cf_sip_msg *m = c->msg;
	struct cf_sip_msg *cp = NULL, *out = NULL;
	struct cf_mbuf *mb = NULL;
	struct cf_pl pl;
	size_t used;
	int err;

	err = cf_sip_msg_decode(&cp, (const uint8_t *)m->raw.p, m->raw.l,
	                        CF_SIP_DATAGRAM, &used);
	if (err)
		goto out;
	err = edits_record(c, cp);
	if (!err && c->ruri) {
		cf_pl_set_str(&pl, c->ruri);
		err = cf_sip_msg_edit_ruri(cp, &pl);
	}
	if (!err)
		err = cf_mbuf_alloc(&mb, m->raw.l + 512);
	if (!err)
		err = cf_sip_msg_encode(mb, cp);
	if (!err) {
		pl = cf_mbuf_pl(mb);
		err = cf_sip_msg_decode(&out, (const uint8_t *)pl.p, pl.l,
		                        CF_SIP_DATAGRAM, &used);
	}
	if (!err && out->fault.code) {
		err = EBADMSG;
		out = cf_mem_deref(out);
	}
	if (!err)
		*outp = out;
out:
	cf_mem_deref(mb);
	cf_mem_deref(cp);
	return err;
}
