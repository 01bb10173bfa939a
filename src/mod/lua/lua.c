/* SPDX-License-Identifier: BSD-3-Clause */
/* lua.c - the Lua module: loads routing.lua (start, SIGHUP, confabctl lua
 * reload; a script that fails keeps the old one) and runs its on_request,
 * on_reply and on_failure functions from the proxy's hook points. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "mod/lua/lua_int.h"

enum { SCRIPT_MAX = 1024 * 1024 }; /* bytes of script text */

static struct {
	char path[512];     /* the script loaded, "" none */
	char last_err[512]; /* the last load error, "" none */
	bool inited;        /* init is over: a load is a reload */
} lm;

/* ------------------------------------------------------------ loading */

static void request_h(struct cf_proxy_request *r, void *arg);
static void reply_h(const struct cf_sip_msg *req, struct cf_sip_msg *resp,
                    void *arg);
static bool failure_h(const struct cf_proxy_failure *f, char *uri, size_t size,
                      void *arg);

/* Only the functions the script defines are hooked: a proxy without a
 * script (or without on_reply...) pays nothing for the module. A hook
 * point the module does not hold (NULL, or another module's failure
 * hook) is left alone when the script does not need it. Main thread. */
static bool owned[LUA_FN_N];

static void hooks_set(const bool has[LUA_FN_N])
{
	for (int i = 0; i < LUA_FN_N; i++) {
		bool want = has && has[i];

		if (want == owned[i])
			continue;
		owned[i] = want;
		if (i == LUA_FN_REQUEST)
			cf_proxy_request_hook_set(want ? request_h : NULL,
			                          NULL);
		else if (i == LUA_FN_REPLY)
			cf_proxy_reply_hook_set(want ? reply_h : NULL, NULL);
		else
			cf_proxy_failure_hook_set(want ? failure_h : NULL,
			                          NULL);
	}
}

/* [lua] script as a path: a relative one is under [general] data_dir. */
static void script_path(const struct cf_app_conf *c, char *out, size_t size)
{
	const char *s = cf_app_conf_str(c, "lua", "script");
	const char *dir = cf_app_conf_str(c, "general", "data_dir");

	out[0] = 0;
	if (!s || !*s)
		return;
	if (s[0] == '/' || !dir || !*dir)
		snprintf(out, size, "%s", s);
	else
		snprintf(out, size, "%s/%s", dir, s);
}

/* The file's text as a cf_mem string. 0, ENOENT (and the others of
 * fopen), EFBIG, ENOMEM. */
