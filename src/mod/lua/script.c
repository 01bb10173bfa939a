/* SPDX-License-Identifier: BSD-3-Clause */
/* script.c - the sandboxed Lua state: a counting allocator (memory
 * limit), a count hook (instruction limit), only the safe libraries, one
 * state per worker thread rebuilt when a new script is published. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lualib.h>

#include "mod/lua/lua_int.h"

static struct {
	pthread_mutex_t mtx;
	struct lua_src *src; /* reference, or NULL */
	atomic_uint gen;     /* src->gen, read without the lock */
	atomic_uint_fast64_t st[LUA_S_RELOAD + 1];
	pthread_once_t once;
	pthread_key_t key;
} ls = {.mtx = PTHREAD_MUTEX_INITIALIZER, .once = PTHREAD_ONCE_INIT};

/* The calling worker's state (also in ls.key, whose destructor closes it
 * when the thread ends). */
static _Thread_local struct lua_box *cur;

void lua_stat(int what)
{
	if (what >= 0 && what <= LUA_S_RELOAD)
		atomic_fetch_add(&ls.st[what], 1);
}

void cf_lua_stats(struct cf_lua_stats *st)
{
	if (!st)
		return;
	st->calls = atomic_load(&ls.st[LUA_S_CALL]);
	st->err_load = atomic_load(&ls.st[LUA_S_LOAD]);
	st->err_runtime = atomic_load(&ls.st[LUA_S_RUNTIME]);
	st->err_insns = atomic_load(&ls.st[LUA_S_INSNS]);
	st->err_memory = atomic_load(&ls.st[LUA_S_MEMORY]);
	st->reloads = atomic_load(&ls.st[LUA_S_RELOAD]);
	st->generation = atomic_load(&ls.gen);
}

/* ---------------------------------------------------------- the limits */

/* The line of the innermost Lua function running, 0 when none. Reads
 * the call stack only (no allocation): safe inside the allocator. */
static int line_now(lua_State *L)
{
	lua_Debug ar;

	for (int lvl = 0; lvl < 8 && lua_getstack(L, lvl, &ar); lvl++) {
		if (lua_getinfo(L, "l", &ar) && ar.currentline > 0)
			return ar.currentline;
	}
	return 0;
}

/* lua_Alloc with a budget: a growth past the limit fails, which Lua turns
 * into a memory error (after an emergency collection). Frees always work.
 */
static void *box_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct lua_box *b = ud;
	size_t old = ptr ? osize : 0;
	void *p;

	if (!nsize) {
		free(ptr);
		b->used -= old;
		return NULL;
	}
	if (nsize > old && b->used - old + nsize > b->limit) {
		/* Lua collects and tries once more before it raises the
		 * error: the line of the last refusal is the one to report */
		if (b->running) {
			b->mem_hit = true;
			b->mem_line = b->L ? line_now(b->L) : 0;
		}
		return NULL;
	}
	p = realloc(ptr, nsize);
	if (p)
		b->used = b->used - old + nsize;
	return p;
}

/* The count hook: every `insns` instructions of one call; the first time
 * is the limit. */
static void count_hook(lua_State *L, lua_Debug *ar)
{
	struct lua_box *b;

	(void)ar;
	lua_getallocf(L, (void **)&b);
	b->insn_hit = true;
	luaL_where(L, 0); /* the function running: "routing.lua:12:" */
	lua_pushfstring(L, "instruction limit (%d) reached", (int)b->insns);
	lua_concat(L, 2);
	lua_error(L);
}

/* --------------------------------------------------------- the sandbox */

/* The Call-ID of the message the running hook is about (lua.c sets it
 * around each call), for print(). */
static _Thread_local const struct cf_pl *cur_callid;

void lua_callid_set(const struct cf_pl *callid)
{
	cur_callid = callid;
}

/* print() goes to the log, one line, with the Call-ID inside a hook. */
static int l_print(lua_State *L)
{
	luaL_Buffer bf;
	int n = lua_gettop(L);

	luaL_buffinit(L, &bf);
	for (int i = 1; i <= n; i++) {
		if (i > 1)
			luaL_addchar(&bf, ' ');
		luaL_tolstring(L, i, NULL);
		luaL_addvalue(&bf);
	}
	luaL_pushresult(&bf);
	cf_log(CF_LOG_INFO, cur_callid, "lua: %s", lua_tostring(L, -1));
	return 0;
}

