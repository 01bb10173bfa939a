/* SPDX-License-Identifier: BSD-3-Clause */
/* lua.h - the Lua 5.4 routing hooks module (issue 4 point 5): an optional
 * routing.lua whose on_request, on_reply and on_failure functions plug
 * into the proxy's hook points (proxy.h). docs/routing-lua.md. */
#ifndef CF_MOD_LUA_H
#define CF_MOD_LUA_H

#include "mod/mod.h"

extern const struct cf_mod cf_mod_lua;
/* [lua] keys (declared with or without Lua compiled in). */
extern const struct cf_mod_key cf_lua_keys[];

/* Counters, cumulative since start, all workers. */
struct cf_lua_stats {
	uint64_t calls;       /* hook functions called */
	uint64_t err_load;    /* a script that did not load (syntax, or an
	                       * error running its main chunk) */
	uint64_t err_runtime; /* runtime errors in a hook */
	uint64_t err_insns;   /* instruction limit reached */
	uint64_t err_memory;  /* memory limit reached */
	uint64_t reloads;     /* scripts loaded (start, SIGHUP, command) */
	unsigned generation;  /* the script in use: 0 none, +1 each load */
};
void cf_lua_stats(struct cf_lua_stats *st);

/* Close the calling thread's Lua state (tests; workers close theirs when
 * their thread ends). */
void cf_lua_thread_close(void);

#endif
