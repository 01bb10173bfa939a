/* SPDX-License-Identifier: BSD-3-Clause */
/* lua_int.h - private parts of the Lua module: the script (source shared
 * by every worker), the per-thread sandboxed state, the message objects. */
#ifndef CF_LUA_INT_H
#define CF_LUA_INT_H

#include <lauxlib.h>
#include <lua.h>

#include "mod/lua/lua.h"
#include "mod/proxy/proxy.h"

/* A loaded script: its text, compiled again by each worker. Refcounted,
 * immutable once published. */
struct lua_src {
	char *text; /* owned */
	size_t len;
	char chunk[128]; /* "@routing.lua": messages read routing.lua:12: */
	uint32_t insns;  /* [lua] max_instructions */
	size_t mem;      /* [lua] max_memory, bytes */
	unsigned gen;
};

enum lua_fn {
	LUA_FN_REQUEST = 0,
	LUA_FN_REPLY,
	LUA_FN_FAILURE,
	LUA_FN_N,
};

/* One sandboxed lua_State (one per worker thread). */
struct lua_box {
	lua_State *L;
	unsigned gen;
	size_t used, limit; /* bytes, the allocator's count */
	uint32_t insns;
	bool running; /* inside a call: limits raise errors */
	bool mem_hit, insn_hit;
	int mem_line; /* where the memory limit was hit, 0 unknown */
	bool has[LUA_FN_N];
};

enum lua_err {
	LUA_OK_ = 0,
	LUA_E_RUNTIME,
	LUA_E_INSNS,
	LUA_E_MEMORY,
};

/* script.c */
/* Build a state for src (sandbox, libraries, message metatables, the main
 * chunk run). 0, or EBADMSG with the error (line included) in err. */
int lua_box_alloc(struct lua_box **boxp, const struct lua_src *src, char *err,
                  size_t errsize);
void lua_box_free(struct lua_box *box);
/* Call the function under the instruction and memory limits: the stack
 * holds the function then nargs arguments. Leaves nres results on the
 * stack on success. Returns enum lua_err; err gets the message. */
int lua_box_call(struct lua_box *box, int nargs, int nres, char *err,
                 size_t errsize);
/* This thread's state for the current script (rebuilt when a new one was
 * published), or NULL when no script is loaded or none could be built. */
struct lua_box *lua_box_current(void);
/* A script of text (a cf_mem string of len bytes, taken even on error)
 * named name in messages, with its limits and the next generation. */
int lua_src_alloc(struct lua_src **srcp, const char *name, char *text,
                  size_t len, uint32_t insns, size_t mem);
/* The Call-ID print() logs with (NULL: none), set around a hook call. */
void lua_callid_set(const struct cf_pl *callid);
/* Main thread: publish src (a reference is taken; NULL: no script). */
void lua_src_publish(struct lua_src *src);
struct lua_src *lua_src_current(void); /* a reference, or NULL */
void lua_stat(int what);               /* enum lua_stat */
enum lua_stat {
	LUA_S_CALL = 0,
	LUA_S_LOAD,
	LUA_S_RUNTIME,
	LUA_S_INSNS,
	LUA_S_MEMORY,
	LUA_S_RELOAD,
};

/* msg.c */
enum { LUA_EDITS_MAX = 16, LUA_HDR_NAME_MAX = 64, LUA_HDR_LINE_MAX = 1024 };
enum lua_mode {
	LUA_M_REQUEST = 0, /* on_request: may edit, reply, fork */
	LUA_M_REPLY,       /* on_reply: may edit headers */
	LUA_M_FAILURE,     /* on_failure: read only */
};
/* What one hook call sees and decides; on the worker's stack. */
struct lua_ctx {
	enum lua_mode mode;
	const struct cf_sip_msg *msg; /* request, or the response */
	const struct cf_sip_msg *req; /* the request (reply mode) */
	const struct cf_sip_peer *peer;
	const char *user;
	uint16_t code;    /* failure mode: the failed code */
	unsigned attempt; /* failure mode */
	/* decisions */
	char *ruri; /* set_uri (owned), or NULL */
	char dels[LUA_EDITS_MAX][LUA_HDR_NAME_MAX];
	size_t ndel;
	char *adds[LUA_EDITS_MAX]; /* "Name: value" (owned) */
	size_t nadd;
	uint16_t reply_code;
	char reply_reason[96];
	char targets[CF_PROXY_FORK_MAX][CF_PROXY_URI_MAX];
	size_t ntargets;
};
/* Register the message metatable in a new state. */
void lua_msg_register(lua_State *L);
/* Push a userdata for ctx; lua_msg_invalidate after the call so a script
 * that kept it cannot reach the stack frame that is gone. */
void lua_msg_push(lua_State *L, struct lua_ctx *ctx);
void lua_msg_invalidate(lua_State *L, int idx);
/* Apply the recorded header edits and Request-URI to a copy of ctx->msg:
 * the request to route instead (one reference). 0, ENOMEM, EBADMSG. */
int lua_msg_rebuild(const struct lua_ctx *ctx, struct cf_sip_msg **outp);
/* Record ctx's header edits on resp (reply mode). */
int lua_msg_apply(const struct lua_ctx *ctx, struct cf_sip_msg *resp);
void lua_ctx_release(struct lua_ctx *ctx);
bool lua_uri_valid(const char *s);

#endif
