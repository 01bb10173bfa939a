/* SPDX-License-Identifier: BSD-3-Clause */
/* testapp.c - the module tests' transaction environment on a fake clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "testapp.h"

void cf_testapp_txn_alloc(struct cf_tmr_wheel **wheelp,
                          struct cf_sip_txn_env **envp,
                          const struct cf_sip_cfg *cfg, cf_sip_send_h *send,
                          void *arg)
{
	struct cf_sip_cfg def;

	if (!cfg) {
		cf_sip_cfg_default(&def);
		cfg = &def;
	}
	assert_int_equal(cf_tmr_wheel_alloc(wheelp, 1000), 0);
	assert_int_equal(cf_sip_txn_env_alloc(envp, cfg, *wheelp, send, arg),
	                 0);
}

void cf_testapp_txn_drain(struct cf_tmr_wheel *wheel,
                          struct cf_sip_txn_env *env, int max_s)
{
	for (int i = 0; i < max_s && cf_sip_txn_env_count(env); i++)
		cf_tmr_wheel_advance(wheel, cf_tmr_wheel_now(wheel) + 1000);
	assert_int_equal(cf_sip_txn_env_count(env), 0);
}