static void lib_open(lua_State *L, const char *name, lua_CFunction f)
{
	luaL_requiref(L, name, f, 1);
	lua_pop(L, 1);
}

/* Only what cannot reach outside the state: base (without dofile,
 * loadfile, load: bytecode can crash the VM; without collectgarbage),
 * string, table, math, utf8, and os.time/date/clock/difftime. No io, no
 * package/require, no debug, no coroutines. */
static int sandbox(lua_State *L)
{
	static const char *const base_drop[] = {
	    "dofile", "loadfile", "load", "collectgarbage", "require", NULL};
	static const char *const os_keep[] = {"time", "date", "clock",
	                                      "difftime", NULL};

	lib_open(L, LUA_GNAME, luaopen_base);
	lib_open(L, LUA_STRLIBNAME, luaopen_string);
	lib_open(L, LUA_TABLIBNAME, luaopen_table);
	lib_open(L, LUA_MATHLIBNAME, luaopen_math);
	lib_open(L, LUA_UTF8LIBNAME, luaopen_utf8);

	for (int i = 0; base_drop[i]; i++) {
		lua_pushnil(L);
		lua_setglobal(L, base_drop[i]);
	}
	lua_pushcfunction(L, l_print);
	lua_setglobal(L, "print");

	/* os: a new table with the harmless functions only */
	luaopen_os(L);
	lua_newtable(L);
	for (int i = 0; os_keep[i]; i++) {
		lua_getfield(L, -2, os_keep[i]);
		lua_setfield(L, -2, os_keep[i]);
	}
	lua_setglobal(L, "os");
	lua_pop(L, 1);
	lua_msg_register(L);
	return 0;
}

/* The message handler: the error as a string (a table error gets a
 * description). */
static int msgh(lua_State *L)
{
	if (!lua_isstring(L, 1))
		lua_pushfstring(L, "(error object is a %s value)",
		                luaL_typename(L, 1));
	return 1;
}

static void err_copy(lua_State *L, int idx, char *err, size_t size)
{
	const char *m = lua_tostring(L, idx);

	snprintf(err, size, "%s", m ? m : "error");
}

int lua_box_call(struct lua_box *b, int nargs, int nres, char *err,
                 size_t errsize)
{
	lua_State *L = b->L;
	int base = lua_gettop(L) - nargs; /* the function */
	int rc, st;

	lua_pushcfunction(L, msgh);
	lua_insert(L, base);
	b->mem_hit = b->insn_hit = false;
	b->mem_line = 0;
	b->running = true;
	/* resets the count: the limit is per call */
	lua_sethook(L, count_hook, LUA_MASKCOUNT, (int)b->insns);
	st = lua_pcall(L, nargs, nres, base);
	lua_sethook(L, NULL, 0, 0);
	b->running = false;
	if (st == LUA_OK) {
		lua_remove(L, base);
		return LUA_OK_;
	}
	if (b->insn_hit) {
		rc = LUA_E_INSNS;
		err_copy(L, -1, err, errsize);
	} else if (st == LUA_ERRMEM || (st == LUA_ERRERR && b->mem_hit)) {
		rc = LUA_E_MEMORY;
		if (b->mem_line > 0)
			snprintf(err, errsize,
			         "line %d: memory limit (%zu KB) reached",
			         b->mem_line, b->limit / 1024);
		else
			snprintf(err, errsize, "memory limit (%zu KB) reached",
			         b->limit / 1024);
	} else {
		rc = LUA_E_RUNTIME;
		err_copy(L, -1, err, errsize);
	}
	lua_settop(L, base - 1);
	/* what the failed call left behind goes now, not at the next one */
	lua_gc(L, LUA_GCCOLLECT);
	return rc;
}

