/* SPDX-License-Identifier: BSD-3-Clause */
/* auth_mod.h - the auth module's descriptor for the table in mod.c, and
 * its test hooks. Other modules use auth.h (cf_mod_find("auth")->api). */
#ifndef CF_MOD_AUTH_MOD_H
#define CF_MOD_AUTH_MOD_H

#include "mod/mod.h"

extern const struct cf_mod cf_mod_auth;

/* Tests: read time from *now_ms (milliseconds, used as both the wall and
 * the monotonic clock) instead of the system clocks; NULL restores them.
 * Call before cf_mod_init_all. */
void cf_mod_auth_set_clock(const uint64_t *now_ms);
/* Tests: drop idle per-source and per-user state now (workers do it as
 * they go, a lock stripe at a time, at most once a second each). */
void cf_mod_auth_sweep(void);

#endif
