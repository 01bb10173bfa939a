/* SPDX-License-Identifier: BSD-3-Clause */
/* testapp.h - the transaction environment on a fake clock that the module
 * tests (test_auth, test_mod, test_registrar, test_proxy) feed requests
 * through: no sockets, no sleeping, every timer run by advancing a wheel. */
#ifndef CF_TESTAPP_H
#define CF_TESTAPP_H

#include "core/core.h"
#include "sip/sip.h"

/* A timer wheel whose clock starts at 1000 ms and only moves when the test
 * advances it, and a transaction environment on it (cfg NULL: the
 * defaults) that hands every message to send(arg). Asserts success; the
 * caller derefs both. */
void cf_testapp_txn_alloc(struct cf_tmr_wheel **wheelp,
                          struct cf_sip_txn_env **envp,
                          const struct cf_sip_cfg *cfg, cf_sip_send_h *send,
                          void *arg);

/* Let every transaction run out, one second at a time for max_s seconds
 * at most (80 covers Timer J/H/I, 64*T1; more when Timer C runs), and
 * assert that none is left. */
void cf_testapp_txn_drain(struct cf_tmr_wheel *wheel,
                          struct cf_sip_txn_env *env, int max_s);

#endif