static int file_read(const char *path, char **textp, size_t *lenp)
{
	FILE *f = fopen(path, "rb");
	struct stat sb;
	char *t = NULL;
	size_t n;
	int err = 0;

	if (!f)
		return errno;
	if (fstat(fileno(f), &sb) || sb.st_size > SCRIPT_MAX) {
		err = EFBIG;
		goto out;
	}
	t = cf_mem_alloc((size_t)sb.st_size + 1, NULL);
	if (!t) {
		err = ENOMEM;
		goto out;
	}
	n = fread(t, 1, (size_t)sb.st_size, f);
	if (n != (size_t)sb.st_size) {
		err = EIO;
		goto out;
	}
	t[n] = 0;
	*textp = t;
	*lenp = n;
	t = NULL;
out:
	cf_mem_deref(t);
	fclose(f);
	return err;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/*
 * Main thread (init, SIGHUP, confabctl lua reload): read the script and
 * its limits from the configuration, build a state once here (compile
 * and run the main chunk) and publish it only if that worked: a script
 * that fails to load leaves the one in use. Each worker builds its own
 * state at its next hook call. 0, or the error (logged, kept for lua
 * status): ENOENT..., EBADMSG (the script's error), ENOMEM.
 */
static int script_load(struct cf_app *app)
{
	const struct cf_app_conf *c = cf_app_conf(app);
	char path[sizeof(lm.path)], err[512];
	struct lua_src *src = NULL;
	struct lua_box *box = NULL;
	char *text = NULL;
	size_t len = 0;
	int e;

	script_path(c, path, sizeof(path));
	if (!path[0]) {
		if (lm.path[0])
			cf_log(CF_LOG_NOTICE, NULL, "lua: no script now");
		hooks_set(NULL);
		lua_src_publish(NULL);
		lm.path[0] = 0;
		lm.last_err[0] = 0;
		return 0;
	}
	e = file_read(path, &text, &len);
	if (e) {
		snprintf(err, sizeof(err), "%s: %s", path, strerror(e));
		goto fail;
	}
	e = lua_src_alloc(&src, base_name(path), text, len,
	                  cf_app_conf_u32(c, "lua", "max_instructions"),
	                  (size_t)cf_app_conf_u32(c, "lua", "max_memory") *
	                      1024);
	if (e) {
		snprintf(err, sizeof(err), "%s: %s", path, strerror(e));
		goto fail;
	}
	e = lua_box_alloc(&box, src, err, sizeof(err));
	if (e)
		goto fail;
	lua_src_publish(src);
	hooks_set(box->has);
	lua_box_free(box);
	cf_mem_deref(src);
	lua_stat(LUA_S_RELOAD);
	snprintf(lm.path, sizeof(lm.path), "%s", path);
	lm.last_err[0] = 0;
	cf_log(CF_LOG_NOTICE, NULL, "lua: %s loaded", path);
	return 0;
fail:
	cf_mem_deref(src);
	lua_stat(LUA_S_LOAD);
	snprintf(lm.last_err, sizeof(lm.last_err), "%s", err);
	if (!lm.inited)
		cf_log(CF_LOG_ERR, NULL,
		       "lua: %s; confabd does not start with "
		       "a routing script that does not load",
		       err);
	else if (lm.path[0])
		cf_log(CF_LOG_ERR, NULL,
		       "lua: %s; keeping the script loaded "
		       "before",
		       err);
	else
		cf_log(CF_LOG_ERR, NULL, "lua: %s; no script in use", err);
	return e;
}

/* ----------------------------------------------------------- the hooks */

static const char *const fn_names[LUA_FN_N] = {"on_request", "on_reply",
                                               "on_failure"};

static void stat_err(int rc)
{
	lua_stat(rc == LUA_E_INSNS    ? LUA_S_INSNS
	         : rc == LUA_E_MEMORY ? LUA_S_MEMORY
	                              : LUA_S_RUNTIME);
}

/* Call fn(msg[, code]) with ctx; nres results left on the stack when 0 is
 * returned. The userdata stays below the function so that it is
 * invalidated after the call even if the script kept it. */
static int hook_call(struct lua_box *b, enum lua_fn fn, struct lua_ctx *ctx,
                     int nres, const struct cf_pl *callid)
{
	lua_State *L = b->L;
	char err[400];
	int nargs = 1, rc, ud;

	if (!lua_checkstack(L, 8))
		return LUA_E_MEMORY;
	lua_msg_push(L, ctx);
	ud = lua_gettop(L);
	lua_getglobal(L, fn_names[fn]);
	lua_pushvalue(L, ud);
	if (fn == LUA_FN_FAILURE) {
		lua_pushinteger(L, ctx->code);
		nargs = 2;
	}
	lua_stat(LUA_S_CALL);
	lua_callid_set(callid);
	rc = lua_box_call(b, nargs, nres, err, sizeof(err));
	lua_callid_set(NULL);
	lua_msg_invalidate(L, ud);
	if (rc) {
		stat_err(rc);
		lua_remove(L, ud);
		cf_log(CF_LOG_ERR, callid, "lua: %s: %s", fn_names[fn], err);
		return rc;
	}
	lua_remove(L, ud);
	return 0;
}

/* on_request(req): a reply, a fork, an edited request, or nothing. A
 * script error answers 500. */
static void request_h(struct cf_proxy_request *r, void *arg)
{
	struct lua_box *b = lua_box_current();
	struct lua_ctx *c;
	int err;

	(void)arg;
	if (!b || !b->has[LUA_FN_REQUEST])
		return;
	c = cf_mem_zalloc(sizeof(*c), NULL); /* 5 KB: off the stack */
	if (!c) {
		r->code = 500;
		return;
	}
	c->mode = LUA_M_REQUEST;
	c->msg = r->msg;
	c->peer = r->peer;
	c->user = r->user;
	if (hook_call(b, LUA_FN_REQUEST, c, 0, &r->msg->call_id)) {
		r->code = 500;
		snprintf(r->reason, sizeof(r->reason), "Routing Script Error");
		goto out;
	}
	if (c->reply_code) {
		r->code = c->reply_code;
		snprintf(r->reason, sizeof(r->reason), "%s", c->reply_reason);
		goto out;
	}
	if (c->ruri || c->nadd || c->ndel) {
		err = lua_msg_rebuild(c, &r->msg_new);
		if (err) {
			cf_log(CF_LOG_ERR, &r->msg->call_id,
			       "lua: on_request: the edited request did not "
			       "decode: %s",
			       strerror(err));
			r->code = 500;
			snprintf(r->reason, sizeof(r->reason),
			         "Routing Script Error");
			goto out;
		}
	}
	for (size_t i = 0; i < c->ntargets; i++)
		strcpy(r->targets[i], c->targets[i]);
	r->ntargets = c->ntargets;
out:
	lua_ctx_release(c);
	cf_mem_deref(c);
}

/* on_reply(reply): header edits on the response going upstream. An error
 * leaves the response as it came (the callee's answer cannot be taken
 * back), logged and counted. */
static void reply_h(const struct cf_sip_msg *req, struct cf_sip_msg *resp,
                    void *arg)
{
	struct lua_box *b = lua_box_current();
	struct lua_ctx *c;

	(void)arg;
	if (!b || !b->has[LUA_FN_REPLY])
		return;
	c = cf_mem_zalloc(sizeof(*c), NULL);
	if (!c)
		return;
	c->mode = LUA_M_REPLY;
	c->msg = resp;
	c->req = req;
	if (!hook_call(b, LUA_FN_REPLY, c, 0, &resp->call_id) &&
	    lua_msg_apply(c, resp))
		cf_log(CF_LOG_WARN, &resp->call_id,
		       "lua: on_reply: edits not applied (out of memory)");
	lua_ctx_release(c);
	cf_mem_deref(c);
}

/* on_failure(req, code): a URI to try, or nil for the configured failure
 * routes. An error answers 500. */
static bool failure_h(const struct cf_proxy_failure *f, char *uri, size_t size,
                      void *arg)
{
	struct lua_box *b = lua_box_current();
	struct lua_ctx *c;
	bool take = false;

	(void)arg;
	if (!b || !b->has[LUA_FN_FAILURE])
		return false;
	c = cf_mem_zalloc(sizeof(*c), NULL);
	if (!c) {
		if (f->reply)
			*f->reply = 500;
		return false;
	}
	c->mode = LUA_M_FAILURE;
	c->msg = f->req;
	c->code = f->code;
	c->attempt = f->attempt;
	if (hook_call(b, LUA_FN_FAILURE, c, 1, &f->req->call_id)) {
		if (f->reply)
			*f->reply = 500;
		goto out;
	}
	if (lua_type(b->L, -1) == LUA_TSTRING) {
		const char *s = lua_tostring(b->L, -1);

		if (lua_uri_valid(s) && strlen(s) < size) {
			strcpy(uri, s);
			take = true;
			cf_log(CF_LOG_INFO, &f->req->call_id,
			       "lua: on_failure: %u: to %s", f->code, s);
		} else {
			lua_stat(LUA_S_RUNTIME);
			cf_log(CF_LOG_ERR, &f->req->call_id,
			       "lua: on_failure: returned '%s', not a SIP URI",
			       s);
			if (f->reply)
				*f->reply = 500;
		}
	} else if (!lua_isnil(b->L, -1)) {
		lua_stat(LUA_S_RUNTIME);
		cf_log(CF_LOG_ERR, &f->req->call_id,
		       "lua: on_failure: returned a %s, not a URI or nil",
		       luaL_typename(b->L, -1));
		if (f->reply)
			*f->reply = 500;
	}
	lua_pop(b->L, 1);
out:
	lua_ctx_release(c);
	cf_mem_deref(c);
	return take;
}

/* ------------------------------------------------------------ module */

static int lua_init(struct cf_app *app)
{
	int err;

	lm.path[0] = 0;
	lm.last_err[0] = 0;
	/* a script that does not load stops the start (a blocking rule
	 * silently missing would be worse); on a reload the old one stays */
	err = script_load(app);
	lm.inited = true;
	return err;
}

static void lua_stop(struct cf_app *app)
{
	(void)app;
	hooks_set(NULL);
	lua_src_publish(NULL);
	cf_lua_thread_close();
	lm.path[0] = 0;
	lm.inited = false;
}

static void lua_reload(struct cf_app *app)
{
	(void)script_load(app);
}

static void stats_json(json_t *resp)
{
	struct cf_lua_stats st;

	cf_lua_stats(&st);
	json_object_set_new(resp, "script", json_string(lm.path));
	json_object_set_new(resp, "generation", json_integer(st.generation));
	json_object_set_new(resp, "calls", json_integer((json_int_t)st.calls));
	json_object_set_new(resp, "load_errors",
	                    json_integer((json_int_t)st.err_load));
	json_object_set_new(resp, "runtime_errors",
	                    json_integer((json_int_t)st.err_runtime));
	json_object_set_new(resp, "instruction_limit",
	                    json_integer((json_int_t)st.err_insns));
	json_object_set_new(resp, "memory_limit",
	                    json_integer((json_int_t)st.err_memory));
	json_object_set_new(resp, "reloads",
	                    json_integer((json_int_t)st.reloads));
	json_object_set_new(resp, "last_error", json_string(lm.last_err));
}

/* confabctl lua reload: the script again (same configuration) */
static int ctl_reload(struct cf_app *app, const struct cf_mod_ctl_req *req,
                      json_t *resp)
{
	int err;

	(void)req;
	if (!cf_app_online(app)) {
		json_object_set_new(resp, "error",
		                    json_string("confabd is not running"));
		return ENOTCONN;
	}
	err = script_load(app);
	if (err) {
		json_object_set_new(resp, "error", json_string(lm.last_err));
		return err;
	}
	stats_json(resp);
	return 0;
}

/* confabctl lua status: the script and the counters */
static int ctl_status(struct cf_app *app, const struct cf_mod_ctl_req *req,
                      json_t *resp)
{
	(void)req;
	if (!cf_app_online(app)) {
		json_object_set_new(resp, "error",
		                    json_string("confabd is not running"));
		return ENOTCONN;
	}
	stats_json(resp);
	return 0;
}

static const struct cf_mod_cmd cmds[] = {
    {"lua", "reload", 0, 0, ctl_reload, "",
     "load [lua] script again (the old one stays if the new one fails)"},
    {"lua", "status", 0, 0, ctl_status, "",
     "the routing script in use and its error counters"},
    {NULL},
};

const struct cf_mod cf_mod_lua = {
    .name = "lua",
    .doc = "Lua 5.4 routing hooks: on_request, on_reply, on_failure",
    .keys = cf_lua_keys,
    .cmds = cmds,
    .init = lua_init,
    .stop = lua_stop,
    .reload = lua_reload,
};
