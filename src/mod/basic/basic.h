/* SPDX-License-Identifier: BSD-3-Clause */
/* basic.h - the first service: OPTIONS to the server and the ringing test
 * extension. */
#ifndef CF_MOD_BASIC_H
#define CF_MOD_BASIC_H

#include "mod/mod.h"

extern const struct cf_mod cf_mod_basic;

/* What other modules may ask of it (cf_mod_find("basic")->api). */
struct cf_mod_basic_api {
	/* Calls ringing on the test extension now (all workers). */
	size_t (*ringing)(void);
};

/* Test hook: drive ring timers on this wheel instead of the current
 * loop's (unit tests run without a loop). NULL restores the default. */
void cf_mod_basic_set_wheel(struct cf_tmr_wheel *wheel);

#endif