int lua_box_alloc(struct lua_box **boxp, const struct lua_src *src, char *err,
                  size_t errsize)
{
	static const char *const names[LUA_FN_N] = {"on_request", "on_reply",
	                                            "on_failure"};
	struct lua_box *b = calloc(1, sizeof(*b));
	lua_State *L;
	int st;

	if (!b) {
		snprintf(err, errsize, "out of memory");
		return ENOMEM;
	}
	b->limit = src->mem;
	b->insns = src->insns;
	b->gen = src->gen;
	L = lua_newstate(box_alloc, b);
	if (!L) {
		snprintf(err, errsize, "no memory for a Lua state");
		free(b);
		return ENOMEM;
	}
	b->L = L;
	lua_pushcfunction(L, sandbox);
	st = lua_pcall(L, 0, 0, 0);
	if (st != LUA_OK) {
		snprintf(err, errsize, "the sandbox did not open: %s",
		         lua_tostring(L, -1) ? lua_tostring(L, -1) : "memory");
		goto fail;
	}
	st = luaL_loadbufferx(L, src->text, src->len, src->chunk, "t");
	if (st != LUA_OK) {
		err_copy(L, -1, err, errsize);
		goto fail;
	}
	/* the main chunk defines the functions (and may build tables) */
	if (lua_box_call(b, 0, 0, err, errsize) != LUA_OK_)
		goto fail;
	for (int i = 0; i < LUA_FN_N; i++) {
		int t = lua_getglobal(L, names[i]);

		lua_pop(L, 1);
		if (t == LUA_TFUNCTION)
			b->has[i] = true;
		else if (t != LUA_TNIL) {
			snprintf(err, errsize, "%s is a %s, not a function",
			         names[i], lua_typename(L, t));
			goto fail;
		}
	}
	*boxp = b;
	return 0;
fail:
	lua_box_free(b);
	return EBADMSG;
}

void lua_box_free(struct lua_box *b)
{
	if (!b)
		return;
	if (b->L)
		lua_close(b->L);
	free(b);
}

/* ------------------------------------------------ per thread, reloads */

static void key_destroy(void *data)
{
	lua_box_free(data);
}

static void key_make(void)
{
	(void)pthread_key_create(&ls.key, key_destroy);
}

static void src_destroy(void *data)
{
	struct lua_src *s = data;

	cf_mem_deref(s->text);
}

int lua_src_alloc(struct lua_src **srcp, const char *name, char *text,
                  size_t len, uint32_t insns, size_t mem)
{
	static atomic_uint next_gen;
	struct lua_src *s = cf_mem_zalloc(sizeof(*s), src_destroy);

	if (!s) {
		cf_mem_deref(text);
		return ENOMEM;
	}
	s->text = text;
	s->len = len;
	snprintf(s->chunk, sizeof(s->chunk), "@%s", name);
	s->insns = insns;
	s->mem = mem;
	s->gen = atomic_fetch_add(&next_gen, 1) + 1;
	*srcp = s;
	return 0;
}

void lua_src_publish(struct lua_src *src)
{
	struct lua_src *old;

	pthread_mutex_lock(&ls.mtx);
	old = ls.src;
	ls.src = src ? cf_mem_ref(src) : NULL;
	atomic_store(&ls.gen, src ? src->gen : 0);
	pthread_mutex_unlock(&ls.mtx);
	cf_mem_deref(old);
}

struct lua_src *lua_src_current(void)
{
	struct lua_src *s;

	pthread_mutex_lock(&ls.mtx);
	s = ls.src ? cf_mem_ref(ls.src) : NULL;
	pthread_mutex_unlock(&ls.mtx);
	return s;
}

/*
 * The state of this thread for the script in use: built at the first
 * call after a script was published (compiling it costs about what the
 * script's main chunk costs, once per worker and reload). A build that
 * fails keeps the previous state (the script was checked on the main
 * thread before it was published, so this is a lack of memory).
 */
struct lua_box *lua_box_current(void)
{
	unsigned gen = atomic_load(&ls.gen);
	struct lua_src *src;
	struct lua_box *b;
	char err[256];

	if (!gen) {
		if (cur) /* the script was removed */
			cf_lua_thread_close();
		return NULL;
	}
	if (cur && cur->gen == gen)
		return cur;
	src = lua_src_current();
	if (!src)
		return cur;
	if (lua_box_alloc(&b, src, err, sizeof(err))) {
		cf_log(CF_LOG_ERR, NULL,
		       "lua: %s: not loaded on this worker: "
		       "%s",
		       src->chunk + 1, err);
		cf_mem_deref(src);
		return cur;
	}
	cf_mem_deref(src);
	pthread_once(&ls.once, key_make);
	lua_box_free(cur);
	cur = b;
	(void)pthread_setspecific(ls.key, b);
	return cur;
}

void cf_lua_thread_close(void)
{
	pthread_once(&ls.once, key_make);
	lua_box_free(cur);
	cur = NULL;
	(void)pthread_setspecific(ls.key, NULL);
}
